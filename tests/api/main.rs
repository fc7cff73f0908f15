//! Integration tests over real HTTP, each story run against SQLite, PostgreSQL and MariaDB.

mod crash;
mod data_clients;
mod data_crash;
mod data_s3;
mod faults;
mod keystone;
mod nginx;
mod process;
mod proxy;
mod services;
mod support;

mod access;
mod auth;
mod headers;
mod hostile;
mod images;
mod isolation;
mod listing;
mod load_balancer;
mod maintenance;
mod members;
mod meta_budget;
mod openapi;
mod operability;
mod pagination;
mod scale_out;
mod services_smoke;
mod smoke;
mod validation;
