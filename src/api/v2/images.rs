//! Handlers of `/v2/images…`: read the request into typed inputs, call the use case, render.

use super::error::{V2Error, V2Result};
use super::{Caller2, NoBody, image_body, list_params, patch_body};
use crate::api::App;
use crate::api::common::etag::{etag_header, if_match, not_modified};
use crate::api::common::json;
use crate::api::common::query::query_pairs;
use crate::domain::{Image, ImageId, Status};
use crate::error::Error;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An image id from a path: anything that is not a UUID names no image (404, never 400), so
/// that openstacksdk's find-by-name falls through to a list.
pub fn image_id(id: &str) -> Result<ImageId, V2Error> {
    if id.len() > 36 {
        return Err(Error::image_not_found().into());
    }
    ImageId::parse(id).ok_or_else(|| Error::image_not_found().into())
}

/// The image with its ETag.
pub fn image_response(status: StatusCode, image: &Image) -> Response {
    let mut resp = json(status, &image_body::render(image));
    resp.headers_mut().insert(header::ETAG, etag_header(image));
    resp
}

pub async fn list<S: crate::storage::Catalog>(
    State(app): App<S>,
    Caller2(caller): Caller2,
    uri: Uri,
) -> V2Result<Response> {
    let pairs = query_pairs(&uri)?;
    let params = list_params::parse(&pairs)?;
    let (query, images) = app.registry.list_v2(&caller, params).await?;
    let mut body = serde_json::Map::new();
    body.insert(
        "images".into(),
        Value::Array(images.iter().map(image_body::render).collect()),
    );
    body.insert("first".into(), list_params::first_link(&pairs).into());
    body.insert("schema".into(), "/v2/schemas/images".into());
    if query.limit > 0
        && images.len() as u64 == query.limit
        && let Some(last) = images.last()
    {
        body.insert(
            "next".into(),
            list_params::next_link(&pairs, last.id.as_str()).into(),
        );
    }
    Ok(json(StatusCode::OK, &Value::Object(body)))
}

/// Where the new image lives, absolute as Glance gives it.
fn location(public: Option<&str>, headers: &HeaderMap, id: &ImageId) -> Option<HeaderValue> {
    let base = super::documents::base_url(public, headers);
    HeaderValue::from_str(&format!("{base}/v2/images/{id}")).ok()
}

pub async fn create<S: crate::storage::Catalog>(
    State(app): App<S>,
    Caller2(caller): Caller2,
    headers: HeaderMap,
    body: Bytes,
) -> V2Result<Response> {
    let new = image_body::parse_create(&body, &app.registry.rules.formats)?;
    let image = app.registry.create_v2(&caller, new).await?;
    let mut resp = image_response(StatusCode::CREATED, &image);
    if let Some(loc) = location(app.public_endpoint.as_deref(), &headers, &image.id) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

pub async fn show<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> V2Result<Response> {
    let image = app.registry.show_v2(&caller, &image_id(&id)?).await?;
    if not_modified(&headers, &image) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        resp.headers_mut().insert(header::ETAG, etag_header(&image));
        return Ok(resp);
    }
    Ok(image_response(StatusCode::OK, &image))
}

pub async fn update<S: crate::storage::Catalog>(
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> V2Result<Response> {
    let dialect = patch_body::dialect(&headers)?;
    let changes = patch_body::parse(&body, dialect, &app.registry.rules.formats)?;
    let pre = if_match(&headers)?;
    let image = app
        .registry
        .patch(&caller, &image_id(&id)?, &changes, &pre)
        .await?;
    Ok(image_response(StatusCode::OK, &image))
}

pub async fn delete<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> V2Result<Response> {
    let pre = if_match(&headers)?;
    app.registry
        .delete_v2(&caller, &image_id(&id)?, &pre)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn add_tag<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path((id, tag)): Path<(String, String)>,
) -> V2Result<Response> {
    image_body::check_tag(&tag)?;
    app.registry.add_tag(&caller, &image_id(&id)?, &tag).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn remove_tag<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path((id, tag)): Path<(String, String)>,
) -> V2Result<Response> {
    image_body::check_tag(&tag)?;
    app.registry
        .remove_tag(&caller, &image_id(&id)?, &tag)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn deactivate<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
) -> V2Result<Response> {
    app.registry
        .set_active(&caller, &image_id(&id)?, Status::Deactivated)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn reactivate<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
) -> V2Result<Response> {
    app.registry
        .set_active(&caller, &image_id(&id)?, Status::Active)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /file`: glimpse stores no image data yet, so every visible image answers "no data";
/// a deactivated image is refused to non-admins first.
pub async fn download<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    uri: Uri,
) -> V2Result<Response> {
    let image = app.registry.show_v2(&caller, &image_id(&id)?).await?;
    if image.status == Status::Deactivated && !caller.is_admin {
        return Err(Error::Forbidden(
            "The image is deactivated; only admins may download it".into(),
        )
        .into());
    }
    if query_pairs(&uri)?.iter().any(|(k, _)| k == "prefer") {
        return Err(Error::bad_request("prefer is only supported with multiple stores").into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /file`: the media type first, then the image; storing data is not available yet.
pub async fn upload<S: crate::storage::Catalog>(
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> V2Result<Response> {
    let octets = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/octet-stream")
        })
        .unwrap_or(false);
    if !octets {
        return Err(Error::UnsupportedMediaType {
            message: "Image data must be sent as application/octet-stream".into(),
            accept_patch: None,
        }
        .into());
    }
    app.registry.show_v2(&caller, &image_id(&id)?).await?;
    Ok(super::error::error_body(
        StatusCode::NOT_IMPLEMENTED,
        "This server does not store image data yet",
    ))
}

/// `GET /tasks`: glimpse runs no tasks.
pub async fn tasks<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
) -> V2Result<Response> {
    app.registry.show_v2(&caller, &image_id(&id)?).await?;
    Ok(json(StatusCode::OK, &json!({"tasks": []})))
}

/// `POST /import`: no import method is enabled, so any request names an unknown one.
pub async fn import(_: Caller2, body: Bytes) -> V2Result<Response> {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = v.pointer("/method/name").and_then(Value::as_str);
    Err(Error::bad_request(match method {
        None => "Import requests need a method name".to_string(),
        Some(m) => format!("Import method {m} is not enabled"),
    })
    .into())
}
