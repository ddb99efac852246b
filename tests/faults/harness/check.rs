//! The checker: the client-side history against the server's API, the audit chain and the
//! database, every violation collected.

use std::collections::{BTreeMap, HashMap, HashSet};

use reqwest::blocking::Client;
use serde_json::{json, Value};
use trialgate::storage;

use super::api::Actors;
use super::db::{count, sqlite_integrity};
use super::history::{Attempt, Kind};
use super::randomize::{alloc_of, Alloc, Outcome};
use super::server::Server;
use super::{T, TRIAL};

/// What the checker saw in the database.
#[derive(Debug)]
pub struct Checked {
    pub subjects: usize,
    pub audit_entries: i64,
    pub screenings: i64,
}

/// Compares the client-side history with the server and the database, after a clean restart.
/// `screened`: screenings acknowledged by the server over the whole scenario. Panics with
/// every violation found.
pub fn check(
    server: &Server,
    client: &Client,
    actors: &Actors,
    history: &[Attempt],
    screened: usize,
) -> Checked {
    let mut violations: Vec<String> = Vec::new();
    let base = server.base();

    // 1. The history on its own: one allocation per key, no ack for a duplicate patient,
    //    no answer outside the contract.
    let mut acked: BTreeMap<&str, &Alloc> = BTreeMap::new();
    let mut unresolved_patients: HashSet<&str> = HashSet::new();
    let mut sorted: Vec<&Attempt> = history.iter().collect();
    sorted.sort_by_key(|a| a.sent);
    let mut by_key: HashMap<&str, Vec<&Attempt>> = HashMap::new();
    for a in sorted {
        by_key.entry(a.key.as_str()).or_default().push(a);
    }
    for (key, list) in &by_key {
        for a in list {
            match &a.outcome {
                Outcome::Ack { alloc, .. } => {
                    if a.kind == Kind::Duplicate {
                        violations.push(format!(
                            "duplicate: patient {} randomized again under new key {key}: {alloc:?}",
                            a.patient.patient_ref
                        ));
                    }
                    if alloc.patient_ref != a.patient.patient_ref {
                        violations.push(format!(
                            "key {key} for {} answered with {alloc:?}",
                            a.patient.patient_ref
                        ));
                    }
                    match acked.get(key) {
                        Some(earlier) if *earlier != alloc => violations.push(format!(
                            "key {key} acknowledged twice with different allocations: {earlier:?} then {alloc:?}"
                        )),
                        Some(_) => {}
                        None => {
                            acked.insert(key, alloc);
                        }
                    }
                }
                Outcome::Refused { code, .. }
                    if a.kind == Kind::Duplicate && code != "already_randomized" =>
                {
                    violations.push(format!(
                        "duplicate probe {key} refused with {code}, not already_randomized"
                    ));
                }
                Outcome::Refused { code, .. } if a.kind != Kind::Duplicate => {
                    violations.push(format!("request {key} refused with {code}"));
                }
                Outcome::Unavailable { code } if code != "service_unavailable" => {
                    violations.push(format!("request {key}: 503 with code {code:?}"));
                }
                Outcome::Timeout => violations.push(format!(
                    "request {key} sent at {:?} got no answer within the client timeout (a hang)",
                    a.sent
                )),
                Outcome::Unexpected { status, body } => violations.push(format!(
                    "request {key} sent at {:?}: unexpected {status}: {body}",
                    a.sent
                )),
                _ => {}
            }
        }
        if list.iter().all(|a| a.outcome.is_unknown()) {
            unresolved_patients.insert(list[0].patient.patient_ref.as_str());
        }
    }

    // 2. The server's view, as a monitor reads it.
    let subjects: Vec<Value> = client
        .get(format!("{base}{T}/subjects"))
        .bearer_auth(&actors.monitor)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let listed: Vec<Alloc> = subjects.iter().map(|s| alloc_of(s).unwrap()).collect();
    let sequences: Vec<i64> = listed.iter().map(|a| a.sequence).collect();
    if sequences != (1..=listed.len() as i64).collect::<Vec<_>>() {
        violations.push(format!(
            "sequences are not 1..{}: {sequences:?}",
            listed.len()
        ));
    }
    let mut patients = HashSet::new();
    let mut ids = HashSet::new();
    for a in &listed {
        if !patients.insert(a.patient_ref.as_str()) {
            violations.push(format!("patient {} randomized twice", a.patient_ref));
        }
        if !ids.insert(a.subject_id.as_str()) {
            violations.push(format!("subject id {} twice", a.subject_id));
        }
    }
    let by_id: HashMap<&str, &Alloc> = listed.iter().map(|a| (a.subject_id.as_str(), a)).collect();
    for (key, alloc) in &acked {
        match by_id.get(alloc.subject_id.as_str()) {
            Some(found) if *found == *alloc => {}
            Some(found) => violations.push(format!(
                "acknowledged {alloc:?} (key {key}) but the server lists {found:?}"
            )),
            None => violations.push(format!(
                "lost: acknowledged {alloc:?} (key {key}) is not in the subject list"
            )),
        }
    }
    let acked_patients: HashSet<&str> = acked.values().map(|a| a.patient_ref.as_str()).collect();
    for a in &listed {
        if !acked_patients.contains(a.patient_ref.as_str())
            && !unresolved_patients.contains(a.patient_ref.as_str())
        {
            violations.push(format!(
                "allocation {a:?} answers no request of the history"
            ));
        }
    }

    // 3. The audit chain through the API and the CLI; every allocation equals the schedule
    //    and has its audit entry.
    let verify: Value = client
        .get(format!("{base}{T}/audit/verify"))
        .bearer_auth(&actors.monitor)
        .send()
        .unwrap()
        .json()
        .unwrap();
    if verify["valid"] != true {
        violations.push(format!("/audit/verify: {verify}"));
    }
    let seed_file = server.seed_file();
    let seed_file = seed_file.to_str().unwrap();
    for args in [
        vec!["audit", "check", "--trial", TRIAL, "--seed-file", seed_file],
        vec!["audit", "verify", "--trial", TRIAL],
        vec!["audit", "verify", "--trial", "_system"],
    ] {
        let (ok, out) = server.cli(&args);
        if !ok {
            violations.push(format!("trialgate {}: {out}", args.join(" ")));
        }
    }

    // 4. The database itself.
    let mut conn = storage::establish(&server.database_url()).unwrap();
    let integrity = sqlite_integrity(&mut conn);
    if integrity != ["ok"] {
        violations.push(format!("SQLite integrity_check: {integrity:?}"));
    }
    let rows = storage::repo::subjects::list(&mut conn, TRIAL).unwrap();
    if rows.len() != listed.len() {
        violations.push(format!(
            "the database has {} subjects, the API lists {}",
            rows.len(),
            listed.len()
        ));
    }
    let keys_by_subject: HashMap<&str, &str> = acked
        .iter()
        .map(|(key, a)| (a.subject_id.as_str(), *key))
        .collect();
    for row in &rows {
        if let Some(key) = keys_by_subject.get(row.id.as_str()) {
            if row.idempotency_key.as_deref() != Some(*key) {
                violations.push(format!(
                    "subject {} stored with key {:?}, acknowledged under {key}",
                    row.id, row.idempotency_key
                ));
            }
        }
    }
    let screenings = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM screenings WHERE trial_id = '{TRIAL}'"),
    );
    if screenings != screened as i64 {
        violations.push(format!(
            "{screenings} screenings in the database, {screened} acknowledged"
        ));
    }
    let audit_entries = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM audit_entries WHERE chain = '{TRIAL}'"),
    );
    // trial.initialized + one per screening + one per allocation, nothing half-written.
    let expected = 1 + screenings + rows.len() as i64;
    if audit_entries != expected || verify["entries"] != json!(audit_entries) {
        violations.push(format!(
            "audit chain has {audit_entries} entries (API: {}), expected 1 + {screenings} screenings + {} subjects",
            verify["entries"],
            rows.len()
        ));
    }

    assert!(
        violations.is_empty(),
        "{} violation(s):\n{}\nserver log tail:\n{}",
        violations.len(),
        violations.join("\n"),
        server.log_tail()
    );
    Checked {
        subjects: listed.len(),
        audit_entries,
        screenings,
    }
}
