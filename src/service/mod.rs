//! Use cases: each takes a database connection, the acting user and its typed input, runs in
//! one transaction where it writes, and returns a view or its module's error enum
//! (`ScreeningError`, `AllocationError`, …; shared parts in [`error`]). The edges map those
//! enums to their answers; nothing here knows about HTTP.
//!
//! Everything here is synchronous; the HTTP layer runs it inside `web::block`.

pub mod allocation;
pub mod audit_trail;
pub mod csv_cell;
pub mod data_dir;
pub mod error;
pub mod exports;
pub mod maintenance;
pub mod queries;
pub mod receipts;
pub mod screening;
pub mod setup;
pub mod trials;
pub mod users;
pub mod views;
pub mod web_sessions;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDateTime, Utc};

use crate::protocol::Protocol;
use crate::randomization::Seed;

/// A trial as this server process holds it: its protocol, and its seed when the seed file
/// is present and matches the recorded commitment.
#[derive(Debug)]
pub struct TrialRuntime {
    pub protocol: Protocol,
    pub seed: Option<Seed>,
    /// Why the seed is unavailable, for logs and operators.
    pub seed_problem: Option<String>,
}

/// All trials served, by id. Built at start-up and read-only afterwards.
#[derive(Debug, Clone, Default)]
pub struct Trials(pub Arc<BTreeMap<String, Arc<TrialRuntime>>>);

impl Trials {
    pub fn get(&self, id: &str) -> Result<Arc<TrialRuntime>, error::NotFound> {
        self.0
            .get(id)
            .cloned()
            .ok_or_else(|| error::NotFound::trial(id))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<TrialRuntime>> {
        self.0.values()
    }
}

/// Now, in UTC, at the microsecond precision both databases keep.
pub fn now() -> NaiveDateTime {
    crate::audit::truncate_to_micros(Utc::now().naive_utc())
}

/// RFC 3339 UTC text of a stored time, as every API response and audit record shows it.
pub fn format_time(at: NaiveDateTime) -> String {
    crate::audit::format_at(at)
}
