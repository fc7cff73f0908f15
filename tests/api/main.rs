//! Integration tests over real HTTP, each story run against SQLite, PostgreSQL and MariaDB.

mod crash;
mod faults;
mod keystone;
mod process;
mod proxy;
mod support;

mod access;
mod auth;
mod headers;
mod hostile;
mod images;
mod isolation;
mod listing;
mod maintenance;
mod members;
mod openapi;
mod operability;
mod pagination;
mod scale_out;
mod smoke;
mod validation;
