//! Tokens are shown once: after creation they appear in no log line, no database byte and
//! no response. Runs the real binary so its real logging is what gets searched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn tokens_never_leak_after_creation() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_trialgate"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path())
            .env("RUST_LOG", "trace")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Drain the logs as they come, so a full pipe never blocks the server.
    let mut stderr = server.0.stderr.take().unwrap();
    let log_reader = std::thread::spawn(move || {
        let mut logs = String::new();
        stderr.read_to_string(&mut logs).unwrap();
        logs
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = std::fs::read_to_string(dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_string();

    let mut tokens = vec![admin.clone()];
    let mut later_responses = String::new();
    for (name, role) in [
        ("ines", "investigator"),
        ("paul", "pharmacist"),
        ("mona", "monitor"),
    ] {
        let r: Value = client
            .post(format!("{base}/api/v1/users"))
            .bearer_auth(&admin)
            .json(&json!({"name": name, "role": role}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        tokens.push(r["token"].as_str().unwrap().to_string());
    }
    // Use every token on a spread of endpoints, including failures and a revocation.
    for token in &tokens {
        for path in [
            "/api/v1/trials",
            "/api/v1/trials/NCT06987370",
            "/api/v1/trials/NCT06987370/subjects",
            "/api/v1/trials/NCT06987370/audit?limit=1000",
            "/api/v1/trials/NCT06987370/export?format=json",
            "/metrics",
        ] {
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .unwrap();
            later_responses.push_str(&format!("{:?}", r.headers()));
            later_responses.push_str(&r.text().unwrap());
        }
    }
    let wrong = format!("{}0", &tokens[1][..tokens[1].len() - 1]);
    later_responses.push_str(
        &client
            .get(format!("{base}/api/v1/trials"))
            .bearer_auth(&wrong)
            .send()
            .unwrap()
            .text()
            .unwrap(),
    );
    client
        .delete(format!("{base}/api/v1/users/paul"))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    later_responses.push_str(
        &client
            .get(format!("{base}/api/v1/trials"))
            .bearer_auth(&tokens[2])
            .send()
            .unwrap()
            .text()
            .unwrap(),
    );

    drop(client);
    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut logs = log_reader.join().unwrap();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.contains("request"),
        "the server logged requests: {logs}"
    );

    let mut db_bytes = Vec::new();
    for file in ["trialgate.db", "trialgate.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            db_bytes.extend(bytes);
        }
    }
    assert!(!db_bytes.is_empty());
    for token in tokens.iter().chain([&wrong]) {
        let secret = &token[3..]; // without the `tg_` prefix, so partial echoes are caught too
        assert!(!logs.contains(secret), "a token appears in the logs");
        assert!(
            !later_responses.contains(secret),
            "a token appears in a response"
        );
        assert!(
            !db_bytes
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "a token appears in the database"
        );
    }
}
