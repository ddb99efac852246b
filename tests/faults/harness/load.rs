//! The randomization load: client threads that send fresh requests, replays and duplicate
//! probes, retry unknown answers under the same key, and stop on request.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::blocking::Client;

use super::api::{http_client, Patient};
use super::history::{History, Kind, Request};
use super::randomize::Outcome;
use super::rng::Rng;

pub struct LoadOptions {
    pub threads: usize,
    /// Each client pauses up to this long between answered requests.
    pub pause_ms: u64,
    pub seed: u64,
    /// Prefix of the idempotency keys.
    pub name: String,
}

struct LoadShared {
    base: Arc<RwLock<String>>,
    client: Client,
    token: String,
    queue: Mutex<VecDeque<Patient>>,
    acked: Mutex<Vec<(String, Patient)>>,
    history: Arc<History>,
    keys: AtomicUsize,
    name: String,
    pause_ms: u64,
}

/// Client threads randomizing the queued patients until stopped. A request whose answer is
/// unknown is retried under the same key until it gets an answer; about one request in 16
/// replays an acknowledged key and one in 16 tries an acknowledged patient under a new key.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Option<Request>>>,
    shared: Arc<LoadShared>,
}

impl Load {
    pub fn start(
        base: Arc<RwLock<String>>,
        token: &str,
        patients: Vec<Patient>,
        history: Arc<History>,
        opts: LoadOptions,
    ) -> Load {
        let shared = Arc::new(LoadShared {
            base,
            client: http_client(),
            token: token.to_string(),
            queue: Mutex::new(patients.into()),
            acked: Mutex::new(Vec::new()),
            history,
            keys: AtomicUsize::new(0),
            name: opts.name,
            pause_ms: opts.pause_ms,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..opts.threads)
            .map(|i| {
                let (shared, stop) = (shared.clone(), stop.clone());
                let rng = Rng::new(opts.seed.wrapping_add(i as u64 + 1));
                std::thread::spawn(move || worker(&shared, &stop, rng))
            })
            .collect();
        Load {
            stop,
            threads,
            shared,
        }
    }

    /// Patients not yet sent.
    pub fn remaining(&self) -> usize {
        self.shared.queue.lock().unwrap().len()
    }

    /// Stops the clients; returns the requests whose answer is still unknown.
    pub fn stop(self) -> Vec<Request> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect()
    }
}

fn worker(shared: &LoadShared, stop: &AtomicBool, mut rng: Rng) -> Option<Request> {
    let mut pending: Option<Request> = None;
    while !stop.load(Ordering::SeqCst) {
        let mut req = match pending.take() {
            Some(req) => req,
            None => match next_request(shared, &mut rng) {
                Some(req) => req,
                None => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
        };
        let base = shared.base.read().unwrap().clone();
        let outcome = shared
            .history
            .send(&shared.client, &base, &shared.token, &req);
        req.attempts += 1;
        match outcome {
            o if o.is_unknown() => {
                pending = Some(req);
                std::thread::sleep(Duration::from_millis(25));
            }
            Outcome::Ack { .. } if req.kind == Kind::Fresh => {
                shared.acked.lock().unwrap().push((req.key, req.patient));
                pause(&mut rng, shared.pause_ms);
            }
            _ => pause(&mut rng, shared.pause_ms),
        }
    }
    pending
}

fn pause(rng: &mut Rng, max_ms: u64) {
    if max_ms > 0 {
        std::thread::sleep(Duration::from_millis(rng.below(max_ms + 1)));
    }
}

fn next_request(shared: &LoadShared, rng: &mut Rng) -> Option<Request> {
    let dice = rng.below(16);
    if dice < 2 {
        let acked = shared.acked.lock().unwrap();
        if !acked.is_empty() {
            let (key, patient) = acked[rng.below(acked.len() as u64) as usize].clone();
            return Some(if dice == 0 {
                Request {
                    key,
                    patient,
                    kind: Kind::Replay,
                    attempts: 0,
                }
            } else {
                Request {
                    key: new_key(shared),
                    patient,
                    kind: Kind::Duplicate,
                    attempts: 0,
                }
            });
        }
    }
    let patient = shared.queue.lock().unwrap().pop_front()?;
    Some(Request {
        key: new_key(shared),
        patient,
        kind: Kind::Fresh,
        attempts: 0,
    })
}

fn new_key(shared: &LoadShared) -> String {
    format!(
        "{}-{:06}",
        shared.name,
        shared.keys.fetch_add(1, Ordering::SeqCst)
    )
}

/// Retries each still-unknown request under its own key until it gets an answer (at most
/// 40 tries of each, 100 ms apart). Returns how many stayed unknown.
pub fn resolve(
    history: &History,
    client: &Client,
    base: &str,
    token: &str,
    pending: Vec<Request>,
) -> usize {
    let mut unresolved = 0;
    for mut req in pending {
        let mut answered = false;
        for _ in 0..40 {
            let outcome = history.send(client, base, token, &req);
            req.attempts += 1;
            if !outcome.is_unknown() {
                answered = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !answered {
            unresolved += 1;
        }
    }
    unresolved
}
