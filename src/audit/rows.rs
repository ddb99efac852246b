//! The chain covers its tables: every screening, subject and withdrawal row must agree with the
//! audit entry that recorded it, and every such entry must have its row.
//!
//! Hashing proves the entries were not changed; it says nothing about the rows the server
//! reads to answer requests. Without this check a `DELETE FROM subjects` (triggers dropped)
//! would leave the chain valid while the trial's data had changed. [`RowClaims`] collects what
//! the entries say, then compares it with the rows, both read in one snapshot.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;

use super::StoredEntry;

/// The actions whose entries describe a table row.
pub const SCREENING_RECORDED: &str = "screening.recorded";
pub const SUBJECT_RANDOMIZED: &str = "subject.randomized";
pub const SUBJECT_WITHDRAWN: &str = "subject.withdrawn";
pub const SCREENING_CORRECTED: &str = "screening.corrected";
pub const CORRECTION_APPROVED: &str = "correction.approved";
pub const CORRECTION_REJECTED: &str = "correction.rejected";
pub const DEVIATION_RECORDED: &str = "deviation.recorded";
const DESCRIBING: [&str; 7] = [
    SCREENING_RECORDED,
    SUBJECT_RANDOMIZED,
    SUBJECT_WITHDRAWN,
    SCREENING_CORRECTED,
    CORRECTION_APPROVED,
    CORRECTION_REJECTED,
    DEVIATION_RECORDED,
];

/// A `screenings` row as the check sees it.
#[derive(Debug, Clone, Copy)]
pub struct ScreeningRow<'a> {
    pub id: &'a str,
    pub patient_ref: &'a str,
    pub site: &'a str,
    pub outcome: &'a str,
    pub input_json: &'a str,
    pub result_json: &'a str,
    pub screening_date: NaiveDate,
    pub screened_at: NaiveDateTime,
    pub screened_by: &'a str,
    pub audit_seq: i64,
    pub stratum_key: Option<&'a str>,
    pub protocol_version: i32,
    pub corrects: Option<&'a str>,
    pub correction_status: Option<&'a str>,
    pub correction_reason: Option<&'a str>,
}

/// A `correction_decisions` row as the check sees it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionRow<'a> {
    pub screening_id: &'a str,
    /// `approved` or `rejected`.
    pub decision: &'a str,
    pub reason: &'a str,
    pub decided_by: &'a str,
    pub decided_at: NaiveDateTime,
    pub audit_seq: i64,
    /// The electronic signature's JSON, when signed.
    pub signature: Option<&'a str>,
}

/// A `deviations` row as the check sees it.
#[derive(Debug, Clone, Copy)]
pub struct DeviationRow<'a> {
    pub id: &'a str,
    pub subject_id: &'a str,
    pub kind: &'a str,
    pub screening_id: &'a str,
    pub recorded_at: NaiveDateTime,
    pub audit_seq: i64,
}

/// A `subjects` row as the check sees it.
#[derive(Debug, Clone, Copy)]
pub struct SubjectRow<'a> {
    pub id: &'a str,
    pub sequence: i64,
    pub screening_id: &'a str,
    pub patient_ref: &'a str,
    pub site: &'a str,
    pub stratum_key: &'a str,
    pub stratum_position: i64,
    pub arm: &'a str,
    pub randomized_at: NaiveDateTime,
    pub randomized_by: &'a str,
    pub audit_seq: i64,
    /// `status = 'withdrawn'`.
    pub withdrawn: bool,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub withdrawn_by: Option<&'a str>,
    pub withdrawal_reason: Option<&'a str>,
    /// The electronic signatures' JSON, when signed.
    pub randomization_signature: Option<&'a str>,
    pub withdrawal_signature: Option<&'a str>,
}

/// Where rows and chain first disagree, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDisagreement {
    pub seq: i64,
    pub detail: String,
}

#[derive(Debug)]
struct Written {
    seq: i64,
    at: NaiveDateTime,
    actor: String,
}

#[derive(Debug)]
struct ScreeningClaim {
    written: Written,
    /// `screening.corrected` rather than `screening.recorded`.
    correction: bool,
    data: Value,
}

/// A decision or a deviation entry: what it wrote, under which action.
#[derive(Debug)]
struct Claim {
    written: Written,
    action: String,
    data: Value,
}

#[derive(Debug)]
struct SubjectClaim {
    written: Written,
    data: Value,
}

#[derive(Debug)]
struct WithdrawalClaim {
    written: Written,
    reason: Value,
    signature: Option<Value>,
}

/// Whether a row's signature column says what its entry's `data.signature` says (both absent,
/// or the same JSON value: key order and spacing do not matter).
fn same_signature(entry: Option<&Value>, row: Option<&str>) -> bool {
    match (entry, row) {
        (None, None) => true,
        (Some(e), Some(r)) => serde_json::from_str::<Value>(r).is_ok_and(|r| &r == e),
        _ => false,
    }
}

/// What the entries of one chain say about its rows; feed entries with [`push`](Self::push),
/// then rows with the `check_*` methods, then [`finish`](Self::finish).
#[derive(Debug, Default)]
pub struct RowClaims {
    screenings: HashMap<String, ScreeningClaim>,
    subjects: HashMap<String, SubjectClaim>,
    withdrawals: HashMap<String, WithdrawalClaim>,
    decisions: HashMap<String, Claim>,
    deviations: HashMap<String, Claim>,
    first: Option<RowDisagreement>,
}

impl RowClaims {
    pub fn new() -> Self {
        Self::default()
    }

    fn disagree(&mut self, seq: i64, detail: String) {
        if self.first.as_ref().is_none_or(|d| seq < d.seq) {
            self.first = Some(RowDisagreement {
                seq: seq.max(1),
                detail,
            });
        }
    }

    /// Reads one entry; entries of other actions are ignored.
    pub fn push(&mut self, e: &StoredEntry<'_>) {
        if !DESCRIBING.contains(&e.action) {
            return;
        }
        let written = Written {
            seq: e.seq,
            at: e.at,
            actor: e.actor.to_owned(),
        };
        let data = serde_json::from_str::<Value>(e.record)
            .ok()
            .and_then(|mut r| r.get_mut("data").map(Value::take))
            .unwrap_or(Value::Null);
        let id_key = match e.action {
            SCREENING_RECORDED | SCREENING_CORRECTED | CORRECTION_APPROVED
            | CORRECTION_REJECTED => "screening_id",
            DEVIATION_RECORDED => "deviation_id",
            _ => "subject_id",
        };
        let Some(id) = data.get(id_key).and_then(Value::as_str).map(str::to_owned) else {
            self.disagree(e.seq, format!("{} entry without {id_key}", e.action));
            return;
        };
        let duplicate = match e.action {
            SCREENING_RECORDED | SCREENING_CORRECTED => {
                let correction = e.action == SCREENING_CORRECTED;
                self.screenings
                    .insert(
                        id.clone(),
                        ScreeningClaim {
                            written,
                            correction,
                            data,
                        },
                    )
                    .is_some()
            }
            CORRECTION_APPROVED | CORRECTION_REJECTED => {
                let claim = Claim {
                    written,
                    action: e.action.to_owned(),
                    data,
                };
                self.decisions.insert(id.clone(), claim).is_some()
            }
            DEVIATION_RECORDED => {
                let claim = Claim {
                    written,
                    action: e.action.to_owned(),
                    data,
                };
                self.deviations.insert(id.clone(), claim).is_some()
            }
            SUBJECT_RANDOMIZED => self
                .subjects
                .insert(id.clone(), SubjectClaim { written, data })
                .is_some(),
            _ => {
                let reason = data.get("reason").cloned().unwrap_or(Value::Null);
                let signature = data.get("signature").cloned();
                self.withdrawals
                    .insert(
                        id.clone(),
                        WithdrawalClaim {
                            written,
                            reason,
                            signature,
                        },
                    )
                    .is_some()
            }
        };
        if duplicate {
            self.disagree(e.seq, format!("{} recorded twice for {id}", e.action));
        }
    }

    /// Compares a screening row with its `screening.recorded` entry.
    pub fn check_screening(&mut self, row: &ScreeningRow<'_>) {
        let Some(claim) = self.screenings.remove(row.id) else {
            self.disagree(
                row.audit_seq,
                format!("screening {} has no screening.recorded entry", row.id),
            );
            return;
        };
        let d = &claim.data;
        let input = serde_json::from_str::<Value>(row.input_json).ok();
        let result = serde_json::from_str::<Value>(row.result_json).ok();
        let same = claim.written.seq == row.audit_seq
            && claim.written.at == row.screened_at
            && claim.written.actor == row.screened_by
            && d["patient_ref"] == row.patient_ref
            && d["site"] == row.site
            && d["screening_date"] == row.screening_date.to_string().as_str()
            && d["outcome"] == row.outcome
            && input.as_ref() == d.get("input")
            // Entries written before the stratum was recorded at screening have neither.
            && d.get("stratum_key").and_then(Value::as_str) == row.stratum_key
            // Entries written before amendments existed were all under version 1.
            && d.get("protocol_version").and_then(Value::as_i64).unwrap_or(1)
                == i64::from(row.protocol_version)
            && result.as_ref().is_some_and(|r| {
                r["outcome"] == d["outcome"]
                    && r["missing"] == d["missing"]
                    && r["criteria"] == d["criteria"]
            })
            // A correction says what it corrects, how it stood and why; a screening nothing.
            && claim.correction == row.corrects.is_some()
            && d.get("corrects").and_then(Value::as_str) == row.corrects
            && d.get("correction_status").and_then(Value::as_str) == row.correction_status
            && (!claim.correction || d.get("reason").and_then(Value::as_str) == row.correction_reason);
        if !same {
            let action = if claim.correction {
                SCREENING_CORRECTED
            } else {
                SCREENING_RECORDED
            };
            self.disagree(
                claim.written.seq.min(row.audit_seq),
                format!(
                    "screening {} differs from its {action} entry (seq {})",
                    row.id, claim.written.seq
                ),
            );
        }
    }

    /// Compares a decision row with its `correction.approved` / `correction.rejected` entry.
    pub fn check_decision(&mut self, row: &DecisionRow<'_>) {
        let Some(claim) = self.decisions.remove(row.screening_id) else {
            self.disagree(
                row.audit_seq,
                format!(
                    "the decision on correction {} has no correction entry",
                    row.screening_id
                ),
            );
            return;
        };
        let action = match row.decision {
            "approved" => CORRECTION_APPROVED,
            "rejected" => CORRECTION_REJECTED,
            _ => "",
        };
        let same = claim.action == action
            && claim.written.seq == row.audit_seq
            && claim.written.at == row.decided_at
            && claim.written.actor == row.decided_by
            && claim.data["reason"] == row.reason
            && same_signature(claim.data.get("signature"), row.signature);
        if !same {
            self.disagree(
                claim.written.seq.min(row.audit_seq),
                format!(
                    "the decision on correction {} differs from its {} entry (seq {})",
                    row.screening_id, claim.action, claim.written.seq
                ),
            );
        }
    }

    /// Compares a deviation row with its `deviation.recorded` entry.
    pub fn check_deviation(&mut self, row: &DeviationRow<'_>) {
        let Some(claim) = self.deviations.remove(row.id) else {
            self.disagree(
                row.audit_seq,
                format!("deviation {} has no deviation.recorded entry", row.id),
            );
            return;
        };
        let d = &claim.data;
        let same = claim.written.seq == row.audit_seq
            && claim.written.at == row.recorded_at
            && d["subject_id"] == row.subject_id
            && d["kind"] == row.kind
            && d["screening_id"] == row.screening_id;
        if !same {
            self.disagree(
                claim.written.seq.min(row.audit_seq),
                format!(
                    "deviation {} differs from its deviation.recorded entry (seq {})",
                    row.id, claim.written.seq
                ),
            );
        }
    }

    /// Compares a subject row with its `subject.randomized` entry and, when withdrawn, its
    /// `subject.withdrawn` entry.
    pub fn check_subject(&mut self, row: &SubjectRow<'_>) {
        match self.subjects.remove(row.id) {
            None => self.disagree(
                row.audit_seq,
                format!("subject {} has no subject.randomized entry", row.id),
            ),
            Some(claim) => {
                let d = &claim.data;
                let same = claim.written.seq == row.audit_seq
                    && claim.written.at == row.randomized_at
                    && claim.written.actor == row.randomized_by
                    && d["screening_id"] == row.screening_id
                    && d["patient_ref"] == row.patient_ref
                    && d["site"] == row.site
                    && d["arm"] == row.arm
                    && d["sequence"] == row.sequence
                    && d["stratum_key"] == row.stratum_key
                    && d["stratum_position"] == row.stratum_position
                    && same_signature(d.get("signature"), row.randomization_signature);
                if !same {
                    self.disagree(
                        claim.written.seq.min(row.audit_seq),
                        format!(
                            "subject {} differs from its subject.randomized entry (seq {})",
                            row.id, claim.written.seq
                        ),
                    );
                }
            }
        }
        match (self.withdrawals.remove(row.id), row.withdrawn) {
            (None, false) => {}
            (None, true) => self.disagree(
                row.audit_seq,
                format!(
                    "subject {} is withdrawn without a subject.withdrawn entry",
                    row.id
                ),
            ),
            (Some(claim), false) => self.disagree(
                claim.written.seq,
                format!(
                    "subject {} is on study but was withdrawn at seq {}",
                    row.id, claim.written.seq
                ),
            ),
            (Some(claim), true) => {
                let same = row.withdrawn_at == Some(claim.written.at)
                    && row.withdrawn_by == Some(claim.written.actor.as_str())
                    && row.withdrawal_reason.is_some_and(|r| claim.reason == r)
                    && same_signature(claim.signature.as_ref(), row.withdrawal_signature);
                if !same {
                    self.disagree(
                        claim.written.seq,
                        format!(
                            "subject {}'s withdrawal differs from its subject.withdrawn entry (seq {})",
                            row.id, claim.written.seq
                        ),
                    );
                }
            }
        }
    }

    /// The first disagreement, counting entries whose row is missing.
    pub fn finish(mut self) -> Option<RowDisagreement> {
        let missing: Vec<(i64, String)> = self
            .screenings
            .iter()
            .map(|(id, c)| {
                (
                    c.written.seq,
                    format!("screening {id} is recorded but has no row"),
                )
            })
            .chain(self.subjects.iter().map(|(id, c)| {
                (
                    c.written.seq,
                    format!("subject {id} is recorded but has no row"),
                )
            }))
            .chain(self.withdrawals.iter().map(|(id, c)| {
                (
                    c.written.seq,
                    format!("withdrawal of subject {id} is recorded but the subject has no row"),
                )
            }))
            .chain(self.decisions.iter().map(|(id, c)| {
                (
                    c.written.seq,
                    format!("the decision on correction {id} is recorded but has no row"),
                )
            }))
            .chain(self.deviations.iter().map(|(id, c)| {
                (
                    c.written.seq,
                    format!("deviation {id} is recorded but has no row"),
                )
            }))
            .collect();
        for (seq, detail) in missing {
            self.disagree(seq, detail);
        }
        self.first
    }
}
