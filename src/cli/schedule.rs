//! `trialgate schedule`: the allocation schedule of one stratum for a seed file.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use super::{ignore_broken_pipe, load_protocol, CliError, ScheduleFormat};
use crate::protocol::Protocol;
use crate::randomization::{Schedule, Seed, ALGORITHM};

pub(super) fn run(
    seed_file: &Path,
    protocol: Option<&Path>,
    stratum: &str,
    n: u64,
    format: ScheduleFormat,
) -> Result<ExitCode, CliError> {
    let protocol = load_protocol(protocol)?;
    let seed = Seed::read_file(seed_file)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    write_schedule(&mut out, &protocol, &seed, stratum, n, format)
        .and_then(|()| out.flush())
        .or_else(ignore_broken_pipe)?;
    Ok(ExitCode::SUCCESS)
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
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(["position", "block_index", "block_size", "arm"])?;
            for e in entries {
                w.write_record([
                    e.position.to_string(),
                    e.block_index.to_string(),
                    e.block_size.to_string(),
                    crate::service::csv_cell::text(code(e.arm)).into_owned(),
                ])?;
            }
            w.flush()?;
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
