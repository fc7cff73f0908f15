//! Handlers of `/v2/images…`: read the request into typed inputs, call the use case, render.

use super::error::{V2Error, V2Result};
use super::{Caller2, NoBody, data_range, image_body, list_params, patch_body};
use crate::api::App;
use crate::api::common::etag::{etag_header, if_match, not_modified};
use crate::api::common::json;
use crate::api::common::query::query_pairs;
use crate::domain::{Image, ImageId, Status};
use crate::error::Error;
use crate::registry::ImageData;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// An image id from a path: anything that is not a UUID names no image (404, never 400), so
/// that openstacksdk's find-by-name falls through to a list.
pub fn image_id(id: &str) -> Result<ImageId, V2Error> {
    if id.len() > 36 {
        return Err(Error::image_not_found().into());
    }
    // Ids are exact strings (contract §1.3): another spelling of a UUID names no image.
    match ImageId::parse(id) {
        Some(parsed) if parsed.as_str() == id => Ok(parsed),
        _ => Err(Error::image_not_found().into()),
    }
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

/// `GET /file`: the data, whole (200) or one range (206); 204 when there is none.
pub async fn download<S: crate::storage::Catalog>(
    _: NoBody,
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> V2Result<Response> {
    let id = image_id(&id)?;
    if query_pairs(&uri)?.iter().any(|(k, _)| k == "prefer") {
        // Checked after visibility, as Glance does.
        app.registry.show_v2(&caller, &id).await?;
        return Err(Error::bad_request("prefer is only supported with multiple stores").into());
    }
    let data = app
        .registry
        .download(&caller, &id, |size| data_range::parse(&headers, size))
        .await?;
    let ImageData::Bytes {
        checksum,
        size,
        range,
        stream,
    } = data
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let length = match range {
        Some(r) => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end)) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r.len()
        }
        None => size,
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(md5) = checksum.as_deref()
        && let Ok(v) = HeaderValue::from_str(md5)
    {
        h.insert("content-md5", v);
    }
    Ok(resp)
}

/// The size the client announced: `X-OpenStack-Image-Size`, else `Content-Length`.
fn declared_size(headers: &HeaderMap) -> Result<Option<u64>, Error> {
    if let Some(v) = headers.get("x-openstack-image-size") {
        let text = v.to_str().unwrap_or("").trim();
        return match text.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n as u64)),
            Ok(_) => Err(Error::bad_request(
                "x-openstack-image-size cannot be negative",
            )),
            Err(_) => Err(Error::bad_request(format!(
                "x-openstack-image-size must be an integer, not {text:?}"
            ))),
        };
    }
    Ok(headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok()))
}

/// `PUT /file`: the media type first, then the upload, streamed to the store. The upload runs
/// in its own task, so that a client that goes away mid-stream (which drops this handler)
/// still leaves the image queued and the store clean: the task sees the cancellation.
pub async fn upload<S: crate::storage::Catalog>(
    State(app): App<S>,
    Caller2(caller): Caller2,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
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
    let id = image_id(&id)?;
    let pre = if_match(&headers)?;
    let declared = declared_size(&headers)?;
    let cancel = CancellationToken::new();
    let _cancel_on_drop = cancel.clone().drop_guard();
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let task = tokio::spawn(async move {
        app.registry
            .upload(&caller, &id, &pre, declared, stream, cancel)
            .await
    });
    match task.await {
        Ok(result) => {
            result?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(e) => Err(Error::Internal(format!("the upload task failed: {e}")).into()),
    }
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
