//! The JSON bodies of v1 responses.

use crate::api::common::etag::etag_header;
use crate::api::common::json;
use crate::domain::image::Properties;
use crate::domain::member::{Membership, SharedImage};
use crate::domain::{Image, ImageId, Timestamp};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Serialize;

#[derive(Serialize)]
pub struct ImagesBody<T> {
    pub images: Vec<T>,
}

#[derive(Serialize)]
struct ImageBody<'a> {
    image: V1Image<'a>,
}

/// The detailed v1 form of an image: the registry's fields, with `is_public` for visibility.
#[derive(Debug, Serialize)]
pub struct V1Image<'a> {
    pub id: &'a ImageId,
    pub name: &'a Option<String>,
    pub status: &'static str,
    pub disk_format: &'a Option<String>,
    pub container_format: &'a Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: &'a Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub is_public: bool,
    pub protected: bool,
    pub owner: &'a Option<String>,
    pub location: &'a Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub deleted: bool,
    pub properties: &'a Properties,
}

pub fn detailed(i: &Image) -> V1Image<'_> {
    V1Image {
        id: &i.id,
        name: &i.name,
        status: i.status.as_str(),
        disk_format: &i.disk_format,
        container_format: &i.container_format,
        size: i.size,
        virtual_size: i.virtual_size,
        checksum: &i.checksum,
        min_disk: i.min_disk,
        min_ram: i.min_ram,
        is_public: i.visibility.is_public(),
        protected: i.protected,
        owner: &i.owner,
        location: &i.location,
        created_at: i.created_at,
        updated_at: i.updated_at,
        deleted_at: i.deleted_at,
        deleted: i.deleted,
        properties: &i.properties,
    }
}

/// The brief form of `GET /images`: exactly these six fields.
#[derive(Debug, Serialize)]
pub struct BriefImage<'a> {
    pub id: &'a ImageId,
    pub name: &'a Option<String>,
    pub size: Option<i64>,
    pub disk_format: &'a Option<String>,
    pub container_format: &'a Option<String>,
    pub checksum: &'a Option<String>,
}

pub fn brief(image: &Image) -> BriefImage<'_> {
    BriefImage {
        id: &image.id,
        name: &image.name,
        size: image.size,
        disk_format: &image.disk_format,
        container_format: &image.container_format,
        checksum: &image.checksum,
    }
}

/// A page of images, brief or detailed.
pub fn images_page(images: &[Image], detail: bool) -> Response {
    if detail {
        json(
            StatusCode::OK,
            &ImagesBody {
                images: images.iter().map(detailed).collect(),
            },
        )
    } else {
        json(
            StatusCode::OK,
            &ImagesBody {
                images: images.iter().map(brief).collect(),
            },
        )
    }
}

/// `{"image": ...}` with the image's ETag.
pub fn image_response(image: &Image) -> Response {
    let mut resp = json(
        StatusCode::OK,
        &ImageBody {
            image: detailed(image),
        },
    );
    resp.headers_mut().insert(header::ETAG, etag_header(image));
    resp
}

#[derive(Serialize)]
struct MembersBody<'a> {
    members: &'a [Membership],
}

pub fn members(members: &[Membership]) -> Response {
    json(StatusCode::OK, &MembersBody { members })
}

#[derive(Serialize)]
struct SharedBody<'a> {
    shared_images: &'a [SharedImage],
}

pub fn shared_images(shared_images: &[SharedImage]) -> Response {
    json(StatusCode::OK, &SharedBody { shared_images })
}
