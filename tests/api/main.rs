//! HTTP integration tests: the real server on a random port, a fresh database per test,
//! every test on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod amendments;
mod auth_limit;
mod backup;
mod checkpoint;
mod concurrency;
mod corrections;
mod flow;
mod readiness;
mod receipts;
mod sites;
mod support;
mod training;

mod access;
mod accounts;
mod endpoints;
mod exports;
mod problems;
mod tables;
