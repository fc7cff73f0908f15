//! Handlers of `/v2/images/{id}/members…`.

use super::error::V2Result;
use super::image_body::v2_time;
use super::images::image_id;
use super::{Caller2, NoBody};
use crate::api::App;
use crate::api::common::json;
use crate::domain::member::{Membership, check_member_id};
use crate::domain::{ImageId, MemberStatus};
use crate::error::Error;
use crate::storage::Catalog;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn render(image: &ImageId, m: &Membership) -> Value {
    let time = |t: Option<crate::domain::Timestamp>| t.map_or(Value::Null, |t| v2_time(t).into());
    json!({
        "member_id": m.member_id,
        "image_id": image.as_str(),
        "status": m.status.as_str(),
        "created_at": time(m.created_at),
        "updated_at": time(m.updated_at),
        "schema": "/v2/schemas/member",
    })
}

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Error> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(Error::bad_request("The request body must be a JSON object")),
        Err(e) => Err(Error::bad_request(format!("Malformed JSON body: {e}"))),
    }
}

pub async fn list<S: Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
) -> V2Result<Response> {
    let id = image_id(&id)?;
    let members = app.registry.members_v2(&caller, &id).await?;
    let rows: Vec<Value> = members.iter().map(|m| render(&id, m)).collect();
    Ok(json(
        StatusCode::OK,
        &json!({"members": rows, "schema": "/v2/schemas/members"}),
    ))
}

pub async fn create<S: Catalog>(
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    body: Bytes,
) -> V2Result<Response> {
    let id = image_id(&id)?;
    let o = object(&body)?;
    let member = match o.get("member") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Error::bad_request("member must be a project id (a string)").into()),
        None => return Err(Error::bad_request("The body needs a 'member'").into()),
    };
    check_member_id(&member)?;
    let m = app.registry.add_member_v2(&caller, &id, &member).await?;
    Ok(json(StatusCode::OK, &render(&id, &m)))
}

pub async fn show<S: Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path((id, member)): Path<(String, String)>,
) -> V2Result<Response> {
    let id = image_id(&id)?;
    let m = app.registry.member_v2(&caller, &id, &member).await?;
    Ok(json(StatusCode::OK, &render(&id, &m)))
}

pub async fn update<S: Catalog>(
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path((id, member)): Path<(String, String)>,
    body: Bytes,
) -> V2Result<Response> {
    let id = image_id(&id)?;
    let o = object(&body)?;
    let status: MemberStatus = match o.get("status") {
        Some(Value::String(s)) => s.parse()?,
        _ => {
            return Err(Error::bad_request(
                "The body needs a 'status': pending, accepted or rejected",
            )
            .into());
        }
    };
    let m = app
        .registry
        .set_member_status(&caller, &id, &member, status)
        .await?;
    Ok(json(StatusCode::OK, &render(&id, &m)))
}

pub async fn delete<S: Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path((id, member)): Path<(String, String)>,
) -> V2Result<Response> {
    let id = image_id(&id)?;
    app.registry.remove_member_v2(&caller, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
