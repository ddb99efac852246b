//! Protocols as data: a TOML file describes a trial's arms, design, cap and eligibility
//! criteria. An inconsistent protocol is refused at load with a message naming the problem.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod amendment;
mod patient_ref;
mod status;
mod vocabulary;

use crate::language::Language;
use crate::randomization::{Design, DesignError};
pub use patient_ref::{
    PatientRef, PatientRefError, PatientRefPattern, DEFAULT_PATIENT_REF_PATTERN, MAX_PATTERN_LEN,
    MAX_REF_LEN,
};
pub use status::{CorrectionStatus, Decision, DeviationKind, SubjectStatus, TrialStatus};
pub use vocabulary::{Attestation, CountLab, Dipstick, UlnLab};

/// What a training copy's id ends with.
pub const TRAINING_SUFFIX: &str = "-TRAINING";

/// The default trial, compiled into the binary.
pub const DEFAULT_PROTOCOL_TOML: &str = include_str!("../../protocols/NCT06987370.toml");

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("protocol file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("protocol {origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("protocol {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// A factor patients can be stratified by; its value comes from the screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StratificationFactor {
    Site,
    Sex,
    LiverMetastasis,
}

impl StratificationFactor {
    pub fn name(self) -> &'static str {
        match self {
            StratificationFactor::Site => "site",
            StratificationFactor::Sex => "sex",
            StratificationFactor::LiverMetastasis => "liver_metastasis",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Stable code used in the schedule, the audit trail and exports, e.g. `SFRT_SCART`.
    pub code: String,
    /// Name shown to people, e.g. `SFRT/SCART`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub ratio: u32,
    /// The name in Simplified Chinese (absent from the canonical JSON when unset). Not part
    /// of the design: it may be amended after randomization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// The description in Simplified Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_zh: Option<String>,
}

impl Arm {
    /// The name in `language`, else the English name.
    pub fn name_in(&self, language: Language) -> &str {
        match language {
            Language::ZhCn => self.name_zh.as_deref().unwrap_or(&self.name),
            Language::En => &self.name,
        }
    }

    /// The description in `language`, else the English one.
    pub fn description_in(&self, language: Language) -> Option<&str> {
        match language {
            Language::ZhCn => self
                .description_zh
                .as_deref()
                .or(self.description.as_deref()),
            Language::En => self.description.as_deref(),
        }
    }
}

/// One eligibility criterion: a stable id (part of the API contract), the text shown to
/// people and the rule that decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Criterion {
    pub id: String,
    pub text: String,
    /// The text in Simplified Chinese; absent from the canonical JSON (and the digest) when
    /// the protocol gives none, so adding one is an amendment like any change of a text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_zh: Option<String>,
    #[serde(flatten)]
    pub rule: Rule,
    /// The lab's plausible range (lab criteria only), in the rule's unit (canonical unit, or
    /// multiples of the ULN): a value outside it is refused until the investigator confirms
    /// it (`confirm_implausible`). Absent from the canonical JSON when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plausible_min: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plausible_max: Option<Decimal>,
}

impl Criterion {
    /// The text in `language`, else the English text.
    pub fn text_in(&self, language: Language) -> &str {
        match language {
            Language::ZhCn => self.text_zh.as_deref().unwrap_or(&self.text),
            Language::En => &self.text,
        }
    }

    /// The lab whose value the plausible range bounds, by its request field name.
    pub fn plausible_lab(&self) -> Option<&'static str> {
        if self.plausible_min.is_none() && self.plausible_max.is_none() {
            return None;
        }
        match &self.rule {
            Rule::LabMinimum { lab, .. } => Some(lab.field()),
            Rule::UlnMaximum { lab, .. } => Some(lab.field()),
            _ => None,
        }
    }
}

/// How a criterion is decided. Thresholds are in canonical units (g/L, 10^9/L, ×ULN,
/// mL/min, g/24h); boundaries are inclusive unless the name says `above`/`below`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    AgeRange {
        min_years: u32,
        max_years: u32,
    },
    Attestation {
        attestation: Attestation,
        passes_when: bool,
    },
    LabMinimum {
        lab: CountLab,
        min: Decimal,
    },
    UlnMaximum {
        lab: UlnLab,
        max_uln: Decimal,
        max_uln_with_liver_metastasis: Decimal,
    },
    /// Cr ≤ max_uln × ULN, or else a 24-h creatinine clearance strictly above the bound.
    Creatinine {
        max_uln: Decimal,
        clearance_above_ml_min: Decimal,
    },
    /// Dipstick strictly below the grade, or else 24-h protein or UPC strictly below theirs.
    UrineProtein {
        dipstick_below: Dipstick,
        protein_24h_below_g: Decimal,
        upc_below: Decimal,
    },
}

/// A loaded, consistent protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Protocol {
    pub id: String,
    pub title: String,
    /// The title in Simplified Chinese; absent from the canonical JSON when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_zh: Option<String>,
    pub cap: u32,
    pub block_sizes: Vec<u32>,
    pub stratification: Vec<StratificationFactor>,
    /// `patient_ref_pattern` as the protocol file sets it. Absent from the canonical JSON
    /// (and so from the digest) when the file does not set it, like an arm's description:
    /// the digest of a protocol that predates the key is unchanged.
    #[serde(
        rename = "patient_ref_pattern",
        skip_serializing_if = "Option::is_none"
    )]
    declared_patient_ref_pattern: Option<String>,
    /// The first day a patient may be screened; absent (and out of the digest) when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<chrono::NaiveDate>,
    /// How many days a screening stays valid for randomization; unset: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screening_valid_days: Option<u32>,
    /// A training trial (REDCap's development mode): for staff training and tours, marked on
    /// every page; its patients and allocations are not the study's. Absent when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub training: bool,
    pub arms: Vec<Arm>,
    pub criteria: Vec<Criterion>,
    #[serde(skip)]
    design: Design,
    /// The pattern in force: the declared one, else [`DEFAULT_PATIENT_REF_PATTERN`].
    #[serde(skip)]
    patient_ref_pattern: PatientRefPattern,
}

impl Protocol {
    /// The built-in NCT06987370 protocol.
    pub fn default_trial() -> Result<Self, ProtocolError> {
        Self::from_toml(DEFAULT_PROTOCOL_TOML, "NCT06987370 (built in)")
    }

    pub fn from_file(path: &Path) -> Result<Self, ProtocolError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProtocolError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks a protocol; `origin` names it in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ProtocolError> {
        let raw: RawProtocol = toml::from_str(text).map_err(|e| ProtocolError::Syntax {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        raw.check().map_err(|message| ProtocolError::Invalid {
            origin: origin.to_string(),
            message,
        })
    }

    /// Reloads a protocol from its canonical JSON (as stored with an initialised trial),
    /// with the same checks as a protocol file.
    ///
    /// The text goes through a `serde_json::Value` first: criteria are an internally tagged
    /// enum, which serde buffers, and when serde_json's `arbitrary_precision` feature is on
    /// (feature unification can switch it on from any crate in the build) a buffered number
    /// straight from the parser is a map, not a number. `Value` hands numbers over as numbers.
    pub fn from_canonical_json(text: &str, origin: &str) -> Result<Self, ProtocolError> {
        let syntax = |e: serde_json::Error| ProtocolError::Syntax {
            origin: origin.to_string(),
            message: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(syntax)?;
        let raw = RawProtocol::deserialize(value).map_err(syntax)?;
        raw.check().map_err(|message| ProtocolError::Invalid {
            origin: origin.to_string(),
            message,
        })
    }

    /// The training copy of this trial (`serve --training`): id `{id}-TRAINING`, the title
    /// marked, `training = true`; everything else, the design included, the same. Its seed,
    /// chain, patients and exports are its own.
    pub fn training_copy(&self) -> Result<Protocol, ProtocolError> {
        let id = format!("{}{TRAINING_SUFFIX}", self.id);
        let invalid = |message: String| ProtocolError::Invalid {
            origin: format!("training copy of {}", self.id),
            message,
        };
        let mut value = serde_json::to_value(self).map_err(|e| invalid(e.to_string()))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("id".into(), id.clone().into());
            map.insert("title".into(), format!("[TRAINING] {}", self.title).into());
            map.insert("training".into(), true.into());
        }
        Protocol::from_canonical_json(&value.to_string(), &id)
    }

    pub fn design(&self) -> &Design {
        &self.design
    }

    /// The pattern a canonical `patient_ref` must match in this trial.
    pub fn patient_ref_pattern(&self) -> &PatientRefPattern {
        &self.patient_ref_pattern
    }

    /// The title in `language`, else the English title.
    pub fn title_in(&self, language: Language) -> &str {
        match language {
            Language::ZhCn => self.title_zh.as_deref().unwrap_or(&self.title),
            Language::En => &self.title,
        }
    }

    pub fn arm(&self, code: &str) -> Option<&Arm> {
        self.arms.iter().find(|a| a.code == code)
    }

    /// SHA-256 of the protocol's canonical JSON: recorded at initialisation so a monitor can
    /// tell exactly which protocol a trial ran under.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtocol {
    id: String,
    title: String,
    #[serde(default)]
    title_zh: Option<String>,
    cap: u32,
    block_sizes: Vec<u32>,
    #[serde(default)]
    stratification: Vec<StratificationFactor>,
    #[serde(default)]
    patient_ref_pattern: Option<String>,
    #[serde(default)]
    start_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    screening_valid_days: Option<u32>,
    #[serde(default)]
    training: bool,
    arms: Vec<Arm>,
    criteria: Vec<RawCriterion>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawCriterion {
    AgeRange {
        id: String,
        text: String,
        #[serde(default)]
        text_zh: Option<String>,
        min_years: u32,
        max_years: u32,
    },
    Attestation {
        id: String,
        text: String,
        #[serde(default)]
        text_zh: Option<String>,
        attestation: Attestation,
        passes_when: bool,
    },
    LabMinimum {
        id: String,
        text: String,
        #[serde(default)]
        text_zh: Option<String>,
        lab: CountLab,
        min: f64,
        #[serde(default)]
        plausible_min: Option<f64>,
        #[serde(default)]
        plausible_max: Option<f64>,
    },
    UlnMaximum {
        id: String,
        text: String,
        #[serde(default)]
        text_zh: Option<String>,
        lab: UlnLab,
        max_uln: f64,
        max_uln_with_liver_metastasis: f64,
        #[serde(default)]
        plausible_min: Option<f64>,
        #[serde(default)]
        plausible_max: Option<f64>,
    },
    Creatinine {
        id: String,
        text: String,
        #[serde(default)]
        text_zh: Option<String>,
        max_uln: f64,
        clearance_above_ml_min: f64,
    },
    UrineProtein {
        id: String,
        text: String,
        #[serde(default)]
        text_zh: Option<String>,
        dipstick_below: Dipstick,
        protein_24h_below_g: f64,
        upc_below: f64,
    },
}

fn threshold(id: &str, name: &str, value: f64) -> Result<Decimal, String> {
    if !(value.is_finite() && value > 0.0) {
        return Err(format!(
            "criterion {id:?}: {name} must be a positive number, got {value}"
        ));
    }
    Decimal::from_str(&value.to_string())
        .map(|d| d.normalize())
        .map_err(|_| format!("criterion {id:?}: {name} is out of range"))
}

/// A plausible range's bounds: not negative, finite, min below max.
fn plausible_range(
    id: &str,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<(Option<Decimal>, Option<Decimal>), String> {
    let bound = |name: &str, value: Option<f64>| -> Result<Option<Decimal>, String> {
        value
            .map(|v| {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(format!(
                        "criterion {id:?}: {name} must be a number not below 0, got {v}"
                    ));
                }
                Decimal::from_str(&v.to_string())
                    .map(|d| d.normalize())
                    .map_err(|_| format!("criterion {id:?}: {name} is out of range"))
            })
            .transpose()
    };
    let (min, max) = (bound("plausible_min", min)?, bound("plausible_max", max)?);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo >= hi {
            return Err(format!(
                "criterion {id:?}: plausible_min {lo} must be below plausible_max {hi}"
            ));
        }
    }
    Ok((min, max))
}

impl RawCriterion {
    fn check(self) -> Result<Criterion, String> {
        let mut plausible = (None, None);
        let (id, text, text_zh, rule) = match self {
            RawCriterion::AgeRange {
                id,
                text,
                text_zh,
                min_years,
                max_years,
            } => {
                if min_years > max_years {
                    return Err(format!(
                        "criterion {id:?}: min_years {min_years} is above max_years {max_years}"
                    ));
                }
                let rule = Rule::AgeRange {
                    min_years,
                    max_years,
                };
                (id, text, text_zh, rule)
            }
            RawCriterion::Attestation {
                id,
                text,
                text_zh,
                attestation,
                passes_when,
            } => (
                id,
                text,
                text_zh,
                Rule::Attestation {
                    attestation,
                    passes_when,
                },
            ),
            RawCriterion::LabMinimum {
                id,
                text,
                text_zh,
                lab,
                min,
                plausible_min,
                plausible_max,
            } => {
                let min = threshold(&id, "min", min)?;
                plausible = plausible_range(&id, plausible_min, plausible_max)?;
                (id, text, text_zh, Rule::LabMinimum { lab, min })
            }
            RawCriterion::UlnMaximum {
                id,
                text,
                text_zh,
                lab,
                max_uln,
                max_uln_with_liver_metastasis,
                plausible_min,
                plausible_max,
            } => {
                plausible = plausible_range(&id, plausible_min, plausible_max)?;
                let max_uln = threshold(&id, "max_uln", max_uln)?;
                let liver = threshold(
                    &id,
                    "max_uln_with_liver_metastasis",
                    max_uln_with_liver_metastasis,
                )?;
                if liver < max_uln {
                    return Err(format!(
                        "criterion {id:?}: max_uln_with_liver_metastasis {liver} is below max_uln {max_uln}"
                    ));
                }
                let rule = Rule::UlnMaximum {
                    lab,
                    max_uln,
                    max_uln_with_liver_metastasis: liver,
                };
                (id, text, text_zh, rule)
            }
            RawCriterion::Creatinine {
                id,
                text,
                text_zh,
                max_uln,
                clearance_above_ml_min,
            } => {
                let rule = Rule::Creatinine {
                    max_uln: threshold(&id, "max_uln", max_uln)?,
                    clearance_above_ml_min: threshold(
                        &id,
                        "clearance_above_ml_min",
                        clearance_above_ml_min,
                    )?,
                };
                (id, text, text_zh, rule)
            }
            RawCriterion::UrineProtein {
                id,
                text,
                text_zh,
                dipstick_below,
                protein_24h_below_g,
                upc_below,
            } => {
                let rule = Rule::UrineProtein {
                    dipstick_below,
                    protein_24h_below_g: threshold(
                        &id,
                        "protein_24h_below_g",
                        protein_24h_below_g,
                    )?,
                    upc_below: threshold(&id, "upc_below", upc_below)?,
                };
                (id, text, text_zh, rule)
            }
        };
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "criterion id {id:?} must be non-empty letters, digits and '_'"
            ));
        }
        if text.trim().is_empty() {
            return Err(format!("criterion {id:?}: text must not be empty"));
        }
        if text_zh.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(format!(
                "criterion {id:?}: text_zh must not be empty (leave it out for no translation)"
            ));
        }
        Ok(Criterion {
            id,
            text,
            text_zh,
            rule,
            plausible_min: plausible.0,
            plausible_max: plausible.1,
        })
    }
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

impl RawProtocol {
    fn check(self) -> Result<Protocol, String> {
        if !is_code(&self.id) || self.id == crate::audit::SYSTEM_CHAIN {
            return Err(format!(
                "id {:?} must be 1–64 letters, digits, '-', '_' or '.' (and not _system)",
                self.id
            ));
        }
        if self.title.trim().is_empty() {
            return Err("title must not be empty".into());
        }
        // The id says which trials are for training, so every page and export can tell.
        if self.training != self.id.ends_with(TRAINING_SUFFIX) {
            return Err(format!(
                "id {:?}: a training trial's id ends with {TRAINING_SUFFIX:?}, and only a training trial's does (training = {})",
                self.id, self.training
            ));
        }
        if self.cap == 0 {
            return Err("cap must be at least 1".into());
        }
        let mut codes = HashSet::new();
        for arm in &self.arms {
            if !is_code(&arm.code) {
                return Err(format!(
                    "arm code {:?} must be 1–64 letters, digits, '-', '_' or '.'",
                    arm.code
                ));
            }
            if !codes.insert(arm.code.as_str()) {
                return Err(format!("arm {:?} is listed twice", arm.code));
            }
            if arm.name.trim().is_empty() {
                return Err(format!("arm {:?}: name must not be empty", arm.code));
            }
        }
        let design = Design::new(
            self.arms.iter().map(|a| a.ratio).collect(),
            self.block_sizes.clone(),
        )
        .map_err(|e| match e {
            DesignError::ZeroRatio { arm } => format!(
                "arm {:?}: ratio must be at least 1",
                self.arms.get(arm).map_or("?", |a| a.code.as_str())
            ),
            other => other.to_string(),
        })?;
        let mut factors = HashSet::new();
        for f in &self.stratification {
            if !factors.insert(*f) {
                return Err(format!(
                    "stratification factor {:?} is listed twice",
                    f.name()
                ));
            }
        }
        let patient_ref_pattern = PatientRefPattern::new(
            self.patient_ref_pattern
                .as_deref()
                .unwrap_or(DEFAULT_PATIENT_REF_PATTERN),
        )
        .map_err(|m| match &self.patient_ref_pattern {
            Some(p) => format!("patient_ref_pattern {p:?} {m}"),
            None => format!("the default patient_ref_pattern {m}"),
        })?;
        if self.criteria.is_empty() {
            return Err("at least one eligibility criterion is required".into());
        }
        if self.screening_valid_days == Some(0) {
            return Err(
                "screening_valid_days must be at least 1 (leave it out for no limit)".into(),
            );
        }
        let mut criteria = Vec::with_capacity(self.criteria.len());
        let mut ids = HashSet::new();
        let mut plausible_labs = HashSet::new();
        for raw in self.criteria {
            let c = raw.check()?;
            if !ids.insert(c.id.clone()) {
                return Err(format!("criterion {:?} is listed twice", c.id));
            }
            if let Some(lab) = c.plausible_lab() {
                if !plausible_labs.insert(lab) {
                    return Err(format!(
                        "criterion {:?}: lab {lab} already has a plausible range",
                        c.id
                    ));
                }
            }
            criteria.push(c);
        }
        Ok(Protocol {
            id: self.id,
            title: self.title,
            title_zh: self.title_zh,
            cap: self.cap,
            block_sizes: self.block_sizes,
            stratification: self.stratification,
            declared_patient_ref_pattern: self.patient_ref_pattern,
            start_date: self.start_date,
            screening_valid_days: self.screening_valid_days,
            training: self.training,
            arms: self.arms,
            criteria,
            design,
            patient_ref_pattern,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_copy_is_marked_and_otherwise_the_same() {
        let p = Protocol::default_trial().unwrap();
        assert!(!p.training);
        let copy = p.training_copy().unwrap();
        assert_eq!(copy.id, "NCT06987370-TRAINING");
        assert!(copy.training);
        assert!(copy.title.starts_with("[TRAINING] "));
        assert_eq!(copy.design(), p.design());
        assert_eq!(copy.criteria, p.criteria);
        assert_ne!(copy.digest(), p.digest());
        // The real trial's digest does not mention the flag.
        assert!(!p.canonical_json().contains("training"));
        let named_like_training = DEFAULT_PROTOCOL_TOML.replacen(
            "id = \"NCT06987370\"",
            "id = \"NCT06987370-TRAINING\"",
            1,
        );
        assert!(Protocol::from_toml(&named_like_training, "t").is_err());
    }

    #[test]
    fn default_protocol_loads() {
        let p = Protocol::default_trial().unwrap();
        assert_eq!(p.id, "NCT06987370");
        assert_eq!(p.cap, 90);
        assert_eq!(p.design().ratios(), [2, 1]);
        assert_eq!(p.design().block_sizes(), [3, 6]);
        let ids: Vec<_> = p.criteria.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "age",
                "bone_met_soft_tissue",
                "informed_consent",
                "hemoglobin",
                "anc",
                "platelets",
                "alt",
                "ast",
                "bilirubin",
                "alp",
                "creatinine",
                "urine_protein",
                "no_acute_infection_or_serious_disease",
                "no_neuro_psych_history",
                "investigator_judgement"
            ]
        );
        assert_eq!(p.digest().len(), 64);
    }

    fn with(replace: &str, by: &str) -> Result<Protocol, ProtocolError> {
        assert!(DEFAULT_PROTOCOL_TOML.contains(replace), "{replace}");
        Protocol::from_toml(&DEFAULT_PROTOCOL_TOML.replacen(replace, by, 1), "test")
    }

    fn refused(replace: &str, by: &str, needle: &str) {
        let err = with(replace, by).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }

    #[test]
    fn inconsistent_protocols_are_refused_naming_the_problem() {
        refused(
            "block_sizes = [3, 6]",
            "block_sizes = [3, 4]",
            "block size 4",
        );
        refused(
            "block_sizes = [3, 6]",
            "block_sizes = []",
            "at least one block size",
        );
        refused(
            "block_sizes = [3, 6]",
            "block_sizes = [3, 3]",
            "listed twice",
        );
        refused("cap = 90", "cap = 0", "cap must be at least 1");
        refused(
            "kind = \"creatinine\"",
            "kind = \"kidney\"",
            "unknown variant `kidney`",
        );
        refused(
            "code = \"CRT\"",
            "code = \"SFRT_SCART\"",
            "arm \"SFRT_SCART\" is listed twice",
        );
        refused(
            "ratio = 1",
            "ratio = 0",
            "arm \"CRT\": ratio must be at least 1",
        );
        refused(
            "stratification = []",
            "stratification = [\"site\", \"site\"]",
            "listed twice",
        );
        refused(
            "stratification = []",
            "stratification = [\"ward\"]",
            "unknown variant `ward`",
        );
        refused("min_years = 18", "min_years = 80", "above max_years");
        refused("min = 90", "min = -1", "positive number");
        refused(
            "id = \"anc\"",
            "id = \"hemoglobin\"",
            "criterion \"hemoglobin\" is listed twice",
        );
        refused(
            "lab = \"alt\"",
            "lab = \"alt\"\nunit = \"U/L\"",
            "unknown field `unit`",
        );
        refused(
            "cap = 90",
            "cap = 90\ncolour = \"red\"",
            "unknown field `colour`",
        );
        refused("id = \"NCT06987370\"", "id = \"_system\"", "_system");
        refused(
            "max_uln_with_liver_metastasis = 3",
            "max_uln_with_liver_metastasis = 1",
            "is below max_uln",
        );
        refused(
            "cap = 90",
            "cap = 90\npatient_ref_pattern = '[A-Z]+'",
            "patient_ref_pattern \"[A-Z]+\" must be anchored",
        );
    }

    #[test]
    fn canonical_json_round_trips() {
        let p = with("stratification = []", "stratification = [\"site\"]").unwrap();
        let back = Protocol::from_canonical_json(&p.canonical_json(), "db").unwrap();
        assert_eq!(back, p);
        assert_eq!(back.digest(), p.digest());
    }

    #[test]
    fn stratification_factors_load() {
        let p = with(
            "stratification = []",
            "stratification = [\"site\", \"sex\"]",
        )
        .unwrap();
        assert_eq!(
            p.stratification,
            [StratificationFactor::Site, StratificationFactor::Sex]
        );
    }
}
