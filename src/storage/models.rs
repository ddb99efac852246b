//! Row structs (`Queryable` + `Selectable`, owned, one per table) and insert structs
//! (`Insertable`, borrowed, `New…`). Load rows with `.select(Row::as_select())`.
//!
//! All times are UTC `NaiveDateTime`s with microsecond precision (truncate before storing, e.g.
//! with [`crate::audit::truncate_to_micros`], so values read back compare equal on both
//! backends). On SQLite timestamps are stored as text: order by `seq`/`sequence`, not by time.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{
    audit_entries, audit_heads, screenings, subjects, tokens, trials, users, web_sessions,
};
use crate::access::Role;
use crate::audit::{AsStoredEntry, StoredEntry};
use crate::eligibility::Outcome;
use crate::protocol::{SubjectStatus, TrialStatus};

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
