//! The figures of a run: request latencies with their percentiles, and raw commit phases
//! with their rates.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

#[derive(Default)]
pub(crate) struct LoadResult {
    pub(crate) completed: usize,
    pub(crate) seconds: f64,
    pub(crate) statuses: BTreeMap<u16, usize>,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) sequences: Vec<i64>,
}

impl LoadResult {
    pub(crate) fn merge(&mut self, other: LoadResult) {
        self.completed += other.completed;
        self.seconds += other.seconds;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_insert(0) += n;
        }
        self.latencies.extend(other.latencies);
        self.sequences.extend(other.sequences);
    }

    pub(crate) fn throughput(&self) -> f64 {
        self.completed as f64 / self.seconds.max(1e-9)
    }

    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1000.0
    }

    pub(crate) fn max_ms(&self) -> f64 {
        self.latencies
            .last()
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// One timed batch of raw commits.
#[derive(Clone, Copy)]
pub(crate) struct Phase {
    pub(crate) commits: usize,
    pub(crate) seconds: f64,
}

impl Phase {
    pub(crate) fn rate(&self) -> f64 {
        self.commits as f64 / self.seconds.max(1e-9)
    }

    pub(crate) fn to_json(self) -> Value {
        json!({"commits": self.commits, "seconds": self.seconds, "per_second": self.rate()})
    }
}

/// Raw commits over `connections` connections, one phase per round, interleaved with the
/// server's slices of the load (the disk's fsync latency drifts; interleaving lets both see
/// the same conditions).
pub(crate) struct RawRate {
    pub(crate) connections: usize,
    pub(crate) rounds: Vec<Phase>,
}

impl RawRate {
    /// All rounds together: all commits over all their time.
    pub(crate) fn rate(&self) -> f64 {
        let commits: usize = self.rounds.iter().map(|p| p.commits).sum();
        let seconds: f64 = self.rounds.iter().map(|p| p.seconds).sum();
        commits as f64 / seconds.max(1e-9)
    }

    fn commits(&self) -> usize {
        self.rounds.iter().map(|p| p.commits).sum()
    }

    fn round_range(&self) -> (f64, f64) {
        self.rounds
            .iter()
            .map(Phase::rate)
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), r| {
                (lo.min(r), hi.max(r))
            })
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "connections": self.connections,
            "per_second": self.rate(),
            "commits": self.commits(),
            "rounds": self.rounds.iter().map(|p| p.to_json()).collect::<Vec<_>>(),
        })
    }

    pub(crate) fn to_text(&self) -> String {
        let (lo, hi) = self.round_range();
        format!(
            "{:.1}/s ({} commits; rounds {:.0}–{:.0}/s)",
            self.rate(),
            self.commits(),
            lo,
            hi
        )
    }
}
