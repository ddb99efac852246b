//! The report: what was measured and checked, as JSON or as a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::cli::Backend;
use crate::stats::{LoadResult, RawRate};
use crate::system::RssStats;

pub(crate) struct Report {
    pub(crate) backend: Backend,
    pub(crate) clients: usize,
    pub(crate) requests: usize,
    pub(crate) server: String,
    pub(crate) screen_seconds: f64,
    pub(crate) load: LoadResult,
    pub(crate) raw_single: RawRate,
    pub(crate) raw_concurrent: RawRate,
    pub(crate) raw_settings: String,
    pub(crate) raw_warmup: usize,
    /// The machine's 1-minute load average before and after the server load.
    pub(crate) loadavg: (Option<f64>, Option<f64>),
    pub(crate) rss: RssStats,
    pub(crate) checks: Checks,
}

pub(crate) struct Checks {
    pub(crate) all_201: bool,
    pub(crate) sequences_gapless: bool,
    /// The server's verdict on the trial's chain.
    pub(crate) audit_valid: bool,
    pub(crate) audit_entries: u64,
    /// Entries before the run plus one per screening and one per randomization.
    pub(crate) audit_entries_expected: u64,
    /// PostgreSQL's start time changed during the run (another user restarted it).
    pub(crate) postgres_restarted: bool,
}

impl Report {
    pub(crate) fn checks_passed(&self) -> bool {
        self.checks.all_201
            && self.checks.sequences_gapless
            && self.checks.audit_valid
            && self.checks.audit_entries == self.checks.audit_entries_expected
            && !self.checks.postgres_restarted
    }

    fn ratio_concurrent(&self) -> f64 {
        self.load.throughput() / self.raw_concurrent.rate().max(1e-9)
    }

    fn ratio_single(&self) -> f64 {
        self.load.throughput() / self.raw_single.rate().max(1e-9)
    }

    fn peak_rss_kb(&self) -> Option<u64> {
        match (self.rss.hwm_kb, self.rss.max_sampled_kb) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let statuses: BTreeMap<String, usize> = self
            .load
            .statuses
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        json!({
            "backend": self.backend.name(),
            "clients": self.clients,
            "requests": self.requests,
            "server": self.server,
            "screening_seconds": self.screen_seconds,
            "completed": self.load.completed,
            "seconds": self.load.seconds,
            "throughput_rps": self.load.throughput(),
            "latency_ms": {
                "p50": self.load.percentile_ms(50.0),
                "p99": self.load.percentile_ms(99.0),
                "max": self.load.max_ms(),
            },
            "statuses": statuses,
            "loadavg_1min": {"before_load": self.loadavg.0, "after_load": self.loadavg.1},
            "raw_commit_rate": {
                "settings": self.raw_settings,
                "warmup_commits": self.raw_warmup,
                "single": self.raw_single.to_json(),
                "concurrent": self.raw_concurrent.to_json(),
            },
            "ratio_server_to_raw_concurrent": self.ratio_concurrent(),
            "ratio_server_to_raw_single": self.ratio_single(),
            "rss_kb": {
                "idle_before_load": self.rss.idle_kb,
                "max_sampled_vmrss": self.rss.max_sampled_kb,
                "vmhwm": self.rss.hwm_kb,
                "peak": self.peak_rss_kb(),
                "samples": self.rss.samples,
            },
            "checks": {
                "all_201": self.checks.all_201,
                "sequences_gapless": self.checks.sequences_gapless,
                "audit_valid": self.checks.audit_valid,
                "audit_entries": self.checks.audit_entries,
                "audit_entries_expected": self.checks.audit_entries_expected,
                "postgres_restarted": self.checks.postgres_restarted,
                "passed": self.checks_passed(),
            },
        })
    }

    pub(crate) fn to_text(&self) -> String {
        let mb = |kb: Option<u64>| {
            kb.map_or("n/a".to_string(), |k| {
                format!("{:.1} MB", k as f64 / 1024.0)
            })
        };
        let yes = |b: bool| if b { "yes" } else { "NO" };
        let mut t = String::new();
        let _ = writeln!(
            t,
            "trialgate-load  backend={}  clients={}  requests={}  server: {}",
            self.backend.name(),
            self.clients,
            self.requests,
            self.server
        );
        let _ = writeln!(
            t,
            "screening (untimed)  {} patients in {:.2} s",
            self.requests, self.screen_seconds
        );
        let _ = writeln!(
            t,
            "server randomize     {} completed in {:.2} s = {:.1} req/s",
            self.load.completed,
            self.load.seconds,
            self.load.throughput()
        );
        let _ = writeln!(
            t,
            "machine load         1-min load average {} before, {} after ({} cores)",
            self.loadavg.0.map_or("n/a".into(), |l| format!("{l:.2}")),
            self.loadavg.1.map_or("n/a".into(), |l| format!("{l:.2}")),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        let _ = writeln!(
            t,
            "latency              p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            self.load.percentile_ms(50.0),
            self.load.percentile_ms(99.0),
            self.load.max_ms()
        );
        let _ = writeln!(t, "raw commits, 1 conn  {}", self.raw_single.to_text());
        let _ = writeln!(
            t,
            "raw commits, {:<2} conn {}",
            self.raw_concurrent.connections,
            self.raw_concurrent.to_text()
        );
        let _ = writeln!(
            t,
            "raw settings         {} (after {} untimed warm-up commits)",
            self.raw_settings, self.raw_warmup
        );
        let _ = writeln!(
            t,
            "ratio server/raw     {:.3} (vs {} conns)   {:.3} (vs 1 conn)",
            self.ratio_concurrent(),
            self.raw_concurrent.connections,
            self.ratio_single()
        );
        let _ = writeln!(
            t,
            "server RSS           peak {}  (VmHWM {}, max sampled VmRSS {}, idle before load {}, {} samples)",
            mb(self.peak_rss_kb()),
            mb(self.rss.hwm_kb),
            mb(self.rss.max_sampled_kb),
            mb(self.rss.idle_kb),
            self.rss.samples
        );
        let statuses: Vec<String> = self
            .load
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect();
        let _ = writeln!(
            t,
            "checks               all 201: {} ({})   sequences 1..{} gapless: {}   audit verify: {} ({} entries, {} expected)",
            yes(self.checks.all_201),
            statuses.join(", "),
            self.requests,
            yes(self.checks.sequences_gapless),
            if self.checks.audit_valid { "valid" } else { "INVALID" },
            self.checks.audit_entries,
            self.checks.audit_entries_expected
        );
        if self.checks.postgres_restarted {
            let _ = writeln!(
                t,
                "WARNING              PostgreSQL was restarted during the run: figures invalid"
            );
        }
        t
    }
}
