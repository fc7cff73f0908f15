//! The one error type of glimpse.
//!
//! Every layer (domain rules, storage, HTTP parsing) returns [`Error`]; the HTTP layer turns it
//! into a status code and the spec's JSON error body in exactly one place (`api::common::error`), so a
//! rule never has to know how it is reported.

/// Something that stops a request, classified by what the caller should do about it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The request is malformed or breaks a rule (400).
    #[error("{0}")]
    BadRequest(String),
    /// No usable identity (401).
    #[error("{0}")]
    Unauthorized(String),
    /// No token, or one Keystone rejected (401 with `WWW-Authenticate: <challenge>`).
    #[error("{message}")]
    TokenRejected { message: String, challenge: String },
    /// The caller can see the resource but may not change it (403).
    #[error("{0}")]
    Forbidden(String),
    /// Missing, or invisible to this caller: the two are never told apart (404).
    #[error("{0}")]
    NotFound(String),
    /// A duplicate id, or a `from_state` that no longer holds (409).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named a version that is no longer current (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request body's media type is not one this endpoint reads (415); a PATCH names the
    /// types it does read.
    #[error("{message}")]
    UnsupportedMediaType {
        message: String,
        accept_patch: Option<&'static str>,
    },
    /// The image was deleted while its data was being uploaded (410).
    #[error("{0}")]
    Gone(String),
    /// A `Range` the image's data cannot satisfy (416); `size` is the data's length.
    #[error("The requested range is not satisfiable for {size} bytes of image data")]
    RangeNotSatisfiable { size: u64 },
    /// A body or a property count over its limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The database (or Keystone, for a token not yet validated) cannot be reached right now; retrying later may work (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected database answer (500). The message is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Error::BadRequest(msg.into())
    }

    pub fn image_not_found() -> Self {
        Error::NotFound("Image not found".into())
    }
}
