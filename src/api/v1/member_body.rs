//! The JSON bodies of the member calls: `PUT /images/<id>/members` and
//! `PUT /images/<id>/members/<member>`.

use crate::domain::member::{MemberGrant, check_member_id};
use crate::error::Error;
use serde_json::Value;

fn parse_json(body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("The request body is not valid JSON: {e}")))
}

fn can_share_of(v: Option<&Value>) -> Result<Option<bool>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::bad_request(
            "can_share must be a JSON boolean (true or false)",
        )),
    }
}

/// The body of `PUT /images/<id>/members`: `{"memberships": [{"member_id", "can_share"}]}`.
pub fn parse_memberships(body: &[u8]) -> Result<Vec<MemberGrant>, Error> {
    let bad = || {
        Error::bad_request(
            "The request body must be {\"memberships\": [{\"member_id\": <string>, \"can_share\": <boolean>}, ...]}",
        )
    };
    let v = parse_json(body)?;
    let Some(Value::Array(items)) = v.get("memberships") else {
        return Err(bad());
    };
    let mut out: Vec<MemberGrant> = Vec::with_capacity(items.len());
    for item in items {
        let Some(Value::String(member)) = item.get("member_id") else {
            return Err(bad());
        };
        check_member_id(member)?;
        let can_share = can_share_of(item.get("can_share"))?;
        // The last entry for a member wins.
        out.retain(|m| &m.member_id != member);
        out.push(MemberGrant {
            member_id: member.clone(),
            can_share,
        });
    }
    Ok(out)
}

/// The optional body of `PUT /images/<id>/members/<member>`: `{"member": {"can_share": b}}`.
pub fn parse_member_body(body: &[u8]) -> Result<Option<bool>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v = parse_json(body)?;
    // Only `{}` or `{"member": {...}}`: anything else is not a member body.
    if !v
        .as_object()
        .is_some_and(|o| o.keys().all(|k| k == "member"))
    {
        return Err(Error::bad_request(
            "The request body must be {\"member\": {\"can_share\": <boolean>}}",
        ));
    }
    match v.get("member") {
        None | Some(Value::Null) => Ok(None),
        Some(m @ Value::Object(_)) => can_share_of(m.get("can_share")),
        Some(_) => Err(Error::bad_request(
            "The request body must be {\"member\": {\"can_share\": <boolean>}}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_body() {
        let m = parse_memberships(
            br#"{"memberships": [{"member_id": "t2", "can_share": true}, {"member_id": "t3"}]}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            vec![
                MemberGrant {
                    member_id: "t2".into(),
                    can_share: Some(true)
                },
                MemberGrant {
                    member_id: "t3".into(),
                    can_share: None
                },
            ]
        );
        assert!(
            parse_memberships(br#"{"memberships": [{"member_id": "t2", "can_share": "false"}]}"#)
                .is_err()
        );
        assert!(parse_memberships(br#"{"memberships": {}}"#).is_err());
        assert!(parse_memberships(br#"{"memberships": [{"can_share": true}]}"#).is_err());
        assert!(parse_memberships(b"nope").is_err());
    }

    #[test]
    fn member_body() {
        assert_eq!(parse_member_body(b"").unwrap(), None);
        assert_eq!(
            parse_member_body(br#"{"member": {"can_share": false}}"#).unwrap(),
            Some(false)
        );
        assert!(parse_member_body(br#"{"member": {"can_share": "false"}}"#).is_err());
    }
}
