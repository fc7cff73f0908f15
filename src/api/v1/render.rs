//! The JSON bodies of v1 responses.

use crate::api::common::etag::etag_header;
use crate::api::common::json;
use crate::domain::member::{Membership, SharedImage};
use crate::domain::{Image, ImageId};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Serialize;

#[derive(Serialize)]
pub struct ImagesBody<T> {
    pub images: Vec<T>,
}

#[derive(Serialize)]
struct ImageBody<'a> {
    image: &'a Image,
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
                images: images.iter().collect(),
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
    let mut resp = json(StatusCode::OK, &ImageBody { image });
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
