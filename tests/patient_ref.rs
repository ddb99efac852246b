//! One patient, one identity: every spelling a person reads as the same patient reference is
//! either that reference or refused, never a new patient; and the protocol's
//! `patient_ref_pattern` key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::json;
use trialgate::eligibility::{
    InputError, PatientRef, PatientRefError, PatientRefPattern, ScreeningInput,
    DEFAULT_PATIENT_REF_PATTERN,
};
use trialgate::protocol::{Protocol, DEFAULT_PROTOCOL_TOML};

fn pattern() -> PatientRefPattern {
    PatientRefPattern::default_pattern().unwrap()
}

fn parse(raw: &str) -> Result<PatientRef, PatientRefError> {
    PatientRef::parse(raw, &pattern())
}

const REF: &str = "SITE01-0005";

// ---------------------------------------------------------------------------------------
// (a) The spellings of SITE01-0005

/// Spellings that are the same patient: they canonicalise to exactly SITE01-0005.
const SAME_PATIENT: &[(&str, &str)] = &[
    ("as typed", "SITE01-0005"),
    ("lower case", "site01-0005"),
    ("mixed case", "Site01-0005"),
    ("dotless i upper-cases to I", "S\u{0131}TE01-0005"),
    ("long s upper-cases to S", "\u{017F}ITE01-0005"),
    ("fullwidth letters and digits", "ＳＩＴＥ０１-0005"),
    ("fullwidth everything", "ＳＩＴＥ０１－０００５"),
    ("fullwidth lower case", "ｓｉｔｅ０１－０００５"),
    ("fullwidth hyphen-minus U+FF0D", "SITE01\u{FF0D}0005"),
    ("small hyphen-minus U+FE63", "SITE01\u{FE63}0005"),
    (
        "mathematical bold digits",
        "SITE01-\u{1D7CE}\u{1D7CE}\u{1D7CE}\u{1D7D3}",
    ),
    ("leading and trailing spaces", "  SITE01-0005  "),
    ("leading and trailing tabs", "\tSITE01-0005\t"),
    ("trailing newline", "SITE01-0005\n"),
    ("no-break spaces around", "\u{00A0}SITE01-0005\u{00A0}"),
    ("ideographic space around", "\u{3000}SITE01-0005\u{3000}"),
    (
        "narrow no-break space around",
        "\u{202F}SITE01-0005\u{2009}",
    ),
];

/// Spellings a person reads as SITE01-0005 that are refused, with what the refusal names.
const REFUSED: &[(&str, &str, &str)] = &[
    ("Cyrillic capital Е", "SIT\u{0415}01-0005", "U+0415"),
    ("Cyrillic small е", "SIT\u{0435}01-0005", "U+0435"),
    ("Cyrillic С and Т", "\u{0405}I\u{0422}E01-0005", "U+0405"),
    ("Greek capital Epsilon", "SIT\u{0395}01-0005", "U+0395"),
    (
        "zero-width space",
        "SITE01\u{200B}-0005",
        "zero-width space (U+200B)",
    ),
    ("zero-width non-joiner", "SITE01-\u{200C}0005", "U+200C"),
    ("zero-width joiner", "SITE\u{200D}01-0005", "U+200D"),
    ("word joiner", "SITE01-00\u{2060}05", "U+2060"),
    (
        "byte order mark first",
        "\u{FEFF}SITE01-0005",
        "byte order mark",
    ),
    ("byte order mark last", "SITE01-0005\u{FEFF}", "U+FEFF"),
    ("left-to-right mark", "\u{200E}SITE01-0005", "U+200E"),
    ("right-to-left mark", "SITE01-0005\u{200F}", "U+200F"),
    ("LRE", "\u{202A}SITE01-0005", "U+202A"),
    ("RLE", "\u{202B}SITE01-0005", "U+202B"),
    ("PDF", "SITE01-0005\u{202C}", "U+202C"),
    ("LRO", "\u{202D}SITE01-0005\u{202C}", "U+202D"),
    ("RLO", "\u{202E}5000-10ETIS\u{202C}", "U+202E"),
    ("LRI", "\u{2066}SITE01-0005\u{2069}", "U+2066"),
    ("RLI", "\u{2067}SITE01-0005\u{2069}", "U+2067"),
    ("FSI", "\u{2068}SITE01-0005\u{2069}", "U+2068"),
    ("PDI", "SITE01-0005\u{2069}", "U+2069"),
    ("soft hyphen", "SITE01\u{00AD}-0005", "soft hyphen (U+00AD)"),
    ("soft hyphen as the hyphen", "SITE01\u{00AD}0005", "U+00AD"),
    ("NFD accent on E", "SITE\u{0301}01-0005", "U+0301"),
    ("precomposed É", "SIT\u{00C9}01-0005", "U+00C9"),
    (
        "non-breaking hyphen U+2011",
        "SITE01\u{2011}0005",
        "non-breaking hyphen (U+2011, not the keyboard '-')",
    ),
    ("hyphen U+2010", "SITE01\u{2010}0005", "U+2010"),
    (
        "figure dash U+2012",
        "SITE01\u{2012}0005",
        "figure dash (U+2012",
    ),
    ("en dash U+2013", "SITE01\u{2013}0005", "en dash (U+2013"),
    ("em dash U+2014", "SITE01\u{2014}0005", "U+2014"),
    (
        "minus sign U+2212",
        "SITE01\u{2212}0005",
        "minus sign (U+2212",
    ),
    ("space inside", "SITE01 -0005", "a space (U+0020)"),
    ("no-break space inside", "SITE01\u{00A0}-0005", "U+00A0"),
    ("tab inside", "SITE01\t-0005", "U+0009"),
    (
        "control character",
        "SITE01-0005\u{7}",
        "control character (U+0007)",
    ),
    ("DEL", "SITE01-0005\u{7F}", "U+007F"),
    ("C1 control", "SITE01-\u{85}0005", "U+0085"),
    ("tag characters", "SITE01-0005\u{E0041}", "U+E0041"),
    ("variation selector", "SITE01-0\u{FE0F}005", "U+FE0F"),
];

#[test]
fn spellings_of_the_same_patient_canonicalise_to_it() {
    for (what, raw) in SAME_PATIENT {
        match parse(raw) {
            Ok(r) => assert_eq!(r, REF, "{what}: {raw:?}"),
            Err(e) => panic!("{what}: {raw:?} refused: {e}"),
        }
    }
}

#[test]
fn lookalike_spellings_are_refused_naming_the_character() {
    for (what, raw, needle) in REFUSED {
        match parse(raw) {
            Ok(r) => panic!("{what}: {raw:?} accepted as {r:?}"),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(needle),
                    "{what}: {message:?} lacks {needle:?}"
                );
                assert!(message.starts_with("must "), "{what}: {message:?}");
            }
        }
    }
}

#[test]
fn the_refusal_says_what_is_allowed_and_where() {
    assert_eq!(
        parse("SITE01\u{200B}-0005").unwrap_err().to_string(),
        "must not contain invisible, control or text-direction characters \
         (found a zero-width space (U+200B) at position 7)"
    );
    assert_eq!(
        parse("SITE01\u{2013}0005").unwrap_err().to_string(),
        "must be capital letters A–Z, digits and . _ / - \
         (found an en dash (U+2013, not the keyboard '-') at position 7)"
    );
    // Positions count the text as sent, surrounding spaces included.
    assert!(parse("  SIT\u{0415}")
        .unwrap_err()
        .to_string()
        .contains("at position 6"));
}

#[test]
fn every_variant_of_the_request_is_the_patient_or_a_patient_ref_error() {
    let protocol = Protocol::default_trial().unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let body = |patient_ref: &str| {
        json!({"patient_ref": patient_ref, "site": "SITE01", "birth_date": "1961-03-02"})
            .to_string()
    };
    for (what, raw) in SAME_PATIENT {
        let input = ScreeningInput::from_json(body(raw).as_bytes(), today, &protocol).unwrap();
        assert_eq!(input.patient_ref, REF, "{what}");
    }
    for (what, raw, _) in REFUSED {
        match ScreeningInput::from_json(body(raw).as_bytes(), today, &protocol) {
            Err(InputError::Invalid(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["patient_ref"], "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The protocol key

fn protocol_with(line: &str) -> Result<Protocol, String> {
    let text = DEFAULT_PROTOCOL_TOML.replacen("cap = 90", &format!("cap = 90\n{line}"), 1);
    Protocol::from_toml(&text, "test").map_err(|e| e.to_string())
}

#[test]
fn a_protocol_without_the_key_uses_the_default_and_keeps_its_digest() {
    let p = Protocol::default_trial().unwrap();
    assert!(p.canonical_json().contains("plausible_max"));
    assert_eq!(
        p.patient_ref_pattern().as_str(),
        DEFAULT_PATIENT_REF_PATTERN
    );
    assert!(!p.canonical_json().contains("patient_ref_pattern"));
    assert_eq!(p.digest(), BUILT_IN_DIGEST);
    // Keys a file leaves unset stay out of the digest: the built-in protocol as it was before
    // `start_date`, the plausible ranges and the Chinese texts keeps the digest trials initialised with it
    // recorded.
    let before: String = trialgate::protocol::DEFAULT_PROTOCOL_TOML
        .replacen("start_date = \"2025-06-01\"\n", "", 1)
        .lines()
        .filter(|l| !l.starts_with("plausible_") && !l.contains("_zh = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let before = Protocol::from_toml(&before, "test").unwrap();
    assert!(!before.canonical_json().contains("start_date"));
    assert!(!before.canonical_json().contains("screening_valid_days"));
    assert!(!before.canonical_json().contains("plausible"));
    assert_eq!(before.digest(), FIRST_BUILT_IN_DIGEST);
}

/// SHA-256 of the built-in protocol's canonical JSON.
const BUILT_IN_DIGEST: &str = "6801ceab6d7c0d492a8a30c10fe39eba99bd71b53e37da867519b161dfee0431";
/// The digest of the first built-in protocol (no `start_date`), unchanged by the keys added since.
const FIRST_BUILT_IN_DIGEST: &str =
    "add6360207cded5e7f939164304c586047b6e415d86f367133018126c7fee425";

#[test]
fn an_explicit_pattern_is_in_the_canonical_json_and_the_digest() {
    let default = Protocol::default_trial().unwrap();
    let explicit = protocol_with(&format!(
        "patient_ref_pattern = '{DEFAULT_PATIENT_REF_PATTERN}'"
    ))
    .unwrap();
    assert_eq!(
        explicit.patient_ref_pattern(),
        default.patient_ref_pattern()
    );
    assert!(explicit
        .canonical_json()
        .contains("\"patient_ref_pattern\":\"^[A-Z0-9][A-Z0-9._/-]{0,63}$\""));
    assert_ne!(explicit.digest(), default.digest());
    let custom = protocol_with(r"patient_ref_pattern = '^S[0-9]{2}-P[0-9]{4}$'").unwrap();
    assert_ne!(custom.digest(), explicit.digest());
    // The stored form reloads to the same protocol, pattern included.
    let back = Protocol::from_canonical_json(&custom.canonical_json(), "db").unwrap();
    assert_eq!(back, custom);
    assert_eq!(
        back.patient_ref_pattern().as_str(),
        r"^S[0-9]{2}-P[0-9]{4}$"
    );
    assert_eq!(back.digest(), custom.digest());
}

#[test]
fn a_custom_pattern_decides_the_screening() {
    let p = protocol_with(r"patient_ref_pattern = '^S[0-9]{2}-P[0-9]{4}$'").unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let screen = |r: &str| {
        let body = json!({"patient_ref": r, "site": "SITE01", "birth_date": "1961-03-02"});
        ScreeningInput::from_json(body.to_string().as_bytes(), today, &p)
    };
    assert_eq!(screen("s01-p0042").unwrap().patient_ref, "S01-P0042");
    match screen("SITE01-0005") {
        Err(InputError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "patient_ref");
            assert!(
                errors[0].message.contains("^S[0-9]{2}-P[0-9]{4}$"),
                "{errors:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_pattern_is_refused_at_load_naming_the_key() {
    for (line, needle) in [
        ("patient_ref_pattern = '[A-Z]+'", "anchored"),
        ("patient_ref_pattern = '^[A-Z]+'", "anchored"),
        (
            "patient_ref_pattern = '^[A-Z+$'",
            "not a valid regular expression",
        ),
        ("patient_ref_pattern = '^(?:\\w{500}){20}$'", "too complex"),
        ("patient_ref_pattern = 7", "invalid type"),
    ] {
        let err = protocol_with(line).unwrap_err();
        assert!(err.contains("patient_ref_pattern"), "{line}: {err}");
        assert!(err.contains(needle), "{line}: {err}");
    }
    let long = format!("patient_ref_pattern = '^{}$'", "A".repeat(300));
    let err = protocol_with(&long).unwrap_err();
    assert!(
        err.contains("patient_ref_pattern") && err.contains("at most 256"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// (b), (c) Generated

/// A canonical reference under the default pattern.
fn canonical_ref() -> impl Strategy<Value = String> {
    "[A-Z0-9][A-Z0-9._/-]{0,30}"
}

/// Characters that show nothing or reorder text.
const INVISIBLE: &[char] = &[
    '\u{00AD}',
    '\u{034F}',
    '\u{061C}',
    '\u{180E}',
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{200E}',
    '\u{200F}',
    '\u{202A}',
    '\u{202B}',
    '\u{202C}',
    '\u{202D}',
    '\u{202E}',
    '\u{2060}',
    '\u{2061}',
    '\u{2062}',
    '\u{2063}',
    '\u{2064}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{FE0F}',
    '\u{FEFF}',
    '\u{E0001}',
    '\u{E0041}',
    '\u{1D173}',
];

/// Whitespace a person does not see at either end.
const SURROUNDING: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{00A0}', '\u{2000}', '\u{2003}', '\u{2009}', '\u{202F}', '\u{205F}',
    '\u{3000}', '\u{1680}',
];

/// Non-ASCII characters that look like an ASCII letter or digit of the reference (Cyrillic,
/// Greek, Armenian, letterlike and mathematical symbols, circled and fullwidth forms,
/// superscripts, Roman numerals), or like one of its punctuation marks.
fn homoglyphs(c: char) -> &'static [char] {
    match c {
        'A' => &[
            '\u{0410}',
            '\u{0391}',
            '\u{1D400}',
            '\u{24B6}',
            '\u{FF21}',
            '\u{0430}',
        ],
        'B' => &['\u{0412}', '\u{0392}', '\u{212C}', '\u{FF22}'],
        'C' => &['\u{0421}', '\u{03F9}', '\u{216D}', '\u{2102}', '\u{0441}'],
        'D' => &['\u{216E}', '\u{13A0}', '\u{FF24}'],
        'E' => &['\u{0415}', '\u{0395}', '\u{2130}', '\u{0435}', '\u{FF25}'],
        'H' => &['\u{041D}', '\u{0397}', '\u{210B}', '\u{04BB}'],
        'I' => &[
            '\u{0406}', '\u{0399}', '\u{2160}', '\u{0131}', '\u{04C0}', '\u{FF29}',
        ],
        'J' => &['\u{0408}', '\u{037F}'],
        'K' => &['\u{041A}', '\u{039A}', '\u{212A}'],
        'M' => &['\u{041C}', '\u{039C}', '\u{216F}'],
        'N' => &['\u{039D}', '\u{2115}'],
        'O' => &['\u{041E}', '\u{039F}', '\u{0555}', '\u{2134}', '\u{043E}'],
        'P' => &['\u{0420}', '\u{03A1}', '\u{2119}', '\u{0440}'],
        'S' => &['\u{0405}', '\u{017F}', '\u{0455}', '\u{FF33}'],
        'T' => &['\u{0422}', '\u{03A4}', '\u{22A4}'],
        'X' => &['\u{0425}', '\u{03A7}', '\u{2169}', '\u{0445}'],
        'Y' => &['\u{04AE}', '\u{03A5}', '\u{0423}'],
        'Z' => &['\u{0396}', '\u{2124}'],
        '0' => &[
            '\u{041E}',
            '\u{039F}',
            '\u{FF10}',
            '\u{1D7CE}',
            '\u{2070}',
            '\u{24EA}',
        ],
        '1' => &['\u{FF11}', '\u{00B9}', '\u{2460}', '\u{1D7CF}', '\u{0661}'],
        '2' => &['\u{FF12}', '\u{00B2}', '\u{2461}', '\u{01A7}'],
        '3' => &['\u{FF13}', '\u{00B3}', '\u{0417}', '\u{04E0}'],
        '5' => &['\u{FF15}', '\u{2075}', '\u{01BC}'],
        '-' => &[
            '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2212}', '\u{FE63}',
            '\u{FF0D}', '\u{00AD}', '\u{02D7}', '\u{2043}',
        ],
        '.' => &['\u{FF0E}', '\u{2024}', '\u{00B7}', '\u{0701}'],
        '/' => &['\u{FF0F}', '\u{2215}', '\u{2044}', '\u{29F8}'],
        '_' => &['\u{FF3F}', '\u{FE4F}', '\u{2017}'],
        _ => &[],
    }
}

/// One change a person would not see, or would read as the same reference.
#[derive(Debug, Clone)]
enum Confusion {
    InsertInvisible { at: usize, which: usize },
    Homoglyph { at: usize, which: usize },
    LowerCase { at: usize },
    Fullwidth { at: usize },
    Surround { before: usize, after: usize },
    CombiningAccent { at: usize, mark: char },
}

fn confusion() -> impl Strategy<Value = Confusion> {
    let at = 0usize..64;
    prop_oneof![
        (at.clone(), 0..INVISIBLE.len())
            .prop_map(|(at, which)| Confusion::InsertInvisible { at, which }),
        (at.clone(), 0usize..16).prop_map(|(at, which)| Confusion::Homoglyph { at, which }),
        at.clone().prop_map(|at| Confusion::LowerCase { at }),
        at.clone().prop_map(|at| Confusion::Fullwidth { at }),
        (0..SURROUNDING.len(), 0..SURROUNDING.len())
            .prop_map(|(before, after)| Confusion::Surround { before, after }),
        (
            at,
            prop::sample::select(vec![
                '\u{0300}', '\u{0301}', '\u{0308}', '\u{0327}', '\u{20DD}'
            ])
        )
            .prop_map(|(at, mark)| Confusion::CombiningAccent { at, mark }),
    ]
}

fn apply(text: &str, confusion: &Confusion) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % len };
    match *confusion {
        Confusion::InsertInvisible { at, which } => {
            chars.insert(pos(at, chars.len() + 1), INVISIBLE[which]);
        }
        Confusion::Homoglyph { at, which } => {
            let i = pos(at, chars.len());
            if let Some(&c) = chars.get(i) {
                let options = homoglyphs(c);
                if !options.is_empty() {
                    chars[i] = options[which % options.len()];
                }
            }
        }
        Confusion::LowerCase { at } => {
            let i = pos(at, chars.len());
            if let Some(c) = chars.get_mut(i) {
                *c = c.to_ascii_lowercase();
            }
        }
        Confusion::Fullwidth { at } => {
            let i = pos(at, chars.len());
            if let Some(c) = chars.get_mut(i) {
                if ('!'..='~').contains(c) {
                    *c = char::from_u32(u32::from(*c) + 0xFEE0).unwrap_or(*c);
                }
            }
        }
        Confusion::Surround { before, after } => {
            chars.insert(0, SURROUNDING[before]);
            chars.push(SURROUNDING[after]);
        }
        Confusion::CombiningAccent { at, mark } => {
            chars.insert(pos(at, chars.len()) + 1, mark);
        }
    }
    chars.into_iter().collect()
}

/// Arbitrary text rich in the characters that matter here.
fn tricky_text() -> impl Strategy<Value = String> {
    let interesting: Vec<char> = INVISIBLE
        .iter()
        .chain(SURROUNDING)
        .copied()
        .chain([
            'ß', 'ﬁ', 'ǆ', 'ΐ', 'ŉ', 'ͅ', '¨', 'ﷺ', 'İ', 'ı', 'ſ', '\u{0301}', '\u{0345}',
        ])
        .chain("AEIOSZaeiosz0159-._/".chars())
        .collect();
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(interesting),
            1 => any::<char>(),
        ],
        0..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn canonicalisation_is_idempotent(text in any::<String>()) {
        let once = PatientRef::canonicalize(&text);
        prop_assert_eq!(PatientRef::canonicalize(&once), once);
    }

    #[test]
    fn canonicalisation_is_idempotent_on_tricky_text(text in tricky_text()) {
        let once = PatientRef::canonicalize(&text);
        prop_assert_eq!(PatientRef::canonicalize(&once), once);
    }

    /// (b) A change a person would not notice is the same patient or a refusal.
    #[test]
    fn a_confusable_spelling_is_the_same_patient_or_refused(
        reference in canonical_ref(),
        confusions in prop::collection::vec(confusion(), 1..5),
    ) {
        let canonical = parse(&reference).unwrap();
        prop_assert_eq!(canonical.as_str(), reference.as_str());
        let spelled = confusions.iter().fold(reference.clone(), |text, c| apply(&text, c));
        if let Ok(accepted) = parse(&spelled) {
            prop_assert_eq!(
                accepted.as_str(), reference.as_str(),
                "{:?} became another patient {:?}", spelled, accepted
            );
        }
    }

    /// (c) What is accepted is canonical, matches the pattern, is ASCII, and parses to itself.
    #[test]
    fn an_accepted_ref_is_canonical_ascii_and_matches_the_pattern(text in tricky_text()) {
        if let Ok(accepted) = parse(&text) {
            prop_assert!(accepted.is_ascii(), "{:?}", accepted);
            prop_assert!(pattern().is_match(&accepted));
            prop_assert_eq!(PatientRef::canonicalize(&accepted), accepted.as_str());
            prop_assert_eq!(parse(&accepted).unwrap(), accepted.clone());
            prop_assert_eq!(parse(&text.to_lowercase()).ok(), Some(accepted));
        }
    }

    #[test]
    fn an_accepted_ref_from_any_text_is_canonical_ascii_and_matches(text in any::<String>()) {
        if let Ok(accepted) = parse(&text) {
            prop_assert!(accepted.is_ascii(), "{:?}", accepted);
            prop_assert!(pattern().is_match(&accepted));
            prop_assert_eq!(parse(&accepted).unwrap(), accepted);
        }
    }

    /// Two spellings are one patient exactly when their canonical forms are equal.
    #[test]
    fn two_accepted_spellings_are_one_patient_iff_canonically_equal(
        a in tricky_text(), b in tricky_text(),
    ) {
        if let (Ok(ra), Ok(rb)) = (parse(&a), parse(&b)) {
            prop_assert_eq!(
                ra == rb,
                PatientRef::canonicalize(&a) == PatientRef::canonicalize(&b)
            );
        }
    }

    #[test]
    fn parsing_never_panics_and_every_refusal_is_a_message(text in any::<String>()) {
        if let Err(e) = parse(&text) {
            prop_assert!(e.to_string().starts_with("must "));
        }
    }
}
