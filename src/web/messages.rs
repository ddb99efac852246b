//! Messages the use cases write in English (field errors, refusals) as the viewer reads them.
//!
//! The domain and the API speak English with stable codes; the web recognises each message's
//! shape here and renders its Fluent key (`field-*`, `detail-*`) with the parts it names, so
//! no layer below the web knows of languages. A message of no known shape is shown as written.

use std::sync::LazyLock;

use regex::Regex;

use super::i18n::{t, ta, Lang};
use crate::http::error::ApiError;

/// (shape, key, argument names in capture order).
const FIELD_SHAPES: &[(&str, &str, &[&str])] = &[
    (r"^is required$", "field-required", &[]),
    (
        r"^is required: the trial is stratified by this factor$",
        "field-required-stratified",
        &[],
    ),
    (r"^must not be empty$", "field-not-empty", &[]),
    (
        r"^must not be empty \(leave it out when unknown\)$",
        "field-not-empty-or-unknown",
        &[],
    ),
    (
        r"^must not be empty \(1–(\d+) characters\)$",
        "field-not-empty-max",
        &["max"],
    ),
    (
        r"^must be at most (\d+) characters$",
        "field-too-long",
        &["max"],
    ),
    (
        r"^must be at most (\d+) characters \(found (\d+)\)$",
        "field-too-long-found",
        &["max", "found"],
    ),
    (
        r#"^"(.*)" is not a number$"#,
        "field-not-number",
        &["value"],
    ),
    (
        r#"^"(.*)" is not yes or no$"#,
        "field-not-yes-no",
        &["value"],
    ),
    (r"^is out of range$", "field-out-of-range", &[]),
    (r"^must not be negative$", "field-negative", &[]),
    (
        r"^must be at least (\d+) characters long$",
        "field-password-short",
        &["min"],
    ),
    (
        r"^must be at most (\d+) bytes long$",
        "field-password-long",
        &["max"],
    ),
    (
        r"^must not contain control characters$",
        "field-password-control",
        &[],
    ),
    (
        r"^must not contain your name or user name; choose words that are not about you$",
        "field-password-personal",
        &[],
    ),
    (
        r"^is too easy to guess: it is a common password or built from one; a few unrelated words make a strong password$",
        "field-password-common",
        &[],
    ),
    (
        r"^is too easy to guess \(a pattern, sequence or common words\); a few unrelated words make a strong password$",
        "field-password-pattern",
        &[],
    ),
    (
        r"^must be the same password typed again$",
        "field-password-repeat",
        &[],
    ),
    (r"^is not your password$", "field-password-not-yours", &[]),
    (
        r"^must differ from the current password$",
        "field-password-same",
        &[],
    ),
    (r"^must be greater than 0$", "field-not-positive", &[]),
    (
        r"^must name the unit of value and uln \(1–32 characters\)$",
        "field-unit-name",
        &[],
    ),
    (r"^(\S+) is in the future$", "field-future", &["date"]),
    (
        r"^(\S+) is before the trial started on (\S+)$",
        "field-before-start",
        &["date", "start"],
    ),
    (
        r"^(\S+) is after the screening date (\S+)$",
        "field-after-screening",
        &["date", "screening"],
    ),
    (
        r#"^"(.*)" is not a date of the form YYYY-MM-DD$"#,
        "field-not-date",
        &["value"],
    ),
    (
        r#"^"(.*)" is not an accepted unit; use (.*)$"#,
        "field-unit-unknown",
        &["value", "accepted"],
    ),
    (
        r#"^"(.*)" is not one of (.*)$"#,
        "field-not-one-of",
        &["value", "options"],
    ),
    (
        r"^(.*) is outside the plausible range \((.*)\): check the value and its unit, or confirm it as typed \(confirm_implausible\)$",
        "field-implausible",
        &["value", "range"],
    ),
    (
        r"^(.*) is not a lab name \(use the names of labs, e\.g\. hemoglobin\)$",
        "field-not-a-lab",
        &["names"],
    ),
    (
        r"^must be 1–(\d+) letters, e\.g\. WXL$",
        "field-initials",
        &["max"],
    ),
    (
        r"^must not contain invisible, control or text-direction characters \(found (.*) at position (\d+)\)$",
        "field-invisible",
        &["found", "position"],
    ),
    (
        r"^must be (.*) \(found (.*) at position (\d+)\)$",
        "field-character",
        &["allowed", "found", "position"],
    ),
    // Last: any other rule a value must follow, the rule as written.
    (r"^must be (.*)$", "field-must-be", &["allowed"]),
];

/// Details of refusals a person meets on the pages.
const DETAIL_SHAPES: &[(&str, &str, &[&str])] = &[
    (r"^there is no page at this address$", "detail-no-page", &[]),
    (
        r"^role (\S+) may not do this \(needs (.*)\)$",
        "detail-role-may-not",
        &["role", "needs"],
    ),
];

type Shapes = Vec<(Regex, &'static str, &'static [&'static str])>;

fn compile(shapes: &'static [(&'static str, &'static str, &'static [&'static str])]) -> Shapes {
    shapes
        .iter()
        .filter_map(|(re, key, names)| Regex::new(re).ok().map(|r| (r, *key, *names)))
        .collect()
}

static FIELDS: LazyLock<Shapes> = LazyLock::new(|| compile(FIELD_SHAPES));
static DETAILS: LazyLock<Shapes> = LazyLock::new(|| compile(DETAIL_SHAPES));

fn render(lang: Lang, shapes: &Shapes, message: &str) -> String {
    if lang == Lang::En {
        return message.to_string();
    }
    for (re, key, names) in shapes {
        if let Some(caps) = re.captures(message) {
            let args: Vec<(&'static str, _)> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let v = caps.get(i + 1).map_or("", |m| m.as_str()).to_string();
                    (*n, v.into())
                })
                .collect();
            return ta(lang, key, &args);
        }
    }
    message.to_string()
}

/// A field error's message as a person reads it (a serde "missing field" reads as required).
pub fn field(lang: Lang, message: &str) -> String {
    let message = if message.starts_with("missing field `") {
        "is required"
    } else {
        message
    };
    render(lang, &FIELDS, message)
}

/// A refusal's detail in `lang`, where its shape is known.
pub fn detail(lang: Lang, message: &str) -> String {
    render(lang, &DETAILS, message)
}

/// A use-case error's title.
pub fn error_title(lang: Lang, error: &ApiError) -> String {
    let key = match error {
        ApiError::Malformed(_) => "title-malformed",
        ApiError::Unauthorized => "title-unauthorized",
        ApiError::Forbidden(_) => "error-forbidden",
        ApiError::NotFound(_) => "error-not-found",
        ApiError::MethodNotAllowed => "title-method-not-allowed",
        ApiError::Validation(_) => "title-validation",
        ApiError::AlreadyWithdrawn(_) => "title-already-withdrawn",
        ApiError::NotEligible(_) => "title-not-eligible",
        ApiError::AlreadyRandomized { .. } => "title-already-randomized",
        ApiError::StaleScreening(_) => "title-stale-screening",
        ApiError::ScreeningExpired(_) => "title-screening-expired",
        ApiError::EnrollmentClosed { .. } => "title-enrollment-closed",
        ApiError::TrialClosed(_) => "title-trial-closed",
        ApiError::IdempotencyConflict => "title-idempotency-conflict",
        ApiError::CorrectionPending(_) => "title-correction-pending",
        ApiError::NotPending(_) => "title-not-pending",
        ApiError::SiteExists(_) => "title-site-exists",
        ApiError::PayloadTooLarge { .. } => "title-payload-too-large",
        ApiError::UnsupportedMediaType(_) => "title-unsupported-media-type",
        ApiError::SeedUnavailable(_) => "title-seed-unavailable",
        ApiError::Unavailable => "title-unavailable",
        ApiError::TooManyRequests { .. } => "title-too-many-requests",
        ApiError::Internal(_) => "title-internal",
    };
    // English keeps the API's own titles, word for word.
    match lang {
        Lang::En => error.title().to_string(),
        _ => t(lang, key),
    }
}

/// The evaluation's phrases in a criterion's detail (values, units and relations stay), longest
/// first so that a phrase is replaced before any phrase inside it.
const DETAIL_PHRASES: &[(&str, &str)] = &[
    (
        "24-h creatinine clearance required, not given",
        "phrase-clearance-required",
    ),
    (
        "depends on liver metastasis, not given",
        "phrase-depends-on-liver",
    ),
    (
        "passes with or without liver metastasis",
        "phrase-passes-either-way",
    ),
    (
        "fails with or without liver metastasis",
        "phrase-fails-either-way",
    ),
    (
        "urine protein dipstick not given",
        "phrase-dipstick-not-given",
    ),
    ("serum creatinine not given", "phrase-creatinine-not-given"),
    ("with liver metastasis", "phrase-with-liver"),
    ("no liver metastasis", "phrase-no-liver"),
    ("a 24-h protein", "phrase-a-protein-24h"),
    ("24-h protein", "phrase-protein-24h"),
    ("24-h CrCl", "phrase-crcl"),
    ("Total bilirubin", "phrase-bilirubin"),
    ("a UPC", "phrase-a-upc"),
    (" not given", "phrase-not-given"),
    (" is above ", "phrase-is-above"),
    (" but within ", "phrase-but-within"),
    ("needs ", "phrase-needs"),
    ("dipstick ", "phrase-dipstick"),
    (" or ", "phrase-or"),
];

static AGE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(\d+) completed years on (\S+) \(allowed (\d+)–(\d+)\)$").ok());

/// A criterion's detail (written by the evaluation in English) in `lang`.
pub fn criterion_detail(lang: Lang, detail: &str) -> String {
    if lang == Lang::En {
        return detail.to_string();
    }
    if let Some(caps) = AGE.as_ref().and_then(|re| re.captures(detail)) {
        let part = |i: usize| caps.get(i).map_or("", |m| m.as_str()).to_string();
        return ta(
            lang,
            "phrase-age",
            &[
                ("age", part(1).into()),
                ("date", part(2).into()),
                ("min", part(3).into()),
                ("max", part(4).into()),
            ],
        );
    }
    let mut out = detail.to_string();
    for (phrase, key) in DETAIL_PHRASES {
        if out.contains(phrase) {
            out = out.replace(phrase, &t(lang, key));
        }
    }
    out
}

/// Every key this module may render (for the key parity test).
#[cfg(test)]
pub fn keys() -> Vec<&'static str> {
    FIELD_SHAPES
        .iter()
        .chain(DETAIL_SHAPES)
        .map(|(_, k, _)| *k)
        .chain(DETAIL_PHRASES.iter().map(|(_, k)| *k))
        .chain(["phrase-age"])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_compiles() {
        assert_eq!(FIELDS.len(), FIELD_SHAPES.len());
        assert_eq!(DETAILS.len(), DETAIL_SHAPES.len());
    }

    #[test]
    fn english_stays_as_written_and_chinese_names_the_parts() {
        let m = "\"abc\" is not a number";
        assert_eq!(field(Lang::En, m), m);
        assert_eq!(field(Lang::ZhCn, m), "“abc”不是数字");
        assert_eq!(field(Lang::ZhCn, "missing field `site`"), "必填");
        assert_eq!(
            field(Lang::ZhCn, "2031-01-01 is in the future"),
            "2031-01-01 是将来的日期"
        );
        assert_eq!(field(Lang::ZhCn, "something new"), "something new");
    }

    /// Every refusal the screening form can meet, from the use case's own validation and the
    /// form's parse, has a Chinese rendering: none is shown in English.
    #[test]
    fn every_screening_form_message_reads_in_chinese() {
        use crate::eligibility::RawScreening;
        use crate::protocol::Protocol;
        let protocol = Protocol::default_trial().unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let bodies = [
            serde_json::json!({}),
            serde_json::json!({
                "patient_ref": "", "site": "", "birth_date": "1961-13-02", "sex": "x",
                "screening_date": "2031-01-01", "initials": "12345",
                "confirm_implausible": ["spleen"],
                "labs": {
                    "hemoglobin": { "value": -1, "unit": "mg" },
                    "alt": { "value": 30, "uln": 0, "unit": "" },
                    "urine_protein_dipstick": "9+"
                }
            }),
            serde_json::json!({
                "patient_ref": "P\u{202e}1", "site": "SITE01", "birth_date": "2027-01-01",
                "screening_date": "2025-01-01", "initials": "",
                "labs": { "hemoglobin": { "value": 11.2, "unit": "g/L" } }
            }),
            serde_json::json!({ "patient_ref": "-P1", "site": "S", "birth_date": "1961-03-02" }),
            serde_json::json!({ "patient_ref": "p 1", "site": "S", "birth_date": "1961-03-02" }),
        ];
        let mut seen = 0;
        for body in bodies {
            let raw = RawScreening::from_json(body.to_string().as_bytes()).unwrap();
            let Err(errors) = raw.validate(today, &protocol) else {
                panic!("{body} should be refused");
            };
            for e in errors {
                seen += 1;
                let zh = field(Lang::ZhCn, &e.message);
                assert_ne!(zh, e.message, "{}: {} has no Chinese", e.field, e.message);
                assert!(!zh.contains("Unknown localization"), "{zh}");
            }
        }
        assert!(seen >= 15, "{seen} refusals");
        for web in [
            "\"1,5x\" is not a number",
            "\"maybe\" is not yes or no",
            "is required",
        ] {
            assert_ne!(field(Lang::ZhCn, web), web);
        }
    }

    #[test]
    fn criterion_details_keep_their_values() {
        let d = "61 completed years on 2026-11-20 (allowed 18–75)";
        assert_eq!(criterion_detail(Lang::En, d), d);
        assert_eq!(
            criterion_detail(Lang::ZhCn, d),
            "2026-11-20 时满 61 周岁（允许 18–75）"
        );
        assert_eq!(
            criterion_detail(
                Lang::ZhCn,
                "ALT 30 U/L ≤ 100 U/L (2.5×ULN 40 U/L, no liver metastasis)"
            ),
            "ALT 30 U/L ≤ 100 U/L (2.5×ULN 40 U/L, 无肝转移)"
        );
        assert_eq!(criterion_detail(Lang::ZhCn, "Hb not given"), "Hb 未提供");
    }
}
