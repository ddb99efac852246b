//! The audit trail as monitors read it: entries, head, signed checkpoint, verification, and
//! the replay of allocations against a revealed seed.

use std::collections::BTreeSet;

use super::{format_time, now, TrialRuntime};
use crate::access::{Permission, User};
use crate::audit::Action;
use crate::service::error::{Internal, Invalid, NotFound};
use crate::service::queries::QueryError;
use crate::service::views::{AuditEntryView, AuditHead, AuditVerification};
use crate::storage::{self, repo, DbConnection};

fn require_monitor(user: &User) -> Result<(), QueryError> {
    Ok(user.require_permission(Permission::Monitor)?)
}

/// Whole-chain evidence (checkpoint, verification): monitors without site limits.
fn require_whole_chain(user: &User) -> Result<(), QueryError> {
    Ok(user.require_permission(Permission::VerifyLog)?)
}

/// Actions about the trial as a whole, naming no patient: a site-limited monitor sees them
/// (what protocol is in force, when the trial closed). Any other entry that names no patient
/// of theirs is not shown to them.
const TRIAL_LEVEL: [Action; 5] = [
    Action::TrialInitialized,
    Action::ProtocolAmended,
    Action::TrialClosed,
    Action::SeedRevealed,
    Action::LogStarted,
];

/// Which entries of a trial's chain a site-limited monitor may read: those whose data names
/// one of their sites, or a subject or screening of one, and the trial-level ones.
struct SiteScope {
    subjects: BTreeSet<String>,
    screenings: BTreeSet<String>,
}

impl SiteScope {
    fn of(conn: &mut DbConnection, trial_id: &str, user: &User) -> Result<Self, QueryError> {
        Ok(SiteScope {
            subjects: repo::subjects::list(conn, trial_id)?
                .into_iter()
                .filter(|s| user.may_access_site(&s.site))
                .map(|s| s.id)
                .collect(),
            screenings: repo::screenings::list_all(conn, trial_id)?
                .into_iter()
                .filter(|s| user.may_access_site(&s.site))
                .map(|s| s.id)
                .collect(),
        })
    }

    fn shows(&self, user: &User, action: &str, record: &str) -> bool {
        let record: serde_json::Value = serde_json::from_str(record).unwrap_or_default();
        let data = &record["data"];
        let text = |key: &str| data.get(key).map(|v| v.as_str().unwrap_or(""));
        if let Some(site) = text("site") {
            return user.may_access_site(site);
        }
        if let Some(subject) = text("subject_id") {
            return self.subjects.contains(subject);
        }
        let screenings: Vec<&str> = ["screening_id", "corrects", "old_screening_id"]
            .into_iter()
            .filter_map(text)
            .collect();
        if !screenings.is_empty() {
            return screenings.iter().all(|s| self.screenings.contains(*s));
        }
        // Naming a patient without a site would be a record we cannot place: not shown.
        if text("patient_ref").is_some() {
            return false;
        }
        Action::parse(action).is_some_and(|a| TRIAL_LEVEL.contains(&a))
    }
}

pub fn entries(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditEntryView>, QueryError> {
    require_monitor(user)?;
    if !(1..=super::queries::MAX_LIMIT).contains(&limit) {
        return Err(
            Invalid::field("limit", format!("must be 1–{}", super::queries::MAX_LIMIT)).into(),
        );
    }
    if after < 0 {
        return Err(Invalid::field("after", "must not be negative").into());
    }
    let trial_id = &trial.protocol.id;
    let found = if user.is_site_limited() {
        // Read on past other sites' entries until a page of the user's is full.
        let scope = SiteScope::of(conn, trial_id, user)?;
        let mut found = Vec::new();
        let mut from = after;
        loop {
            let page = storage::read_audit(conn, trial_id, from, limit)?;
            let Some(last) = page.last() else { break };
            from = last.seq;
            found.extend(
                page.into_iter()
                    .filter(|e| scope.shows(user, &e.action, &e.record)),
            );
            if found.len() as i64 >= limit {
                found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                break;
            }
        }
        found
    } else {
        storage::read_audit(conn, trial_id, after, limit)?
    };
    Ok(found
        .into_iter()
        .map(|e| AuditEntryView {
            seq: e.seq,
            at: format_time(e.at),
            actor: e.actor,
            role: e.role,
            action: e.action,
            record: e.record,
            prev_hash: e.prev_hash,
            hash: e.hash,
        })
        .collect())
}

pub fn head(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<AuditHead, QueryError> {
    require_monitor(user)?;
    let head = storage::audit_head(conn, &trial.protocol.id)?;
    Ok(AuditHead {
        seq: head.seq,
        hash: head.hash,
    })
}

/// The current head, signed with the server's checkpoint key.
pub fn checkpoint(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    key: &ed25519_dalek::SigningKey,
) -> Result<crate::audit::checkpoint::Checkpoint, QueryError> {
    require_whole_chain(user)?;
    let head = storage::audit_head(conn, &trial.protocol.id)?;
    let at = format_time(now());
    Ok(crate::audit::checkpoint::sign(
        key,
        &trial.protocol.id,
        head.seq,
        &head.hash,
        &at,
    ))
}

#[tracing::instrument(name = "audit_verify", skip_all, fields(trial = %trial.protocol.id, user = %user.name))]
pub fn verify(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<AuditVerification, QueryError> {
    require_whole_chain(user)?;
    verify_chain(conn, &trial.protocol.id, None)
}

/// Verifies one chain (a trial id or `_system`), optionally against a head recorded earlier.
pub fn verify_chain(
    conn: &mut DbConnection,
    chain: &str,
    expected_head: Option<&str>,
) -> Result<AuditVerification, QueryError> {
    let v = storage::verify_chain(conn, chain, expected_head)?;
    Ok(AuditVerification {
        valid: v.valid,
        entries: v.entries as i64,
        head: v.head,
        first_invalid_seq: v.first_invalid_seq,
        problem: v.detail.or_else(|| v.defect.map(|d| d.to_string())),
    })
}

/// The result of replaying a trial's allocations against its seed.
#[derive(Debug, Default)]
pub struct AllocationCheck {
    pub checked: usize,
    pub problems: Vec<String>,
}

/// Replays every allocation of `trial_id` against the schedule of `seed`: the seed matches
/// the commitment, stratum positions are 0, 1, … in sequence order, every subject's arm
/// equals the schedule, and every subject has exactly one matching
/// `subject.randomized` audit entry (and no entry lacks its subject).
pub fn check_allocations(
    conn: &mut DbConnection,
    trial_id: &str,
    seed: &crate::randomization::Seed,
) -> Result<AllocationCheck, QueryError> {
    use std::collections::BTreeMap;

    use crate::randomization::Schedule;

    let row = repo::trials::get(conn, trial_id)?.ok_or_else(|| NotFound::trial(trial_id))?;
    let protocol = crate::protocol::Protocol::from_canonical_json(&row.protocol_json, trial_id)
        .map_err(|e| Internal::caused(format!("stored protocol of {trial_id}"), e))?;
    let mut report = AllocationCheck::default();
    if seed.commitment() != row.seed_commitment {
        report.problems.push(format!(
            "the seed's commitment {} is not the trial's recorded commitment {}",
            seed.commitment(),
            row.seed_commitment
        ));
        return Ok(report);
    }
    let subjects = repo::subjects::list(conn, trial_id)?;
    let mut schedules: BTreeMap<
        String,
        (Schedule, Vec<crate::randomization::ScheduledAllocation>),
    > = BTreeMap::new();
    for (i, s) in subjects.iter().enumerate() {
        report.checked += 1;
        if s.sequence != i as i64 + 1 {
            report.problems.push(format!(
                "subject {}: sequence {} where {} was due",
                s.id,
                s.sequence,
                i + 1
            ));
        }
        let (schedule, seen) = schedules.entry(s.stratum_key.clone()).or_insert_with(|| {
            (
                Schedule::new(seed, trial_id, &s.stratum_key, protocol.design()),
                Vec::new(),
            )
        });
        let expected_position = seen.len() as i64;
        if s.stratum_position != expected_position {
            report.problems.push(format!(
                "subject {}: stratum {:?} position {} where {} was due",
                s.id, s.stratum_key, s.stratum_position, expected_position
            ));
        }
        let Ok(position) = usize::try_from(s.stratum_position) else {
            report
                .problems
                .push(format!("subject {}: negative stratum position", s.id));
            continue;
        };
        while seen.len() <= position {
            match schedule.next() {
                Some(e) => seen.push(e),
                None => break,
            }
        }
        let Some(due) = seen.get(position) else {
            continue;
        };
        let due_arm = &protocol.arms[due.arm].code;
        if *due_arm != s.arm {
            report.problems.push(format!(
                "subject {}: allocated {} but the schedule says {} (block {}, size {}) at stratum {:?} position {}",
                s.id, s.arm, due_arm, due.block_index, due.block_size, s.stratum_key, position
            ));
        }
    }

    // Every allocation must be in the audit trail exactly as stored.
    let mut audited: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = storage::read_audit(conn, trial_id, after, 1000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page.iter().filter(|e| e.action == "subject.randomized") {
            let record: serde_json::Value = serde_json::from_str(&e.record).unwrap_or_default();
            let data = record.get("data").cloned().unwrap_or_default();
            let id = data
                .get("subject_id")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            if audited.insert(id.clone(), data).is_some() {
                report.problems.push(format!(
                    "subject {id} is randomized twice in the audit trail"
                ));
            }
        }
    }
    for s in &subjects {
        match audited.remove(&s.id) {
            None => report.problems.push(format!(
                "subject {} has no subject.randomized audit entry",
                s.id
            )),
            Some(d) => {
                let same = d["arm"] == s.arm.as_str()
                    && d["sequence"] == s.sequence
                    && d["stratum_key"] == s.stratum_key.as_str()
                    && d["stratum_position"] == s.stratum_position
                    && d["patient_ref"] == s.patient_ref.as_str();
                if !same {
                    report.problems.push(format!(
                        "subject {}: the audit entry differs from the stored allocation",
                        s.id
                    ));
                }
            }
        }
    }
    for id in audited.keys() {
        report.problems.push(format!(
            "audit entry for subject {id} has no stored allocation"
        ));
    }
    Ok(report)
}
