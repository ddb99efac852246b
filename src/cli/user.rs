//! `trialgate user add|revoke`: users and tokens, acting as the local operator.

use std::process::ExitCode;

use super::{CliError, UserCommand};
use crate::service::users;

pub(super) fn run(command: UserCommand) -> Result<ExitCode, CliError> {
    match command {
        UserCommand::Add {
            name,
            role,
            sites,
            data,
        } => {
            let mut conn = data.open_migrated()?;
            let created = users::create(&mut conn, &users::cli_actor(), &name, &role, &sites)?;
            println!("{}", created.token);
            eprintln!(
                "user {} ({}) created; the token above is shown once",
                created.name, created.role
            );
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Revoke { name, data } => {
            let mut conn = data.open_migrated()?;
            let revoked = users::revoke(&mut conn, &users::cli_actor(), &name)?;
            println!(
                "user {} revoked ({} tokens)",
                revoked.name, revoked.revoked_tokens
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
