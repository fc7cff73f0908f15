//! Integration tests over real HTTP, each story run against SQLite, PostgreSQL and MariaDB.

mod support;

mod smoke;
