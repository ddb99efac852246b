//! Crash and fault tests: the real `trialgate serve` binary under randomization load while it
//! is killed with SIGKILL again and again (both backends), and SQLite on a filesystem that
//! runs out of space. A checker compares the clients' history (acknowledged, refused,
//! unknown) with the database. Figures are printed (`cargo test --test faults -- --nocapture`);
//! sizes come from `TRIALGATE_FAULT_KILLS` / `TRIALGATE_FAULT_SECONDS` (docs/fault-tolerance.md).
//! Stopping PostgreSQL is in its own binary, `fault_postgres_restart`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod disk_full;
mod harness;
mod kill;
