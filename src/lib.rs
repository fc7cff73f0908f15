//! glimpse: an image registry that serves the OpenStack Glance v2 images API and the Glance
//! v1 registry API over one catalog.
//!
//! Layers, outermost first: [`cli`] and [`config`] start things; [`api`] speaks the wire
//! formats of each API version; [`registry`] runs each use case on typed inputs; [`domain`]
//! holds the rules (no I/O, no wire formats); [`storage`] persists the catalog; [`store`]
//! holds image data; [`auth`] decides who the caller of a request is.

pub mod api;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod storage;
pub mod store;
