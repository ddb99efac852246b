//! `trialgate user add|list|change|token|revoke`: users and tokens, acting as the local operator.

use std::process::ExitCode;

use super::{CliError, ReportFormat, UserCommand};
use crate::service::{credentials, users};

pub(super) fn run(command: UserCommand) -> Result<ExitCode, CliError> {
    match command {
        UserCommand::Add {
            name,
            role,
            sites,
            full_name,
            email,
            expires,
            data,
        } => {
            let mut conn = data.open_migrated()?;
            let profile = users::Profile {
                full_name,
                email,
                expires_at: expires,
            };
            let created = users::create_account(
                &mut conn,
                &users::cli_actor(),
                &name,
                &role,
                &sites,
                &profile,
            )?;
            println!("{}", created.token);
            eprintln!(
                "user {} ({}) created; the token above is shown once",
                created.name, created.role
            );
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::List { format, data } => {
            let mut conn = data.open_existing()?;
            let list = users::list(&mut conn, &users::cli_actor())?;
            match format {
                ReportFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(std::io::Error::other)?
                ),
                ReportFormat::Text => {
                    for u in &list {
                        let sites = if u.sites.is_empty() {
                            "all sites".to_string()
                        } else {
                            u.sites.join(",")
                        };
                        println!(
                            "{}\t{}\t{}\t{:?}\t{}\t{}{}",
                            u.name,
                            u.full_name,
                            u.role,
                            u.status,
                            sites,
                            u.email.as_deref().unwrap_or("-"),
                            u.expires_at
                                .as_deref()
                                .map(|e| format!("\texpires {e}"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Change {
            name,
            role,
            sites,
            all_sites,
            full_name,
            email,
            no_email,
            expires,
            no_expiry,
            data,
        } => {
            let mut conn = data.open_migrated()?;
            let change = users::UserChange {
                role,
                sites: if all_sites {
                    Some(Vec::new())
                } else {
                    (!sites.is_empty()).then_some(sites)
                },
                full_name,
                email: if no_email {
                    Some(None)
                } else {
                    email.map(Some)
                },
                expires_at: if no_expiry {
                    Some(None)
                } else {
                    expires.map(Some)
                },
            };
            let u = users::change(&mut conn, &users::cli_actor(), &name, &change)?;
            println!(
                "user {} changed: {} at {}",
                u.name,
                u.role,
                if u.sites.is_empty() {
                    "all sites".to_string()
                } else {
                    u.sites.join(", ")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Token {
            name,
            expires,
            revoke_others,
            reset_password,
            data,
        } => {
            let mut conn = data.open_migrated()?;
            let request = credentials::TokenRequest {
                expires_at: expires,
                revoke_others,
                reset_password,
            };
            let issued = credentials::issue_token(&mut conn, &users::cli_actor(), &name, &request)?;
            println!("{}", issued.token);
            eprintln!(
                "token issued to {}{}{}; shown once{}",
                issued.name,
                issued
                    .expires_at
                    .as_deref()
                    .map(|e| format!(", expiring {e}"))
                    .unwrap_or_default(),
                if issued.revoked_tokens > 0 {
                    format!(", {} other token(s) revoked", issued.revoked_tokens)
                } else {
                    String::new()
                },
                if issued.password_reset {
                    "; the password is cleared: the user activates the account again with it"
                } else {
                    ""
                }
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
