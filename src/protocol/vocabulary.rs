//! The protocol's vocabulary: the labs, attestations and dipstick grades a criterion can
//! look at, with their accepted units. Criteria (this module's parent) name them; screening
//! input (`eligibility`) is parsed into them.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A lab counted in absolute units, compared with a minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountLab {
    Hemoglobin,
    Anc,
    Platelets,
}

impl CountLab {
    pub const ALL: [CountLab; 3] = [CountLab::Hemoglobin, CountLab::Anc, CountLab::Platelets];

    pub fn field(self) -> &'static str {
        match self {
            CountLab::Hemoglobin => "hemoglobin",
            CountLab::Anc => "anc",
            CountLab::Platelets => "platelets",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CountLab::Hemoglobin => "Hb",
            CountLab::Anc => "ANC",
            CountLab::Platelets => "PLT",
        }
    }

    /// The canonical unit every accepted unit is converted to.
    pub fn canonical_unit(self) -> &'static str {
        match self {
            CountLab::Hemoglobin => "g/L",
            CountLab::Anc | CountLab::Platelets => "10^9/L",
        }
    }

    /// Accepted units with the factor that converts them to the canonical unit.
    pub fn units(self) -> &'static [(&'static str, u32)] {
        match self {
            CountLab::Hemoglobin => &[("g/L", 1), ("g/dL", 10)],
            // 10^3/µL is numerically the same as 10^9/L.
            CountLab::Anc | CountLab::Platelets => &[("10^9/L", 1), ("10^3/uL", 1)],
        }
    }
}

/// A lab judged relative to the site's upper limit of normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UlnLab {
    Alt,
    Ast,
    Bilirubin,
    Alp,
    Creatinine,
}

impl UlnLab {
    pub const ALL: [UlnLab; 5] = [
        UlnLab::Alt,
        UlnLab::Ast,
        UlnLab::Bilirubin,
        UlnLab::Alp,
        UlnLab::Creatinine,
    ];

    pub fn field(self) -> &'static str {
        match self {
            UlnLab::Alt => "alt",
            UlnLab::Ast => "ast",
            UlnLab::Bilirubin => "bilirubin",
            UlnLab::Alp => "alp",
            UlnLab::Creatinine => "creatinine",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UlnLab::Alt => "ALT",
            UlnLab::Ast => "AST",
            UlnLab::Bilirubin => "Total bilirubin",
            UlnLab::Alp => "ALP",
            UlnLab::Creatinine => "Cr",
        }
    }
}

/// A yes/no statement the investigator attests to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attestation {
    BoneMetSoftTissue,
    InformedConsent,
    AcuteInfectionOrSeriousDisease,
    NeuroPsychHistory,
    InvestigatorFindsSuitable,
}

impl Attestation {
    pub const ALL: [Attestation; 5] = [
        Attestation::BoneMetSoftTissue,
        Attestation::InformedConsent,
        Attestation::AcuteInfectionOrSeriousDisease,
        Attestation::NeuroPsychHistory,
        Attestation::InvestigatorFindsSuitable,
    ];

    pub fn field(self) -> &'static str {
        match self {
            Attestation::BoneMetSoftTissue => "bone_met_soft_tissue",
            Attestation::InformedConsent => "informed_consent",
            Attestation::AcuteInfectionOrSeriousDisease => "acute_infection_or_serious_disease",
            Attestation::NeuroPsychHistory => "neuro_psych_history",
            Attestation::InvestigatorFindsSuitable => "investigator_finds_suitable",
        }
    }
}

/// Urine protein dipstick grades, in increasing order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum Dipstick {
    #[serde(rename = "negative")]
    Negative,
    #[serde(rename = "trace")]
    Trace,
    #[serde(rename = "1+")]
    One,
    #[serde(rename = "2+")]
    Two,
    #[serde(rename = "3+")]
    Three,
    #[serde(rename = "4+")]
    Four,
}

impl Dipstick {
    pub const ALL: [Dipstick; 6] = [
        Dipstick::Negative,
        Dipstick::Trace,
        Dipstick::One,
        Dipstick::Two,
        Dipstick::Three,
        Dipstick::Four,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dipstick::Negative => "negative",
            Dipstick::Trace => "trace",
            Dipstick::One => "1+",
            Dipstick::Two => "2+",
            Dipstick::Three => "3+",
            Dipstick::Four => "4+",
        }
    }
}

impl FromStr for Dipstick {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Dipstick::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or(())
    }
}
