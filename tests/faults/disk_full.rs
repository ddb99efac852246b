//! SQLite on a filesystem that runs out of space: the data directory is a small tmpfs, a filler
//! file takes the rest of it while randomizations go on; they must fail with 503
//! `service_unavailable`, never 500 and never half-written, and resume once space is freed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::app::eligible;
use crate::harness::{
    check, create_actors, faults_required, http_client, recoveries, resolve, screen, serial,
    summarize, Attempt, Budget, History, Kind, Load, LoadOptions, Outcome, Server, ServerConfig, T,
};

/// Polls `done` every 20 ms for at most `limit`; whether it became true.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            path: dir.path().to_path_buf(),
            _dir: dir,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a process we could not reap?): detach it now, freed when unused.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// Writes `dir/filler` until the filesystem is full; returns its path and size.
fn fill(dir: &Path) -> (PathBuf, u64) {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let mut written = 0u64;
    for chunk in [256 * 1024, 4096, 512] {
        let bytes = vec![0xA5u8; chunk];
        // Bounded: the tmpfs is far smaller than this many chunks.
        for _ in 0..1_000_000 {
            match file.write(&bytes) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    (path, written)
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` from outside: an empty WAL must grow with the next commit,
/// so a full disk shows at once instead of after the WAL's reusable frames.
fn truncate_wal(url: &str) {
    use diesel::connection::SimpleConnection;
    let mut conn = trialgate::storage::establish(url).unwrap();
    crate::common::sqlite(&mut conn)
        .batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
}

#[test]
fn sqlite_disk_full() {
    let _serial = serial();
    let mount = match Tmpfs::mount("24m") {
        Ok(m) => m,
        Err(why) => {
            let line = format!("{why}: SQLite disk-full test NOT run");
            assert!(!faults_required(), "{line} (TRIALGATE_REQUIRE_FAULTS=1)");
            eprintln!("{line}");
            return;
        }
    };
    let data_dir = mount.path.join("data");
    let mut server = Server::start(ServerConfig {
        data_dir: data_dir.clone(),
        database_url: None, // SQLite in the data directory, on the tmpfs
        pool_size: 8,
    });
    let client = http_client();
    let actors = create_actors(&server, &client);
    let mut screened = 400;
    let patients = screen(&server, &client, &actors.investigator, "D", screened);
    let history = Arc::new(History::default());
    let load = Load::start(
        server.base_handle(),
        &actors.pharmacist,
        patients,
        history.clone(),
        LoadOptions {
            threads: 3,
            pause_ms: 10,
            seed: Budget::from_env().seed,
            name: "disk".into(),
        },
    );
    let acks = |from: Duration| {
        history
            .snapshot()
            .iter()
            .filter(|a| a.sent >= from && matches!(a.outcome, Outcome::Ack { .. }))
            .count()
    };
    let unavailable = |from: Duration| {
        history
            .snapshot()
            .iter()
            .filter(|a| a.sent >= from && a.outcome.is_unknown())
            .count()
    };

    // 1. Space left: randomizations go through.
    wait_until(Duration::from_secs(30), || acks(Duration::ZERO) >= 20);

    // 2. The disk fills up under the load: randomizations are refused with 503.
    truncate_wal(&server.database_url());
    let (filler, filler_bytes) = fill(&mount.path);
    let full_at = history.now();
    // Full for at least 2 s and 20 refusals, so retries under the same key meet it too.
    let refused_in_time = wait_until(Duration::from_secs(30), || {
        unavailable(full_at) >= 20 && history.now() - full_at >= Duration::from_secs(2)
    });
    assert!(
        refused_in_time,
        "the full disk did not refuse randomizations ({} acknowledged since)",
        acks(full_at)
    );
    // Reads still work; a screening (a write) is refused the same way.
    let subjects = client
        .get(format!("{}{T}/subjects", server.base()))
        .bearer_auth(&actors.monitor)
        .send()
        .unwrap();
    assert_eq!(subjects.status(), 200, "reading while the disk is full");
    let screening = client
        .post(format!("{}{T}/screenings", server.base()))
        .bearer_auth(&actors.investigator)
        .json(&eligible("D-FULL", "SITE01"))
        .send()
        .unwrap();
    let screening_status = screening.status().as_u16();
    let body: Value = screening.json().unwrap();
    match screening_status {
        201 => screened += 1,
        503 => assert_eq!(body["code"], "service_unavailable", "{body}"),
        other => panic!("screening on a full disk: {other} {body}"),
    }
    let health = client
        .get(format!("{}/healthz", server.base()))
        .send()
        .unwrap()
        .status()
        .as_u16();

    // 3. Space freed: the clients' retries go through under their keys, new requests too.
    std::fs::remove_file(&filler).unwrap();
    let freed_at = history.now();
    let resumed = wait_until(Duration::from_secs(30), || acks(freed_at) >= 30);
    assert!(
        resumed,
        "randomization did not resume after space was freed"
    );
    let pending = load.stop();
    let unresolved = resolve(
        &history,
        &client,
        &server.base(),
        &actors.pharmacist,
        pending,
    );
    assert_eq!(unresolved, 0, "still unavailable after space was freed");
    let full_window = freed_at - full_at;

    server.restart();
    let attempts = history.snapshot();
    let checked = check(&server, &client, &actors, &attempts, screened);
    let summary = summarize(&attempts);
    let first_ack_after_free = recoveries(&attempts, &[freed_at])[0];
    let while_full: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.sent >= full_at && a.sent < freed_at)
        .collect();
    let acked_while_full = while_full
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Ack { .. }))
        .count();
    // A replay reads the stored allocation and writes nothing, so it may pass on a full disk.
    let replays_acked_while_full = while_full
        .iter()
        .filter(|a| a.kind == Kind::Replay && matches!(a.outcome, Outcome::Ack { .. }))
        .count();
    let refused_while_full = while_full
        .iter()
        .filter(|a| matches!(&a.outcome, Outcome::Unavailable { code } if code == "service_unavailable"))
        .count();
    // A duplicate of an allocated patient is refused after a read, writing nothing: like a
    // replay it may be answered on a full disk.
    let duplicates_refused_while_full = while_full
        .iter()
        .filter(|a| matches!(&a.outcome, Outcome::Refused { status: 409, code } if code == "already_randomized"))
        .count();
    println!(
        "FAULTS disk-full/sqlite: tmpfs 24 MiB, filler {} KiB, full for {} ms; attempts while full: {} ({acked_while_full} acknowledged of which {replays_acked_while_full} replays, {refused_while_full} 503 service_unavailable, {duplicates_refused_while_full} already_randomized, 0 other); screening while full: {screening_status}; /healthz while full: {health}; first ack {} ms after freeing space\n{summary}\n  {} subjects, {} audit entries, {} screenings; checks passed incl. integrity_check",
        filler_bytes / 1024,
        full_window.as_millis(),
        while_full.len(),
        first_ack_after_free.as_millis(),
        checked.subjects,
        checked.audit_entries,
        checked.screenings,
    );
    assert_eq!(
        refused_while_full + acked_while_full + duplicates_refused_while_full,
        while_full.len()
    );
    assert_eq!(summary.unexpected, 0);
    drop(server);
}
