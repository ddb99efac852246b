//! SIGKILL under load, repeatedly, on both backends.

use std::sync::Arc;
use std::time::Duration;

use crate::common::TestDb;
use crate::harness::{
    check, crash_point_check, create_actors, http_client, median_max, recoveries, resolve, screen,
    serial, summarize, Budget, History, Load, LoadOptions, Rng, Server, ServerConfig,
};

/// Load threads, and the most each pauses between answered requests.
const THREADS: usize = 4;
const PAUSE_MS: u64 = 10;

fn sigkill_under_load(db: TestDb) {
    let _serial = serial();
    let budget = Budget::from_env();
    let backend = format!("{:?}", db.backend).to_lowercase();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(ServerConfig {
        data_dir: data.path().to_path_buf(),
        database_url: Some(db.url.clone()),
        pool_size: 8,
    });
    let client = http_client();
    let actors = create_actors(&server, &client);
    // Enough patients for the load never to run dry: an upper bound of the allocation rate.
    let patients = (budget.seconds * 250.0) as usize + 500;
    let queue = screen(&server, &client, &actors.investigator, "K", patients);

    let history = Arc::new(History::default());
    let load = Load::start(
        server.base_handle(),
        &actors.pharmacist,
        queue,
        history.clone(),
        LoadOptions {
            threads: THREADS,
            pause_ms: PAUSE_MS,
            seed: budget.seed,
            name: format!("kill-{backend}"),
        },
    );
    let mut rng = Rng::new(budget.seed);
    let cycle = Duration::from_secs_f64(budget.seconds / (budget.kills + 1) as f64);
    let mut kills = Vec::new();
    let mut restarts = Vec::new();
    let mut subjects_at_kill = Vec::new();
    for _ in 0..budget.kills {
        std::thread::sleep(rng.jitter(cycle));
        kills.push(history.now());
        server.kill();
        subjects_at_kill.push(crash_point_check(&server.database_url()));
        restarts.push(server.restart());
    }
    std::thread::sleep(cycle);
    let left = load.remaining();
    let pending = load.stop();
    let unresolved = resolve(
        &history,
        &client,
        &server.base(),
        &actors.pharmacist,
        pending,
    );
    assert!(left > 0, "the load ran out of patients: screen more");

    server.restart(); // the clean final restart the checker works on
    let attempts = history.snapshot();
    let checked = check(&server, &client, &actors, &attempts, patients);
    let summary = summarize(&attempts);
    let (restart_median, restart_max) = median_max(&restarts);
    let (recovery_median, recovery_max) = median_max(&recoveries(&attempts, &kills));
    println!(
        "FAULTS sigkill/{backend}: {} SIGKILLs in {:.1} s of load, {} server starts; {} subjects, {} audit entries, {} screenings; unresolved after final retries: {unresolved}\n{summary}\n  restart (spawn to healthy) median {restart_median} ms, max {restart_max} ms; SIGKILL to next ack median {recovery_median} ms, max {recovery_max} ms\n  subjects at each kill: {subjects_at_kill:?}\n  checks passed: acks present with same subject/sequence/arm/patient, none duplicated, sequences 1..{} gapless, audit check (schedule + audit entry), chain valid (API, CLI, _system){}",
        kills.len(),
        history.now().as_secs_f64(),
        server.starts,
        checked.subjects,
        checked.audit_entries,
        checked.screenings,
        checked.subjects,
        if backend == "sqlite" { ", integrity_check ok after every kill and at the end" } else { "" },
    );
    assert_eq!(summary.unexpected, 0);
}
both_backends!(sigkill_under_load);
