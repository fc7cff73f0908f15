//! Integration tests over real HTTP, each story run against SQLite, PostgreSQL and MariaDB.

mod crash;
mod faults;
mod keystone;
mod nginx;
mod process;
mod proxy;
mod services;
mod support;
mod v2_support;

mod access;
mod auth;
mod data_file;
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
mod v2_actions;
mod v2_clients;
mod v2_create;
mod v2_documents;
mod v2_list;
mod v2_members;
mod v2_patch;
mod validation;
