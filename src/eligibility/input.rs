//! The screening request: parsed once, at the edge, into validated domain values in
//! canonical units. Every refusal names the field it concerns.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::protocol::Protocol;
use crate::protocol::{Attestation, CountLab, Dipstick, PatientRef, UlnLab, MAX_REF_LEN};

pub use crate::fields::{FieldError, InputError};

/// The patient's sex, for stratification by sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
}

impl Sex {
    pub const ALL: [Sex; 3] = [Sex::Female, Sex::Male, Sex::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
        }
    }
}

/// A lab value with the site's upper limit of normal, in the same unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UlnValue {
    pub value: Decimal,
    pub uln: Decimal,
    pub unit: String,
}

/// A validated screening, every value in canonical units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningInput {
    /// Canonical: the same patient always has the same `patient_ref`.
    pub patient_ref: PatientRef,
    pub site: String,
    pub birth_date: NaiveDate,
    pub sex: Option<Sex>,
    pub screening_date: NaiveDate,
    pub liver_metastasis: Option<bool>,
    attestations: [Option<bool>; 5],
    /// g/L, 10^9/L, 10^9/L.
    counts: [Option<Decimal>; 3],
    uln_labs: [Option<UlnValue>; 5],
    pub creatinine_clearance_ml_min: Option<Decimal>,
    pub urine_protein_dipstick: Option<Dipstick>,
    pub urine_protein_24h_g: Option<Decimal>,
    pub upc_ratio: Option<Decimal>,
    /// Canonical: NFKC, upper case.
    pub initials: Option<String>,
}

impl ScreeningInput {
    pub fn attestation(&self, which: Attestation) -> Option<bool> {
        self.attestations[which as usize]
    }

    /// The value in the lab's canonical unit.
    pub fn count(&self, lab: CountLab) -> Option<Decimal> {
        self.counts[lab as usize]
    }

    pub fn uln_lab(&self, lab: UlnLab) -> Option<&UlnValue> {
        self.uln_labs[lab as usize].as_ref()
    }

    /// Completed years on the screening date. Someone born on 29 February completes a
    /// year on 1 March in years without that day.
    pub fn age_years(&self) -> i32 {
        use chrono::Datelike;
        let (b, s) = (self.birth_date, self.screening_date);
        let mut years = s.year() - b.year();
        if (s.month(), s.day()) < (b.month(), b.day()) {
            years -= 1;
        }
        years
    }

    /// Parses a JSON screening request for `protocol`'s trial. `today` (UTC) is the default
    /// screening date.
    pub fn from_json(
        body: &[u8],
        today: NaiveDate,
        protocol: &Protocol,
    ) -> Result<Self, InputError> {
        let raw = RawScreening::from_json(body)?;
        raw.validate(today, protocol).map_err(InputError::Invalid)
    }

    /// Value of a stratification factor for this patient; `None` when the input is absent.
    pub fn factor_value(&self, factor: crate::protocol::StratificationFactor) -> Option<&str> {
        use crate::protocol::StratificationFactor as F;
        match factor {
            F::Site => Some(&self.site),
            F::Sex => self.sex.map(Sex::as_str),
            F::LiverMetastasis => self.liver_metastasis.map(|l| if l { "yes" } else { "no" }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The request exactly as a client sends it. Shapes only; meaning is checked in `validate`.

/// The screening request of api.md, before validation. Unknown fields are refused (422).
/// Only `patient_ref`, `site` and `birth_date` are required; an absent input makes the
/// criteria that need it `missing`. Values are checked after the shape: every invalid field
/// is reported at once, each named by its path (`labs.hemoglobin.unit`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "patient_ref": "SITE01-0007", "site": "SITE01",
    "birth_date": "1961-03-02", "sex": "female", "screening_date": "2026-11-20",
    "liver_metastasis": false,
    "attestations": {
        "bone_met_soft_tissue": true, "informed_consent": true,
        "acute_infection_or_serious_disease": false, "neuro_psych_history": false,
        "investigator_finds_suitable": true
    },
    "labs": {
        "hemoglobin": {"value": 112, "unit": "g/L"},
        "anc": {"value": 2.1, "unit": "10^9/L"},
        "platelets": {"value": 180, "unit": "10^9/L"},
        "alt": {"value": 35, "uln": 40, "unit": "U/L"},
        "ast": {"value": 30, "uln": 40, "unit": "U/L"},
        "bilirubin": {"value": 12, "uln": 21, "unit": "umol/L"},
        "alp": {"value": 150, "uln": 125, "unit": "U/L"},
        "creatinine": {"value": 80, "uln": 97, "unit": "umol/L"},
        "creatinine_clearance_24h": {"value": 62, "unit": "mL/min"},
        "urine_protein_dipstick": "1+",
        "urine_protein_24h": {"value": 1.2, "unit": "g/24h"},
        "upc_ratio": 1.4
    }
}))]
pub struct RawScreening {
    /// The patient's reference at the site, canonicalised (Unicode NFKC, upper case, trimmed)
    /// and then matched against the protocol's `patient_ref_pattern` (default
    /// `^[A-Z0-9][A-Z0-9._/-]{0,63}$`). Required.
    #[serde(default)]
    #[schema(value_type = String, required = true, example = "SITE01-0007")]
    pub patient_ref: Option<String>,
    /// The site code: 1–64 letters, digits, `-`, `_` or `.`. Required.
    #[serde(default)]
    #[schema(value_type = String, required = true, example = "SITE01")]
    pub site: Option<String>,
    /// `YYYY-MM-DD`, not after the screening date. Required.
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true, example = "1961-03-02")]
    pub birth_date: Option<String>,
    /// `female`, `male` or `other`; needed when the trial stratifies by sex.
    #[serde(default)]
    #[schema(value_type = Option<Sex>)]
    pub sex: Option<String>,
    /// `YYYY-MM-DD`; default today (UTC). More than one day ahead is refused.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, example = "2026-11-20")]
    pub screening_date: Option<String>,
    /// Whether the patient has liver metastases: chooses the liver-enzyme thresholds (and
    /// stratifies when the trial stratifies by it). Absent: a liver criterion decided under
    /// both thresholds passes or fails, otherwise it is `missing`.
    #[serde(default)]
    pub liver_metastasis: Option<bool>,
    /// The investigator's yes/no attestations.
    #[serde(default)]
    pub attestations: Option<RawAttestations>,
    /// Laboratory values, each with its unit.
    #[serde(default)]
    pub labs: Option<RawLabs>,
    /// The patient's initials (1–4 letters), shown to the pharmacist before randomizing so the
    /// right patient is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "WXL", min_length = 1, max_length = 4)]
    pub initials: Option<String>,
    /// Labs (by name, e.g. `hemoglobin`) whose value is outside the protocol's plausible range
    /// and that the investigator confirms as typed. Until listed, such a value is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_implausible: Option<Vec<String>>,
}

/// Most initials a screening may carry.
pub const MAX_INITIALS: usize = 4;

/// Yes/no statements the investigator attests to; an absent one leaves its criterion
/// `missing`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAttestations {
    /// Bone metastases with a soft-tissue component.
    #[serde(default)]
    pub bone_met_soft_tissue: Option<bool>,
    /// Written informed consent obtained.
    #[serde(default)]
    pub informed_consent: Option<bool>,
    /// An acute infection or another serious disease (true excludes).
    #[serde(default)]
    pub acute_infection_or_serious_disease: Option<bool>,
    /// A history of neurological or psychiatric disorders (true excludes).
    #[serde(default)]
    pub neuro_psych_history: Option<bool>,
    /// The investigator finds the patient suitable for the trial.
    #[serde(default)]
    pub investigator_finds_suitable: Option<bool>,
}

/// Laboratory values. Counts take one of their accepted units and are converted exactly;
/// liver and kidney values are judged against the site's upper limit of normal (`uln`),
/// given in the same unit as the value. Values must not be negative.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLabs {
    /// Hemoglobin; unit `g/L` or `g/dL`.
    #[serde(default)]
    pub hemoglobin: Option<RawMeasure>,
    /// Absolute neutrophil count; unit `10^9/L` or `10^3/uL`.
    #[serde(default)]
    pub anc: Option<RawMeasure>,
    /// Platelets; unit `10^9/L` or `10^3/uL`.
    #[serde(default)]
    pub platelets: Option<RawMeasure>,
    /// ALT with the site's ULN; any unit, the same for value and uln.
    #[serde(default)]
    pub alt: Option<RawUlnMeasure>,
    /// AST with the site's ULN; any unit, the same for value and uln.
    #[serde(default)]
    pub ast: Option<RawUlnMeasure>,
    /// Total bilirubin with the site's ULN; any unit, the same for value and uln.
    #[serde(default)]
    pub bilirubin: Option<RawUlnMeasure>,
    /// Alkaline phosphatase with the site's ULN; any unit, the same for value and uln.
    #[serde(default)]
    pub alp: Option<RawUlnMeasure>,
    /// Serum creatinine with the site's ULN; any unit, the same for value and uln.
    #[serde(default)]
    pub creatinine: Option<RawUlnMeasure>,
    /// 24-hour creatinine clearance; unit `mL/min`.
    #[serde(default)]
    pub creatinine_clearance_24h: Option<RawMeasure>,
    /// Urine protein dipstick grade: `negative`, `trace`, `1+`, `2+`, `3+` or `4+`.
    #[serde(default)]
    #[schema(value_type = Option<Dipstick>)]
    pub urine_protein_dipstick: Option<String>,
    /// 24-hour urine protein; unit `g/24h` or `mg/24h`.
    #[serde(default)]
    pub urine_protein_24h: Option<RawMeasure>,
    /// Urine protein/creatinine ratio (dimensionless, not negative).
    #[serde(default)]
    #[schema(minimum = 0.0)]
    pub upc_ratio: Option<f64>,
}

/// A value with its unit; which units are accepted depends on the lab (see each lab).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMeasure {
    /// Not negative.
    #[schema(minimum = 0.0, example = 112)]
    pub value: f64,
    /// One of the lab's accepted units, spelled exactly, e.g. `g/L`.
    #[schema(example = "g/L")]
    pub unit: String,
}

/// A value and the site's upper limit of normal, in the same unit.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUlnMeasure {
    /// Not negative.
    #[schema(minimum = 0.0, example = 35)]
    pub value: f64,
    /// The site's upper limit of normal; greater than 0.
    #[schema(exclusive_minimum = 0.0, example = 40)]
    pub uln: f64,
    /// The unit of value and uln (1–32 characters), e.g. `U/L` or `umol/L`.
    #[schema(min_length = 1, max_length = 32, example = "U/L")]
    pub unit: String,
}

/// The screening request's one array.
impl crate::fields::JsonRequest for RawScreening {
    const ARRAY_FIELDS: &'static [&'static str] = &["confirm_implausible"];
}

impl RawScreening {
    /// A stratification factor's value as submitted, read without the meaning check (for
    /// screenings stored before their stratum was); `None` when absent or not a valid value.
    pub fn factor_text(&self, factor: crate::protocol::StratificationFactor) -> Option<String> {
        use crate::protocol::StratificationFactor as F;
        match factor {
            F::Site => self.site.clone(),
            F::Sex => {
                let text = self.sex.as_deref()?;
                Sex::ALL
                    .into_iter()
                    .find(|s| s.as_str() == text)
                    .map(|s| s.as_str().to_string())
            }
            F::LiverMetastasis => self
                .liver_metastasis
                .map(|l| if l { "yes" } else { "no" }.to_string()),
        }
    }

    /// The initials as stored and shown (canonical), when given and valid.
    pub fn canonical_initials(&self) -> Option<String> {
        self.initials
            .as_deref()
            .and_then(|i| canonical_initials(i).ok())
    }

    /// The sex, when given and valid.
    pub fn sex_value(&self) -> Option<Sex> {
        let text = self.sex.as_deref()?;
        Sex::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Shape check through the one JSON mapping: syntax errors, wrong types, unknown and
    /// missing fields, named by their path.
    pub fn from_json(body: &[u8]) -> Result<Self, InputError> {
        crate::fields::parse_json(body)
    }

    /// Meaning check against `protocol`'s rules (its `patient_ref_pattern`): every problem
    /// found, each naming its field; nothing defaulted silently.
    pub fn validate(
        &self,
        today: NaiveDate,
        protocol: &Protocol,
    ) -> Result<ScreeningInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        let patient_ref = match &self.patient_ref {
            None => {
                errors.push(FieldError::new("patient_ref", "is required"));
                None
            }
            Some(raw) => PatientRef::parse(raw, protocol.patient_ref_pattern())
                .map_err(|e| errors.push(FieldError::new("patient_ref", e.to_string())))
                .ok(),
        };
        let site = required_code(&mut errors, "site", &self.site);
        let birth_date = match &self.birth_date {
            None => {
                errors.push(FieldError::new("birth_date", "is required"));
                None
            }
            Some(text) => parse_date(&mut errors, "birth_date", text),
        };
        let screening_date = match &self.screening_date {
            None => Some(today),
            Some(text) => parse_date(&mut errors, "screening_date", text),
        };
        if let Some(date) = screening_date {
            // One day of slack: a site east of UTC is already on tomorrow's date.
            if today.succ_opt().is_some_and(|limit| date > limit) {
                errors.push(FieldError::new(
                    "screening_date",
                    format!("{date} is in the future"),
                ));
            }
            if let Some(start) = protocol.start_date.filter(|start| date < *start) {
                errors.push(FieldError::new(
                    "screening_date",
                    format!("{date} is before the trial started on {start}"),
                ));
            }
        }
        if let (Some(b), Some(s)) = (birth_date, screening_date) {
            if b > s {
                errors.push(FieldError::new(
                    "birth_date",
                    format!("{b} is after the screening date {s}"),
                ));
            }
        }
        let sex = self.sex.as_deref().and_then(|text| {
            let found = Sex::ALL.into_iter().find(|s| s.as_str() == text);
            if found.is_none() {
                errors.push(FieldError::new(
                    "sex",
                    format!("{text:?} is not one of female, male, other"),
                ));
            }
            found
        });

        let a = self.attestations.clone().unwrap_or_default();
        let attestations = [
            a.bone_met_soft_tissue,
            a.informed_consent,
            a.acute_infection_or_serious_disease,
            a.neuro_psych_history,
            a.investigator_finds_suitable,
        ];

        let labs = self.labs.clone().unwrap_or_default();
        let counts = [
            (CountLab::Hemoglobin, &labs.hemoglobin),
            (CountLab::Anc, &labs.anc),
            (CountLab::Platelets, &labs.platelets),
        ]
        .map(|(lab, m)| {
            m.as_ref().and_then(|m| {
                let field = format!("labs.{}", lab.field());
                let factor = lab.units().iter().find(|(u, _)| *u == m.unit).map(|p| p.1);
                let value = non_negative(&mut errors, &format!("{field}.value"), m.value);
                match factor {
                    None => {
                        errors.push(unknown_unit(&field, &m.unit, lab.units()));
                        None
                    }
                    Some(f) => value.and_then(|v| {
                        let converted = v.checked_mul(Decimal::from(f));
                        if converted.is_none() {
                            errors
                                .push(FieldError::new(format!("{field}.value"), "is out of range"));
                        }
                        converted
                    }),
                }
            })
        });

        let uln_labs = [
            (UlnLab::Alt, &labs.alt),
            (UlnLab::Ast, &labs.ast),
            (UlnLab::Bilirubin, &labs.bilirubin),
            (UlnLab::Alp, &labs.alp),
            (UlnLab::Creatinine, &labs.creatinine),
        ]
        .map(|(lab, m)| {
            m.as_ref().and_then(|m| {
                let field = format!("labs.{}", lab.field());
                let value = non_negative(&mut errors, &format!("{field}.value"), m.value);
                let uln = decimal(&mut errors, &format!("{field}.uln"), m.uln).and_then(|u| {
                    if u <= Decimal::ZERO {
                        errors.push(FieldError::new(
                            format!("{field}.uln"),
                            "must be greater than 0",
                        ));
                        None
                    } else {
                        Some(u)
                    }
                });
                let unit = m.unit.trim();
                if unit.is_empty() || unit.len() > 32 {
                    errors.push(FieldError::new(
                        format!("{field}.unit"),
                        "must name the unit of value and uln (1–32 characters)",
                    ));
                    return None;
                }
                Some(UlnValue {
                    value: value?,
                    uln: uln?,
                    unit: unit.to_string(),
                })
            })
        });

        let creatinine_clearance_ml_min = labs.creatinine_clearance_24h.as_ref().and_then(|m| {
            let field = "labs.creatinine_clearance_24h";
            let value = non_negative(&mut errors, &format!("{field}.value"), m.value);
            if m.unit != "mL/min" {
                errors.push(unknown_unit(field, &m.unit, &[("mL/min", 1)]));
                return None;
            }
            value
        });

        let urine_protein_dipstick = labs.urine_protein_dipstick.as_deref().and_then(|text| {
            let found = text.parse::<Dipstick>().ok();
            if found.is_none() {
                errors.push(FieldError::new(
                    "labs.urine_protein_dipstick",
                    format!(
                        "{text:?} is not one of {}",
                        Dipstick::ALL.map(Dipstick::as_str).join(", ")
                    ),
                ));
            }
            found
        });

        let urine_protein_24h_g = labs.urine_protein_24h.as_ref().and_then(|m| {
            let field = "labs.urine_protein_24h";
            let value = non_negative(&mut errors, &format!("{field}.value"), m.value);
            match m.unit.as_str() {
                "g/24h" => value,
                "mg/24h" => value.map(|v| v / Decimal::ONE_THOUSAND),
                other => {
                    errors.push(unknown_unit(field, other, &[("g/24h", 1), ("mg/24h", 1)]));
                    None
                }
            }
        });

        let upc_ratio = labs
            .upc_ratio
            .and_then(|v| non_negative(&mut errors, "labs.upc_ratio", v));

        let initials = self
            .initials
            .as_deref()
            .and_then(|text| match canonical_initials(text) {
                Ok(i) => Some(i),
                Err(message) => {
                    errors.push(FieldError::new("initials", message));
                    None
                }
            });
        let confirmed = self.confirm_implausible.clone().unwrap_or_default();
        let unknown: Vec<String> = confirmed
            .iter()
            .filter(|name| {
                !CountLab::ALL.iter().any(|l| l.field() == name.as_str())
                    && !UlnLab::ALL.iter().any(|l| l.field() == name.as_str())
            })
            .take(3)
            .map(|name| format!("{:?}", name.chars().take(40).collect::<String>()))
            .collect();
        if !unknown.is_empty() {
            errors.push(FieldError::new(
                "confirm_implausible",
                format!(
                    "{} is not a lab name (use the names of labs, e.g. hemoglobin)",
                    unknown.join(", ")
                ),
            ));
        }
        for criterion in &protocol.criteria {
            let Some(lab) = criterion.plausible_lab() else {
                continue;
            };
            let (value, unit) = match &criterion.rule {
                crate::protocol::Rule::LabMinimum { lab, .. } => {
                    (counts[*lab as usize], lab.canonical_unit())
                }
                crate::protocol::Rule::UlnMaximum { lab, .. } => (
                    uln_labs[*lab as usize]
                        .as_ref()
                        .and_then(|v| v.value.checked_div(v.uln)),
                    "×ULN",
                ),
                _ => continue,
            };
            let Some(value) = value else { continue };
            let below = criterion.plausible_min.is_some_and(|min| value < min);
            let above = criterion.plausible_max.is_some_and(|max| value > max);
            if (below || above) && !confirmed.iter().any(|c| c == lab) {
                let range = match (criterion.plausible_min, criterion.plausible_max) {
                    (Some(lo), Some(hi)) => format!("{lo}–{hi} {unit}"),
                    (Some(lo), None) => format!("at least {lo} {unit}"),
                    (None, Some(hi)) => format!("at most {hi} {unit}"),
                    (None, None) => continue,
                };
                errors.push(FieldError::new(
                    format!("labs.{lab}"),
                    format!(
                        "{} {unit} is outside the plausible range ({range}): check the value \
                         and its unit, or confirm it as typed (confirm_implausible)",
                        value.normalize()
                    ),
                ));
            }
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        match (patient_ref, site, birth_date, screening_date) {
            (Some(patient_ref), Some(site), Some(birth_date), Some(screening_date)) => {
                Ok(ScreeningInput {
                    patient_ref,
                    site,
                    birth_date,
                    sex,
                    screening_date,
                    liver_metastasis: self.liver_metastasis,
                    attestations,
                    counts,
                    uln_labs,
                    creatinine_clearance_ml_min,
                    urine_protein_dipstick,
                    urine_protein_24h_g,
                    upc_ratio,
                    initials,
                })
            }
            // Every `None` above pushed an error, so this arm is never taken.
            _ => Err(vec![FieldError::new("", "invalid screening")]),
        }
    }
}

/// Initials as stored: NFKC, upper case, 1–4 letters (any script).
fn canonical_initials(text: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let canonical: String = text.trim().nfkc().collect::<String>().to_uppercase();
    let count = canonical.chars().count();
    if count == 0 {
        return Err("must not be empty (leave it out when unknown)".into());
    }
    if count > MAX_INITIALS || !canonical.chars().all(char::is_alphabetic) {
        return Err(format!("must be 1–{MAX_INITIALS} letters, e.g. WXL"));
    }
    Ok(canonical)
}

fn required_code(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
) -> Option<String> {
    let Some(value) = value else {
        errors.push(FieldError::new(field, "is required"));
        return None;
    };
    let problem = if value.trim().is_empty() {
        Some("must not be empty".to_string())
    } else if value.chars().count() > MAX_REF_LEN {
        Some(format!("must be at most {MAX_REF_LEN} characters"))
    } else if value.trim() != value {
        Some("must not start or end with whitespace".to_string())
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters".to_string())
    } else if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        Some("may contain only letters, digits, '-', '_' and '.'".to_string())
    } else {
        None
    };
    match problem {
        Some(message) => {
            errors.push(FieldError::new(field, message));
            None
        }
        None => Some(value.clone()),
    }
}

fn parse_date(errors: &mut Vec<FieldError>, field: &str, text: &str) -> Option<NaiveDate> {
    // Exactly YYYY-MM-DD: chrono alone would also take "2026-1-5".
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) if shaped => Some(date),
        _ => {
            errors.push(FieldError::new(
                field,
                format!("{text:?} is not a date of the form YYYY-MM-DD"),
            ));
            None
        }
    }
}

/// The exact decimal a client wrote: `f64`'s shortest round-trip text, so 1.05 stays 1.05
/// and boundaries compare exactly.
fn decimal(errors: &mut Vec<FieldError>, field: &str, value: f64) -> Option<Decimal> {
    match Decimal::from_str(&value.to_string()) {
        Ok(d) if value.is_finite() => Some(d.normalize()),
        _ => {
            errors.push(FieldError::new(field, "is out of range"));
            None
        }
    }
}

fn non_negative(errors: &mut Vec<FieldError>, field: &str, value: f64) -> Option<Decimal> {
    if value < 0.0 {
        errors.push(FieldError::new(field, "must not be negative"));
        return None;
    }
    decimal(errors, field, value)
}

fn unknown_unit(field: &str, unit: &str, accepted: &[(&str, u32)]) -> FieldError {
    FieldError::new(
        format!("{field}.unit"),
        format!(
            "{unit:?} is not an accepted unit; use {}",
            accepted
                .iter()
                .map(|(u, _)| *u)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    )
}
