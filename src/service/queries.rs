//! Read-only views: trials, screenings, subjects, balance.

use std::collections::BTreeMap;

use super::allocation::allocation_view;
use super::{format_time, TrialRuntime, Trials};
use crate::access::{Permission, User};
use crate::audit::Action;
use crate::eligibility::{Evaluation, Outcome, RawScreening};
use crate::protocol::{CorrectionStatus, SubjectStatus, TrialStatus};
use crate::randomization::{Schedule, ScheduledAllocation, Seed};
use crate::service::error::{impossible_id, Internal, Invalid, NotFound};
use crate::service::views::{
    Allocation, ArmCount, ArmView, AuditHead, Balance, BlockBalance, CriterionCount, CriterionView,
    EnrollmentFlow, ScreeningView, StratumBalance, TrialDetail, TrialSummary,
};
use crate::storage::{self, models, repo, DbConnection, StorageError};

/// Why a read (a view, a list, an export, the audit trail) could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Denied(#[from] crate::access::AccessDenied),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<diesel::result::Error> for QueryError {
    fn from(e: diesel::result::Error) -> Self {
        QueryError::Storage(e.into())
    }
}

/// Largest page of a list.
pub const MAX_LIMIT: i64 = 1000;

pub fn list_trials(
    conn: &mut DbConnection,
    trials: &Trials,
) -> Result<Vec<TrialSummary>, QueryError> {
    let enrolled = repo::subjects::count_by_trial(conn)?;
    let mut out = Vec::new();
    for row in repo::trials::list(conn)? {
        if let Ok(runtime) = trials.get(&row.id) {
            out.push(TrialSummary {
                training: runtime.protocol.training,
                enrolled: enrolled.get(&row.id).copied().unwrap_or(0),
                id: row.id,
                title: row.title,
                status: row.status,
                cap: row.cap,
            });
        }
    }
    Ok(out)
}

pub fn trial_detail(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<TrialDetail, QueryError> {
    let p = &trial.protocol;
    let row = repo::trials::get(conn, &p.id)?.ok_or_else(|| NotFound::trial(&p.id))?;
    let enrolled = repo::subjects::count(conn, &p.id)?;
    Ok(TrialDetail {
        id: row.id,
        title: row.title,
        status: row.status,
        enrolled,
        cap: row.cap,
        training: p.training,
        arms: p
            .arms
            .iter()
            .map(|a| ArmView {
                code: a.code.clone(),
                name: a.name.clone(),
                description: a.description.clone(),
                ratio: a.ratio,
            })
            .collect(),
        criteria: p
            .criteria
            .iter()
            .map(|c| CriterionView {
                id: c.id.clone(),
                text: c.text.clone(),
                text_zh: c.text_zh.clone(),
            })
            .collect(),
        stratification: p
            .stratification
            .iter()
            .map(|f| f.name().to_string())
            .collect(),
        seed_commitment: row.seed_commitment,
        algorithm: row.algorithm,
        protocol_digest: user.role.sees_design().then_some(row.protocol_digest),
        block_sizes: user.role.sees_design().then(|| p.block_sizes.clone()),
        closed_at: row.closed_at.map(format_time),
        close_reason: row.close_reason,
        seed_revealed: row.seed_revealed,
        seed_available: trial.seed.is_some(),
    })
}

/// Where a trial stands, as every page about it shows it: one row read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialState {
    pub id: String,
    pub status: TrialStatus,
    pub closed_at: Option<String>,
    pub close_reason: Option<String>,
}

pub fn trial_state(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<TrialState, QueryError> {
    user.require_permission(Permission::ReadTrials)?;
    let id = &trial.protocol.id;
    let row = repo::trials::get(conn, id)?.ok_or_else(|| NotFound::trial(id))?;
    Ok(TrialState {
        id: row.id,
        status: row.status,
        closed_at: row.closed_at.map(format_time),
        close_reason: row.close_reason,
    })
}

pub fn get_screening(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    id: &str,
) -> Result<ScreeningView, QueryError> {
    user.require_permission(Permission::ReadPatients)?;
    if impossible_id(id) {
        return Err(NotFound::screening(id).into());
    }
    let trial_id = &trial.protocol.id;
    let row = repo::screenings::get(conn, trial_id, id)?.ok_or_else(|| NotFound::screening(id))?;
    user.require_site(&row.site)?;
    let latest = repo::screenings::latest_id(conn, trial_id, &row.site, &row.patient_ref)?;
    let subject = repo::subjects::for_patient(conn, trial_id, &row.site, &row.patient_ref)?;
    let is_latest = latest.as_deref() == Some(row.id.as_str());
    let decision = match row.correction_status {
        Some(CorrectionStatus::Pending) => {
            repo::corrections::decision(conn, &row.id)?.map(|d| d.decision)
        }
        _ => None,
    };
    Ok(ScreeningView::from_row(
        &row,
        is_latest,
        subject.map(|s| s.id),
        decision,
    )?)
}

/// A screening with the request it was recorded from, as submitted (to start a new
/// screening of the patient from it).
pub struct SubmittedScreening {
    pub view: ScreeningView,
    pub input: RawScreening,
}

/// [`get_screening`] and its submitted input, under the same permission and site check.
pub fn submitted_screening(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    id: &str,
) -> Result<SubmittedScreening, QueryError> {
    // The view exactly as get_screening gives it (its checks first); then the input.
    let view = get_screening(conn, trial, user, id)?;
    let row = repo::screenings::get(conn, &trial.protocol.id, id)?
        .ok_or_else(|| NotFound::screening(id))?;
    let input = RawScreening::from_json(row.input_json.as_bytes())
        .map_err(|e| Internal::caused(format!("stored screening {id}"), e))?;
    Ok(SubmittedScreening { view, input })
}

/// Filters of the screening list; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct ScreeningFilter {
    pub outcome: Option<String>,
    pub randomized: Option<bool>,
    pub site: Option<String>,
    pub patient_ref: Option<String>,
    pub limit: i64,
}

/// The patients' latest screenings, newest first, filtered; only the user's sites.
pub fn list_screenings(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    filter: &ScreeningFilter,
) -> Result<Vec<ScreeningView>, QueryError> {
    user.require_permission(Permission::ReadPatients)?;
    let wanted_outcome = match filter.outcome.as_deref().map(Outcome::parse) {
        None => None,
        Some(Some(o)) => Some(o),
        Some(None) => {
            return Err(
                Invalid::field("outcome", "must be eligible, ineligible or incomplete").into(),
            )
        }
    };
    if !(1..=MAX_LIMIT).contains(&filter.limit) {
        return Err(Invalid::field("limit", format!("must be 1–{MAX_LIMIT}")).into());
    }
    let trial_id = &trial.protocol.id;
    // The filter names a patient the way a person types it: compare canonical forms.
    let wanted_ref = filter
        .patient_ref
        .as_deref()
        .map(crate::eligibility::PatientRef::canonicalize);
    let rows = repo::screenings::latest_per_patient(conn, trial_id)?;
    let subjects: BTreeMap<(String, String), String> = repo::subjects::list(conn, trial_id)?
        .into_iter()
        .map(|s| ((s.site, s.patient_ref), s.id))
        .collect();
    let mut out = Vec::new();
    for row in rows {
        if !user.may_access_site(&row.site)
            || wanted_outcome.is_some_and(|o| o != row.outcome)
            || filter.site.as_ref().is_some_and(|s| *s != row.site)
            || wanted_ref.as_ref().is_some_and(|p| *p != row.patient_ref)
        {
            continue;
        }
        let subject = subjects
            .get(&(row.site.clone(), row.patient_ref.clone()))
            .cloned();
        if filter.randomized.is_some_and(|r| r != subject.is_some()) {
            continue;
        }
        // Only corrections in effect are listed: one recorded pending was approved.
        let decision = (row.correction_status == Some(CorrectionStatus::Pending))
            .then_some(CorrectionStatus::Approved);
        out.push(ScreeningView::from_row(&row, true, subject, decision)?);
        if out.len() as i64 >= filter.limit {
            break;
        }
    }
    Ok(out)
}

pub fn list_subjects(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<Vec<Allocation>, QueryError> {
    user.require_permission(Permission::ReadPatients)?;
    Ok(repo::subjects::list(conn, &trial.protocol.id)?
        .iter()
        .filter(|s| user.may_access_site(&s.site))
        .map(|s| allocation_view(&trial.protocol, s))
        .collect())
}

/// The subject's allocation and its patient's screening in effect (the one whose initials,
/// birth date and sex identify the patient, corrections included).
pub fn subject_with_screening(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    subject_id: &str,
) -> Result<(Allocation, ScreeningView), QueryError> {
    let allocation = get_subject(conn, trial, user, subject_id)?;
    let trial_id = &trial.protocol.id;
    let screening_id =
        repo::screenings::latest_id(conn, trial_id, &allocation.site, &allocation.patient_ref)?
            .ok_or_else(|| Internal::new(format!("subject {subject_id} without a screening")))?;
    let screening = get_screening(conn, trial, user, &screening_id)?;
    Ok((allocation, screening))
}

pub fn get_subject(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    subject_id: &str,
) -> Result<Allocation, QueryError> {
    user.require_permission(Permission::ReadPatients)?;
    if impossible_id(subject_id) {
        return Err(NotFound::subject(subject_id).into());
    }
    let s = repo::subjects::get(conn, &trial.protocol.id, subject_id)?
        .ok_or_else(|| NotFound::subject(subject_id))?;
    user.require_site(&s.site)?;
    Ok(allocation_view(&trial.protocol, &s))
}

/// The rows of the user's sites: all of them for a user without site limits. Monitoring views
/// (balance, flow, exports, audit) of a site-limited monitor are made of these only.
pub fn of_users_sites<T>(user: &User, rows: Vec<T>, site: impl Fn(&T) -> &str) -> Vec<T> {
    if !user.is_site_limited() {
        return rows;
    }
    rows.into_iter()
        .filter(|r| user.may_access_site(site(r)))
        .collect()
}

pub fn balance(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<Balance, QueryError> {
    user.require_permission(Permission::Monitor)?;
    let p = &trial.protocol;
    let subjects = of_users_sites(user, repo::subjects::list(conn, &p.id)?, |s| &s.site);
    let revealed = revealed_seed(conn, &p.id)?;
    Ok(balance_of(p, &subjects, revealed.as_ref()))
}

/// Everything a monitor's dashboard shows, read in one snapshot so its parts agree.
pub struct Dashboard {
    pub detail: TrialDetail,
    pub balance: Balance,
    pub flow: EnrollmentFlow,
    /// Arms in sequence order.
    pub sequence: Vec<String>,
    pub head: AuditHead,
}

pub fn dashboard(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<Dashboard, QueryError> {
    storage::read_transaction(conn, |c| {
        Ok(Dashboard {
            detail: trial_detail(c, trial, user)?,
            balance: balance(c, trial, user)?,
            flow: flow(c, trial, user)?,
            sequence: list_subjects(c, trial, user)?
                .into_iter()
                .map(|a| a.arm)
                .collect(),
            head: {
                let head = storage::audit_head(c, &trial.protocol.id)?;
                AuditHead {
                    seq: head.seq,
                    hash: head.hash,
                }
            },
        })
    })
}

/// The flow of patients from screening to randomization and withdrawal (monitors).
pub fn flow(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
) -> Result<EnrollmentFlow, QueryError> {
    use crate::eligibility::{CriterionStatus, Outcome};

    user.require_permission(Permission::Monitor)?;
    let p = &trial.protocol;
    let latest = of_users_sites(
        user,
        repo::screenings::latest_per_patient(conn, &p.id)?,
        |r| &r.site,
    );
    let subjects = of_users_sites(user, repo::subjects::list(conn, &p.id)?, |s| &s.site);
    let randomized: BTreeMap<(&str, &str), &models::Subject> = subjects
        .iter()
        .map(|s| ((s.site.as_str(), s.patient_ref.as_str()), s))
        .collect();
    let mut failing: BTreeMap<&str, i64> = BTreeMap::new();
    let (mut ineligible, mut incomplete, mut awaiting) = (0, 0, 0);
    for row in &latest {
        if randomized.contains_key(&(row.site.as_str(), row.patient_ref.as_str())) {
            continue;
        }
        let evaluation: Evaluation = serde_json::from_str(&row.result_json)
            .map_err(|e| Internal::caused(format!("screening {} result", row.id), e))?;
        match evaluation.outcome {
            Outcome::Eligible => awaiting += 1,
            Outcome::Incomplete => incomplete += 1,
            Outcome::Ineligible => {
                ineligible += 1;
                for c in &evaluation.criteria {
                    if c.status == CriterionStatus::Fail {
                        if let Some(known) = p.criteria.iter().find(|k| k.id == c.id) {
                            *failing.entry(known.id.as_str()).or_default() += 1;
                        }
                    }
                }
            }
        }
    }
    let by_arm = |only_withdrawn: bool| -> Vec<ArmCount> {
        p.arms
            .iter()
            .map(|a| ArmCount {
                arm: a.code.clone(),
                count: subjects
                    .iter()
                    .filter(|s| {
                        s.arm == a.code && (!only_withdrawn || s.status == SubjectStatus::Withdrawn)
                    })
                    .count() as i64,
            })
            .collect()
    };
    let withdrawn = subjects
        .iter()
        .filter(|s| s.status == SubjectStatus::Withdrawn)
        .count() as i64;
    // Patients randomized without a screening row cannot exist (foreign key), but count
    // every subject as screened regardless.
    let screened_patients = latest
        .iter()
        .map(|r| (r.site.as_str(), r.patient_ref.as_str()))
        .chain(
            subjects
                .iter()
                .map(|s| (s.site.as_str(), s.patient_ref.as_str())),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .len() as i64;
    Ok(EnrollmentFlow {
        screened: screened_patients,
        ineligible,
        failing: p
            .criteria
            .iter()
            .filter_map(|c| {
                failing.get(c.id.as_str()).map(|n| CriterionCount {
                    criterion: c.id.clone(),
                    text: c.text.clone(),
                    count: *n,
                })
            })
            .collect(),
        incomplete,
        eligible: awaiting + subjects.len() as i64,
        awaiting,
        randomized: subjects.len() as i64,
        randomized_by_arm: by_arm(false),
        withdrawn,
        withdrawn_by_arm: by_arm(true),
    })
}

/// The seed as revealed in the trial's audit trail at close, or `None` while it is secret.
/// A revealed seed that does not match the recorded commitment is an integrity failure.
pub fn revealed_seed(conn: &mut DbConnection, trial_id: &str) -> Result<Option<Seed>, QueryError> {
    let row = repo::trials::get(conn, trial_id)?.ok_or_else(|| NotFound::trial(trial_id))?;
    if !row.seed_revealed {
        return Ok(None);
    }
    let Some(record) = storage::first_record_with_action(conn, trial_id, Action::SeedRevealed)?
    else {
        return Ok(None);
    };
    let seed = serde_json::from_str::<serde_json::Value>(&record)
        .ok()
        .and_then(|r| r["data"]["seed"].as_str().map(str::to_owned))
        .and_then(|hex| Seed::from_hex(&hex).ok())
        .ok_or_else(|| Internal::new(format!("trial {trial_id}: unreadable seed.revealed")))?;
    if seed.commitment() != row.seed_commitment {
        return Err(Internal::new(format!(
            "trial {trial_id}: the revealed seed does not match the commitment"
        ))
        .into());
    }
    Ok(Some(seed))
}

/// Each subject's block (index, size) in its stratum's schedule, by subject id.
pub type SubjectBlocks = BTreeMap<String, (u64, u32)>;

/// Places every subject in its block, computed from the revealed seed by the same schedule
/// `trialgate schedule` prints (one schedule per stratum, as long as its furthest position).
/// Nothing about blocks is stored: this is the only way the server learns them.
pub fn subject_blocks(
    p: &crate::protocol::Protocol,
    seed: &Seed,
    subjects: &[models::Subject],
) -> SubjectBlocks {
    let mut lengths: BTreeMap<&str, usize> = BTreeMap::new();
    for s in subjects {
        if let Ok(position) = usize::try_from(s.stratum_position) {
            let len = lengths.entry(s.stratum_key.as_str()).or_default();
            *len = (*len).max(position + 1);
        }
    }
    let schedules: BTreeMap<&str, Vec<ScheduledAllocation>> = lengths
        .into_iter()
        .map(|(key, len)| {
            (
                key,
                Schedule::new(seed, &p.id, key, p.design())
                    .take(len)
                    .collect(),
            )
        })
        .collect();
    subjects
        .iter()
        .filter_map(|s| {
            let due = usize::try_from(s.stratum_position)
                .ok()
                .and_then(|i| schedules.get(s.stratum_key.as_str())?.get(i))?;
            Some((s.id.clone(), (due.block_index, due.block_size)))
        })
        .collect()
}

/// Counts per arm overall and per stratum, from the subjects. Block fill only with the
/// revealed seed: each subject's block is computed from the seed by the same schedule
/// function `trialgate schedule` uses; nothing about blocks is stored.
pub fn balance_of(
    p: &crate::protocol::Protocol,
    subjects: &[models::Subject],
    revealed: Option<&Seed>,
) -> Balance {
    let zero = || -> BTreeMap<&str, i64> { p.arms.iter().map(|a| (a.code.as_str(), 0)).collect() };
    let counts_of = |m: &BTreeMap<&str, i64>| -> Vec<ArmCount> {
        p.arms
            .iter()
            .map(|a| ArmCount {
                arm: a.code.clone(),
                count: m.get(a.code.as_str()).copied().unwrap_or(0),
            })
            .collect()
    };
    let mut overall = zero();
    let mut strata: BTreeMap<&str, (BTreeMap<&str, i64>, Vec<&models::Subject>)> = BTreeMap::new();
    for s in subjects {
        *overall.entry(s.arm.as_str()).or_default() += 1;
        let (counts, members) = strata
            .entry(s.stratum_key.as_str())
            .or_insert_with(|| (zero(), Vec::new()));
        *counts.entry(s.arm.as_str()).or_default() += 1;
        members.push(s);
    }
    let placed = revealed.map(|seed| subject_blocks(p, seed, subjects));
    let blocks_of = |key: &str, members: &[&models::Subject], placed: &SubjectBlocks| {
        // block index → (size, counts)
        let mut blocks: BTreeMap<u64, (u32, BTreeMap<&str, i64>)> = BTreeMap::new();
        for s in members {
            if let Some((index, size)) = placed.get(&s.id) {
                let (_, counts) = blocks.entry(*index).or_insert_with(|| (*size, zero()));
                *counts.entry(s.arm.as_str()).or_default() += 1;
            }
        }
        blocks
            .into_iter()
            .map(|(index, (size, c))| {
                let filled: i64 = c.values().sum();
                BlockBalance {
                    stratum_key: key.to_string(),
                    block_index: index as i64,
                    size: i64::from(size),
                    filled,
                    counts: counts_of(&c),
                    complete: filled == i64::from(size),
                }
            })
            .collect::<Vec<_>>()
    };
    let strata: Vec<StratumBalance> = strata
        .into_iter()
        .map(|(key, (counts, members))| StratumBalance {
            stratum_key: key.to_string(),
            counts: counts_of(&counts),
            blocks: placed
                .as_ref()
                .map(|placed| blocks_of(key, &members, placed)),
        })
        .collect();
    let blocks = revealed.map(|_| {
        strata
            .iter()
            .flat_map(|s| s.blocks.iter().flatten().cloned())
            .collect()
    });
    Balance {
        trial: p.id.clone(),
        enrolled: subjects.len() as i64,
        cap: i64::from(p.cap),
        counts: counts_of(&overall),
        strata,
        blocks,
    }
}
