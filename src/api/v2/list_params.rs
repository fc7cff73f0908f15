//! The v2 list query string (section 4 of the contract) read into [`V2ListParams`], and the
//! `first`/`next` links built from it.

use crate::domain::query::{
    Comparison, Filters, IntColumn, SortDir, SortKey, TextColumn, TimeColumn, V2ListParams,
    VisibilityParam,
};
use crate::domain::{ImageId, MemberStatus, Timestamp};
use crate::error::{Error, Result};

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

fn sort_key(k: &str) -> Result<SortKey> {
    SortKey::ALL
        .into_iter()
        .find(|s| s.as_str() == k)
        .ok_or_else(|| bad(format!("Invalid sort key '{k}'")))
}

fn sort_dir(d: &str) -> Result<SortDir> {
    match d {
        "asc" => Ok(SortDir::Asc),
        "desc" => Ok(SortDir::Desc),
        other => Err(bad(format!(
            "Invalid sort direction '{other}': use asc or desc"
        ))),
    }
}

/// `in:a,"b, c"` values: a comma inside double quotes is part of the value; `\"` is a quote.
fn in_list(list: &str) -> Result<Vec<String>> {
    let invalid = || bad(format!("Invalid in: list '{list}'"));
    let mut out = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') if chars.peek() == Some(&'"') => {
                        chars.next();
                        item.push('"');
                    }
                    Some('"') => break,
                    Some(c) => item.push(c),
                    None => return Err(invalid()),
                }
            }
            match chars.next() {
                None => {
                    out.push(item);
                    return Ok(out);
                }
                Some(',') => out.push(item),
                Some(_) => return Err(invalid()),
            }
        } else {
            loop {
                match chars.next() {
                    Some(',') => break,
                    Some('"') => return Err(invalid()),
                    Some(c) => item.push(c),
                    None => {
                        out.push(item);
                        return Ok(out);
                    }
                }
            }
            out.push(item);
        }
    }
}

/// `name`, `id`, `status` and the formats: `v`, `eq:v` or `in:v1,v2`.
fn text_values(key: &str, v: &str) -> Result<Vec<String>> {
    if let Some(rest) = v.strip_prefix("in:") {
        return in_list(rest);
    }
    if let Some(rest) = v.strip_prefix("eq:") {
        return Ok(vec![rest.to_owned()]);
    }
    if let Some((op, _)) = v.split_once(':')
        && Timestamp::parse_iso8601(v).is_err()
        && !op.is_empty()
        && op.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Err(bad(format!(
            "Invalid operator '{op}' in {key}: use eq: or in: (a literal colon needs eq:)"
        )));
    }
    Ok(vec![v.to_owned()])
}

fn time_filter(key: &str, v: &str) -> Result<(Comparison, Timestamp)> {
    let (op, t) = match v.split_once(':') {
        Some((op, t)) if ["gt", "gte", "eq", "neq", "lt", "lte"].contains(&op) => (op, t),
        _ => ("eq", v),
    };
    let t = Timestamp::parse_iso8601(t)
        .map_err(|_| bad(format!("Invalid time '{v}' in {key}")))?
        .whole_second();
    let op = match op {
        "gt" => Comparison::Gt,
        "gte" => Comparison::Gte,
        "lt" => Comparison::Lt,
        "lte" => Comparison::Lte,
        "neq" => Comparison::Neq,
        _ => Comparison::Eq,
    };
    Ok((op, t))
}

fn int(key: &str, v: &str) -> Result<i64> {
    v.trim()
        .parse()
        .map_err(|_| bad(format!("Invalid {key} '{v}': it must be an integer")))
}

/// The list parameters (section 4.1–4.3); any unknown key filters on that extra property.
pub fn parse(pairs: &[(String, String)]) -> Result<V2ListParams> {
    let mut p = V2ListParams::default();
    let mut f = Filters::default();
    let mut sort: Option<&str> = None;
    let mut keys: Vec<SortKey> = Vec::new();
    let mut dirs: Vec<SortDir> = Vec::new();
    for (k, v) in pairs {
        let text =
            |c: TextColumn| -> Result<(TextColumn, Vec<String>)> { Ok((c, text_values(k, v)?)) };
        match k.as_str() {
            "limit" => {
                let n: i64 = int("limit", v)?;
                if n < 0 {
                    return Err(bad("Invalid limit: it must be at least 0"));
                }
                p.limit = Some(n as u64);
            }
            "marker" => {
                p.marker = Some(
                    ImageId::parse(v)
                        .ok_or_else(|| bad(format!("Invalid marker '{v}': no such image")))?,
                );
            }
            "sort" => sort = Some(v.as_str()),
            "sort_key" => keys.push(sort_key(v.trim())?),
            "sort_dir" => dirs.push(sort_dir(v.trim())?),
            "name" => f.one_of.push(text(TextColumn::Name)?),
            "id" => f.one_of.push(text(TextColumn::Id)?),
            "status" => f.one_of.push(text(TextColumn::Status)?),
            "container_format" => f.one_of.push(text(TextColumn::ContainerFormat)?),
            "disk_format" => f.one_of.push(text(TextColumn::DiskFormat)?),
            "owner" => f.one_of.push((TextColumn::Owner, vec![v.clone()])),
            "checksum" => f.one_of.push((TextColumn::Checksum, vec![v.clone()])),
            "os_hash_value" => f.one_of.push((TextColumn::OsHashValue, vec![v.clone()])),
            "os_hash_algo" => f.one_of.push((TextColumn::OsHashAlgo, vec![v.clone()])),
            "size" => f.equal.push((IntColumn::Size, int(k, v)?)),
            "virtual_size" => f.equal.push((IntColumn::VirtualSize, int(k, v)?)),
            "min_ram" => f.equal.push((IntColumn::MinRam, int(k, v)?)),
            "min_disk" => f.equal.push((IntColumn::MinDisk, int(k, v)?)),
            "size_min" => f.size_min = Some(int(k, v)?),
            "size_max" => f.size_max = Some(int(k, v)?),
            "created_at" => {
                let (op, t) = time_filter(k, v)?;
                f.times.push((TimeColumn::CreatedAt, op, t));
            }
            "updated_at" => {
                let (op, t) = time_filter(k, v)?;
                f.times.push((TimeColumn::UpdatedAt, op, t));
            }
            "visibility" => {
                p.visibility = Some(match v.as_str() {
                    "all" => VisibilityParam::All,
                    other => VisibilityParam::Only(other.parse()?),
                });
            }
            "member_status" => {
                p.member_status = Some(match v.as_str() {
                    "all" => None,
                    other => Some(other.parse::<MemberStatus>()?),
                });
            }
            "os_hidden" => {
                f.os_hidden = Some(match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("Invalid os_hidden '{v}': true or false"))),
                });
            }
            "protected" => {
                f.protected = Some(match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("Invalid protected '{v}': true or false"))),
                });
            }
            "tag" => f.tags.push(v.trim().to_owned()),
            "changes-since" => {
                return Err(bad(
                    "The changes-since filter is no longer available on v2.",
                ));
            }
            "deleted" => {}
            other => f.properties.push((other.to_owned(), v.clone())),
        }
    }
    match sort {
        Some(_) if !keys.is_empty() || !dirs.is_empty() => {
            return Err(bad(
                "sort cannot be used together with sort_key or sort_dir",
            ));
        }
        Some(s) => {
            for item in s.split(',') {
                let item = item.trim();
                if item.is_empty() {
                    return Err(bad(format!("Invalid sort '{s}': an empty key")));
                }
                let (k, d) = match item.split_once(':') {
                    Some((k, d)) => (sort_key(k.trim())?, sort_dir(d.trim())?),
                    None => (sort_key(item)?, SortDir::Desc),
                };
                p.sort.push((k, d));
            }
        }
        None if keys.is_empty() && !dirs.is_empty() => {
            if dirs.len() > 1 {
                return Err(bad("There must be one sort_dir per sort_key"));
            }
            p.sort.push((SortKey::CreatedAt, dirs[0]));
        }
        None => {
            let dirs = match dirs.len() {
                0 => vec![SortDir::Desc; keys.len()],
                1 => vec![dirs[0]; keys.len()],
                n if n == keys.len() => dirs,
                _ => return Err(bad("There must be one sort_dir per sort_key")),
            };
            p.sort = keys.into_iter().zip(dirs).collect();
        }
    }
    // The tie-breakers follow the one direction when there is exactly one, else desc.
    p.ties = match p.sort.as_slice() {
        [(_, d)] => Some(*d),
        _ => Some(SortDir::Desc),
    };
    p.filters = f;
    Ok(p)
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// `first`: the request without its marker.
pub fn first_link(pairs: &[(String, String)]) -> String {
    let rest: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    if rest.is_empty() {
        "/v2/images".into()
    } else {
        format!("/v2/images?{}", encode(&rest))
    }
}

/// `next`: the request without its marker, then `marker=<last id>`.
pub fn next_link(pairs: &[(String, String)], last: &str) -> String {
    let mut rest: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    rest.push(("marker".into(), last.into()));
    format!("/v2/images?{}", encode(&rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<V2ListParams> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(s.as_bytes()).into_owned().collect();
        parse(&pairs)
    }

    #[test]
    fn sorting_follows_both_syntaxes() {
        assert_eq!(
            q("sort=name:asc").unwrap().sort,
            [(SortKey::Name, SortDir::Asc)]
        );
        assert_eq!(q("sort=name:asc").unwrap().ties, Some(SortDir::Asc));
        assert_eq!(q("sort=name:asc,size").unwrap().ties, Some(SortDir::Desc));
        assert!(q("sort=name,").is_err());
        assert!(q("sort=name&sort_key=id").is_err());
        assert!(q("sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc").is_err());
        assert_eq!(
            q("sort_dir=asc").unwrap().sort,
            [(SortKey::CreatedAt, SortDir::Asc)]
        );
        assert!(q("sort_key=owner").is_err());
    }

    #[test]
    fn in_lists_quote_commas() {
        assert_eq!(in_list(r#""a, b",c"#).unwrap(), ["a, b", "c"]);
        assert_eq!(in_list(r#""say \"hi\"",x"#).unwrap(), [r#"say "hi""#, "x"]);
        assert!(in_list(r#""open"#).is_err());
        assert!(in_list(r#"a"b"#).is_err());
        assert!(q("name=foo:bar").is_err());
        assert!(q("name=eq:foo:bar").is_ok());
        assert!(q("changes-since=2020-01-01").is_err());
        assert!(q("os_hidden=True").is_ok() && q("protected=True").is_err());
    }

    #[test]
    fn links_drop_the_marker_and_append_the_last_id() {
        let pairs = vec![
            ("limit".to_string(), "2".to_string()),
            ("marker".into(), "m".into()),
            ("tag".into(), "a b".into()),
        ];
        assert_eq!(first_link(&pairs), "/v2/images?limit=2&tag=a+b");
        assert_eq!(
            next_link(&pairs, "z"),
            "/v2/images?limit=2&tag=a+b&marker=z"
        );
        assert_eq!(first_link(&[]), "/v2/images");
    }
}
