//! Handlers of image memberships and `/shared-images`.

use super::caller::Ctx;
use super::{AppState, json};
use crate::domain::member::{Membership, SharedImage};
use crate::error::Result;
use crate::storage::Catalog;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;

type App<S> = State<Arc<AppState<S>>>;

#[derive(Serialize)]
struct MembersBody {
    members: Vec<Membership>,
}

#[derive(Serialize)]
struct SharedBody {
    shared_images: Vec<SharedImage>,
}

pub async fn list<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
) -> Result<Response> {
    let members = app.registry.members(&caller, &id).await?;
    Ok(json(StatusCode::OK, &MembersBody { members }))
}

pub async fn replace<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    app.registry.replace_members(&caller, &id, &body).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn add<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path((id, member)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    app.registry
        .add_member(&caller, &id, &member, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn remove<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path((id, member)): Path<(String, String)>,
) -> Result<Response> {
    app.registry.remove_member(&caller, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn shared<S: Catalog>(
    State(app): App<S>,
    Ctx(caller): Ctx,
    Path(member): Path<String>,
) -> Result<Response> {
    let shared_images = app.registry.shared_images(&caller, &member).await?;
    Ok(json(StatusCode::OK, &SharedBody { shared_images }))
}
