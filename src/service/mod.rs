//! Use cases: each takes a database connection, the acting user and its typed input, runs in
//! one transaction where it writes, and returns a view or its module's error enum
//! (`ScreeningError`, `AllocationError`, …; shared parts in [`error`]). The edges map those
//! enums to their answers; nothing here knows about HTTP.
//!
//! Everything here is synchronous; the HTTP layer runs it inside `web::block`.

pub mod allocation;
pub mod audit_trail;
pub mod corrections;
pub mod credentials;
pub mod csv_cell;
pub mod data_dir;
pub mod error;
pub mod exports;
pub mod maintenance;
pub mod passwords;
pub mod queries;
pub mod readiness;
pub mod receipts;
pub mod registry_fields;
pub mod screening;
pub mod setup;
pub mod signatures;
pub mod sites;
pub mod trials;
pub mod users;
pub mod views;
pub mod web_sessions;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{NaiveDateTime, Utc};

use crate::protocol::Protocol;
use crate::randomization::Seed;

/// A trial as this server process holds it: its protocol, and its seed when the seed file
/// is present and matches the recorded commitment.
#[derive(Debug)]
pub struct TrialRuntime {
    pub protocol: Protocol,
    /// The protocol's version (1 as initialised; each amendment adds one).
    pub version: i32,
    pub seed: Option<Seed>,
    /// Why the seed is unavailable, for logs and operators.
    pub seed_problem: Option<String>,
}

/// All trials served, by id. Built at start-up; an amendment replaces its trial's entry, and a
/// request holds the `Arc` it got for its whole run, so it sees one protocol version.
#[derive(Debug, Clone, Default)]
pub struct Trials(Arc<RwLock<BTreeMap<String, Arc<TrialRuntime>>>>);

impl Trials {
    pub fn new(map: BTreeMap<String, Arc<TrialRuntime>>) -> Self {
        Trials(Arc::new(RwLock::new(map)))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<TrialRuntime>>> {
        // A writer never panics while holding the lock (it only inserts an Arc).
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, id: &str) -> Result<Arc<TrialRuntime>, error::NotFound> {
        self.read()
            .get(id)
            .cloned()
            .ok_or_else(|| error::NotFound::trial(id))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.read().contains_key(id)
    }

    /// The trials, in id order, as they are now.
    pub fn all(&self) -> Vec<Arc<TrialRuntime>> {
        self.read().values().cloned().collect()
    }

    /// The ids of the trials served.
    pub fn ids(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Keeps only the trials `keep` accepts (at start-up: which trials this server serves).
    pub fn retain(&self, keep: impl Fn(&TrialRuntime) -> bool) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, t| keep(t));
    }

    /// Puts a newer version of a trial in force for the requests that follow (an older one
    /// never replaces a newer: two amendments may finish in any order).
    pub fn replace(&self, runtime: TrialRuntime) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let newer = map
            .get(&runtime.protocol.id)
            .is_none_or(|current| current.version < runtime.version);
        if newer {
            map.insert(runtime.protocol.id.clone(), Arc::new(runtime));
        }
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
