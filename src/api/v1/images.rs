//! Handlers of `/images`: read the request into typed inputs, call the use case, render.

use super::image_body::parse_image_body;
use super::meta_headers::{add_image_meta, next_link};
use super::{list_params, render};
use crate::api::common::caller::Ctx;
use crate::api::common::etag::{etag_header, if_match, not_modified};
use crate::api::common::query::query_pairs;
use crate::api::{App, AppState};
use crate::domain::{Caller, ImageId};
use crate::error::{Error, Result};
use crate::storage::Catalog;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// An image id from a path: one that is not a UUID names no image.
pub fn image_id(id: &str) -> Result<ImageId> {
    ImageId::parse(id).ok_or_else(Error::image_not_found)
}

async fn list<S: Catalog>(
    app: &AppState<S>,
    caller: &Caller,
    uri: &Uri,
    detail: bool,
) -> Result<Response> {
    let pairs = query_pairs(uri)?;
    let params = list_params::parse(&pairs, caller)?;
    let (query, images) = app.registry.list(caller, params, detail).await?;
    let mut resp = render::images_page(&images, detail);
    if query.limit > 0
        && images.len() as u64 == query.limit
        && let Some(last) = images.last()
        && let Some(link) = next_link(uri.path(), &pairs, last.id.as_str())
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

pub async fn show<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let image = app.registry.show(&caller, &image_id(&id)?).await?;
    if not_modified(&headers, &image) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        resp.headers_mut().insert(header::ETAG, etag_header(&image));
        return Ok(resp);
    }
    let mut resp = render::image_response(&image);
    add_image_meta(resp.headers_mut(), &image);
    Ok(resp)
}

pub async fn head<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
) -> Result<Response> {
    let image = app.registry.show(&caller, &image_id(&id)?).await?;
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
    let parsed = parse_image_body(&body, &app.registry.rules, true)?;
    let image = app.registry.create(&caller, parsed.image).await?;
    Ok(render::image_response(&image))
}

/// `x-glance-registry-purge-props`: whether the update's properties replace all others.
fn purge_props(headers: &HeaderMap) -> bool {
    headers
        .get("x-glance-registry-purge-props")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

pub async fn update<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let purge = purge_props(&headers);
    let pre = if_match(&headers)?;
    let id = image_id(&id)?;
    let parsed = parse_image_body(&body, &app.registry.rules, false)?;
    let change = crate::registry::ImageUpdate {
        input: parsed.image,
        from_state: parsed.from_state,
        purge_props: purge,
    };
    let image = app.registry.update(&caller, &id, change, &pre).await?;
    Ok(render::image_response(&image))
}

pub async fn delete<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let pre = if_match(&headers)?;
    let image = app.registry.delete(&caller, &image_id(&id)?, &pre).await?;
    Ok(render::image_response(&image))
}
