//! Evaluation of a validated screening against a protocol's criteria.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::input::ScreeningInput;
use crate::protocol::UlnLab;
use crate::protocol::{Protocol, Rule};

/// A screening's outcome: every criterion passed, at least one failed, or none failed but
/// some lack inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Eligible,
    Ineligible,
    Incomplete,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Eligible, Outcome::Ineligible, Outcome::Incomplete];

    /// The stored and serialised text.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Eligible => "eligible",
            Outcome::Ineligible => "ineligible",
            Outcome::Incomplete => "incomplete",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// The stored text, as [`Outcome::as_str`] gives it.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one criterion was decided; `missing` when its inputs are absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CriterionStatus {
    Pass,
    Fail,
    Missing,
}

/// One criterion of the protocol as evaluated for this patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CriterionResult {
    /// The protocol's criterion id, e.g. `age`.
    pub id: String,
    pub status: CriterionStatus,
    /// The values compared and the threshold, for a person to read.
    pub detail: String,
}

/// Every criterion of the protocol in protocol order, the outcome, and the inputs whose
/// absence leaves criteria undecided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub outcome: Outcome,
    pub criteria: Vec<CriterionResult>,
    pub missing: Vec<String>,
}

struct Decision {
    status: CriterionStatus,
    detail: String,
    missing: Vec<&'static str>,
}

fn pass(detail: String) -> Decision {
    Decision {
        status: CriterionStatus::Pass,
        detail,
        missing: Vec::new(),
    }
}

fn fail(detail: String) -> Decision {
    Decision {
        status: CriterionStatus::Fail,
        detail,
        missing: Vec::new(),
    }
}

fn missing(detail: String, inputs: Vec<&'static str>) -> Decision {
    Decision {
        status: CriterionStatus::Missing,
        detail,
        missing: inputs,
    }
}

/// A decimal as a person writes it: no trailing zeros.
fn d(x: Decimal) -> String {
    x.normalize().to_string()
}

pub fn evaluate(protocol: &Protocol, input: &ScreeningInput) -> Evaluation {
    let mut criteria = Vec::with_capacity(protocol.criteria.len());
    let mut missing_inputs: Vec<String> = Vec::new();
    for criterion in &protocol.criteria {
        let decision = decide(&criterion.rule, input);
        for m in decision.missing {
            if !missing_inputs.iter().any(|x| x == m) {
                missing_inputs.push(m.to_string());
            }
        }
        criteria.push(CriterionResult {
            id: criterion.id.clone(),
            status: decision.status,
            detail: decision.detail,
        });
    }
    let outcome = if criteria.iter().any(|c| c.status == CriterionStatus::Fail) {
        Outcome::Ineligible
    } else if criteria
        .iter()
        .any(|c| c.status == CriterionStatus::Missing)
    {
        Outcome::Incomplete
    } else {
        Outcome::Eligible
    };
    Evaluation {
        outcome,
        criteria,
        missing: missing_inputs,
    }
}

fn decide(rule: &Rule, input: &ScreeningInput) -> Decision {
    match rule {
        Rule::AgeRange {
            min_years,
            max_years,
        } => {
            let age = input.age_years();
            let detail = format!(
                "{age} completed years on {} (allowed {min_years}–{max_years})",
                input.screening_date
            );
            let inside =
                i64::from(age) >= i64::from(*min_years) && i64::from(age) <= i64::from(*max_years);
            if inside {
                pass(detail)
            } else {
                fail(detail)
            }
        }
        Rule::Attestation {
            attestation,
            passes_when,
        } => {
            let field = attestation.field();
            match input.attestation(*attestation) {
                None => missing(format!("{field} not attested"), vec![field]),
                Some(v) => {
                    let detail = format!("{field} attested {v} (required {passes_when})");
                    if v == *passes_when {
                        pass(detail)
                    } else {
                        fail(detail)
                    }
                }
            }
        }
        Rule::LabMinimum { lab, min } => {
            let unit = lab.canonical_unit();
            match input.count(*lab) {
                None => missing(format!("{} not given", lab.label()), vec![lab.field()]),
                Some(v) if v >= *min => pass(format!(
                    "{} {} {unit} ≥ {} {unit}",
                    lab.label(),
                    d(v),
                    d(*min)
                )),
                Some(v) => fail(format!(
                    "{} {} {unit} < {} {unit}",
                    lab.label(),
                    d(v),
                    d(*min)
                )),
            }
        }
        Rule::UlnMaximum {
            lab,
            max_uln,
            max_uln_with_liver_metastasis,
        } => uln_maximum(*lab, *max_uln, *max_uln_with_liver_metastasis, input),
        Rule::Creatinine {
            max_uln,
            clearance_above_ml_min,
        } => creatinine(*max_uln, *clearance_above_ml_min, input),
        Rule::UrineProtein {
            dipstick_below,
            protein_24h_below_g,
            upc_below,
        } => {
            let dip = input.urine_protein_dipstick;
            let p24 = input.urine_protein_24h_g;
            let upc = input.upc_ratio;
            let below = dipstick_below.as_str();
            let mut facts = Vec::new();
            if let Some(x) = dip {
                let rel = if x < *dipstick_below { "<" } else { "≥" };
                facts.push(format!("dipstick {} {rel} {below}", x.as_str()));
            }
            if let Some(x) = p24 {
                let rel = if x < *protein_24h_below_g { "<" } else { "≥" };
                facts.push(format!(
                    "24-h protein {} g {rel} {} g",
                    d(x),
                    d(*protein_24h_below_g)
                ));
            }
            if let Some(x) = upc {
                let rel = if x < *upc_below { "<" } else { "≥" };
                facts.push(format!("UPC {} {rel} {}", d(x), d(*upc_below)));
            }
            let passes = dip.is_some_and(|x| x < *dipstick_below)
                || p24.is_some_and(|x| x < *protein_24h_below_g)
                || upc.is_some_and(|x| x < *upc_below);
            let facts = facts.join("; ");
            if passes {
                pass(facts)
            } else if dip.is_none() {
                let detail = if facts.is_empty() {
                    "urine protein dipstick not given".to_string()
                } else {
                    format!("{facts}; urine protein dipstick not given")
                };
                missing(detail, vec!["urine_protein_dipstick"])
            } else if p24.is_some() && upc.is_some() {
                fail(facts)
            } else {
                // Dipstick at or above the grade: either quantitative test can still clear it.
                let mut needed = Vec::new();
                let mut said = Vec::new();
                if p24.is_none() {
                    needed.push("urine_protein_24h");
                    said.push("a 24-h protein");
                }
                if upc.is_none() {
                    needed.push("upc_ratio");
                    said.push("a UPC");
                }
                missing(format!("{facts}; needs {}", said.join(" or ")), needed)
            }
        }
    }
}

fn uln_maximum(lab: UlnLab, normal: Decimal, liver: Decimal, input: &ScreeningInput) -> Decision {
    let Some(m) = input.uln_lab(lab) else {
        return missing(format!("{} not given", lab.label()), vec![lab.field()]);
    };
    let (v, uln, unit) = (m.value, m.uln, &m.unit);
    // Saturating: a limit beyond every decimal is above every value.
    let limit = |k: Decimal| k.saturating_mul(uln);
    let describe = |k: Decimal, rel: &str, context: &str| {
        format!(
            "{} {} {unit} {rel} {} {unit} ({}×ULN {} {unit}, {context})",
            lab.label(),
            d(v),
            d(limit(k)),
            d(k),
            d(uln)
        )
    };
    match input.liver_metastasis {
        Some(has_liver_met) => {
            let (k, context) = if has_liver_met {
                (liver, "with liver metastasis")
            } else {
                (normal, "no liver metastasis")
            };
            if v <= limit(k) {
                pass(describe(k, "≤", context))
            } else {
                fail(describe(k, ">", context))
            }
        }
        None if v <= limit(normal) => pass(describe(
            normal,
            "≤",
            "passes with or without liver metastasis",
        )),
        None if v > limit(liver) => fail(describe(
            liver,
            ">",
            "fails with or without liver metastasis",
        )),
        None => missing(
            format!(
                "{} {} {unit} is above {}×ULN but within {}×ULN: depends on liver metastasis, not given",
                lab.label(),
                d(v),
                d(normal),
                d(liver)
            ),
            vec!["liver_metastasis"],
        ),
    }
}

fn creatinine(max_uln: Decimal, clearance_above: Decimal, input: &ScreeningInput) -> Decision {
    let cr = input.uln_lab(UlnLab::Creatinine);
    let crcl = input.creatinine_clearance_ml_min;
    let clearance = |c: Decimal| {
        let rel = if c > clearance_above { ">" } else { "≤" };
        format!(
            "24-h CrCl {} mL/min {rel} {} mL/min",
            d(c),
            d(clearance_above)
        )
    };
    // Saturating: a limit beyond every decimal is above every value.
    let limit = |uln: Decimal| max_uln.saturating_mul(uln);
    match cr {
        Some(m) if m.value <= limit(m.uln) => pass(format!(
            "Cr {} {} ≤ {} {} ({}×ULN {} {})",
            d(m.value),
            m.unit,
            d(limit(m.uln)),
            m.unit,
            d(max_uln),
            d(m.uln),
            m.unit
        )),
        Some(m) => {
            let high = format!(
                "Cr {} {} > {} {} ({}×ULN)",
                d(m.value),
                m.unit,
                d(limit(m.uln)),
                m.unit,
                d(max_uln)
            );
            match crcl {
                Some(c) if c > clearance_above => pass(format!("{high}; {}", clearance(c))),
                Some(c) => fail(format!("{high}; {}", clearance(c))),
                None => missing(
                    format!("{high}; 24-h creatinine clearance required, not given"),
                    vec!["creatinine_clearance_24h"],
                ),
            }
        }
        None => match crcl {
            Some(c) if c > clearance_above => {
                pass(format!("{} (serum creatinine not given)", clearance(c)))
            }
            _ => missing("serum creatinine not given".to_string(), vec!["creatinine"]),
        },
    }
}
