//! Row structs (`Queryable` + `Selectable`, owned, one per table) and insert structs
//! (`Insertable`, borrowed, `New…`). Load rows with `.select(Row::as_select())`.
//!
//! All times are UTC `NaiveDateTime`s with microsecond precision (truncate before storing, e.g.
//! with [`crate::audit::truncate_to_micros`], so values read back compare equal on both
//! backends). On SQLite timestamps are stored as text: order by `seq`/`sequence`, not by time.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{
    audit_entries, audit_heads, correction_decisions, deviations, screenings, sites, subjects,
    tokens, trials, users, web_sessions,
};
use crate::access::Role;
use crate::audit::{AsStoredEntry, StoredEntry};
use crate::eligibility::Outcome;
use crate::protocol::{CorrectionStatus, DeviationKind, SubjectStatus, TrialStatus};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = trials)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Trial {
    pub id: String,
    pub title: String,
    pub protocol_json: String,
    pub protocol_digest: String,
    pub algorithm: String,
    pub seed_commitment: String,
    pub status: TrialStatus,
    pub cap: i64,
    pub created_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub close_reason: Option<String>,
    pub seed_revealed: bool,
    /// The protocol version in force (1: as initialised).
    pub protocol_version: i32,
    /// The closing admin's electronic signature (JSON), when closed from the web pages.
    pub close_signature: Option<String>,
}

/// A new trial (`seed_revealed` starts false).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = trials)]
pub struct NewTrial<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub protocol_json: &'a str,
    pub protocol_digest: &'a str,
    pub algorithm: &'a str,
    pub seed_commitment: &'a str,
    pub status: TrialStatus,
    pub cap: i64,
    pub created_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub close_reason: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, primary_key(name))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct User {
    pub name: String,
    pub role: Role,
    /// JSON array of site codes; `[]` means all sites.
    pub sites: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// Any script; `""` for accounts made before full names existed.
    pub full_name: String,
    pub email: Option<String>,
    /// After it the account no longer authenticates.
    pub expires_at: Option<NaiveDateTime>,
    /// When it last authenticated, to within [`crate::storage::repo::users::ACTIVITY_RESOLUTION_MINUTES`].
    pub last_active_at: Option<NaiveDateTime>,
    /// Argon2id PHC string; `None` until the account is activated.
    pub password_hash: Option<String>,
    pub password_set_at: Option<NaiveDateTime>,
}

/// A registered site: its code (what screenings and users name), name and time zone.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = sites, primary_key(code))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Site {
    pub code: String,
    /// Any script (NFC).
    pub name: String,
    /// An IANA time zone name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub changed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub role: Role,
    pub sites: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tokens, primary_key(token_hash))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Token {
    /// Lowercase hex SHA-256 of the bearer token.
    pub token_hash: String,
    pub user_name: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// After it the token no longer authenticates.
    pub expires_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tokens)]
pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub user_name: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = screenings)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Screening {
    pub id: String,
    pub trial_id: String,
    pub patient_ref: String,
    pub site: String,
    pub outcome: Outcome,
    pub input_json: String,
    pub result_json: String,
    pub screening_date: NaiveDate,
    pub screened_at: NaiveDateTime,
    pub screened_by: String,
    /// Seq of the `screening.recorded` entry in the trial's chain.
    pub audit_seq: i64,
    /// The stratum fixed at screening (`""` unstratified); `None` when a factor was not
    /// given, or for a screening recorded before the column existed.
    pub stratum_key: Option<String>,
    /// The protocol version it was evaluated under.
    pub protocol_version: i32,
    /// The screening this one corrects.
    pub corrects: Option<String>,
    /// As recorded: `Applied` or `Pending` for a correction, `None` otherwise. A decision on a
    /// pending one is a [`CorrectionDecision`].
    pub correction_status: Option<CorrectionStatus>,
    pub correction_reason: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
}

impl Screening {
    /// The row as an insert.
    pub fn as_new(&self) -> NewScreening<'_> {
        NewScreening {
            id: &self.id,
            trial_id: &self.trial_id,
            patient_ref: &self.patient_ref,
            site: &self.site,
            outcome: self.outcome,
            input_json: &self.input_json,
            result_json: &self.result_json,
            screening_date: self.screening_date,
            screened_at: self.screened_at,
            screened_by: &self.screened_by,
            audit_seq: self.audit_seq,
            stratum_key: self.stratum_key.as_deref(),
            protocol_version: self.protocol_version,
            corrects: self.corrects.as_deref(),
            correction_status: self.correction_status,
            correction_reason: self.correction_reason.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
            request_fingerprint: self.request_fingerprint.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = screenings)]
pub struct NewScreening<'a> {
    pub id: &'a str,
    pub trial_id: &'a str,
    pub patient_ref: &'a str,
    pub site: &'a str,
    pub outcome: Outcome,
    pub input_json: &'a str,
    pub result_json: &'a str,
    pub screening_date: NaiveDate,
    pub screened_at: NaiveDateTime,
    pub screened_by: &'a str,
    pub audit_seq: i64,
    pub stratum_key: Option<&'a str>,
    pub protocol_version: i32,
    pub corrects: Option<&'a str>,
    pub correction_status: Option<CorrectionStatus>,
    pub correction_reason: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub request_fingerprint: Option<&'a str>,
}

/// A monitor's decision on a pending correction (`decision` is `Approved` or `Rejected`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = correction_decisions, primary_key(screening_id))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CorrectionDecision {
    /// The correcting screening.
    pub screening_id: String,
    pub trial_id: String,
    pub decision: CorrectionStatus,
    pub reason: String,
    pub decided_by: String,
    pub decided_at: NaiveDateTime,
    pub audit_seq: i64,
    /// The monitor's electronic signature (JSON), when decided in the web pages.
    pub signature: Option<String>,
}

/// A deviation recorded when a correction of a randomized patient was approved.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = deviations)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Deviation {
    pub id: String,
    pub trial_id: String,
    pub subject_id: String,
    pub kind: DeviationKind,
    /// The approved correcting screening that revealed it.
    pub screening_id: String,
    pub recorded_at: NaiveDateTime,
    pub audit_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = subjects)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Subject {
    pub id: String,
    pub trial_id: String,
    /// 1, 2, … across the trial.
    pub sequence: i64,
    pub screening_id: String,
    pub patient_ref: String,
    pub site: String,
    pub stratum_key: String,
    /// 0-based position in the stratum's schedule.
    pub stratum_position: i64,
    pub arm: String,
    pub randomized_at: NaiveDateTime,
    pub randomized_by: String,
    pub status: SubjectStatus,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub withdrawn_by: Option<String>,
    pub withdrawal_reason: Option<String>,
    /// Seq of the `subject.randomized` entry in the trial's chain.
    pub audit_seq: i64,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
    /// Electronic signatures (JSON) of the randomization and the withdrawal, when signed.
    pub randomization_signature: Option<String>,
    pub withdrawal_signature: Option<String>,
}

/// A newly randomized subject (`status` is normally [`SubjectStatus::OnStudy`], withdrawal fields `None`).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = subjects)]
pub struct NewSubject<'a> {
    pub id: &'a str,
    pub trial_id: &'a str,
    pub sequence: i64,
    pub screening_id: &'a str,
    pub patient_ref: &'a str,
    pub site: &'a str,
    pub stratum_key: &'a str,
    pub stratum_position: i64,
    pub arm: &'a str,
    pub randomized_at: NaiveDateTime,
    pub randomized_by: &'a str,
    pub status: SubjectStatus,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub withdrawn_by: Option<&'a str>,
    pub withdrawal_reason: Option<&'a str>,
    pub audit_seq: i64,
    pub idempotency_key: Option<&'a str>,
    pub request_fingerprint: Option<&'a str>,
    pub randomization_signature: Option<&'a str>,
}

/// One stored audit entry. Write entries only through [`super::append_audit`].
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_entries, primary_key(chain, seq))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AuditEntry {
    /// The trial id, or `_system`.
    pub chain: String,
    pub seq: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub role: String,
    pub action: String,
    /// The exact JSON text that was hashed.
    pub record: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AsStoredEntry for AuditEntry {
    fn as_stored(&self) -> StoredEntry<'_> {
        StoredEntry {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            role: &self.role,
            action: &self.action,
            record: &self.record,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_entries)]
pub struct NewAuditEntry<'a> {
    pub chain: &'a str,
    pub seq: i64,
    pub at: NaiveDateTime,
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub record: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// The head of a chain: its last entry's seq and hash (0 and 64 zeros when empty).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_heads, primary_key(chain))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AuditHead {
    pub chain: String,
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_heads)]
pub struct NewAuditHead<'a> {
    pub chain: &'a str,
    pub seq: i64,
    pub hash: &'a str,
}

/// A browser session of the web pages. The session id itself is only in the user's cookie.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = web_sessions, primary_key(id_hash))]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct WebSession {
    /// Lowercase hex SHA-256 of the session id.
    pub id_hash: String,
    pub user_name: String,
    pub created_at: NaiveDateTime,
    /// Last request seen; the idle limit counts from here.
    pub last_seen_at: NaiveDateTime,
    /// The absolute limit.
    pub expires_at: NaiveDateTime,
}
