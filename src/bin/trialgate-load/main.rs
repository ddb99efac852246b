//! `trialgate-load`: randomization throughput of a running trialgate server against the
//! database's raw durable commit rate, measured in the same run.
//!
//! ```text
//! cargo build --release --bins
//! target/release/trialgate-load --backend sqlite --clients 4 --requests 2000 [--json]
//! target/release/trialgate-load --backend postgres --clients 16 --requests 2000
//! ```
//!
//! By default it spawns `trialgate serve` (the `trialgate` binary next to this one, or
//! `--server-bin`) on a free loopback port with a temporary data directory and a copy of the
//! built-in protocol with a large cap and its own trial id. For PostgreSQL it creates a fresh
//! database `tg_load_<uuid>` on `--postgres-url` and drops it afterwards. It then creates an
//! investigator, a pharmacist and a monitor with the admin token, screens `--requests` eligible
//! patients (not timed), and randomizes them with `--clients` concurrent blocking clients,
//! recording each request's latency and sampling the server's VmRSS/VmHWM. Afterwards it checks
//! that every response was 201, that the sequences are exactly 1..N and that the trial's audit
//! chain verifies. In the same run it measures one-row INSERT transactions on the same backend
//! with the server's durability settings (SQLite: a separate file, WAL + synchronous=FULL,
//! `BEGIN IMMEDIATE`; PostgreSQL: the same server, a scratch database, synchronous_commit as
//! configured), over one connection and over `--clients` connections, interleaved with the
//! server load in `--rounds` rounds (fsync latency drifts on shared machines).
//!
//! With `--url` it drives an already running server instead: give `--admin-token-file`,
//! `--trial` (a trial with room under its cap) and optionally `--server-pid` for RSS.

mod cleanup;
mod cli;
mod driver;
mod http;
mod pg;
mod raw;
mod report;
mod run;
mod server;
mod stats;
mod system;

use std::process::ExitCode;

use clap::Parser;

use crate::cleanup::Cleanup;
use crate::cli::Args;

pub(crate) type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let args = Args::parse();
    let mut cleanup = Cleanup::default();
    let outcome = run::run(&args, &mut cleanup);
    drop(cleanup);
    match outcome {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
                );
            } else {
                print!("{}", report.to_text());
            }
            if report.checks_passed() {
                ExitCode::SUCCESS
            } else {
                eprintln!("trialgate-load: checks FAILED");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("trialgate-load: {e}");
            ExitCode::from(2)
        }
    }
}
