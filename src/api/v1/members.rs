//! Handlers of image memberships and `/shared-images`.

use super::images::image_id;
use super::member_body::{parse_member_body, parse_memberships};
use super::render;
use crate::api::App;
use crate::api::common::caller::Ctx;
use crate::domain::member::check_member_id;
use crate::error::Result;
use crate::storage::Catalog;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub async fn list<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
) -> Result<Response> {
    let members = app.registry.members(&caller, &image_id(&id)?).await?;
    Ok(render::members(&members))
}

/// The body is read only once the caller may share the image: who cannot see it gets 404
/// whatever they sent.
pub async fn replace<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let image = app
        .registry
        .image_to_share(&caller, &image_id(&id)?)
        .await?;
    let grants = parse_memberships(&body)?;
    app.registry.replace_members(&image, grants).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn add<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path((id, member)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let image = app
        .registry
        .image_to_share(&caller, &image_id(&id)?)
        .await?;
    check_member_id(&member)?;
    let can_share = parse_member_body(&body)?;
    app.registry.add_member(&image, &member, can_share).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn remove<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path((id, member)): Path<(String, String)>,
) -> Result<Response> {
    let image = app
        .registry
        .image_to_share(&caller, &image_id(&id)?)
        .await?;
    app.registry.remove_member(&image, &member).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn shared<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(member): Path<String>,
) -> Result<Response> {
    let shared_images = app.registry.shared_images(&caller, &member).await?;
    Ok(render::shared_images(&shared_images))
}
