//! Eligibility of the default trial (NCT06987370), criterion by criterion, against the table of
//! `product.md` and the screening request of `api.md`.
//!
//! Every test starts from [`eligible`], a fully eligible request, and changes only what it is
//! about, so a status that changes can only be caused by that change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use serde_json::{json, Value};
use trialgate::eligibility::{
    evaluate, CriterionResult, CriterionStatus, Evaluation, InputError, Outcome, ScreeningInput,
};
use trialgate::protocol::Protocol;

use CriterionStatus::{Fail, Missing, Pass};

// ---------------------------------------------------------------------------------------
// Helpers

/// The date the tests run "today" (UTC); also the screening date of [`eligible`].
fn today() -> NaiveDate {
    date("2026-11-20")
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn protocol() -> Protocol {
    Protocol::default_trial().unwrap()
}

/// The criteria ids of the default protocol, in protocol order (a contract).
const CRITERIA: [&str; 15] = [
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
    "investigator_judgement",
];

/// api.md's example request: a 65-year-old who passes every criterion.
fn eligible() -> Value {
    json!({
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
    })
}

/// Only what api.md requires: every criterion but age is missing.
fn bare() -> Value {
    json!({"patient_ref": "SITE01-0008", "site": "SITE01", "birth_date": "1961-03-02"})
}

/// `dotted` as a JSON pointer: `labs.alt.uln` → `/labs/alt/uln`.
fn pointer(dotted: &str) -> String {
    format!("/{}", dotted.replace('.', "/"))
}

/// Sets (or adds) the field at a dotted path; its parent must exist.
fn with(mut request: Value, dotted: &str, value: Value) -> Value {
    let (parent, key) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let parent = if parent.is_empty() {
        &mut request
    } else {
        request
            .pointer_mut(&pointer(parent))
            .unwrap_or_else(|| panic!("no {parent} in the request"))
    };
    parent
        .as_object_mut()
        .unwrap_or_else(|| panic!("{dotted}: parent is not an object"))
        .insert(key.to_string(), value);
    request
}

/// Removes the field at a dotted path, which must exist.
fn without(mut request: Value, dotted: &str) -> Value {
    let (parent, key) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let parent = if parent.is_empty() {
        &mut request
    } else {
        request.pointer_mut(&pointer(parent)).unwrap()
    };
    let removed = parent.as_object_mut().unwrap().remove(key);
    assert!(removed.is_some(), "{dotted} was not in the request");
    request
}

fn parse_on(request: &Value, today: NaiveDate) -> Result<ScreeningInput, InputError> {
    ScreeningInput::from_json(request.to_string().as_bytes(), today, &protocol())
}

/// Parses (which must succeed) and evaluates against the default protocol.
fn screen_on(request: &Value, today: NaiveDate) -> Evaluation {
    let input =
        parse_on(request, today).unwrap_or_else(|e| panic!("request refused: {e}\n{request:#}"));
    evaluate(&protocol(), &input)
}

fn screen(request: &Value) -> Evaluation {
    screen_on(request, today())
}

fn criterion<'a>(evaluation: &'a Evaluation, id: &str) -> &'a CriterionResult {
    evaluation
        .criteria
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no criterion {id}"))
}

fn status_of(evaluation: &Evaluation, id: &str) -> CriterionStatus {
    criterion(evaluation, id).status
}

/// Asserts the status of one criterion, and that no other criterion changed from `Pass`.
#[track_caller]
fn assert_status(request: &Value, id: &str, expected: CriterionStatus) {
    let evaluation = screen(request);
    let result = criterion(&evaluation, id);
    assert_eq!(
        result.status, expected,
        "{id}: {}\n{request:#}",
        result.detail
    );
    for other in evaluation.criteria.iter().filter(|c| c.id != id) {
        assert_eq!(other.status, Pass, "{}: {}", other.id, other.detail);
    }
    let outcome = match expected {
        Pass => Outcome::Eligible,
        Fail => Outcome::Ineligible,
        Missing => Outcome::Incomplete,
    };
    assert_eq!(evaluation.outcome, outcome);
}

/// Asserts the criterion is missing, and that exactly these inputs are named as missing.
#[track_caller]
fn assert_missing(request: &Value, id: &str, inputs: &[&str]) {
    assert_status(request, id, Missing);
    assert_eq!(screen(request).missing, inputs);
}

/// A lab with a value and unit, e.g. `lab(112, "g/L")`.
fn lab(value: f64, unit: &str) -> Value {
    json!({"value": value, "unit": unit})
}

/// A ULN-relative lab.
fn uln_lab(value: f64, uln: f64) -> Value {
    json!({"value": value, "uln": uln, "unit": "U/L"})
}

/// The refusal of a request that must be well-formed JSON with invalid fields: the fields
/// named, in the order reported.
#[track_caller]
fn refused_fields_on(body: &[u8], today: NaiveDate) -> Vec<String> {
    match ScreeningInput::from_json(body, today, &protocol()) {
        Err(InputError::Invalid(errors)) => {
            for e in &errors {
                assert!(!e.message.is_empty(), "{e:?} has no message");
            }
            errors.into_iter().map(|e| e.field).collect()
        }
        other => panic!(
            "expected Invalid for {}, got {other:?}",
            String::from_utf8_lossy(body)
        ),
    }
}

#[track_caller]
fn refused_fields(request: &Value) -> Vec<String> {
    refused_fields_on(request.to_string().as_bytes(), today())
}

/// The request is refused naming exactly this one field.
#[track_caller]
fn assert_refused(request: &Value, field: &str) {
    assert_eq!(refused_fields(request), [field], "{request:#}");
}

#[track_caller]
fn assert_malformed(body: &[u8]) {
    let result = ScreeningInput::from_json(body, today(), &protocol());
    assert!(
        matches!(result, Err(InputError::Malformed(_))),
        "expected Malformed for {:?}, got {result:?}",
        String::from_utf8_lossy(body)
    );
}

// ---------------------------------------------------------------------------------------
// The baseline

#[test]
fn the_example_request_is_eligible_with_every_criterion_in_protocol_order() {
    let evaluation = screen(&eligible());
    assert_eq!(evaluation.outcome, Outcome::Eligible);
    assert!(evaluation.missing.is_empty());
    let ids: Vec<_> = evaluation.criteria.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CRITERIA);
    for c in &evaluation.criteria {
        assert_eq!(c.status, Pass, "{}: {}", c.id, c.detail);
        assert!(!c.detail.trim().is_empty(), "{} has no detail", c.id);
    }
}

#[test]
fn the_default_protocol_lists_the_criteria_of_the_product_brief() {
    let ids: Vec<_> = protocol().criteria.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, CRITERIA);
}

#[test]
fn the_parsed_request_holds_canonical_values() {
    let input = parse_on(&eligible(), today()).unwrap();
    assert_eq!(input.patient_ref, "SITE01-0007");
    assert_eq!(input.site, "SITE01");
    assert_eq!(input.birth_date, date("1961-03-02"));
    assert_eq!(input.screening_date, today());
    assert_eq!(input.age_years(), 65);
    assert_eq!(input.liver_metastasis, Some(false));
}

// ---------------------------------------------------------------------------------------
// Count labs: value ≥ minimum, in either accepted unit

#[test]
fn hemoglobin_passes_from_90_g_per_l() {
    for (value, unit, expected) in [
        (90.1, "g/L", Pass),
        (90.0, "g/L", Pass),
        (89.9, "g/L", Fail),
        (9.01, "g/dL", Pass),
        (9.0, "g/dL", Pass),
        (8.99, "g/dL", Fail),
    ] {
        let request = with(eligible(), "labs.hemoglobin", lab(value, unit));
        assert_status(&request, "hemoglobin", expected);
    }
    // Below the plausible range (30 g/L) a value counts only once confirmed, and then fails.
    let zero = with(eligible(), "labs.hemoglobin", lab(0.0, "g/L"));
    assert!(parse_on(&zero, today()).is_err());
    let confirmed = with(zero, "confirm_implausible", json!(["hemoglobin"]));
    assert_status(&confirmed, "hemoglobin", Fail);
}

#[test]
fn implausible_values_need_confirming_and_are_named() {
    for (lab_name, value, unit) in [
        ("hemoglobin", 11.2, "g/L"),
        ("hemoglobin", 26.0, "g/dL"),
        ("platelets", 180_000.0, "10^9/L"),
        ("anc", 150.0, "10^3/uL"),
    ] {
        let request = with(eligible(), &format!("labs.{lab_name}"), lab(value, unit));
        let errors = match parse_on(&request, today()) {
            Err(InputError::Invalid(errors)) => errors,
            other => panic!("{lab_name} {value} {unit}: {other:?}"),
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, [format!("labs.{lab_name}")], "{lab_name} {value}");
        assert!(
            errors[0].message.contains("confirm_implausible"),
            "{errors:?}"
        );
        let confirmed = with(request, "confirm_implausible", json!([lab_name]));
        assert!(
            parse_on(&confirmed, today()).is_ok(),
            "{lab_name} confirmed"
        );
    }
    // At the bounds, values are plausible.
    for (value, unit) in [(30.0, "g/L"), (250.0, "g/L"), (3.0, "g/dL")] {
        let request = with(eligible(), "labs.hemoglobin", lab(value, unit));
        assert!(parse_on(&request, today()).is_ok(), "{value} {unit}");
    }
}

#[test]
fn anc_passes_from_1_5_per_nl() {
    for unit in ["10^9/L", "10^3/uL"] {
        for (value, expected) in [(1.51, Pass), (1.5, Pass), (1.49, Fail)] {
            let request = with(eligible(), "labs.anc", lab(value, unit));
            assert_status(&request, "anc", expected);
        }
    }
}

#[test]
fn platelets_pass_from_75_per_nl() {
    for unit in ["10^9/L", "10^3/uL"] {
        for (value, expected) in [(75.1, Pass), (75.0, Pass), (74.9, Fail)] {
            let request = with(eligible(), "labs.platelets", lab(value, unit));
            assert_status(&request, "platelets", expected);
        }
    }
}

#[test]
fn a_missing_count_lab_is_named_as_missing() {
    for name in ["hemoglobin", "anc", "platelets"] {
        let request = without(eligible(), &format!("labs.{name}"));
        assert_missing(&request, name, &[name]);
    }
}

// ---------------------------------------------------------------------------------------
// ULN-relative labs: value ≤ k × ULN, k switched by liver metastasis

/// (criterion and lab, k without liver metastasis, k with liver metastasis)
const ULN_LABS: [(&str, &str, &str); 4] = [
    ("alt", "2.5", "5"),
    ("ast", "2.5", "5"),
    ("bilirubin", "1.5", "3"),
    ("alp", "3", "5"),
];

/// `k × uln` exactly, and the same plus a small step, as JSON numbers.
fn at_and_above(k: &str, uln: &str) -> (f64, f64) {
    use rust_decimal::Decimal;
    let limit: Decimal = k.parse::<Decimal>().unwrap() * uln.parse::<Decimal>().unwrap();
    let above = limit + Decimal::new(1, 4);
    (
        limit.to_string().parse().unwrap(),
        above.to_string().parse().unwrap(),
    )
}

#[test]
fn uln_labs_pass_exactly_on_their_limit_without_liver_metastasis() {
    for (name, k, _) in ULN_LABS {
        // 0.7 and 0.3 are where f64 arithmetic (0.7 × 1.5 = 1.0499999999999998) goes wrong.
        for uln in ["40", "21", "125", "0.7", "0.3", "1.1", "33.3"] {
            let (at, above) = at_and_above(k, uln);
            let uln: f64 = uln.parse().unwrap();
            let field = format!("labs.{name}");
            assert_status(&with(eligible(), &field, uln_lab(at, uln)), name, Pass);
            assert_status(&with(eligible(), &field, uln_lab(above, uln)), name, Fail);
            assert_status(&with(eligible(), &field, uln_lab(0.0, uln)), name, Pass);
        }
    }
}

#[test]
fn the_float_trap_bilirubin_1_05_with_uln_0_7_passes() {
    // In f64, 1.5 × 0.7 = 1.0499999999999998 < 1.05: a float comparison would fail this.
    let request = with(eligible(), "labs.bilirubin", uln_lab(1.05, 0.7));
    assert_status(&request, "bilirubin", Pass);
    let request = with(eligible(), "labs.bilirubin", uln_lab(1.0501, 0.7));
    assert_status(&request, "bilirubin", Fail);
}

#[test]
fn named_boundaries_of_the_uln_labs() {
    let cases = [
        ("alt", 100.0, 40.0, Pass),
        ("alt", 100.1, 40.0, Fail),
        ("ast", 100.0, 40.0, Pass),
        ("ast", 100.1, 40.0, Fail),
        ("bilirubin", 31.5, 21.0, Pass),
        ("bilirubin", 31.6, 21.0, Fail),
        ("alp", 375.0, 125.0, Pass),
        ("alp", 375.1, 125.0, Fail),
    ];
    for (name, value, uln, expected) in cases {
        let request = with(eligible(), &format!("labs.{name}"), uln_lab(value, uln));
        assert_status(&request, name, expected);
    }
}

#[test]
fn liver_metastasis_switches_to_the_higher_limits() {
    for (name, k, k_liver) in ULN_LABS {
        for uln in ["40", "0.7"] {
            let field = format!("labs.{name}");
            let (normal_at, normal_above) = at_and_above(k, uln);
            let (liver_at, liver_above) = at_and_above(k_liver, uln);
            let uln: f64 = uln.parse().unwrap();
            let liver = with(eligible(), "liver_metastasis", json!(true));
            for (value, expected) in [
                (normal_at, Pass),
                (normal_above, Pass),
                (liver_at, Pass),
                (liver_above, Fail),
            ] {
                let request = with(liver.clone(), &field, uln_lab(value, uln));
                assert_status(&request, name, expected);
            }
            // Without liver metastasis the same values are judged by the lower limit.
            for (value, expected) in [(normal_above, Fail), (liver_at, Fail)] {
                let request = with(eligible(), &field, uln_lab(value, uln));
                assert_status(&request, name, expected);
            }
        }
    }
}

#[test]
fn liver_metastasis_unknown_decides_only_when_both_limits_agree() {
    for (name, k, k_liver) in ULN_LABS {
        let field = format!("labs.{name}");
        let (normal_at, normal_above) = at_and_above(k, "40");
        let (liver_at, liver_above) = at_and_above(k_liver, "40");
        let unknown = without(eligible(), "liver_metastasis");
        let request = |value| with(unknown.clone(), &field, uln_lab(value, 40.0));

        assert_status(&request(normal_at), name, Pass);
        assert_missing(&request(normal_above), name, &["liver_metastasis"]);
        assert_missing(&request(liver_at), name, &["liver_metastasis"]);
        assert_status(&request(liver_above), name, Fail);

        let evaluation = screen(&request(liver_at));
        let detail = &criterion(&evaluation, name).detail;
        assert!(detail.contains("liver metastasis"), "{detail}");
    }
}

#[test]
fn a_missing_uln_lab_is_named_as_missing() {
    for (name, _, _) in ULN_LABS {
        let request = without(eligible(), &format!("labs.{name}"));
        assert_missing(&request, name, &[name]);
    }
}

// ---------------------------------------------------------------------------------------
// Creatinine: Cr ≤ 1.5×ULN, or else 24-h clearance strictly above 50 mL/min

fn creatinine(value: f64) -> Value {
    json!({"value": value, "uln": 97, "unit": "umol/L"})
}

fn clearance(value: f64) -> Value {
    lab(value, "mL/min")
}

#[test]
fn creatinine_up_to_1_5_uln_passes_whatever_the_clearance() {
    // 1.5 × 97 = 145.5
    let at = with(eligible(), "labs.creatinine", creatinine(145.5));
    assert_status(&at, "creatinine", Pass);
    assert_status(
        &with(at.clone(), "labs.creatinine_clearance_24h", clearance(10.0)),
        "creatinine",
        Pass,
    );
    assert_status(
        &without(at, "labs.creatinine_clearance_24h"),
        "creatinine",
        Pass,
    );
    let exact = with(
        eligible(),
        "labs.creatinine",
        json!({"value": 1.05, "uln": 0.7, "unit": "mg/dL"}),
    );
    assert_status(
        &without(exact, "labs.creatinine_clearance_24h"),
        "creatinine",
        Pass,
    );
}

#[test]
fn creatinine_above_1_5_uln_needs_clearance_strictly_above_50() {
    let high = with(eligible(), "labs.creatinine", creatinine(145.6));
    let with_clearance = |v| with(high.clone(), "labs.creatinine_clearance_24h", clearance(v));
    assert_status(&with_clearance(62.0), "creatinine", Pass);
    assert_status(&with_clearance(50.1), "creatinine", Pass);
    assert_status(&with_clearance(50.0), "creatinine", Fail);
    assert_status(&with_clearance(49.9), "creatinine", Fail);
    assert_missing(
        &without(high, "labs.creatinine_clearance_24h"),
        "creatinine",
        &["creatinine_clearance_24h"],
    );
}

#[test]
fn creatinine_absent_is_decided_by_a_clearance_above_50_alone() {
    let absent = without(eligible(), "labs.creatinine");
    let with_clearance = |v| {
        with(
            absent.clone(),
            "labs.creatinine_clearance_24h",
            clearance(v),
        )
    };
    assert_status(&with_clearance(50.1), "creatinine", Pass);
    assert_missing(&with_clearance(50.0), "creatinine", &["creatinine"]);
    assert_missing(
        &without(absent, "labs.creatinine_clearance_24h"),
        "creatinine",
        &["creatinine"],
    );
}

// ---------------------------------------------------------------------------------------
// Urine protein: dipstick < 2+, or else 24-h protein < 2 g or UPC < 2

/// The eligible request with this dipstick and neither quantitative test.
fn dipstick_only(grade: &str) -> Value {
    let request = with(eligible(), "labs.urine_protein_dipstick", json!(grade));
    without(without(request, "labs.urine_protein_24h"), "labs.upc_ratio")
}

fn protein_24h(value: f64, unit: &str) -> Value {
    lab(value, unit)
}

#[test]
fn a_dipstick_below_2_plus_passes_alone() {
    for grade in ["negative", "trace", "1+"] {
        assert_status(&dipstick_only(grade), "urine_protein", Pass);
    }
}

#[test]
fn a_dipstick_of_2_plus_or_more_needs_a_quantitative_test() {
    for grade in ["2+", "3+", "4+"] {
        assert_missing(
            &dipstick_only(grade),
            "urine_protein",
            &["urine_protein_24h", "upc_ratio"],
        );
    }
}

#[test]
fn a_24h_protein_below_2_g_clears_a_high_dipstick() {
    let two_plus = dipstick_only("2+");
    let p24 = |v| {
        with(
            two_plus.clone(),
            "labs.urine_protein_24h",
            protein_24h(v, "g/24h"),
        )
    };
    assert_status(&p24(1.99), "urine_protein", Pass);
    assert_missing(&p24(2.0), "urine_protein", &["upc_ratio"]);
    assert_status(
        &with(p24(2.0), "labs.upc_ratio", json!(2.0)),
        "urine_protein",
        Fail,
    );
}

#[test]
fn a_upc_below_2_clears_a_high_dipstick() {
    let two_plus = dipstick_only("2+");
    let upc = |v: f64| with(two_plus.clone(), "labs.upc_ratio", json!(v));
    assert_status(&upc(1.99), "urine_protein", Pass);
    assert_missing(&upc(2.0), "urine_protein", &["urine_protein_24h"]);
    let both_high = with(
        upc(1.99),
        "labs.urine_protein_24h",
        protein_24h(5.0, "g/24h"),
    );
    assert_status(&both_high, "urine_protein", Pass);
}

#[test]
fn a_high_dipstick_with_both_quantitative_tests_at_2_or_more_fails() {
    for grade in ["2+", "3+", "4+"] {
        let request = with(
            with(
                dipstick_only(grade),
                "labs.urine_protein_24h",
                protein_24h(2.0, "g/24h"),
            ),
            "labs.upc_ratio",
            json!(2.0),
        );
        assert_status(&request, "urine_protein", Fail);
    }
}

#[test]
fn a_24h_protein_in_mg_is_converted_to_g() {
    let high_upc = with(dipstick_only("3+"), "labs.upc_ratio", json!(2.5));
    let p24 = |v| {
        with(
            high_upc.clone(),
            "labs.urine_protein_24h",
            protein_24h(v, "mg/24h"),
        )
    };
    assert_status(&p24(1999.0), "urine_protein", Pass);
    assert_status(&p24(2000.0), "urine_protein", Fail);
    let input = parse_on(&p24(1999.0), today()).unwrap();
    assert_eq!(
        input.urine_protein_24h_g,
        Some(rust_decimal::Decimal::new(1999, 3))
    );
}

#[test]
fn without_a_dipstick_urine_protein_is_missing_the_dipstick() {
    let request = without(dipstick_only("1+"), "labs.urine_protein_dipstick");
    assert_missing(&request, "urine_protein", &["urine_protein_dipstick"]);
    // Quantitative tests at 2 or more cannot decide without the dipstick either.
    let high = with(
        with(request, "labs.upc_ratio", json!(2.0)),
        "labs.urine_protein_24h",
        protein_24h(2.0, "g/24h"),
    );
    assert_missing(&high, "urine_protein", &["urine_protein_dipstick"]);
}

// ---------------------------------------------------------------------------------------
// Age: completed years on the screening date, 18 to 75 inclusive

fn born(birth_date: &str) -> Value {
    with(eligible(), "birth_date", json!(birth_date))
}

#[test]
fn the_18th_birthday_on_the_screening_date_passes_the_day_before_fails() {
    assert_status(&born("2008-11-20"), "age", Pass);
    assert_status(&born("2008-11-21"), "age", Fail);
    assert_eq!(
        parse_on(&born("2008-11-21"), today()).unwrap().age_years(),
        17
    );
}

#[test]
fn age_75_passes_to_the_eve_of_the_76th_birthday() {
    assert_status(&born("1951-11-20"), "age", Pass); // 75th birthday
    assert_status(&born("1950-11-21"), "age", Pass); // 75 years and 364 days
    assert_status(&born("1950-11-20"), "age", Fail); // 76th birthday
    assert_eq!(
        parse_on(&born("1950-11-21"), today()).unwrap().age_years(),
        75
    );
}

#[test]
fn born_on_29_february_completes_a_year_on_1_march_in_common_years() {
    // 2026 has no 29 February: the 18th birthday is completed on 1 March.
    let leapling = |screening: &str| with(born("2008-02-29"), "screening_date", json!(screening));
    assert_status(&leapling("2026-02-28"), "age", Fail);
    assert_status(&leapling("2026-03-01"), "age", Pass);
    // In a leap year the birthday itself completes the year: 76 on 2028-02-29.
    let elder = |screening: &str| {
        let request = with(born("1952-02-29"), "screening_date", json!(screening));
        status_of(&screen_on(&request, date(screening)), "age")
    };
    assert_eq!(elder("2028-02-28"), Pass);
    assert_eq!(elder("2028-02-29"), Fail);
}

#[test]
fn the_screening_date_defaults_to_today() {
    let request = without(born("2008-11-20"), "screening_date");
    let input = parse_on(&request, today()).unwrap();
    assert_eq!(input.screening_date, today());
    assert_eq!(status_of(&screen_on(&request, today()), "age"), Pass);
    let yesterday = today() - Duration::days(1);
    assert_eq!(
        parse_on(&request, yesterday).unwrap().screening_date,
        yesterday
    );
    assert_eq!(status_of(&screen_on(&request, yesterday), "age"), Fail);
}

// ---------------------------------------------------------------------------------------
// Attestations

/// (attestation field, criterion id, the value that passes)
const ATTESTATIONS: [(&str, &str, bool); 5] = [
    ("bone_met_soft_tissue", "bone_met_soft_tissue", true),
    ("informed_consent", "informed_consent", true),
    (
        "acute_infection_or_serious_disease",
        "no_acute_infection_or_serious_disease",
        false,
    ),
    ("neuro_psych_history", "no_neuro_psych_history", false),
    (
        "investigator_finds_suitable",
        "investigator_judgement",
        true,
    ),
];

#[test]
fn each_attestation_passes_fails_or_is_missing() {
    for (field, id, passes_when) in ATTESTATIONS {
        let path = format!("attestations.{field}");
        assert_status(&with(eligible(), &path, json!(passes_when)), id, Pass);
        assert_status(&with(eligible(), &path, json!(!passes_when)), id, Fail);
        assert_missing(&without(eligible(), &path), id, &[field]);
    }
}

#[test]
fn attestation_null_is_the_same_as_absent() {
    let request = with(eligible(), "attestations.informed_consent", Value::Null);
    assert_missing(&request, "informed_consent", &["informed_consent"]);
}

// ---------------------------------------------------------------------------------------
// Outcome rules

#[test]
fn one_failure_makes_ineligible_even_when_others_are_missing() {
    let request = with(
        without(
            without(eligible(), "labs.anc"),
            "attestations.informed_consent",
        ),
        "labs.hemoglobin",
        lab(80.0, "g/L"),
    );
    let evaluation = screen(&request);
    assert_eq!(evaluation.outcome, Outcome::Ineligible);
    assert_eq!(status_of(&evaluation, "hemoglobin"), Fail);
    assert_eq!(status_of(&evaluation, "anc"), Missing);
    assert_eq!(status_of(&evaluation, "informed_consent"), Missing);
}

#[test]
fn incomplete_names_exactly_the_missing_inputs_in_criterion_order_once_each() {
    let request = eligible();
    let request = without(request, "attestations.investigator_finds_suitable");
    let request = without(request, "attestations.informed_consent");
    let request = without(request, "labs.platelets");
    let request = without(request, "liver_metastasis");
    let request = with(request, "labs.alt", uln_lab(150.0, 40.0)); // between 2.5× and 5×
    let request = with(request, "labs.ast", uln_lab(150.0, 40.0)); // the same input again
    let request = with(request, "labs.creatinine", creatinine(200.0));
    let request = without(request, "labs.creatinine_clearance_24h");
    let request = with(request, "labs.urine_protein_dipstick", json!("3+"));
    let request = with(request, "labs.upc_ratio", json!(2.5));
    let request = without(request, "labs.urine_protein_24h");

    let evaluation = screen(&request);
    assert_eq!(evaluation.outcome, Outcome::Incomplete);
    assert_eq!(
        evaluation.missing,
        [
            "informed_consent",
            "platelets",
            "liver_metastasis",
            "creatinine_clearance_24h",
            "urine_protein_24h",
            "investigator_finds_suitable",
        ]
    );
    let missing: Vec<_> = evaluation
        .criteria
        .iter()
        .filter(|c| c.status == Missing)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        missing,
        [
            "informed_consent",
            "platelets",
            "alt",
            "ast",
            "creatinine",
            "urine_protein",
            "investigator_judgement"
        ]
    );
}

#[test]
fn a_bare_request_is_incomplete_missing_every_input() {
    let evaluation = screen(&bare());
    assert_eq!(evaluation.outcome, Outcome::Incomplete);
    assert_eq!(status_of(&evaluation, "age"), Pass);
    assert_eq!(
        evaluation.missing,
        [
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
            "urine_protein_dipstick",
            "acute_infection_or_serious_disease",
            "neuro_psych_history",
            "investigator_finds_suitable",
        ]
    );
    for c in &evaluation.criteria {
        assert!(!c.detail.trim().is_empty(), "{} has no detail", c.id);
    }
}

#[test]
fn empty_attestations_and_labs_objects_are_the_same_as_absent() {
    let request = with(with(bare(), "attestations", json!({})), "labs", json!({}));
    assert_eq!(screen(&request), screen(&bare()));
}

#[test]
fn every_criterion_has_a_detail_whatever_its_status() {
    let failing = with(
        with(born("2010-01-01"), "labs.hemoglobin", lab(50.0, "g/L")),
        "labs.alt",
        uln_lab(500.0, 40.0),
    );
    for request in [eligible(), bare(), failing] {
        let evaluation = screen(&request);
        assert_eq!(evaluation.criteria.len(), CRITERIA.len());
        for c in &evaluation.criteria {
            assert!(!c.detail.trim().is_empty(), "{} has no detail", c.id);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Bad input: refused, naming the field — never a silent default

#[test]
fn an_unknown_unit_is_refused() {
    assert_refused(
        &with(eligible(), "labs.hemoglobin", lab(11.2, "mg/dL")),
        "labs.hemoglobin.unit",
    );
    assert_refused(
        &with(eligible(), "labs.anc", lab(2.1, "cells/uL")),
        "labs.anc.unit",
    );
    assert_refused(
        &with(eligible(), "labs.platelets", lab(180.0, "10^9/l")),
        "labs.platelets.unit",
    );
    assert_refused(
        &with(
            eligible(),
            "labs.creatinine_clearance_24h",
            lab(62.0, "mL/s"),
        ),
        "labs.creatinine_clearance_24h.unit",
    );
    assert_refused(
        &with(eligible(), "labs.urine_protein_24h", lab(1.2, "g/L")),
        "labs.urine_protein_24h.unit",
    );
    assert_refused(
        &with(
            eligible(),
            "labs.alt",
            json!({"value": 35, "uln": 40, "unit": " "}),
        ),
        "labs.alt.unit",
    );
}

#[test]
fn a_negative_value_is_refused() {
    assert_refused(
        &with(eligible(), "labs.platelets", lab(-1.0, "10^9/L")),
        "labs.platelets.value",
    );
    assert_refused(
        &with(eligible(), "labs.alt", uln_lab(-0.1, 40.0)),
        "labs.alt.value",
    );
    assert_refused(
        &with(eligible(), "labs.creatinine_clearance_24h", clearance(-5.0)),
        "labs.creatinine_clearance_24h.value",
    );
    assert_refused(
        &with(eligible(), "labs.urine_protein_24h", lab(-1.0, "mg/24h")),
        "labs.urine_protein_24h.value",
    );
    assert_refused(
        &with(eligible(), "labs.upc_ratio", json!(-0.5)),
        "labs.upc_ratio",
    );
}

#[test]
fn a_uln_of_zero_or_less_is_refused() {
    for uln in [0.0, -40.0] {
        assert_refused(
            &with(eligible(), "labs.alt", uln_lab(35.0, uln)),
            "labs.alt.uln",
        );
        assert_refused(
            &with(eligible(), "labs.creatinine", uln_lab(80.0, uln)),
            "labs.creatinine.uln",
        );
    }
}

#[test]
fn a_birth_date_after_the_screening_date_is_refused() {
    assert_refused(&born("2026-11-21"), "birth_date");
    // The screening date defaults to today: still compared.
    let request = without(born("2026-11-21"), "screening_date");
    assert_refused(&request, "birth_date");
    // Born on the screening date is a valid (if young) patient.
    assert_status(&born("2026-11-20"), "age", Fail);
}

#[test]
fn unknown_fields_are_refused_wherever_they_are() {
    assert_refused(&with(eligible(), "colour", json!("red")), "colour");
    assert_refused(
        &with(eligible(), "attestations.foo", json!(true)),
        "attestations.foo",
    );
    assert_refused(&with(eligible(), "labs.foo", json!(1)), "labs.foo");
    assert_refused(&with(eligible(), "labs.alt.bar", json!(1)), "labs.alt.bar");
    assert_refused(
        &with(eligible(), "labs.hemoglobin.uln", json!(1)),
        "labs.hemoglobin.uln",
    );
}

#[test]
fn a_malformed_date_is_refused() {
    for text in [
        "1961-3-2",
        "1961-02-30",
        "yesterday",
        "",
        "1961-02-03T00:00:00",
        " 1961-02-03",
    ] {
        assert_refused(&born(text), "birth_date");
    }
    for text in ["2026/11/20", "20-11-2026", "2026-13-01"] {
        assert_refused(
            &with(eligible(), "screening_date", json!(text)),
            "screening_date",
        );
    }
}

#[test]
fn a_wrong_type_is_refused_naming_the_field() {
    let cases = [
        ("labs.hemoglobin.value", json!("112")),
        ("labs.alt.uln", json!(null)),
        ("labs.upc_ratio", json!("1.4")),
        ("liver_metastasis", json!("no")),
        ("attestations.informed_consent", json!("yes")),
        ("birth_date", json!(19610302)),
        ("patient_ref", json!(7)),
        ("labs.urine_protein_dipstick", json!(1)),
    ];
    for (field, value) in cases {
        assert_refused(&with(eligible(), field, value), field);
    }
    // Arrays are never read positionally as objects.
    assert_refused(&with(eligible(), "labs", json!([])), "labs");
    assert_refused(
        &with(
            eligible(),
            "attestations",
            json!([true, true, false, false, true]),
        ),
        "attestations",
    );
    assert_refused(
        &with(eligible(), "labs.hemoglobin", json!([112, "g/L"])),
        "labs.hemoglobin",
    );
    assert_refused(
        &with(eligible(), "labs.alt.value", json!([35])),
        "labs.alt.value",
    );
    assert_refused(
        &with(eligible(), "attestations", json!(true)),
        "attestations",
    );
}

#[test]
fn a_lab_without_its_value_is_refused_naming_the_value() {
    assert_refused(
        &with(eligible(), "labs.hemoglobin", json!({"unit": "g/L"})),
        "labs.hemoglobin.value",
    );
    assert_refused(
        &with(eligible(), "labs.alt", json!({"value": 35, "unit": "U/L"})),
        "labs.alt.uln",
    );
}

#[test]
fn patient_ref_site_and_birth_date_are_required() {
    for field in ["patient_ref", "site", "birth_date"] {
        assert_refused(&without(eligible(), field), field);
        assert_refused(&with(eligible(), field, Value::Null), field);
    }
    assert_eq!(
        refused_fields(&json!({})),
        ["patient_ref", "site", "birth_date"]
    );
}

#[test]
fn patient_ref_and_site_must_be_sensible_text() {
    for bad in [
        "",
        " ",
        "a\u{7}b",
        &"x".repeat(65),
        "Zhang Wei / 0007",
        "SITE01\u{200B}-0007",
        "SIT\u{0415}01-0007",
        "-0007",
    ] {
        assert_refused(&with(eligible(), "patient_ref", json!(bad)), "patient_ref");
    }
    for bad in ["", "SITE 01", "SITE/01", &"S".repeat(65)] {
        assert_refused(&with(eligible(), "site", json!(bad)), "site");
    }
}

#[test]
fn patient_ref_is_canonical_one_patient_one_identity() {
    for spelling in [
        "SITE01-0007",
        "site01-0007",
        " SITE01-0007 ",
        "ＳＩＴＥ０１－０００７",
        "\u{00A0}Site01-0007",
    ] {
        let input = parse_on(&with(eligible(), "patient_ref", json!(spelling)), today()).unwrap();
        assert_eq!(input.patient_ref, "SITE01-0007", "{spelling:?}");
    }
    // The refusal says what is allowed and names the character a person cannot see.
    let err = parse_on(
        &with(eligible(), "patient_ref", json!("SITE01\u{200B}-0007")),
        today(),
    )
    .unwrap_err();
    let InputError::Invalid(errors) = err else {
        panic!("{err:?}")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "patient_ref");
    assert!(errors[0].message.contains("U+200B"), "{errors:?}");
}

#[test]
fn a_bad_patient_ref_is_listed_with_every_other_field_error() {
    let request = with(eligible(), "patient_ref", json!("SIT\u{0415}01-0007"));
    let request = with(request, "site", json!("SITE 01"));
    let request = with(request, "sex", json!("F"));
    let request = with(request, "labs.hemoglobin", lab(112.0, "mmol/L"));
    assert_eq!(
        refused_fields(&request),
        ["patient_ref", "site", "sex", "labs.hemoglobin.unit"]
    );
}

#[test]
fn a_bad_dipstick_grade_is_refused() {
    for grade in ["2", "++", "1 +", "Negative", "5+", ""] {
        assert_refused(
            &with(eligible(), "labs.urine_protein_dipstick", json!(grade)),
            "labs.urine_protein_dipstick",
        );
    }
}

#[test]
fn a_bad_sex_is_refused_and_sex_is_optional() {
    for sex in ["F", "Female", "unknown", ""] {
        assert_refused(&with(eligible(), "sex", json!(sex)), "sex");
    }
    for sex in ["female", "male", "other"] {
        assert_eq!(
            screen(&with(eligible(), "sex", json!(sex))).outcome,
            Outcome::Eligible
        );
    }
    assert_eq!(
        screen(&without(eligible(), "sex")).outcome,
        Outcome::Eligible
    );
}

#[test]
fn a_screening_date_more_than_a_day_ahead_is_refused() {
    let on = |d: NaiveDate| with(eligible(), "screening_date", json!(d.to_string()));
    // One day of slack for sites east of UTC.
    assert_eq!(
        parse_on(&on(today() + Duration::days(1)), today())
            .unwrap()
            .screening_date,
        today() + Duration::days(1)
    );
    assert_refused(&on(today() + Duration::days(2)), "screening_date");
    assert_refused(&on(date("2099-01-01")), "screening_date");
}

#[test]
fn every_problem_is_reported_together() {
    let request = with(eligible(), "sex", json!("F"));
    let request = with(request, "labs.hemoglobin", lab(112.0, "mmol/L"));
    let request = with(request, "labs.platelets", lab(-1.0, "10^9/L"));
    let request = with(request, "labs.alt", uln_lab(35.0, 0.0));
    let request = with(request, "labs.urine_protein_dipstick", json!("5+"));
    let request = with(request, "birth_date", json!("1961-3-2"));
    let request = without(request, "site");
    let mut fields = refused_fields(&request);
    fields.sort();
    assert_eq!(
        fields,
        [
            "birth_date",
            "labs.alt.uln",
            "labs.hemoglobin.unit",
            "labs.platelets.value",
            "labs.urine_protein_dipstick",
            "sex",
            "site",
        ]
    );
}

#[test]
fn the_refusal_message_names_the_field() {
    let err = parse_on(
        &with(eligible(), "labs.hemoglobin", lab(11.2, "mmol/L")),
        today(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("labs.hemoglobin.unit"), "{text}");
    assert!(text.contains("mmol/L"), "{text}");
}

#[test]
fn a_body_that_is_not_json_is_malformed() {
    for body in [
        &b""[..],
        b"not json",
        b"{",
        b"{\"patient_ref\": }",
        b"\xff\xfe",
        b"{'patient_ref': 'x'}",
    ] {
        assert_malformed(body);
    }
    // A valid request with something after it is not one JSON document.
    let mut body = eligible().to_string().into_bytes();
    body.extend_from_slice(b" {}");
    assert_malformed(&body);
}

#[test]
fn a_body_that_is_json_but_not_an_object_is_refused() {
    for body in ["[]", "[{}]", "null", "42", "\"SITE01-0007\"", "true"] {
        let result = ScreeningInput::from_json(body.as_bytes(), today(), &protocol());
        assert!(
            matches!(result, Err(InputError::Malformed(_))),
            "{body}: {result:?}"
        );
    }
}

#[test]
fn absurdly_large_values_are_refused_or_judged_not_a_panic() {
    // Beyond f64: serde_json refuses the number itself.
    let body = eligible()
        .to_string()
        .replace("\"value\":112", "\"value\":1e400");
    assert!(ScreeningInput::from_json(body.as_bytes(), today(), &protocol()).is_err());
    // Representable as f64 but not as a decimal.
    assert_refused(
        &with(eligible(), "labs.hemoglobin", lab(1e30, "g/L")),
        "labs.hemoglobin.value",
    );
    // A decimal, but not once converted from g/dL.
    assert_refused(
        &with(eligible(), "labs.hemoglobin", lab(1e28, "g/dL")),
        "labs.hemoglobin.value",
    );
    // A huge ULN: k × ULN is beyond any decimal, and any value is within it.
    let huge_uln = with(eligible(), "labs.alt", uln_lab(35.0, 7e28));
    let huge_uln = with(
        huge_uln,
        "labs.creatinine",
        json!({"value": 1e28, "uln": 7e28, "unit": "x"}),
    );
    assert_eq!(screen(&huge_uln).outcome, Outcome::Eligible);
    let huge_uln = with(huge_uln, "liver_metastasis", json!(true));
    assert_eq!(screen(&huge_uln).outcome, Outcome::Eligible);
    // Below a decimal's precision: refused or judged, never a panic.
    for tiny in [1e-30, 5e-324] {
        let request = with(eligible(), "labs.alt", uln_lab(tiny, tiny));
        let request = with(request, "labs.upc_ratio", json!(tiny));
        let request = with(request, "labs.urine_protein_24h", lab(tiny, "mg/24h"));
        if let Ok(input) = parse_on(&request, today()) {
            assert_eq!(evaluate(&protocol(), &input).criteria.len(), CRITERIA.len());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Properties

/// Every leaf and object of [`eligible`], as dotted paths ("" is the whole request).
fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    out.push(prefix.to_string());
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            paths(child, &path, out);
        }
    }
}

fn all_paths() -> Vec<String> {
    let mut out = Vec::new();
    paths(&eligible(), "", &mut out);
    out
}

/// JSON values a client might plausibly (or implausibly) send.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(1e-30),
            Just(5e-324),
            Just(7.9e28),
            Just(1e28),
            Just(1e300),
            Just(-1e300)
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just("g/L"),
            Just("g/dL"),
            Just("10^9/L"),
            Just("mg/24h"),
            Just("2+"),
            Just("1961-02-29"),
            Just("2026-11-21"),
            Just("9999-12-31"),
            Just("0000-01-01"),
            Just("female"),
            Just(""),
        ]
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}|value|uln|unit", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    Add(usize, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = all_paths().len();
    prop_oneof![
        (0..n, json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (1..n).prop_map(Mutation::Remove),
        (0..n, "[a-z_]{1,10}", json_value()).prop_map(|(i, k, v)| Mutation::Add(i, k, v)),
    ]
}

fn apply(request: Value, mutation: &Mutation) -> Value {
    let paths = all_paths();
    let child = |path: &str, key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match mutation {
        Mutation::Replace(i, v) if paths[*i].is_empty() => v.clone(),
        Mutation::Replace(i, v) => match request.pointer(&pointer(&paths[*i])) {
            Some(_) => with(request, &paths[*i], v.clone()),
            None => request,
        },
        Mutation::Remove(i) => match request.pointer(&pointer(&paths[*i])) {
            Some(_) => without(request, &paths[*i]),
            None => request,
        },
        Mutation::Add(i, key, v) => {
            let target = if paths[*i].is_empty() {
                Some(&request)
            } else {
                request.pointer(&pointer(&paths[*i]))
            };
            match target {
                Some(Value::Object(_)) => with(request, &child(&paths[*i], key), v.clone()),
                _ => request,
            }
        }
    }
}

fn check_evaluation(input: &ScreeningInput) -> Result<(), TestCaseError> {
    let protocol = protocol();
    let evaluation = evaluate(&protocol, input);
    let ids: Vec<_> = evaluation.criteria.iter().map(|c| c.id.as_str()).collect();
    let expected: Vec<_> = protocol.criteria.iter().map(|c| c.id.as_str()).collect();
    prop_assert_eq!(ids, expected);
    let any = |s| evaluation.criteria.iter().any(|c| c.status == s);
    let outcome = if any(Fail) {
        Outcome::Ineligible
    } else if any(Missing) {
        Outcome::Incomplete
    } else {
        Outcome::Eligible
    };
    prop_assert_eq!(evaluation.outcome, outcome);
    if outcome == Outcome::Incomplete {
        prop_assert!(!evaluation.missing.is_empty());
    }
    if outcome == Outcome::Eligible {
        prop_assert!(evaluation.missing.is_empty());
    }
    let mut unique = evaluation.missing.clone();
    unique.sort();
    unique.dedup();
    prop_assert_eq!(unique.len(), evaluation.missing.len());
    for c in &evaluation.criteria {
        prop_assert!(!c.detail.trim().is_empty(), "{} has no detail", c.id);
    }
    Ok(())
}

/// An optional JSON field: present with a value from `strategy`, or absent.
fn maybe<S: Strategy<Value = Value>>(strategy: S) -> impl Strategy<Value = Option<Value>> {
    prop::option::of(strategy)
}

/// Non-negative amounts with up to three decimals, 0 to 999 999.
fn amount() -> impl Strategy<Value = f64> {
    (0u32..1_000_000, 0u32..4).prop_map(|(m, s)| f64::from(m) / 10f64.powi(s as i32))
}

/// Valid screening requests: every optional input present or absent, values across and
/// beyond every threshold, in every accepted unit.
fn valid_request() -> impl Strategy<Value = Value> {
    let count = |units: &'static [&'static str]| {
        (amount(), prop::sample::select(units)).prop_map(|(v, u)| lab(v, u))
    };
    let uln = || {
        (amount(), amount().prop_filter("ULN > 0", |u| *u > 0.0))
            .prop_map(|(v, u)| json!({"value": v, "uln": u, "unit": "U/L"}))
    };
    let dipstick = prop::sample::select(&["negative", "trace", "1+", "2+", "3+", "4+"][..]);
    let labs = (
        (
            maybe(count(&["g/L", "g/dL"])),
            maybe(count(&["10^9/L", "10^3/uL"])),
            maybe(count(&["10^9/L", "10^3/uL"])),
        ),
        (
            maybe(uln()),
            maybe(uln()),
            maybe(uln()),
            maybe(uln()),
            maybe(uln()),
        ),
        (
            maybe(count(&["mL/min"])),
            maybe(dipstick.prop_map(Value::from)),
            maybe(count(&["g/24h", "mg/24h"])),
            maybe(amount().prop_map(Value::from)),
        ),
    );
    let attestations = prop::collection::vec(prop::option::of(any::<bool>()), 5);
    let birth = (0i64..40_000).prop_map(|days| today() - Duration::days(days));
    let screening = prop::option::of(-1i64..3).prop_map(|d| d.map(|d| today() - Duration::days(d)));
    (
        labs,
        attestations,
        birth,
        screening,
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(&["female", "male", "other"][..])),
    )
        .prop_map(|(labs, attestations, birth, screening, liver, sex)| {
            let ((hb, anc, plt), (alt, ast, bil, alp, cr), (crcl, dip, p24, upc)) = labs;
            let mut request =
                json!({"patient_ref": "P-1", "site": "S1", "birth_date": birth.to_string()});
            let screening_date = screening.unwrap_or(today());
            if birth > screening_date {
                request = with(request, "birth_date", json!(screening_date.to_string()));
            }
            if let Some(s) = screening {
                request = with(request, "screening_date", json!(s.to_string()));
            }
            if let Some(l) = liver {
                request = with(request, "liver_metastasis", json!(l));
            }
            if let Some(s) = sex {
                request = with(request, "sex", json!(s));
            }
            // Any value is valid here, implausible ones too once confirmed (plausibility is
            // tested on its own).
            request = with(
                request,
                "confirm_implausible",
                json!(["hemoglobin", "anc", "platelets"]),
            );
            request = with(request, "attestations", json!({}));
            for ((field, _, _), value) in ATTESTATIONS.iter().zip(attestations) {
                if let Some(v) = value {
                    request = with(request, &format!("attestations.{field}"), json!(v));
                }
            }
            request = with(request, "labs", json!({}));
            let labs = [
                ("hemoglobin", hb),
                ("anc", anc),
                ("platelets", plt),
                ("alt", alt),
                ("ast", ast),
                ("bilirubin", bil),
                ("alp", alp),
                ("creatinine", cr),
                ("creatinine_clearance_24h", crcl),
                ("urine_protein_dipstick", dip),
                ("urine_protein_24h", p24),
                ("upc_ratio", upc),
            ];
            for (name, value) in labs {
                if let Some(v) = value {
                    request = with(request, &format!("labs.{name}"), v);
                }
            }
            request
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn from_json_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = ScreeningInput::from_json(&body, today(), &protocol());
    }

    #[test]
    fn from_json_never_panics_on_arbitrary_json(value in json_value()) {
        let _ = ScreeningInput::from_json(value.to_string().as_bytes(), today(), &protocol());
    }

    #[test]
    fn mutated_requests_are_refused_or_evaluated_never_a_panic(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        let request = mutations.iter().fold(eligible(), apply);
        let body = request.to_string();
        match ScreeningInput::from_json(body.as_bytes(), today(), &protocol()) {
            Ok(input) => check_evaluation(&input)?,
            Err(InputError::Invalid(errors)) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(!e.field.is_empty(), "{:?} names no field", e);
                    prop_assert!(!e.message.is_empty());
                }
            }
            Err(InputError::Malformed(message)) => prop_assert!(!message.is_empty()),
        }
        // Truncated bodies are never a panic either.
        for cut in [1, body.len() / 2, body.len().saturating_sub(1)] {
            let _ = ScreeningInput::from_json(&body.as_bytes()[..cut.min(body.len())], today(), &protocol());
        }
    }

    #[test]
    fn a_valid_request_has_one_result_per_criterion(request in valid_request()) {
        let input = parse_on(&request, today());
        prop_assert!(input.is_ok(), "{:?}\n{:#}", input, request);
        check_evaluation(&input.unwrap())?;
    }

    #[test]
    fn uln_limits_are_exact_for_any_uln_with_few_decimals(
        lab_index in 0..4usize,
        uln_units in 1u32..100_000,
        scale in 0u32..3,
        liver in any::<bool>(),
    ) {
        use rust_decimal::Decimal;
        let (name, k, k_liver) = ULN_LABS[lab_index];
        let k: Decimal = (if liver { k_liver } else { k }).parse().unwrap();
        let uln = Decimal::new(i64::from(uln_units), scale);
        let limit = k * uln;
        let as_f64 = |d: Decimal| -> f64 { d.to_string().parse().unwrap() };
        let request = |value: Decimal| {
            let r = with(eligible(), "liver_metastasis", json!(liver));
            with(r, &format!("labs.{name}"), uln_lab(as_f64(value), as_f64(uln)))
        };
        let at = screen(&request(limit));
        prop_assert_eq!(status_of(&at, name), Pass, "{} at {} × {}", name, k, uln);
        let above = screen(&request(limit + Decimal::new(1, 6)));
        prop_assert_eq!(status_of(&above, name), Fail, "{} above {} × {}", name, k, uln);
    }
}
