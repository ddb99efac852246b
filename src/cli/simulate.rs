//! `trialgate simulate`: the design's operating characteristics from simulated trials.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use super::{ignore_broken_pipe, load_protocol, CliError, ReportFormat};
use crate::protocol::Protocol;
use crate::randomization::Seed;

pub(super) fn run(
    protocol: Option<&Path>,
    trials: u64,
    seed: Option<&str>,
    format: ReportFormat,
) -> Result<ExitCode, CliError> {
    let protocol = load_protocol(protocol)?;
    let seed = match seed {
        Some(hex) => Seed::from_hex(hex).map_err(CliError::SimulationSeed)?,
        None => DEFAULT_SIMULATION_SEED,
    };
    if trials == 0 {
        return Err(CliError::NoTrials);
    }
    let report = crate::randomization::simulation::simulate(
        protocol.design(),
        &protocol.id,
        u64::from(protocol.cap),
        trials,
        &seed,
    );
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        ReportFormat::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        ReportFormat::Text => write!(out, "{}", simulation_text(&report, &protocol)),
    }
    .and_then(|()| out.flush())
    .or_else(ignore_broken_pipe)?;
    Ok(ExitCode::SUCCESS)
}

/// The report as a statistician reads it.
fn simulation_text(r: &crate::randomization::simulation::SimulationReport, p: &Protocol) -> String {
    use std::fmt::Write as _;
    let ratio = p
        .arms
        .iter()
        .map(|a| format!("{} {}", a.code, a.ratio))
        .collect::<Vec<_>>()
        .join(" : ");
    let mut t = String::new();
    let _ = writeln!(
        t,
        "trial {}: {ratio}, block sizes {:?}, {} patients",
        p.id, r.block_sizes, r.patients
    );
    let _ = writeln!(
        t,
        "{} simulated trials ({}), seed commitment {}",
        r.trials, r.algorithm, r.seed_commitment
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "correct guess rate     {:.4}   ({})",
        r.correct_guess_rate, r.guess_strategy
    );
    let _ = writeln!(
        t,
        "deterministic share    {:.4}   (arm certain given the design and all earlier arms)",
        r.deterministic_share
    );
    let _ = writeln!(
        t,
        "mean final imbalance   {:.4}   (|N_A*r_B - N_B*r_A|, largest pair)",
        r.mean_final_imbalance
    );
    let _ = writeln!(t, "mean max imbalance     {:.4}", r.mean_max_imbalance);
    let _ = writeln!(t, "max imbalance          {}", r.max_imbalance);
    let _ = writeln!(t);
    let _ = writeln!(t, "imbalance   final (trials)   max (trials)");
    let mut levels: Vec<u64> = r
        .final_imbalance_distribution
        .iter()
        .chain(&r.max_imbalance_distribution)
        .map(|c| c.imbalance)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let find = |d: &[crate::randomization::simulation::ImbalanceCount], level| {
        d.iter()
            .find(|c| c.imbalance == level)
            .map_or(0, |c| c.trials)
    };
    for level in levels {
        let _ = writeln!(
            t,
            "{level:>9}   {:>14}   {:>12}",
            find(&r.final_imbalance_distribution, level),
            find(&r.max_imbalance_distribution, level)
        );
    }
    t
}

/// The default simulation seed: fixed, so `trialgate simulate` is reproducible.
pub const DEFAULT_SIMULATION_SEED: Seed = Seed::from_bytes([0x5e; 32]);
