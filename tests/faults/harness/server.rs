//! The server process: `trialgate serve` started, killed and restarted on a port of its own,
//! and the `trialgate` CLI run against its data.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use super::TRIAL;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The default protocol with a cap that the load never reaches.
pub fn large_cap_protocol() -> String {
    let text = include_str!("../../../protocols/NCT06987370.toml");
    assert!(text.contains("\ncap = 90\n"), "the default protocol's cap");
    text.replace("\ncap = 90\n", "\ncap = 100000\n")
}

pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    pub pool_size: u32,
}

/// `trialgate serve` as a child process; its output goes to a log file outside the data dir.
pub struct Server {
    pub cfg: ServerConfig,
    dir: tempfile::TempDir,
    protocol: PathBuf,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
    base: Arc<RwLock<String>>,
    /// Processes started (the first start included).
    pub starts: usize,
}

impl Server {
    pub fn start(cfg: ServerConfig) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let protocol = dir.path().join("protocol.toml");
        std::fs::write(&protocol, large_cap_protocol()).unwrap();
        let log = dir.path().join("server.log");
        let port = free_port();
        let mut server = Server {
            cfg,
            dir,
            protocol,
            log,
            port,
            child: None,
            base: Arc::new(RwLock::new(format!("http://127.0.0.1:{port}"))),
            starts: 0,
        };
        server.launch_until_healthy();
        server
    }

    pub fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }

    /// The base URL as the load threads follow it across restarts.
    pub fn base_handle(&self) -> Arc<RwLock<String>> {
        self.base.clone()
    }

    pub fn data_dir(&self) -> &Path {
        &self.cfg.data_dir
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.cfg.data_dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn seed_file(&self) -> PathBuf {
        self.cfg
            .data_dir
            .join("seeds")
            .join(format!("{TRIAL}.seed"))
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialgate"));
        cmd.arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.cfg.data_dir)
            .arg("--protocol")
            .arg(&self.protocol)
            .arg("--pool-size")
            .arg(self.cfg.pool_size.to_string())
            .arg("--workers")
            .arg("2")
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .env_remove("TRIALGATE_DATA_DIR")
            .env_remove("TRIALGATE_BIND")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        if let Some(url) = &self.cfg.database_url {
            cmd.arg("--database-url").arg(url);
        }
        self.child = Some(cmd.spawn().unwrap());
        self.starts += 1;
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, starts it again on the same port (another one if that is
    /// taken; clients follow [`base_handle`](Self::base_handle)) and waits for `/healthz`.
    /// Returns the time from spawn to healthy.
    pub fn restart(&mut self) -> Duration {
        self.kill();
        let started = Instant::now();
        self.launch_until_healthy();
        started.elapsed()
    }

    fn launch_until_healthy(&mut self) {
        let client = Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        for _ in 0..3 {
            self.spawn();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let child = self.child.as_mut().unwrap();
                if child.try_wait().unwrap().is_some() {
                    break; // exited at start: most likely its port was taken meanwhile
                }
                let healthy = client
                    .get(format!("{}/healthz", self.base()))
                    .send()
                    .is_ok_and(|r| r.status() == 200);
                if healthy {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "server not healthy within 60 s; log:\n{}",
                    self.log_tail()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            self.child = None;
            self.port = free_port();
            *self.base.write().unwrap() = format!("http://127.0.0.1:{}", self.port);
        }
        panic!(
            "server exited at start three times; log:\n{}",
            self.log_tail()
        );
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Runs a `trialgate` CLI command against this server's data: (success, stdout+stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialgate"));
        cmd.args(args)
            .arg("--data-dir")
            .arg(&self.cfg.data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .env_remove("TRIALGATE_DATA_DIR");
        if let Some(url) = &self.cfg.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        trialgate::server::database_url(&self.cfg.data_dir, self.cfg.database_url.as_deref())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
