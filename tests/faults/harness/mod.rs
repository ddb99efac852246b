//! The fault harness: the real `trialgate serve` as a child process, a randomization load
//! whose every request is classified (acknowledged, refused, unknown), and the checker that
//! compares that client-side history with the database.
//!
//! Shared by the `faults` test binary and `fault_postgres_restart` (`#[path]`-included), so
//! not everything is used by both.
#![allow(dead_code)]

mod api;
mod check;
mod db;
mod history;
mod load;
mod randomize;
mod rng;
mod scenario;
mod server;
mod summary;

// The API as one path, `harness::…`; each test binary uses only part of it.
#[allow(unused_imports)]
pub use self::{
    api::{create_actors, http_client, screen, Actors, Patient},
    check::{check, Checked},
    db::{crash_point_check, sqlite_integrity},
    history::{Attempt, History, Kind, Request},
    load::{resolve, Load, LoadOptions},
    randomize::{alloc_of, randomize, Alloc, Outcome},
    rng::Rng,
    scenario::{faults_required, serial, Budget},
    server::{free_port, large_cap_protocol, Server, ServerConfig},
    summary::{median_max, recoveries, summarize, Summary},
};

pub const TRIAL: &str = "NCT06987370";
pub const T: &str = "/api/v1/trials/NCT06987370";
