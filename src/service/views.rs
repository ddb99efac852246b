//! The API's resources as clients see them (api.md). Services produce these; handlers
//! serialise them. Nothing here tells a pharmacist or investigator about blocks.

use crate::audit::signature::Signature;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::Role;
use crate::eligibility::{CriterionResult, Evaluation, Outcome, RawScreening};
use crate::protocol::{CorrectionStatus, SubjectStatus, TrialStatus};
use crate::service::error::Internal;
use crate::service::format_time;
use crate::storage::models;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrialSummary {
    pub id: String,
    pub title: String,
    /// `open` or `closed`
    #[schema(value_type = String)]
    pub status: TrialStatus,
    pub enrolled: i64,
    pub cap: i64,
    /// A training trial (`{id}-TRAINING`): practice only, not the study's data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub training: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArmView {
    pub code: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub ratio: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CriterionView {
    pub id: String,
    pub text: String,
    /// The text in Simplified Chinese, when the protocol gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_zh: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrialDetail {
    pub id: String,
    pub title: String,
    #[schema(value_type = String)]
    pub status: TrialStatus,
    pub enrolled: i64,
    pub cap: i64,
    /// A training trial (`{id}-TRAINING`): practice only, not the study's data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub training: bool,
    pub arms: Vec<ArmView>,
    pub criteria: Vec<CriterionView>,
    pub stratification: Vec<String>,
    pub seed_commitment: String,
    pub algorithm: String,
    /// Only for monitors and admins: a hash over the protocol, block sizes included, would let
    /// a site confirm a guess of the design.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_digest: Option<String>,
    /// Only for monitors and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_sizes: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// Whether the seed has been revealed in the audit trail (at close).
    pub seed_revealed: bool,
    /// False when this server cannot randomize: seed file missing or not matching.
    pub seed_available: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScreeningView {
    pub id: String,
    pub trial: String,
    pub patient_ref: String,
    pub site: String,
    pub outcome: Outcome,
    /// Every criterion of the protocol, in protocol order.
    pub criteria: Vec<CriterionResult>,
    pub missing: Vec<String>,
    pub screening_date: String,
    pub screened_at: String,
    pub screened_by: String,
    /// False once a later screening of the same patient was submitted.
    pub latest: bool,
    /// The subject, once this patient is randomized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    /// The protocol version it was evaluated under (1: as the trial was initialised).
    pub protocol_version: i32,
    /// The patient's initials, birth date and sex as screened: what the pharmacist checks
    /// the patient's identity against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initials: Option<String>,
    #[schema(format = Date, example = "1961-03-02")]
    pub birth_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<crate::eligibility::Sex>,
    /// The screening this one corrects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    /// A correction's status: `applied`, `pending`, `approved` or `rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_status: Option<CorrectionStatus>,
}

impl ScreeningView {
    /// The view of a stored screening. `decision` is the monitor's decision on it when it is
    /// a correction that was pending.
    pub fn from_row(
        row: &models::Screening,
        latest: bool,
        subject_id: Option<String>,
        decision: Option<CorrectionStatus>,
    ) -> Result<Self, Internal> {
        let evaluation: Evaluation = serde_json::from_str(&row.result_json)
            .map_err(|e| Internal::caused(format!("screening {} result", row.id), e))?;
        let submitted = RawScreening::from_json(row.input_json.as_bytes())
            .map_err(|e| Internal::caused(format!("screening {} input", row.id), e))?;
        Ok(ScreeningView {
            id: row.id.clone(),
            trial: row.trial_id.clone(),
            patient_ref: row.patient_ref.clone(),
            site: row.site.clone(),
            outcome: evaluation.outcome,
            criteria: evaluation.criteria,
            missing: evaluation.missing,
            screening_date: row.screening_date.to_string(),
            screened_at: format_time(row.screened_at),
            screened_by: row.screened_by.clone(),
            latest,
            subject_id,
            protocol_version: row.protocol_version,
            initials: submitted.canonical_initials(),
            birth_date: submitted.birth_date.clone().unwrap_or_default(),
            sex: submitted.sex_value(),
            corrects: row.corrects.clone(),
            correction_status: decision.or(row.correction_status),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Allocation {
    pub subject_id: String,
    pub sequence: i64,
    pub arm: String,
    pub arm_name: String,
    pub patient_ref: String,
    pub site: String,
    pub randomized_at: String,
    pub randomized_by: String,
    /// `on_study` or `withdrawn`
    #[schema(value_type = String)]
    pub status: SubjectStatus,
    pub audit_seq: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<String>,
    /// Who withdrew the subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawal_reason: Option<String>,
    /// The pharmacist's electronic signature, when randomized in the web pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub randomization_signature: Option<Signature>,
    /// The investigator's electronic signature, when withdrawn in the web pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawal_signature: Option<Signature>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArmCount {
    pub arm: String,
    pub count: i64,
}

/// One block of a stratum's schedule and how far it is filled. Exists only once the seed is
/// revealed: it is computed from the revealed seed, never stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockBalance {
    pub stratum_key: String,
    pub block_index: i64,
    pub size: i64,
    pub filled: i64,
    pub counts: Vec<ArmCount>,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StratumBalance {
    pub stratum_key: String,
    pub counts: Vec<ArmCount>,
    /// `null` while the seed is secret (block boundaries would foresee allocations).
    pub blocks: Option<Vec<BlockBalance>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    pub trial: String,
    pub enrolled: i64,
    pub cap: i64,
    pub counts: Vec<ArmCount>,
    pub strata: Vec<StratumBalance>,
    /// Every stratum's blocks, in stratum then block order; `null` until the seed is revealed.
    pub blocks: Option<Vec<BlockBalance>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    /// The JSON text exactly as hashed.
    pub record: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    pub valid: bool,
    pub entries: i64,
    pub head: String,
    pub first_invalid_seq: Option<i64>,
    /// What is wrong at `first_invalid_seq` (absent when valid): a broken link or hash, or a
    /// screening/subject row that disagrees with its entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedUser {
    pub name: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub sites: Vec<String>,
    /// Shown once; only its hash is stored.
    pub token: String,
}

/// Another token for a user (POST /users/{name}/tokens).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedToken {
    pub name: String,
    /// Shown once; only its hash is stored.
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How many of the user's other tokens were revoked (rotation).
    pub revoked_tokens: i64,
    /// The password was cleared: the token activates the account again.
    pub password_reset: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevokedUser {
    pub name: String,
    pub revoked_tokens: i64,
}

/// A registered site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteView {
    /// What screenings and users name, e.g. `SITE01`.
    pub code: String,
    /// Any script, e.g. `北京协和医院`.
    pub name: String,
    /// IANA time zone name, e.g. `Asia/Shanghai`: the site's users read times in it.
    pub time_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
}

/// A user as the admin's list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserSummary {
    pub name: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub sites: Vec<String>,
    /// Any script; empty for accounts made before full names existed.
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub status: AccountStatus,
    /// Whether the person has set a password (activated the account with their token).
    pub password_set: bool,
    pub created_at: String,
    /// When the account last authenticated (to within a few minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// One account in the access review: the account and what its role may do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessReviewRow {
    #[serde(flatten)]
    pub user: UserSummary,
    /// The permissions the role holds, e.g. `randomize`, `withdraw`.
    pub permissions: Vec<String>,
}

/// Whether an account authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Expired,
    Revoked,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Expired => "expired",
            AccountStatus::Revoked => "revoked",
        }
    }
}

/// A criterion and how many patients it excluded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CriterionCount {
    pub criterion: String,
    pub text: String,
    pub count: i64,
}

/// The CONSORT-style flow of patients through the trial (monitors): each patient counted
/// once, by their latest screening, or as randomized once they are.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentFlow {
    /// Patients screened at least once.
    pub screened: i64,
    /// Not randomized, latest screening ineligible.
    pub ineligible: i64,
    /// How many of the ineligible patients fail each criterion (a patient may fail several).
    pub failing: Vec<CriterionCount>,
    /// Not randomized, latest screening incomplete.
    pub incomplete: i64,
    /// Randomized, or latest screening eligible.
    pub eligible: i64,
    /// Eligible and not yet randomized.
    pub awaiting: i64,
    pub randomized: i64,
    pub randomized_by_arm: Vec<ArmCount>,
    pub withdrawn: i64,
    pub withdrawn_by_arm: Vec<ArmCount>,
}

/// `GET …/log/consistency`: the tree of `to` entries extends the tree of `from`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// RFC 9162 §2.1.4 proof: standard base64 of 32-byte hashes.
    pub proof: Vec<String>,
}

/// `GET …/log/inclusion`: entry `seq` is leaf `leaf_index` of the tree of `tree_size`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    pub seq: i64,
    pub tree_size: u64,
    pub leaf_index: u64,
    /// Standard base64 of the entry's 32 random bytes (leaf = SHA-256(0x00 ‖ nonce ‖ record)).
    pub nonce: String,
    /// The entry's record, byte for byte.
    pub record: String,
    /// RFC 9162 §2.1.3 proof: standard base64 of 32-byte hashes.
    pub proof: Vec<String>,
}
