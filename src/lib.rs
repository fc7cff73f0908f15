//! glimpse: an image-metadata registry that speaks the OpenStack Glance registry (v1) API.
//!
//! Layers, outermost first: [`cli`] and [`config`] start things; [`http`] speaks the protocol
//! ([`auth`] decides who the caller is);
//! [`registry`] runs each use case; [`domain`] holds the rules (no I/O); [`storage`] persists.

pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod storage;
