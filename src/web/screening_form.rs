//! The screening form: its inputs, grouped as a clinician reads a chart, and their
//! conversion into the API's screening request (`RawScreening` JSON), so that the form is
//! validated and evaluated by exactly the same use case as the API. Input names are the
//! request's field paths (`labs.hemoglobin.unit`), so every `FieldError` finds its input.

use serde_json::{Map, Number, Value};

use super::form::Fields;
use crate::eligibility::{Attestation, CountLab, Dipstick, FieldError, Sex, UlnLab};

/// A lab given in absolute units, compared with a minimum.
pub struct CountInput {
    pub lab: CountLab,
    pub label: &'static str,
}

/// A lab judged against the site's upper limit of normal (value and ULN in one unit).
pub struct UlnInput {
    pub lab: UlnLab,
    pub label: &'static str,
    /// (value sent, text shown)
    pub units: &'static [(&'static str, &'static str)],
}

pub const BLOOD_COUNTS: [CountInput; 3] = [
    CountInput {
        lab: CountLab::Hemoglobin,
        label: "Hemoglobin",
    },
    CountInput {
        lab: CountLab::Anc,
        label: "Absolute neutrophil count (ANC)",
    },
    CountInput {
        lab: CountLab::Platelets,
        label: "Platelets",
    },
];

const ENZYME_UNITS: &[(&str, &str)] = &[("U/L", "U/L"), ("ukat/L", "µkat/L")];
const SMALL_MOLECULE_UNITS: &[(&str, &str)] = &[("umol/L", "µmol/L"), ("mg/dL", "mg/dL")];

pub const LIVER: [UlnInput; 4] = [
    UlnInput {
        lab: UlnLab::Alt,
        label: "ALT",
        units: ENZYME_UNITS,
    },
    UlnInput {
        lab: UlnLab::Ast,
        label: "AST",
        units: ENZYME_UNITS,
    },
    UlnInput {
        lab: UlnLab::Bilirubin,
        label: "Total bilirubin",
        units: SMALL_MOLECULE_UNITS,
    },
    UlnInput {
        lab: UlnLab::Alp,
        label: "Alkaline phosphatase (ALP)",
        units: ENZYME_UNITS,
    },
];

pub const CREATININE: UlnInput = UlnInput {
    lab: UlnLab::Creatinine,
    label: "Serum creatinine",
    units: SMALL_MOLECULE_UNITS,
};

pub const CLEARANCE: &str = "labs.creatinine_clearance_24h";
pub const DIPSTICK: &str = "labs.urine_protein_dipstick";
pub const PROTEIN_24H: &str = "labs.urine_protein_24h";
pub const PROTEIN_24H_UNITS: &[(&str, &str)] = &[("g/24h", "g/24 h"), ("mg/24h", "mg/24 h")];
pub const UPC: &str = "labs.upc_ratio";

/// The attestation questions, as the investigator answers them.
pub fn attestation_question(a: Attestation) -> &'static str {
    match a {
        Attestation::BoneMetSoftTissue => "Bone metastasis with a soft-tissue component?",
        Attestation::InformedConsent => "Signed informed consent obtained?",
        Attestation::AcuteInfectionOrSeriousDisease => {
            "Acute infection or another serious underlying disease?"
        }
        Attestation::NeuroPsychHistory => {
            "History of neurological or mental disease (including dementia) that may affect informed consent?"
        }
        Attestation::InvestigatorFindsSuitable => {
            "Do you find the patient suitable, with no other reason against inclusion?"
        }
    }
}

pub fn attestation_name(a: Attestation) -> String {
    format!("attestations.{}", a.field())
}

/// Units of a count lab: the accepted ones, as sent and as shown.
pub fn count_units(lab: CountLab) -> Vec<(&'static str, &'static str)> {
    lab.units()
        .iter()
        .map(|(u, _)| {
            let shown = match *u {
                "10^9/L" => "×10⁹/L",
                "10^3/uL" => "×10³/µL",
                other => other,
            };
            (*u, shown)
        })
        .collect()
}

pub fn sex_options() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![("", "Not recorded")];
    out.extend(Sex::ALL.map(|s| {
        let shown = match s {
            Sex::Female => "Female",
            Sex::Male => "Male",
            Sex::Other => "Other",
        };
        (s.as_str(), shown)
    }));
    out
}

pub fn dipstick_options() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![("", "Not done")];
    out.extend(Dipstick::ALL.map(|d| (d.as_str(), d.as_str())));
    out
}

/// Every input with its label, for the error summary.
pub fn labels() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("patient_ref", "Patient reference"),
        ("site", "Site"),
        ("birth_date", "Date of birth"),
        ("sex", "Sex"),
        ("screening_date", "Screening date"),
        ("liver_metastasis", "Liver metastasis"),
    ]
    .into_iter()
    .map(|(n, l)| (n.to_string(), l.to_string()))
    .collect();
    for a in Attestation::ALL {
        out.push((attestation_name(a), attestation_question(a).to_string()));
    }
    for c in &BLOOD_COUNTS {
        let base = format!("labs.{}", c.lab.field());
        out.push((format!("{base}.value"), c.label.to_string()));
        out.push((format!("{base}.unit"), format!("{} unit", c.label)));
        out.push((base, c.label.to_string()));
    }
    for u in LIVER.iter().chain(std::iter::once(&CREATININE)) {
        let base = format!("labs.{}", u.lab.field());
        out.push((format!("{base}.value"), u.label.to_string()));
        out.push((
            format!("{base}.uln"),
            format!("{} upper limit of normal", u.label),
        ));
        out.push((format!("{base}.unit"), format!("{} unit", u.label)));
        out.push((base, u.label.to_string()));
    }
    for (name, label) in [
        (format!("{CLEARANCE}.value"), "24-h creatinine clearance"),
        (CLEARANCE.to_string(), "24-h creatinine clearance"),
        (DIPSTICK.to_string(), "Urine protein dipstick"),
        (format!("{PROTEIN_24H}.value"), "24-h urine protein"),
        (format!("{PROTEIN_24H}.unit"), "24-h urine protein unit"),
        (PROTEIN_24H.to_string(), "24-h urine protein"),
        (UPC.to_string(), "Urine protein/creatinine ratio"),
    ] {
        out.push((name, label.to_string()));
    }
    out
}

/// The form's initial values: today's date, the user's site when they have one, the first
/// accepted unit of every lab.
pub fn initial(today: chrono::NaiveDate, sites: &[String]) -> Fields {
    let mut f = Fields::default();
    if let [only] = sites {
        f.set("site", only.clone());
    }
    f.set("screening_date", today.to_string());
    for c in &BLOOD_COUNTS {
        if let Some((u, _)) = count_units(c.lab).first() {
            f.set(&format!("labs.{}.unit", c.lab.field()), *u);
        }
    }
    for u in LIVER.iter().chain(std::iter::once(&CREATININE)) {
        if let Some((unit, _)) = u.units.first() {
            f.set(&format!("labs.{}.unit", u.lab.field()), *unit);
        }
    }
    f.set(&format!("{PROTEIN_24H}.unit"), "g/24h");
    f
}

fn number(fields: &Fields, name: &str, errors: &mut Vec<FieldError>) -> Option<Value> {
    let text = fields.filled(name)?;
    let parsed = text.replace(',', ".").parse::<f64>().ok();
    match parsed.and_then(Number::from_f64) {
        Some(n) => Some(Value::Number(n)),
        None => {
            errors.push(FieldError::new(name, format!("{text:?} is not a number")));
            None
        }
    }
}

fn yes_no(fields: &Fields, name: &str, errors: &mut Vec<FieldError>) -> Option<Value> {
    match fields.filled(name)? {
        "yes" => Some(Value::Bool(true)),
        "no" => Some(Value::Bool(false)),
        other => {
            errors.push(FieldError::new(name, format!("{other:?} is not yes or no")));
            None
        }
    }
}

/// A measure object with whichever of its parts were given (the use case names what is
/// missing).
fn measure(
    fields: &Fields,
    base: &str,
    parts: &[&str],
    fixed_unit: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let mut m = Map::new();
    for part in parts {
        if let Some(n) = number(fields, &format!("{base}.{part}"), errors) {
            m.insert((*part).to_string(), n);
        }
    }
    let given = parts
        .iter()
        .any(|p| fields.filled(&format!("{base}.{p}")).is_some());
    if !given {
        return None;
    }
    let unit = fixed_unit.or_else(|| fields.filled(&format!("{base}.unit")));
    if let Some(unit) = unit {
        m.insert("unit".into(), Value::String(unit.to_string()));
    }
    Some(Value::Object(m))
}

/// The API's screening request for these form values, or the values that are not even
/// numbers. Blank inputs are left out (not recorded), exactly as an API client would.
pub fn to_request(fields: &Fields) -> Result<Vec<u8>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut root = Map::new();
    for name in ["patient_ref", "site", "birth_date", "sex", "screening_date"] {
        if let Some(v) = fields.filled(name) {
            root.insert(name.into(), Value::String(v.to_string()));
        }
    }
    if let Some(v) = yes_no(fields, "liver_metastasis", &mut errors) {
        root.insert("liver_metastasis".into(), v);
    }
    let mut attestations = Map::new();
    for a in Attestation::ALL {
        if let Some(v) = yes_no(fields, &attestation_name(a), &mut errors) {
            attestations.insert(a.field().into(), v);
        }
    }
    if !attestations.is_empty() {
        root.insert("attestations".into(), Value::Object(attestations));
    }
    let mut labs = Map::new();
    for c in &BLOOD_COUNTS {
        let base = format!("labs.{}", c.lab.field());
        if let Some(m) = measure(fields, &base, &["value"], None, &mut errors) {
            labs.insert(c.lab.field().into(), m);
        }
    }
    for u in LIVER.iter().chain(std::iter::once(&CREATININE)) {
        let base = format!("labs.{}", u.lab.field());
        if let Some(m) = measure(fields, &base, &["value", "uln"], None, &mut errors) {
            labs.insert(u.lab.field().into(), m);
        }
    }
    if let Some(m) = measure(fields, CLEARANCE, &["value"], Some("mL/min"), &mut errors) {
        labs.insert("creatinine_clearance_24h".into(), m);
    }
    if let Some(d) = fields.filled(DIPSTICK) {
        labs.insert("urine_protein_dipstick".into(), Value::String(d.into()));
    }
    if let Some(m) = measure(fields, PROTEIN_24H, &["value"], None, &mut errors) {
        labs.insert("urine_protein_24h".into(), m);
    }
    if let Some(n) = number(fields, UPC, &mut errors) {
        labs.insert("upc_ratio".into(), n);
    }
    if !labs.is_empty() {
        root.insert("labs".into(), Value::Object(labs));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_json::to_vec(&Value::Object(root))
        .map_err(|e| vec![FieldError::new("", format!("cannot encode the form: {e}"))])
}

/// A field error's message as a person reads it.
pub fn friendly(message: &str) -> String {
    if message.starts_with("missing field `") {
        return "is required".into();
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn blank_inputs_are_left_out_and_numbers_kept_exact() {
        let f = fields(&[
            ("patient_ref", " P-1 "),
            ("sex", ""),
            ("attestations.informed_consent", "yes"),
            ("labs.hemoglobin.value", "11,2"),
            ("labs.hemoglobin.unit", "g/dL"),
            ("labs.alt.value", "35"),
            ("labs.alt.uln", ""),
            ("labs.alt.unit", "U/L"),
            ("labs.anc.value", ""),
            ("labs.anc.unit", "10^9/L"),
        ]);
        let v: Value = serde_json::from_slice(&to_request(&f).unwrap()).unwrap();
        assert_eq!(v["patient_ref"], "P-1");
        assert!(v.get("sex").is_none());
        assert_eq!(v["attestations"]["informed_consent"], true);
        assert_eq!(v["labs"]["hemoglobin"]["value"], 11.2);
        assert_eq!(v["labs"]["hemoglobin"]["unit"], "g/dL");
        assert_eq!(v["labs"]["alt"]["value"], 35.0);
        assert!(v["labs"]["alt"].get("uln").is_none());
        assert!(v["labs"].get("anc").is_none());
    }

    #[test]
    fn non_numbers_are_named() {
        let f = fields(&[("labs.platelets.value", "lots"), ("labs.upc_ratio", "x")]);
        let errors = to_request(&f).unwrap_err();
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["labs.platelets.value", "labs.upc_ratio"]);
    }
}
