//! `trialgate audit verify|check`: the audit trail against its hashes, a saved checkpoint,
//! and the seed. Never migrates: a database without the schema is refused.

use std::path::Path;
use std::process::ExitCode;

use super::{AuditCommand, CliError, DataArgs};
use crate::randomization::Seed;
use crate::service::maintenance::{Extension, SavedCheckpoint};
use crate::service::{audit_trail, maintenance};

pub(super) fn run(command: AuditCommand) -> Result<ExitCode, CliError> {
    match command {
        AuditCommand::Verify {
            trial,
            expect_head,
            checkpoint,
            public_key,
            data,
        } => verify(
            &trial,
            expect_head.as_deref(),
            checkpoint.as_deref(),
            public_key.as_deref(),
            &data,
        ),
        AuditCommand::Check {
            trial,
            seed_file,
            data,
        } => check(&trial, &seed_file, &data),
    }
}

fn verify(
    trial: &str,
    expect_head: Option<&str>,
    checkpoint: Option<&Path>,
    public_key: Option<&str>,
    data: &DataArgs,
) -> Result<ExitCode, CliError> {
    let checkpoint = match checkpoint {
        None => None,
        Some(path) => match maintenance::read_checkpoint(path, trial, public_key, &data.dir()) {
            Ok(c) => Some(c),
            Err(problem) => {
                println!("checkpoint {}: INVALID: {problem}", path.display());
                return Ok(ExitCode::from(1));
            }
        },
    };
    let mut conn = data.open_existing()?;
    let v = audit_trail::verify_chain(&mut conn, trial, expect_head)?;
    if let (true, Some(SavedCheckpoint::Tree { checkpoint, key_id })) = (v.valid, &checkpoint) {
        match maintenance::log_extends(&mut conn, trial, checkpoint)? {
            Extension::Extends { size } => println!(
                "checkpoint: signature valid (key {key_id}), the log of {size} entries extends the saved tree of {} entries (consistency proof verified)",
                checkpoint.size
            ),
            Extension::Broken(problem) => {
                println!(
                    "chain {trial}: INVALID: the log does not extend the saved tree of {} entries: {problem}",
                    checkpoint.size
                );
                return Ok(ExitCode::from(1));
            }
        }
    }
    if let (true, Some(SavedCheckpoint::Head(c))) = (v.valid, &checkpoint) {
        if maintenance::chain_contains(&mut conn, trial, c)? {
            println!(
                "checkpoint: signature valid (key {}), chain extends seq {} hash {}",
                c.key_id, c.seq, c.hash
            );
        } else {
            println!(
                "chain {trial}: INVALID: it does not contain the checkpoint's entry seq {} hash {} (rewritten or truncated)",
                c.seq, c.hash
            );
            return Ok(ExitCode::from(1));
        }
    }
    if v.valid {
        println!(
            "chain {trial}: valid, {} entries, head {}",
            v.entries, v.head
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "chain {trial}: INVALID, first bad seq {}{}",
            v.first_invalid_seq
                .map_or("?".to_string(), |s| s.to_string()),
            v.problem.map_or(String::new(), |p| format!(": {p}"))
        );
        Ok(ExitCode::from(1))
    }
}

fn check(trial: &str, seed_file: &Path, data: &DataArgs) -> Result<ExitCode, CliError> {
    let seed = Seed::read_file(seed_file)?;
    let mut conn = data.open_existing()?;
    let report = audit_trail::check_allocations(&mut conn, trial, &seed)?;
    for problem in &report.problems {
        println!("MISMATCH: {problem}");
    }
    if report.problems.is_empty() {
        println!(
            "trial {trial}: all {} allocations equal the schedule of seed {}",
            report.checked,
            seed.commitment()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "trial {trial}: {} problem(s) in {} allocations",
            report.problems.len(),
            report.checked
        );
        Ok(ExitCode::from(1))
    }
}
