//! Handlers of `/images`: thin wrappers that parse, call the registry, and render.

use super::caller::Ctx;
use super::meta_headers::{add_image_meta, next_link};
use super::{AppState, json};
use crate::domain::Image;
use crate::error::{Error, Result};
use crate::registry::Precondition;
use crate::storage::Catalog;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;

type App<S> = State<Arc<AppState<S>>>;

/// Decoded query pairs. Invalid percent-encoding and non-UTF-8 are rejected, not guessed at.
pub fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>> {
    let Some(q) = uri.query() else {
        return Ok(Vec::new());
    };
    let bytes = q.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(Error::bad_request(
                    "The query string has invalid percent-encoding",
                ));
            }
        }
    }
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
            return Err(Error::bad_request("The query string is not valid UTF-8"));
        }
        if v.contains('\0') || k.contains('\0') {
            return Err(Error::bad_request(
                "The query string must not contain NUL characters",
            ));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

#[derive(Serialize)]
struct ImagesBody<T> {
    images: Vec<T>,
}

#[derive(Serialize)]
struct ImageBody<'a> {
    image: &'a Image,
}

async fn list<S: Catalog>(
    app: &AppState<S>,
    caller: &crate::domain::Caller,
    uri: &Uri,
    detail: bool,
) -> Result<Response> {
    let params = query_pairs(uri)?;
    let (query, images) = app.registry.list(caller, &params, detail).await?;
    let mut resp = if detail {
        json(
            StatusCode::OK,
            &ImagesBody {
                images: images.iter().collect(),
            },
        )
    } else {
        json(
            StatusCode::OK,
            &ImagesBody {
                images: images.iter().map(Image::brief).collect(),
            },
        )
    };
    if query.limit > 0
        && images.len() as u64 == query.limit
        && let Some(last) = images.last()
        && let Some(link) = next_link(uri.path(), &params, last.id.as_str())
    {
        resp.headers_mut().insert(header::LINK, link);
    }
    Ok(resp)
}

pub async fn list_brief<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    uri: Uri,
) -> Result<Response> {
    list(&app, &caller, &uri, false).await
}

pub async fn list_detail<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    uri: Uri,
) -> Result<Response> {
    list(&app, &caller, &uri, true).await
}

fn etag_header(image: &Image) -> HeaderValue {
    HeaderValue::from_str(&image.etag()).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// `{"image": ...}` with the image's ETag.
fn image_response(image: &Image) -> Response {
    let mut resp = json(StatusCode::OK, &ImageBody { image });
    resp.headers_mut().insert(header::ETAG, etag_header(image));
    resp
}

fn not_modified(headers: &HeaderMap, image: &Image) -> bool {
    let tag = image.etag();
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(&tag))
        })
}

pub async fn show<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let image = app.registry.show(&caller, &id).await?;
    if not_modified(&headers, &image) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        resp.headers_mut().insert(header::ETAG, etag_header(&image));
        return Ok(resp);
    }
    let mut resp = image_response(&image);
    add_image_meta(resp.headers_mut(), &image);
    Ok(resp)
}

pub async fn head<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
) -> Result<Response> {
    let image = app.registry.show(&caller, &id).await?;
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut().insert(header::ETAG, etag_header(&image));
    add_image_meta(resp.headers_mut(), &image);
    Ok(resp)
}

pub async fn create<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    body: Bytes,
) -> Result<Response> {
    let image = app.registry.create(&caller, &body).await?;
    Ok(image_response(&image))
}

fn precondition(headers: &HeaderMap) -> Result<Precondition> {
    match headers.get(header::IF_MATCH) {
        None => Ok(Precondition(None)),
        Some(v) => v
            .to_str()
            .map(|s| Precondition(Some(s.to_owned())))
            .map_err(|_| Error::bad_request("If-Match must be an ASCII entity tag")),
    }
}

pub async fn update<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let purge = headers
        .get("x-glance-registry-purge-props")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let image = app
        .registry
        .update(&caller, &id, &body, purge, &precondition(&headers)?)
        .await?;
    Ok(image_response(&image))
}

pub async fn delete<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let image = app
        .registry
        .delete(&caller, &id, &precondition(&headers)?)
        .await?;
    Ok(image_response(&image))
}
