//! The client-side history: every request sent, why, when, and what came back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use super::api::Patient;
use super::randomize::{randomize, Outcome};

/// Why a request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A patient's first randomization, under a new key.
    Fresh,
    /// An acknowledged key sent again: must return the same allocation.
    Replay,
    /// An acknowledged patient under a new key: must be refused (`already_randomized`).
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub key: String,
    pub patient: Patient,
    pub kind: Kind,
    /// Attempts made so far under this key by this request.
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub key: String,
    pub patient: Patient,
    pub kind: Kind,
    /// 1 for the first send of a request, 2… for retries under the same key.
    pub attempt: u32,
    /// When it was sent, from the history's epoch.
    pub sent: Duration,
    pub took: Duration,
    pub outcome: Outcome,
}

impl Attempt {
    pub fn done(&self) -> Duration {
        self.sent + self.took
    }
}

/// Every request the clients sent, and what came back.
pub struct History {
    pub epoch: Instant,
    attempts: Mutex<Vec<Attempt>>,
}

impl Default for History {
    fn default() -> Self {
        History {
            epoch: Instant::now(),
            attempts: Mutex::new(Vec::new()),
        }
    }
}

impl History {
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub fn push(&self, a: Attempt) {
        self.attempts.lock().unwrap().push(a);
    }

    pub fn snapshot(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }

    /// Sends one randomization and records it.
    pub fn send(&self, client: &Client, base: &str, token: &str, req: &Request) -> Outcome {
        let sent = self.now();
        let started = Instant::now();
        let outcome = randomize(client, base, token, &req.key, &req.patient.screening_id);
        self.push(Attempt {
            key: req.key.clone(),
            patient: req.patient.clone(),
            kind: req.kind,
            attempt: req.attempts + 1,
            sent,
            took: started.elapsed(),
            outcome: outcome.clone(),
        });
        outcome
    }
}
