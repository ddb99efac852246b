//! What every scenario shares: its size and switches from the environment, and one scenario
//! at a time.

use std::sync::{Mutex, MutexGuard};

/// One fault scenario at a time per process: each measures timings on a small shared machine.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The run's size, from the environment (see docs/fault-tolerance.md).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// `TRIALGATE_FAULT_KILLS`: SIGKILLs per backend (default 20).
    pub kills: usize,
    /// `TRIALGATE_FAULT_SECONDS`: seconds of load per scenario (default 10), spread over the
    /// kill cycles, or around the PostgreSQL outage.
    pub seconds: f64,
    /// `TRIALGATE_FAULT_SEED`: the seed of the load's choices and of the kill timing.
    pub seed: u64,
}

impl Budget {
    pub fn from_env() -> Budget {
        let seed = env_parse("TRIALGATE_FAULT_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let budget = Budget {
            kills: env_parse("TRIALGATE_FAULT_KILLS").unwrap_or(20).max(1),
            seconds: env_parse("TRIALGATE_FAULT_SECONDS")
                .unwrap_or(10.0_f64)
                .max(1.0),
            seed,
        };
        println!(
            "fault budget: {} kills, {} s of load, seed {} (TRIALGATE_FAULT_KILLS, TRIALGATE_FAULT_SECONDS, TRIALGATE_FAULT_SEED)",
            budget.kills, budget.seconds, budget.seed
        );
        budget
    }
}

fn env_parse<V: std::str::FromStr>(name: &str) -> Option<V> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// `TRIALGATE_REQUIRE_FAULTS=1`: a fault test that cannot inject its fault fails.
pub fn faults_required() -> bool {
    std::env::var("TRIALGATE_REQUIRE_FAULTS").as_deref() == Ok("1")
}
