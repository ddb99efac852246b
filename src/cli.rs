//! The `trialgate` command line: argument definitions and dispatch to the library.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::protocol::Protocol;
use crate::randomization::{Schedule, Seed, ALGORITHM};

#[derive(Debug, Parser)]
#[command(
    name = "trialgate",
    version,
    about = "Randomization and enrollment server for clinical trials"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleFormat {
    Text,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the allocation schedule of one stratum for a seed file.
    Schedule {
        /// Seed file: 64 hex characters.
        #[arg(long)]
        seed_file: PathBuf,
        /// Protocol file (TOML); the built-in NCT06987370 protocol when absent.
        #[arg(long)]
        protocol: Option<PathBuf>,
        /// Stratum key, e.g. `site=SITE01` (empty: the unstratified stream).
        #[arg(long, default_value = "")]
        stratum: String,
        /// Number of allocations to print.
        #[arg(short = 'n', default_value_t = 90)]
        n: u64,
        #[arg(long, value_enum, default_value_t = ScheduleFormat::Text)]
        format: ScheduleFormat,
    },
}

/// Runs a parsed command; errors are printed by the caller.
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Schedule {
            seed_file,
            protocol,
            stratum,
            n,
            format,
        } => {
            let protocol = load_protocol(protocol.as_deref())?;
            let seed = Seed::read_file(&seed_file).map_err(|e| e.to_string())?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            write_schedule(&mut out, &protocol, &seed, &stratum, n, format)
                .and_then(|()| out.flush())
                .or_else(ignore_broken_pipe)
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The protocol of `--protocol FILE`, or the built-in default trial.
pub fn load_protocol(path: Option<&Path>) -> Result<Protocol, String> {
    match path {
        Some(p) => Protocol::from_file(p),
        None => Protocol::default_trial(),
    }
    .map_err(|e| e.to_string())
}

/// `trialgate … | head` closes our stdout early; that is not an error worth reporting.
fn ignore_broken_pipe(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

pub fn write_schedule(
    out: &mut impl Write,
    protocol: &Protocol,
    seed: &Seed,
    stratum: &str,
    n: u64,
    format: ScheduleFormat,
) -> io::Result<()> {
    let entries = Schedule::new(seed, &protocol.id, stratum, protocol.design()).take(n as usize);
    let code = |arm: usize| protocol.arms[arm].code.as_str();
    match format {
        ScheduleFormat::Text => {
            writeln!(
                out,
                "# trial {}  stratum {:?}  algorithm {ALGORITHM}  seed commitment {}",
                protocol.id,
                stratum,
                seed.commitment()
            )?;
            writeln!(out, "{:>8} {:>6} {:>5}  arm", "position", "block", "size")?;
            for e in entries {
                writeln!(
                    out,
                    "{:>8} {:>6} {:>5}  {}",
                    e.position,
                    e.block_index,
                    e.block_size,
                    code(e.arm)
                )?;
            }
        }
        ScheduleFormat::Csv => {
            writeln!(out, "position,block_index,block_size,arm")?;
            for e in entries {
                writeln!(
                    out,
                    "{},{},{},{}",
                    e.position,
                    e.block_index,
                    e.block_size,
                    code(e.arm)
                )?;
            }
        }
        ScheduleFormat::Json => {
            let allocations: Vec<_> = entries
                .map(|e| {
                    serde_json::json!({
                        "position": e.position,
                        "block_index": e.block_index,
                        "block_size": e.block_size,
                        "arm": code(e.arm),
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "trial": protocol.id,
                "stratum": stratum,
                "algorithm": ALGORITHM,
                "seed_commitment": seed.commitment(),
                "allocations": allocations,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
