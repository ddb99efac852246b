//! trialgate: eligibility gating, seeded permuted-block randomization and a tamper-evident
//! audit trail for randomized clinical trials.
//!
//! Layers, each using only those below it:
//! - startup: [`server`] (and `main`);
//! - edges: [`http`], [`web`], [`cli`];
//! - use cases: [`service`] (with the views clients see);
//! - [`storage`]: the database (SQLite or PostgreSQL through one diesel connection type),
//!   knowing domain types only;
//! - domain: [`protocol`], [`eligibility`], [`randomization`] (with simulation), [`audit`]
//!   (with checkpoint signing), [`access`], [`fields`], [`text`], [`language`], [`local_time`] — nothing of HTTP or SQL.
//!
//! `tests/layering.rs` fails when a `use crate::…` runs against this order.

pub mod access;
pub mod audit;
pub mod cli;
pub mod eligibility;
pub mod fields;
pub mod http;
pub mod language;
pub mod local_time;
pub mod protocol;
pub mod randomization;
pub mod server;
pub mod service;
pub mod storage;
pub mod text;
pub mod web;
