//! `trialgate trial amend`: a protocol amendment, acting as the local operator.

use std::process::ExitCode;

use super::{CliError, TrialCommand};
use crate::service::{setup, trials, users};

pub(super) fn run(command: TrialCommand) -> Result<ExitCode, CliError> {
    match command {
        TrialCommand::Amend {
            trial,
            protocol,
            reason,
            data,
        } => {
            let text = std::fs::read_to_string(&protocol).map_err(|source| {
                CliError::Protocol(crate::protocol::ProtocolError::Read {
                    path: protocol.display().to_string(),
                    source,
                })
            })?;
            let mut conn = data.open_migrated()?;
            let all = setup::load_trials(&mut conn, &data.data_dir)?;
            let runtime = all.get(&trial).map_err(trials::TrialError::from)?;
            let amended = trials::amend(
                &mut conn,
                &all,
                &runtime,
                &users::cli_actor(),
                &text,
                &reason,
            )?;
            println!(
                "trial {trial}: protocol version {} in force (digest {}); changed: {}",
                amended.version,
                amended.protocol_digest,
                amended.changed.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
