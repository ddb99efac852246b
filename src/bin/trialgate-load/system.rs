//! Sampling the machine and the server process: load average, VmRSS/VmHWM.

use std::fs::File;
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct RssStats {
    pub(crate) idle_kb: Option<u64>,
    pub(crate) max_sampled_kb: Option<u64>,
    pub(crate) hwm_kb: Option<u64>,
    pub(crate) samples: u64,
}

/// The 1-minute load average (other work on the machine skews every figure).
pub(crate) fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A `VmRSS`/`VmHWM`-style line of /proc/PID/status, in kB.
pub(crate) fn read_status_kb(pid: u32, field: &str) -> Option<u64> {
    let mut text = String::new();
    File::open(format!("/proc/{pid}/status"))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Samples VmRSS every 20 ms until `stop`; returns (max kB, samples). Bounded at 30 minutes.
pub(crate) fn sample_rss(pid: u32, stop: &AtomicBool) -> (Option<u64>, u64) {
    let mut max = None;
    let mut samples = 0;
    let until = Instant::now() + Duration::from_secs(1800);
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        if let Some(kb) = read_status_kb(pid, "VmRSS") {
            max = Some(max.map_or(kb, |m: u64| m.max(kb)));
            samples += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (max, samples)
}
