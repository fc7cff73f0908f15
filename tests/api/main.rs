//! Integration tests over real HTTP, each story run against SQLite, PostgreSQL and MariaDB.

mod process;
mod support;

mod access;
mod headers;
mod images;
mod listing;
mod members;
mod pagination;
mod scale_out;
mod smoke;
mod validation;
