//! trialgate: eligibility gating, seeded permuted-block randomization and a tamper-evident
//! audit trail for randomized clinical trials.
//!
//! The domain modules ([`protocol`], [`eligibility`], [`randomization`], [`simulation`],
//! [`text`]) know nothing of HTTP or SQL. [`audit`] is the pure hash-chain format and verifier;
//! [`storage`] is the database layer (SQLite or PostgreSQL through one diesel connection type).

pub mod access;
pub mod audit;
pub mod checkpoint;
pub mod cli;
pub mod eligibility;
pub mod error;
pub mod http;
pub mod protocol;
pub mod randomization;
pub mod server;
pub mod service;
pub mod simulation;
pub mod storage;
pub mod text;
pub mod views;
pub mod web;
