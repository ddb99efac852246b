//! trialgate: eligibility gating, seeded permuted-block randomization and a tamper-evident
//! audit trail for randomized clinical trials.
//!
//! The domain modules ([`protocol`], [`eligibility`], [`randomization`]) know nothing of
//! HTTP or SQL.

pub mod cli;
pub mod eligibility;
pub mod protocol;
pub mod randomization;
pub mod simulation;
