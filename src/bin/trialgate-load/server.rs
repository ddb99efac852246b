//! The spawned `trialgate serve`: start on a free port with a scratch protocol and database,
//! wait until healthy, stop gracefully.

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cleanup::Cleanup;
use crate::cli::{Args, Backend};
use crate::http::agent;
use crate::pg::{create_pg_database, with_database};
use crate::Res;

pub(crate) fn read_trimmed(path: &Path) -> Res<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Starts `trialgate serve` on a free port; returns (base URL, admin token, trial, pid, description).
pub(crate) fn spawn_server(
    args: &Args,
    scratch: &Path,
    cleanup: &mut Cleanup,
    limit: Duration,
) -> Res<(String, String, String, Option<u32>, String)> {
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("current executable: {e}"))?
            .with_file_name("trialgate"),
    };
    if !bin.is_file() {
        return Err(format!(
            "{} not found: build it first (cargo build --release --bins) or pass --server-bin",
            bin.display()
        ));
    }
    let trial = format!("LOAD-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let protocol = trialgate::protocol::DEFAULT_PROTOCOL_TOML
        .replacen("id = \"NCT06987370\"", &format!("id = \"{trial}\""), 1)
        .replacen("cap = 90", "cap = 1000000", 1);
    if !protocol.contains(&trial) || !protocol.contains("cap = 1000000") {
        return Err(
            "the built-in protocol no longer has the id/cap lines this tool rewrites".into(),
        );
    }
    let protocol_file = scratch.join("protocol.toml");
    std::fs::write(&protocol_file, protocol).map_err(|e| format!("protocol file: {e}"))?;
    let data_dir = scratch.join("data");
    let database_url = match args.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let name = format!("tg_load_{}", uuid::Uuid::new_v4().simple());
            create_pg_database(&args.postgres_url, &name)?;
            cleanup
                .pg_databases
                .push((args.postgres_url.clone(), name.clone()));
            Some(with_database(&args.postgres_url, &name)?)
        }
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let log_path = scratch.join("server.log");
    let log = File::create(&log_path).map_err(|e| format!("server log: {e}"))?;
    let log_err = log.try_clone().map_err(|e| format!("server log: {e}"))?;
    let mut cmd = Command::new(&bin);
    cmd.arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--protocol")
        .arg(&protocol_file)
        .env_remove("DATABASE_URL")
        .env_remove("TRIALGATE_DATA_DIR")
        .env_remove("TRIALGATE_BIND")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    if let Some(url) = &database_url {
        cmd.arg("--database-url").arg(url);
    }
    if let Some(w) = args.workers {
        cmd.arg("--workers").arg(w.to_string());
    }
    if let Some(p) = args.pool_size {
        cmd.arg("--pool-size").arg(p.to_string());
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let pid = child.id();
    cleanup.child = Some(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = agent(Duration::from_secs(5));
    let deadline = Instant::now() + limit.min(Duration::from_secs(60));
    loop {
        if let Some(child) = cleanup.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "server exited ({status}) during start:\n{}",
                    tail(&log_path)
                ));
            }
        }
        if let Ok(r) = http.get(format!("{base}/healthz")).call() {
            if r.status().as_u16() == 200 {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err(format!("server did not start:\n{}", tail(&log_path)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin =
        read_trimmed(&trialgate::service::data_dir::DataDir::new(&data_dir).admin_token_file())?;
    let desc = format!(
        "spawned {} ({}, workers {}, pool {})",
        bin.display(),
        args.backend.name(),
        args.workers
            .map_or("default".to_string(), |w| w.to_string()),
        args.pool_size
            .map_or("default".to_string(), |p| p.to_string())
    );
    Ok((base, admin, trial, Some(pid), desc))
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
