//! The load driver: concurrent blocking clients that screen, then randomize and time each
//! request, stopping at the deadline.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::Args;
use crate::http::{agent, eligible, send};
use crate::stats::LoadResult;
use crate::Res;

/// Screens `requests` eligible patients with `clients` threads; returns the screening ids.
pub(crate) fn screen_patients(
    base: &str,
    trial: &str,
    token: &str,
    args: &Args,
    limit: Duration,
) -> Res<Vec<String>> {
    let n = args.requests;
    let next = AtomicUsize::new(0);
    let deadline = Instant::now() + limit;
    let url = format!("{base}/api/v1/trials/{trial}/screenings");
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let results: Vec<Res<Vec<(usize, String)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.clients)
            .map(|_| {
                scope.spawn(|| -> Res<Vec<(usize, String)>> {
                    let http = agent(limit);
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(out);
                        }
                        if Instant::now() > deadline {
                            return Err(format!("screening did not finish within {limit:?}"));
                        }
                        let body = eligible(&format!("L{}-{i:07}", &tag[..8]));
                        let (status, text) = send(&http, "POST", &url, token, Some(&body))?;
                        let v: Value = serde_json::from_str(&text)
                            .map_err(|e| format!("screening response: {e}: {text}"))?;
                        if status != 201 || v["outcome"] != "eligible" {
                            return Err(format!("screening {i}: {status} {text}"));
                        }
                        let id = v["id"]
                            .as_str()
                            .ok_or_else(|| format!("screening without id: {text}"))?;
                        out.push((i, id.to_string()));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("screening thread panicked".into()))
            })
            .collect()
    });
    let mut ids = vec![String::new(); n];
    for r in results {
        for (i, id) in r? {
            ids[i] = id;
        }
    }
    Ok(ids)
}

struct Sample {
    status: u16,
    sequence: Option<i64>,
    latency: Duration,
}

/// Randomizes every screening with `clients` threads, timing each request.
pub(crate) fn randomize_all(
    base: &str,
    trial: &str,
    token: &str,
    screenings: &[String],
    args: &Args,
    limit: Duration,
) -> Res<LoadResult> {
    let next = AtomicUsize::new(0);
    let url = format!("{base}/api/v1/trials/{trial}/randomizations");
    let auth = format!("Bearer {token}");
    // Connect every client before the clock starts.
    let ready = std::sync::Barrier::new(args.clients + 1);
    let start_nanos = AtomicU64::new(0);
    let origin = Instant::now();
    let mut deadline_hit = false;
    let results: Vec<Res<(Vec<Sample>, Instant)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.clients)
            .map(|_| {
                scope.spawn(|| -> Res<(Vec<Sample>, Instant)> {
                    let http = agent(limit);
                    let warm = http.get(format!("{base}/healthz")).call();
                    ready.wait();
                    warm.map_err(|e| format!("connecting: {e}"))?;
                    let deadline =
                        origin + Duration::from_nanos(start_nanos.load(Ordering::Acquire)) + limit;
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= screenings.len() || Instant::now() > deadline {
                            return Ok((out, Instant::now()));
                        }
                        let body = json!({"screening_id": screenings[i]}).to_string();
                        let t0 = Instant::now();
                        let mut response = http
                            .post(&url)
                            .header("Authorization", &auth)
                            .content_type("application/json")
                            .send(body)
                            .map_err(|e| format!("randomization {i}: {e}"))?;
                        let text = response
                            .body_mut()
                            .read_to_string()
                            .map_err(|e| format!("randomization {i}: body: {e}"))?;
                        let latency = t0.elapsed();
                        let status = response.status().as_u16();
                        let sequence = if status == 201 {
                            serde_json::from_str::<Value>(&text)
                                .ok()
                                .and_then(|v| v["sequence"].as_i64())
                        } else {
                            None
                        };
                        out.push(Sample {
                            status,
                            sequence,
                            latency,
                        });
                    }
                })
            })
            .collect();
        start_nanos.store(origin.elapsed().as_nanos() as u64, Ordering::Release);
        ready.wait();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("client thread panicked".into()))
            })
            .collect()
    });
    let start = origin + Duration::from_nanos(start_nanos.load(Ordering::Acquire));
    let mut end = start;
    let mut statuses = BTreeMap::new();
    let mut latencies = Vec::with_capacity(screenings.len());
    let mut sequences = Vec::with_capacity(screenings.len());
    for r in results {
        let (samples, finished) = r?;
        end = end.max(finished);
        for s in samples {
            *statuses.entry(s.status).or_insert(0) += 1;
            latencies.push(s.latency);
            if let Some(seq) = s.sequence {
                sequences.push(seq);
            }
        }
    }
    latencies.sort_unstable();
    if latencies.len() < screenings.len() {
        deadline_hit = true;
    }
    if deadline_hit {
        eprintln!(
            "trialgate-load: stopped at the {limit:?} limit after {} requests",
            latencies.len()
        );
    }
    Ok(LoadResult {
        completed: latencies.len(),
        seconds: end.duration_since(start).as_secs_f64(),
        statuses,
        latencies,
        sequences,
    })
}
