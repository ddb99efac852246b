//! One run from start to verdict: the server, screening, the rounds of server load and raw
//! commits, then the checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cleanup::Cleanup;
use crate::cli::{Args, Backend};
use crate::driver::{randomize_all, screen_patients};
use crate::http::{agent, create_user, register_site, verify_audit};
use crate::pg::{create_pg_database, postgres_start_time, with_database};
use crate::raw::{durability, prepare_raw_table, raw_commit_rate};
use crate::report::{Checks, Report};
use crate::server::{read_trimmed, spawn_server};
use crate::stats::{LoadResult, Phase, RawRate};
use crate::system::{loadavg, read_status_kb, sample_rss, RssStats};
use crate::Res;

pub(crate) fn run(args: &Args, cleanup: &mut Cleanup) -> Res<Report> {
    if args.clients == 0 || args.requests == 0 {
        return Err("--clients and --requests must be at least 1".into());
    }
    let limit = Duration::from_secs(args.max_seconds.max(1));
    let scratch = std::env::temp_dir().join(format!("trialgate-load-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    cleanup.dir = Some(scratch.clone());

    let pg_started = match args.backend {
        Backend::Postgres => Some(postgres_start_time(&args.postgres_url)?),
        Backend::Sqlite => None,
    };
    // The server: spawned, or given.
    let (base, admin, trial, pid, server_desc) = match &args.url {
        Some(url) => {
            let token_file = args
                .admin_token_file
                .as_ref()
                .ok_or("--url needs --admin-token-file")?;
            let admin = read_trimmed(token_file)?;
            let trial = args.trial.clone().ok_or("--url needs --trial")?;
            (
                url.trim_end_matches('/').to_string(),
                admin,
                trial,
                args.server_pid,
                format!("given {url}"),
            )
        }
        None => spawn_server(args, &scratch, cleanup, limit)?,
    };

    let http = agent(limit);
    register_site(&http, &base, &admin, "SITE01")?;
    let investigator = create_user(&http, &base, &admin, "load-investigator", "investigator")?;
    let pharmacist = create_user(&http, &base, &admin, "load-pharmacist", "pharmacist")?;
    let monitor = create_user(&http, &base, &admin, "load-monitor", "monitor")?;
    let audit_before = verify_audit(&http, &base, &monitor, &trial)?.1;

    let screen_start = Instant::now();
    let screenings = screen_patients(&base, &trial, &investigator, args, limit)?;
    let screen_seconds = screen_start.elapsed().as_secs_f64();

    // The raw durable commit rate of the same backend: set up, warm up, first half.
    let raw_commits = (args.raw_commits.unwrap_or(args.requests.min(1000))
        / args.rounds.clamp(1, args.requests))
    .max(1);
    let raw_url = match args.backend {
        Backend::Sqlite => format!("sqlite://{}", scratch.join("raw-commit.db").display()),
        Backend::Postgres => {
            let name = format!("tg_raw_{}", uuid::Uuid::new_v4().simple());
            create_pg_database(&args.postgres_url, &name)?;
            cleanup
                .pg_databases
                .push((args.postgres_url.clone(), name.clone()));
            with_database(&args.postgres_url, &name)?
        }
    };
    prepare_raw_table(&raw_url)?;
    let raw_settings = durability(&raw_url)?;
    // Untimed warm-up: a fresh SQLite WAL grows with every commit (each fsync then also writes
    // the file's new size) until the first checkpoint, after which it is reused in place as in
    // the long-running server; PostgreSQL gets the same treatment for symmetry.
    let warmup = args.raw_warmup;
    let mut next_id = 0;
    if warmup > 0 {
        raw_commit_rate(&raw_url, 1, warmup, next_id, limit)?;
        next_id += warmup;
    }
    let mut raw_phase = |connections: usize| -> Res<Phase> {
        let phase = raw_commit_rate(&raw_url, connections, raw_commits, next_id, limit)?;
        next_id += raw_commits;
        Ok(phase)
    };

    let mut rss = RssStats {
        idle_kb: pid.and_then(|p| read_status_kb(p, "VmRSS")),
        ..RssStats::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = pid.map(|p| {
        let stop = stop.clone();
        std::thread::spawn(move || sample_rss(p, &stop))
    });
    let loadavg_before = loadavg();
    // Rounds: a slice of the randomizations, then raw commits over 1 and over --clients
    // connections (every other round the server slice comes last).
    let rounds = args.rounds.clamp(1, args.requests);
    let mut load = LoadResult::default();
    let mut raw_single = RawRate {
        connections: 1,
        rounds: Vec::new(),
    };
    let mut raw_concurrent = RawRate {
        connections: args.clients,
        rounds: Vec::new(),
    };
    for r in 0..rounds {
        let slice = &screenings[r * args.requests / rounds..(r + 1) * args.requests / rounds];
        let server_last = r % 2 == 1;
        if !server_last {
            load.merge(randomize_all(
                &base,
                &trial,
                &pharmacist,
                slice,
                args,
                limit,
            )?);
        }
        raw_single.rounds.push(raw_phase(1)?);
        raw_concurrent.rounds.push(raw_phase(args.clients)?);
        if server_last {
            load.merge(randomize_all(
                &base,
                &trial,
                &pharmacist,
                slice,
                args,
                limit,
            )?);
        }
    }
    load.latencies.sort_unstable();
    let loadavg_after = loadavg();
    stop.store(true, Ordering::Relaxed);
    if let Some(handle) = sampler {
        if let Ok((max, samples)) = handle.join() {
            rss.max_sampled_kb = max;
            rss.samples = samples;
        }
    }
    rss.hwm_kb = pid.and_then(|p| read_status_kb(p, "VmHWM"));

    let (audit_valid, audit_entries) = verify_audit(&http, &base, &monitor, &trial)?;
    let mut sorted = load.sequences.clone();
    sorted.sort_unstable();
    // With a spawned server the trial is fresh: sequences must be exactly 1..N. Against a given
    // server they must at least be consecutive.
    let first = if args.url.is_none() {
        1
    } else {
        sorted.first().copied().unwrap_or(1)
    };
    let sequences_gapless = sorted.len() == args.requests
        && sorted
            .iter()
            .enumerate()
            .all(|(i, s)| *s == first + i as i64);
    let all_201 = load.statuses.len() == 1
        && load.statuses.get(&201) == Some(&args.requests)
        && load.completed == args.requests;
    // Every screening and every randomization adds one entry.
    let expected_entries = audit_before + 2 * args.requests as u64;
    let mut checks = Checks {
        all_201,
        sequences_gapless,
        audit_valid,
        audit_entries,
        audit_entries_expected: expected_entries,
        postgres_restarted: false,
    };

    if let Some(before) = &pg_started {
        checks.postgres_restarted = postgres_start_time(&args.postgres_url)? != *before;
    }
    if let Some(path) = &args.server_log {
        let log = scratch.join("server.log");
        if log.is_file() {
            std::fs::copy(&log, path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }

    Ok(Report {
        backend: args.backend,
        clients: args.clients,
        requests: args.requests,
        server: server_desc,
        screen_seconds,
        load,
        raw_single,
        raw_concurrent,
        raw_settings,
        raw_warmup: warmup,
        loadavg: (loadavg_before, loadavg_after),
        rss,
        checks,
    })
}
