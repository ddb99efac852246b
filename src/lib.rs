//! trialgate: eligibility gating, seeded permuted-block randomization and a tamper-evident
//! audit trail for randomized clinical trials.
//!
//! The domain modules ([`protocol`], [`eligibility`], [`randomization`], [`simulation`],
//! [`audit`]) know nothing of
//! HTTP or SQL.

pub mod access;
pub mod audit;
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
pub mod views;
