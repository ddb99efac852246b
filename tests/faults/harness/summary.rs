//! Reporting: the figures of a scenario's history, latencies and recovery times after faults.

use std::collections::BTreeMap;
use std::time::Duration;

use super::history::{Attempt, Kind};
use super::randomize::Outcome;

/// Figures of one scenario's client-side history.
#[derive(Debug, Default)]
pub struct Summary {
    pub attempts: usize,
    /// Distinct fresh requests (keys).
    pub requests: usize,
    pub acknowledged: usize,
    pub refused: BTreeMap<String, usize>,
    /// Requests whose first answer was unknown.
    pub unknown: usize,
    pub retries: usize,
    /// Unknown requests whose retry found the allocation already made (ack lost in a crash).
    pub unknown_committed: usize,
    /// Unknown requests whose retry made the allocation.
    pub unknown_then_new: usize,
    /// Unknown requests (duplicate probes) whose retry was refused.
    pub unknown_then_refused: usize,
    pub still_unknown: usize,
    pub replays: usize,
    pub duplicates: usize,
    pub status_503: usize,
    pub connection_errors: usize,
    pub timeouts: usize,
    pub unexpected: usize,
    pub max_latency: Duration,
}

pub fn summarize(attempts: &[Attempt]) -> Summary {
    let mut s = Summary {
        attempts: attempts.len(),
        ..Summary::default()
    };
    let mut sorted: Vec<&Attempt> = attempts.iter().collect();
    sorted.sort_by_key(|a| a.sent);
    let mut by_key: BTreeMap<&str, Vec<&Attempt>> = BTreeMap::new();
    for a in sorted {
        s.max_latency = s.max_latency.max(a.took);
        if a.attempt > 1 {
            s.retries += 1;
        }
        match &a.outcome {
            Outcome::Unavailable { .. } => s.status_503 += 1,
            Outcome::Connection(_) => s.connection_errors += 1,
            Outcome::Timeout => s.timeouts += 1,
            Outcome::Unexpected { .. } => s.unexpected += 1,
            _ => {}
        }
        if a.kind == Kind::Replay {
            if a.attempt == 1 {
                s.replays += 1;
            }
            continue;
        }
        by_key.entry(a.key.as_str()).or_default().push(a);
    }
    for list in by_key.values() {
        let first = list[0];
        match first.kind {
            Kind::Duplicate => s.duplicates += 1,
            _ => s.requests += 1,
        }
        let answer = list.iter().find(|a| !a.outcome.is_unknown());
        if first.outcome.is_unknown() {
            s.unknown += 1;
            match answer.map(|a| &a.outcome) {
                Some(Outcome::Ack { replayed: true, .. }) => s.unknown_committed += 1,
                Some(Outcome::Ack {
                    replayed: false, ..
                }) => s.unknown_then_new += 1,
                Some(Outcome::Refused { .. }) => s.unknown_then_refused += 1,
                None => s.still_unknown += 1,
                _ => {}
            }
        }
        match answer.map(|a| &a.outcome) {
            Some(Outcome::Ack { .. }) if first.kind == Kind::Fresh => s.acknowledged += 1,
            Some(Outcome::Refused { code, .. }) => {
                *s.refused.entry(code.clone()).or_default() += 1;
            }
            _ => {}
        }
    }
    s
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let refused: Vec<String> = self
            .refused
            .iter()
            .map(|(code, n)| format!("{n} {code}"))
            .collect();
        writeln!(
            f,
            "  requests: {} fresh + {} duplicate probes + {} replays = {} keys; {} HTTP attempts ({} retries under the same key)",
            self.requests,
            self.duplicates,
            self.replays,
            self.requests + self.duplicates + self.replays,
            self.attempts,
            self.retries
        )?;
        writeln!(
            f,
            "  acknowledged {}, refused {} ({}), unknown at first {} (retried under the same key: {} had been committed, {} allocated then, {} refused, {} never answered)",
            self.acknowledged,
            self.refused.values().sum::<usize>(),
            if refused.is_empty() { "-".into() } else { refused.join(", ") },
            self.unknown,
            self.unknown_committed,
            self.unknown_then_new,
            self.unknown_then_refused,
            self.still_unknown
        )?;
        write!(
            f,
            "  attempts answered 503: {}, connection errors: {}, timeouts: {}, unexpected: {}; slowest answer {} ms",
            self.status_503,
            self.connection_errors,
            self.timeouts,
            self.unexpected,
            self.max_latency.as_millis()
        )
    }
}

/// Median and maximum, in milliseconds.
pub fn median_max(values: &[Duration]) -> (u128, u128) {
    let mut ms: Vec<u128> = values.iter().map(Duration::as_millis).collect();
    ms.sort_unstable();
    match ms.len() {
        0 => (0, 0),
        n => (ms[n / 2], ms[n - 1]),
    }
}

/// Time from each fault (`at`) to the first acknowledgement of a request sent after it.
pub fn recoveries(attempts: &[Attempt], faults: &[Duration]) -> Vec<Duration> {
    faults
        .iter()
        .filter_map(|&at| {
            attempts
                .iter()
                .filter(|a| a.sent >= at && matches!(a.outcome, Outcome::Ack { .. }))
                .map(|a| a.done() - at)
                .min()
        })
        .collect()
}
