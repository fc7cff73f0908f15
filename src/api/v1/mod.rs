//! The Glance v1 registry API: `/images`, `/images/detail`, `/images/<id>`, members and
//! `/shared-images`, with the `x-image-meta-*` header model of the reference.

pub mod image_body;
pub mod images;
pub mod list_params;
pub mod member_body;
mod members;
pub mod meta_headers;
pub mod render;

use super::AppState;
use crate::storage::Catalog;
use axum::Router;
use axum::routing::{get, put};
use std::sync::Arc;

/// The routes of the registry API.
pub fn routes<S: Catalog>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route("/", get(images::list_brief::<S>))
        .route(
            "/images",
            get(images::list_brief::<S>).post(images::create::<S>),
        )
        .route(
            "/images/",
            get(images::list_brief::<S>).post(images::create::<S>),
        )
        .route("/images/detail", get(images::list_detail::<S>))
        .route(
            "/images/{id}",
            get(images::show::<S>)
                .head(images::head::<S>)
                .put(images::update::<S>)
                .delete(images::delete::<S>),
        )
        .route(
            "/images/{id}/members",
            get(members::list::<S>).put(members::replace::<S>),
        )
        .route(
            "/images/{id}/members/{member}",
            put(members::add::<S>).delete(members::remove::<S>),
        )
        .route("/shared-images/{member}", get(members::shared::<S>))
}
