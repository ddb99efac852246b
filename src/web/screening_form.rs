//! The screening form: its inputs, grouped as a clinician reads a chart, and their
//! conversion into the API's typed screening request (`RawScreening`), so that the form is
//! validated and evaluated by exactly the same use case as the API. Input names are the
//! request's field paths (`labs.hemoglobin.unit`), so every `FieldError` finds its input.

use super::form::Fields;
use super::i18n::{t, Lang};
use crate::eligibility::{
    Attestation, CountLab, Dipstick, FieldError, RawAttestations, RawLabs, RawMeasure,
    RawScreening, RawUlnMeasure, Sex, UlnLab,
};

/// A lab given in absolute units, compared with a minimum.
pub struct CountInput {
    pub lab: CountLab,
    /// The message key of its name.
    pub label: &'static str,
}

/// A lab judged against the site's upper limit of normal (value and ULN in one unit).
pub struct UlnInput {
    pub lab: UlnLab,
    /// The message key of its name.
    pub label: &'static str,
    /// (value sent, text shown)
    pub units: &'static [(&'static str, &'static str)],
}

pub const BLOOD_COUNTS: [CountInput; 3] = [
    CountInput {
        lab: CountLab::Hemoglobin,
        label: "lab-hemoglobin",
    },
    CountInput {
        lab: CountLab::Anc,
        label: "lab-anc",
    },
    CountInput {
        lab: CountLab::Platelets,
        label: "lab-platelets",
    },
];

const ENZYME_UNITS: &[(&str, &str)] = &[("U/L", "U/L"), ("ukat/L", "µkat/L")];
const SMALL_MOLECULE_UNITS: &[(&str, &str)] = &[("umol/L", "µmol/L"), ("mg/dL", "mg/dL")];

pub const LIVER: [UlnInput; 4] = [
    UlnInput {
        lab: UlnLab::Alt,
        label: "lab-alt",
        units: ENZYME_UNITS,
    },
    UlnInput {
        lab: UlnLab::Ast,
        label: "lab-ast",
        units: ENZYME_UNITS,
    },
    UlnInput {
        lab: UlnLab::Bilirubin,
        label: "lab-bilirubin",
        units: SMALL_MOLECULE_UNITS,
    },
    UlnInput {
        lab: UlnLab::Alp,
        label: "lab-alp",
        units: ENZYME_UNITS,
    },
];

pub const CREATININE: UlnInput = UlnInput {
    lab: UlnLab::Creatinine,
    label: "lab-creatinine",
    units: SMALL_MOLECULE_UNITS,
};

pub const CLEARANCE: &str = "labs.creatinine_clearance_24h";
pub const DIPSTICK: &str = "labs.urine_protein_dipstick";
pub const PROTEIN_24H: &str = "labs.urine_protein_24h";
pub const PROTEIN_24H_UNITS: &[(&str, &str)] = &[("g/24h", "g/24 h"), ("mg/24h", "mg/24 h")];
pub const UPC: &str = "labs.upc_ratio";

/// The attestation questions, as the investigator answers them.
pub fn attestation_question(lang: Lang, a: Attestation) -> String {
    match a {
        Attestation::BoneMetSoftTissue => t(lang, "ask-bone-met-soft-tissue"),
        Attestation::InformedConsent => t(lang, "ask-informed-consent"),
        Attestation::AcuteInfectionOrSeriousDisease => t(lang, "ask-acute-infection"),
        Attestation::NeuroPsychHistory => t(lang, "ask-neuro-psych"),
        Attestation::InvestigatorFindsSuitable => t(lang, "ask-investigator-suitable"),
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

pub fn sex_options(lang: Lang) -> Vec<(&'static str, String)> {
    let mut out = vec![("", t(lang, "sex-not-recorded"))];
    out.extend(Sex::ALL.map(|s| {
        let shown = match s {
            Sex::Female => t(lang, "sex-female"),
            Sex::Male => t(lang, "sex-male"),
            Sex::Other => t(lang, "sex-other"),
        };
        (s.as_str(), shown)
    }));
    out
}

pub fn dipstick_options(lang: Lang) -> Vec<(&'static str, String)> {
    let mut out = vec![("", t(lang, "dipstick-not-done"))];
    out.extend(Dipstick::ALL.map(|d| (d.as_str(), d.as_str().to_string())));
    out
}

/// Every input with its label, in the order of the form (the error summary lists errors in
/// this order). A measure's own name (`labs.alt`) follows its parts.
pub fn labels(lang: Lang) -> Vec<(String, String)> {
    let l = |key: &str| t(lang, key);
    let unit = |name: String| super::i18n::ta(lang, "label-unit-of", &[("name", name.into())]);
    let uln = |name: String| super::i18n::ta(lang, "label-uln-of", &[("name", name.into())]);
    let mut out: Vec<(String, String)> = [
        ("patient_ref", l("label-patient-ref")),
        ("site", l("label-site")),
        ("initials", l("label-initials")),
        ("birth_date", l("label-birth-date")),
        ("sex", l("label-sex")),
        ("screening_date", l("label-screening-date")),
    ]
    .into_iter()
    .map(|(n, label)| (n.to_string(), label))
    .collect();
    for a in Attestation::ALL {
        out.push((attestation_name(a), attestation_question(lang, a)));
    }
    for c in &BLOOD_COUNTS {
        let base = format!("labs.{}", c.lab.field());
        out.push((format!("{base}.value"), l(c.label)));
        out.push((format!("{base}.unit"), unit(l(c.label))));
        out.push((base, l(c.label)));
    }
    out.push(("liver_metastasis".into(), l("label-liver-metastasis")));
    for u in LIVER.iter().chain(std::iter::once(&CREATININE)) {
        let base = format!("labs.{}", u.lab.field());
        out.push((format!("{base}.value"), l(u.label)));
        out.push((format!("{base}.uln"), uln(l(u.label))));
        out.push((format!("{base}.unit"), unit(l(u.label))));
        out.push((base, l(u.label)));
    }
    for (name, label) in [
        (format!("{CLEARANCE}.value"), l("label-clearance")),
        (CLEARANCE.to_string(), l("label-clearance")),
        (DIPSTICK.to_string(), l("label-dipstick")),
        (format!("{PROTEIN_24H}.value"), l("label-protein-24h")),
        (format!("{PROTEIN_24H}.unit"), l("label-protein-24h-unit")),
        (PROTEIN_24H.to_string(), l("label-protein-24h")),
        (UPC.to_string(), l("label-upc")),
        ("confirm_implausible".to_string(), l("label-confirmed")),
        ("reason".to_string(), l("label-correction-reason")),
    ] {
        out.push((name, label));
    }
    out
}

/// The id of the element a field's error links to: its input, or for a measure as a whole
/// (`labs.alt`) its value's input.
pub fn anchor(field: &str) -> String {
    let is_measure = field.starts_with("labs.")
        && field.matches('.').count() == 1
        && field != DIPSTICK
        && field != UPC;
    let target = if is_measure {
        format!("{field}.value")
    } else {
        field.to_string()
    };
    format!("f-{}", target.replace('.', "-"))
}

/// Errors in the order of the form's inputs; form-wide ones first, unknown names last.
pub fn in_form_order(errors: &mut [FieldError]) {
    let order = labels(Lang::En);
    let rank = |field: &str| {
        if field.is_empty() {
            return 0;
        }
        order
            .iter()
            .position(|(n, _)| n == field)
            .map_or(usize::MAX, |i| i + 1)
    };
    errors.sort_by_key(|e| rank(&e.field));
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

fn count_of(labs: &RawLabs, lab: CountLab) -> Option<&RawMeasure> {
    match lab {
        CountLab::Hemoglobin => labs.hemoglobin.as_ref(),
        CountLab::Anc => labs.anc.as_ref(),
        CountLab::Platelets => labs.platelets.as_ref(),
    }
}

fn uln_of(labs: &RawLabs, lab: UlnLab) -> Option<&RawUlnMeasure> {
    match lab {
        UlnLab::Alt => labs.alt.as_ref(),
        UlnLab::Ast => labs.ast.as_ref(),
        UlnLab::Bilirubin => labs.bilirubin.as_ref(),
        UlnLab::Alp => labs.alp.as_ref(),
        UlnLab::Creatinine => labs.creatinine.as_ref(),
    }
}

/// The answer to one attestation in a request.
pub fn attestation_answer(a: &RawAttestations, which: Attestation) -> Option<bool> {
    match which {
        Attestation::BoneMetSoftTissue => a.bone_met_soft_tissue,
        Attestation::InformedConsent => a.informed_consent,
        Attestation::AcuteInfectionOrSeriousDisease => a.acute_infection_or_serious_disease,
        Attestation::NeuroPsychHistory => a.neuro_psych_history,
        Attestation::InvestigatorFindsSuitable => a.investigator_finds_suitable,
    }
}

/// Puts every value of a recorded request into the form: the inverse of [`parse`], so that
/// sending the form unchanged sends the same request.
pub fn fill_from(fields: &mut Fields, raw: &RawScreening) {
    let mut put = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            fields.set(name, v);
        }
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    put("patient_ref", raw.patient_ref.clone());
    put("site", raw.site.clone());
    put("birth_date", raw.birth_date.clone());
    put("sex", raw.sex.clone());
    put("screening_date", raw.screening_date.clone());
    put("initials", raw.initials.clone());
    // Confirmations of implausible values are not carried over: a new screening confirms
    // its own values.
    put("liver_metastasis", raw.liver_metastasis.map(yes_no));
    if let Some(at) = &raw.attestations {
        for a in Attestation::ALL {
            put(&attestation_name(a), attestation_answer(at, a).map(yes_no));
        }
    }
    let Some(labs) = &raw.labs else { return };
    let mut measure = |base: &str, m: Option<&RawMeasure>| {
        if let Some(m) = m {
            put(&format!("{base}.value"), Some(m.value.to_string()));
            put(&format!("{base}.unit"), Some(m.unit.clone()));
        }
    };
    for c in &BLOOD_COUNTS {
        measure(&format!("labs.{}", c.lab.field()), count_of(labs, c.lab));
    }
    measure(CLEARANCE, labs.creatinine_clearance_24h.as_ref());
    measure(PROTEIN_24H, labs.urine_protein_24h.as_ref());
    for u in LIVER.iter().chain(std::iter::once(&CREATININE)) {
        if let Some(m) = uln_of(labs, u.lab) {
            let base = format!("labs.{}", u.lab.field());
            put(&format!("{base}.value"), Some(m.value.to_string()));
            put(&format!("{base}.uln"), Some(m.uln.to_string()));
            put(&format!("{base}.unit"), Some(m.unit.clone()));
        }
    }
    put(DIPSTICK, labs.urine_protein_dipstick.clone());
    put(UPC, labs.upc_ratio.map(|x| x.to_string()));
}

/// An input a screening lacked, as a person asks for it, and the form input to fill (none
/// for a name this form does not know).
pub struct Needed {
    pub label: String,
    pub field: Option<String>,
}

/// The evaluation's name of a missing input (`creatinine_clearance_24h`) as the form asks for it.
pub fn needed(lang: Lang, name: &str) -> Needed {
    let found = |label: String, field: String| Needed {
        label,
        field: Some(field),
    };
    if let Some(a) = Attestation::ALL.into_iter().find(|a| a.field() == name) {
        return found(attestation_question(lang, a), attestation_name(a));
    }
    if let Some(c) = BLOOD_COUNTS.iter().find(|c| c.lab.field() == name) {
        return found(t(lang, c.label), format!("labs.{name}.value"));
    }
    if let Some(u) = LIVER
        .iter()
        .chain(std::iter::once(&CREATININE))
        .find(|u| u.lab.field() == name)
    {
        let label = super::i18n::ta(lang, "needed-uln-lab", &[("name", t(lang, u.label).into())]);
        return found(label, format!("labs.{name}.value"));
    }
    match name {
        "liver_metastasis" => found(t(lang, "needed-liver-metastasis"), name.into()),
        "creatinine_clearance_24h" => {
            found(t(lang, "needed-clearance"), format!("{CLEARANCE}.value"))
        }
        "urine_protein_dipstick" => found(t(lang, "label-dipstick"), DIPSTICK.into()),
        "urine_protein_24h" => found(
            t(lang, "needed-protein-24h"),
            format!("{PROTEIN_24H}.value"),
        ),
        "upc_ratio" => found(t(lang, "needed-upc"), UPC.into()),
        other => Needed {
            label: other.to_string(),
            field: None,
        },
    }
}

fn number(fields: &Fields, name: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    let text = fields.filled(name)?;
    // A decimal comma is how many people write a lab value.
    match text.replace(',', ".").parse::<f64>() {
        Ok(n) if n.is_finite() => Some(n),
        _ => {
            errors.push(FieldError::new(name, format!("{text:?} is not a number")));
            None
        }
    }
}

fn yes_no(fields: &Fields, name: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
    match fields.filled(name)? {
        "yes" => Some(true),
        "no" => Some(false),
        other => {
            errors.push(FieldError::new(name, format!("{other:?} is not yes or no")));
            None
        }
    }
}

fn text(fields: &Fields, name: &str) -> Option<String> {
    fields.filled(name).map(str::to_string)
}

/// Whether any of a measure's numeric parts was typed: a measure left blank is not given.
fn any_given(fields: &Fields, base: &str, parts: &[&str]) -> bool {
    parts
        .iter()
        .any(|p| fields.filled(&format!("{base}.{p}")).is_some())
}

/// A part of a measure that was begun: required from here on.
fn required_number(fields: &Fields, name: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    if fields.filled(name).is_none() {
        errors.push(FieldError::new(name, "is required"));
        return None;
    }
    number(fields, name, errors)
}

fn unit(
    fields: &Fields,
    base: &str,
    fixed: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    if let Some(unit) = fixed {
        return Some(unit.to_string());
    }
    let name = format!("{base}.unit");
    let unit = text(fields, &name);
    if unit.is_none() {
        errors.push(FieldError::new(name, "is required"));
    }
    unit
}

fn measure(
    fields: &Fields,
    base: &str,
    fixed_unit: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<RawMeasure> {
    if !any_given(fields, base, &["value"]) {
        return None;
    }
    let value = required_number(fields, &format!("{base}.value"), errors);
    let unit = unit(fields, base, fixed_unit, errors);
    Some(RawMeasure {
        value: value?,
        unit: unit?,
    })
}

fn uln_measure(fields: &Fields, base: &str, errors: &mut Vec<FieldError>) -> Option<RawUlnMeasure> {
    if !any_given(fields, base, &["value", "uln"]) {
        return None;
    }
    let value = required_number(fields, &format!("{base}.value"), errors);
    let uln = required_number(fields, &format!("{base}.uln"), errors);
    let unit = unit(fields, base, None, errors);
    Some(RawUlnMeasure {
        value: value?,
        uln: uln?,
        unit: unit?,
    })
}

/// The API's screening request for these form values, or every value that is not even a
/// number or a begun measure's missing part. Blank inputs are left out (not recorded),
/// exactly as an API client would.
#[cfg(test)]
pub fn to_request(fields: &Fields) -> Result<RawScreening, Vec<FieldError>> {
    let (raw, errors) = parse(fields);
    if errors.is_empty() {
        Ok(raw)
    } else {
        Err(errors)
    }
}

/// The request with every value that parsed, and the errors of those that did not (left
/// out of the request), so that the rest can still be checked.
pub fn parse(fields: &Fields) -> (RawScreening, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut answers = Attestation::ALL.map(|a| yes_no(fields, &attestation_name(a), &mut errors));
    let mut take = |a: Attestation| answers[a as usize].take();
    let attestations = RawAttestations {
        bone_met_soft_tissue: take(Attestation::BoneMetSoftTissue),
        informed_consent: take(Attestation::InformedConsent),
        acute_infection_or_serious_disease: take(Attestation::AcuteInfectionOrSeriousDisease),
        neuro_psych_history: take(Attestation::NeuroPsychHistory),
        investigator_finds_suitable: take(Attestation::InvestigatorFindsSuitable),
    };
    let count = |lab: CountLab, errors: &mut Vec<FieldError>| {
        measure(fields, &format!("labs.{}", lab.field()), None, errors)
    };
    let uln = |lab: UlnLab, errors: &mut Vec<FieldError>| {
        uln_measure(fields, &format!("labs.{}", lab.field()), errors)
    };
    let labs = RawLabs {
        hemoglobin: count(CountLab::Hemoglobin, &mut errors),
        anc: count(CountLab::Anc, &mut errors),
        platelets: count(CountLab::Platelets, &mut errors),
        alt: uln(UlnLab::Alt, &mut errors),
        ast: uln(UlnLab::Ast, &mut errors),
        bilirubin: uln(UlnLab::Bilirubin, &mut errors),
        alp: uln(UlnLab::Alp, &mut errors),
        creatinine: uln(UlnLab::Creatinine, &mut errors),
        creatinine_clearance_24h: measure(fields, CLEARANCE, Some("mL/min"), &mut errors),
        urine_protein_dipstick: text(fields, DIPSTICK),
        urine_protein_24h: measure(fields, PROTEIN_24H, None, &mut errors),
        upc_ratio: number(fields, UPC, &mut errors),
    };
    let raw = RawScreening {
        patient_ref: text(fields, "patient_ref"),
        site: text(fields, "site"),
        birth_date: text(fields, "birth_date"),
        sex: text(fields, "sex"),
        screening_date: text(fields, "screening_date"),
        liver_metastasis: yes_no(fields, "liver_metastasis", &mut errors),
        attestations: (attestations != RawAttestations::default()).then_some(attestations),
        labs: (labs != RawLabs::default()).then_some(labs),
        initials: text(fields, "initials"),
        confirm_implausible: {
            let confirmed: Vec<String> = fields
                .all("confirm_implausible")
                .into_iter()
                .map(str::to_owned)
                .collect();
            (!confirmed.is_empty()).then_some(confirmed)
        },
    };
    (raw, errors)
}

/// A field error's message as a person reads it, in their language.
pub fn friendly(lang: Lang, message: &str) -> String {
    super::messages::field(lang, message)
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
            ("labs.alt.uln", "40"),
            ("labs.alt.unit", "U/L"),
            ("labs.anc.value", ""),
            ("labs.anc.unit", "10^9/L"),
        ]);
        let v = serde_json::to_value(to_request(&f).unwrap()).unwrap();
        assert_eq!(v["patient_ref"], "P-1");
        assert!(v["sex"].is_null());
        assert_eq!(v["attestations"]["informed_consent"], true);
        assert_eq!(v["labs"]["hemoglobin"]["value"], 11.2);
        assert_eq!(v["labs"]["hemoglobin"]["unit"], "g/dL");
        assert_eq!(v["labs"]["alt"]["value"], 35.0);
        assert_eq!(v["labs"]["alt"]["uln"], 40.0);
        assert!(v["labs"]["anc"].is_null());
    }

    #[test]
    fn every_missing_part_of_a_begun_measure_is_named_at_once() {
        let f = fields(&[
            ("labs.alt.value", "35"),
            ("labs.alt.unit", "U/L"),
            ("labs.hemoglobin.value", "11"),
            ("labs.ast.uln", "40"),
        ]);
        let errors = to_request(&f).unwrap_err();
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "labs.hemoglobin.unit",
                "labs.alt.uln",
                "labs.ast.value",
                "labs.ast.unit"
            ]
        );
    }

    #[test]
    fn errors_sort_in_form_order_and_link_to_an_input() {
        let mut errors: Vec<FieldError> = [
            "labs.upc_ratio",
            "no.such.field",
            "labs.anc.value",
            "liver_metastasis",
            "attestations.informed_consent",
            "",
            "birth_date",
            "patient_ref",
        ]
        .into_iter()
        .map(|f| FieldError::new(f, "x"))
        .collect();
        in_form_order(&mut errors);
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "",
                "patient_ref",
                "birth_date",
                "attestations.informed_consent",
                "labs.anc.value",
                "liver_metastasis",
                "labs.upc_ratio",
                "no.such.field"
            ]
        );
        assert_eq!(anchor("labs.alt"), "f-labs-alt-value");
        assert_eq!(anchor("labs.alt.uln"), "f-labs-alt-uln");
        assert_eq!(anchor(CLEARANCE), "f-labs-creatinine_clearance_24h-value");
        assert_eq!(anchor(DIPSTICK), "f-labs-urine_protein_dipstick");
        assert_eq!(anchor(UPC), "f-labs-upc_ratio");
        assert_eq!(
            anchor("attestations.informed_consent"),
            "f-attestations-informed_consent"
        );
    }

    #[test]
    fn a_recorded_request_fills_the_form_it_came_from() {
        let mut f = fields(&[
            ("patient_ref", "P-1"),
            ("site", "SITE01"),
            ("birth_date", "1961-03-02"),
            ("liver_metastasis", "no"),
            ("attestations.informed_consent", "yes"),
            ("attestations.neuro_psych_history", "no"),
            ("labs.hemoglobin.value", "11.2"),
            ("labs.hemoglobin.unit", "g/dL"),
            ("labs.creatinine.value", "150"),
            ("labs.creatinine.uln", "97"),
            ("labs.creatinine.unit", "umol/L"),
            ("labs.creatinine_clearance_24h.value", "0.5"),
            ("labs.urine_protein_dipstick", "2+"),
            ("labs.urine_protein_24h.value", "1200"),
            ("labs.urine_protein_24h.unit", "mg/24h"),
            ("labs.upc_ratio", "1.4"),
        ]);
        let raw = to_request(&f).unwrap();
        let mut again = Fields::default();
        fill_from(&mut again, &raw);
        assert_eq!(to_request(&again).unwrap(), raw);
        assert_eq!(again.value("labs.hemoglobin.value"), "11.2");
        assert_eq!(again.value("labs.creatinine.value"), "150");
        assert_eq!(again.value("attestations.neuro_psych_history"), "no");
        assert_eq!(again.value("attestations.bone_met_soft_tissue"), "");
        f.set("liver_metastasis", "");
        assert_eq!(to_request(&f).unwrap().liver_metastasis, None);
    }

    #[test]
    fn missing_inputs_are_named_as_the_form_asks_for_them() {
        let needed = |name: &str| needed(Lang::En, name);
        let n = needed("creatinine_clearance_24h");
        assert_eq!(n.label, "24-hour creatinine clearance (mL/min)");
        assert_eq!(
            n.field.as_deref(),
            Some("labs.creatinine_clearance_24h.value")
        );
        let n = needed("informed_consent");
        assert_eq!(n.label, "Signed informed consent obtained?");
        assert_eq!(n.field.as_deref(), Some("attestations.informed_consent"));
        assert_eq!(needed("anc").field.as_deref(), Some("labs.anc.value"));
        assert_eq!(needed("alt").field.as_deref(), Some("labs.alt.value"));
        assert_eq!(needed("upc_ratio").field.as_deref(), Some(UPC));
        assert!(needed("something_new").field.is_none());
        assert_eq!(
            super::needed(Lang::ZhCn, "informed_consent").label,
            "是否已签署知情同意书？"
        );
    }

    #[test]
    fn every_label_is_a_message_in_both_languages() {
        for lang in Lang::ALL {
            for (name, label) in labels(lang) {
                assert!(!label.contains("Unknown localization"), "{name}: {label}");
            }
        }
        let en: Vec<_> = labels(Lang::En).into_iter().map(|(_, l)| l).collect();
        let zh: Vec<_> = labels(Lang::ZhCn).into_iter().map(|(_, l)| l).collect();
        assert!(en.contains(&"Hemoglobin unit".to_string()));
        assert!(zh.contains(&"血红蛋白单位".to_string()));
    }

    #[test]
    fn non_numbers_are_named() {
        let f = fields(&[("labs.platelets.value", "lots"), ("labs.upc_ratio", "x")]);
        let errors = to_request(&f).unwrap_err();
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "labs.platelets.value",
                "labs.platelets.unit",
                "labs.upc_ratio"
            ]
        );
    }
}
