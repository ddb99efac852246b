//! One patient, one identity: the patient reference in its canonical form.
//!
//! A site coordinator types a reference as a person reads it; the same patient must never
//! become two because one entry was in lower case, in fullwidth digits from an East Asian
//! input method, or carried an invisible character pasted from a document. So a reference is
//! canonicalised before it is stored or compared:
//!
//! 1. Unicode NFKC (fullwidth `ＳＩＴＥ０１` → `SITE01`, `E` + combining acute → `É`,
//!    no-break space → space);
//! 2. upper-cased (full Unicode case mapping), then NFKC again, since upper-casing can leave
//!    text that is not in NFKC;
//! 3. surrounding whitespace removed.
//!
//! The result must then be 1–64 characters with no control or invisible character (see
//! [`crate::text::is_invisible`]), and match the protocol's `patient_ref_pattern` (by
//! default [`DEFAULT_PATIENT_REF_PATTERN`]: capital letters A–Z, digits and `. _ / -`). What
//! does not is refused, never taken as a new patient: a Cyrillic `Е`, a zero-width space, a
//! soft hyphen or a non-breaking hyphen (NFKC maps U+2011 to U+2010, not to `-`).

use std::fmt;

use regex::{Regex, RegexBuilder};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// Longest accepted `patient_ref` (canonical form) and `site`.
pub const MAX_REF_LEN: usize = 64;
use crate::text::{describe_char, is_invisible};

/// The pattern of a protocol that does not set `patient_ref_pattern`.
pub const DEFAULT_PATIENT_REF_PATTERN: &str = "^[A-Z0-9][A-Z0-9._/-]{0,63}$";

/// Longest `patient_ref_pattern` accepted in a protocol file, in bytes.
pub const MAX_PATTERN_LEN: usize = 256;

/// Bound on the compiled pattern (bytes of the regex program), so a protocol file cannot
/// make every screening slow.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;
const PATTERN_NEST_LIMIT: u32 = 16;

/// The characters of the default pattern, as a site coordinator reads them.
const DEFAULT_ALLOWED: &str = "capital letters A–Z, digits and . _ / -";

/// The pattern a canonical patient reference must match: a checked regular expression,
/// anchored at both ends. Two patterns are equal when their text is.
#[derive(Debug, Clone)]
pub struct PatientRefPattern {
    source: String,
    /// `source` compiled to match the whole reference (`\A(?:…)\z`), whatever its flags.
    regex: Regex,
}

impl PatientRefPattern {
    /// Checks and compiles a pattern: at most [`MAX_PATTERN_LEN`] bytes, written `^…$`, a
    /// valid regular expression of bounded size. The error says what is wrong.
    pub fn new(source: &str) -> Result<Self, String> {
        if source.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "must be at most {MAX_PATTERN_LEN} bytes (found {})",
                source.len()
            ));
        }
        let body = source
            .strip_prefix('^')
            .and_then(|rest| rest.strip_suffix('$'));
        let escaped_dollar =
            body.is_some_and(|b| b.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1);
        if body.is_none() || escaped_dollar {
            return Err(
                "must be anchored: start with ^ and end with $, so that it describes the whole reference"
                    .into(),
            );
        }
        let regex = RegexBuilder::new(&format!(r"\A(?:{source})\z"))
            .size_limit(PATTERN_SIZE_LIMIT)
            .dfa_size_limit(PATTERN_SIZE_LIMIT)
            .nest_limit(PATTERN_NEST_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => {
                    "is too complex (its compiled form exceeds 1 MiB): repeat ASCII classes such as \
                     [A-Z0-9] rather than Unicode ones such as \\w or \\p{L}"
                        .to_string()
                }
                other => format!(
                    "is not a valid regular expression: {}",
                    other.to_string().replace('\n', " ")
                ),
            })?;
        Ok(PatientRefPattern {
            source: source.to_string(),
            regex,
        })
    }

    /// The built-in pattern, [`DEFAULT_PATIENT_REF_PATTERN`].
    pub fn default_pattern() -> Result<Self, String> {
        Self::new(DEFAULT_PATIENT_REF_PATTERN)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_default(&self) -> bool {
        self.source == DEFAULT_PATIENT_REF_PATTERN
    }

    /// Whether `canonical` (already canonical) matches the whole pattern.
    pub fn is_match(&self, canonical: &str) -> bool {
        self.regex.is_match(canonical)
    }
}

impl PartialEq for PatientRefPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for PatientRefPattern {}

impl fmt::Display for PatientRefPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Why a patient reference was refused; `Display` is the message for the site coordinator
/// (the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatientRefError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (found {found})")]
    TooLong { max: usize, found: usize },
    /// A control or invisible character, which no pattern may let through.
    #[error("must not contain invisible, control or text-direction characters (found {} at position {position})", describe_char(*found))]
    Invisible { found: char, position: usize },
    /// A character the pattern does not allow. `position` counts characters of the text as
    /// sent, from 1.
    #[error("must be {allowed} (found {} at position {position})", describe_char(*found))]
    Character {
        allowed: String,
        found: char,
        position: usize,
    },
    /// Every character may appear, but not in this arrangement (e.g. a leading `-`).
    #[error("must be {allowed}")]
    Pattern { allowed: String },
}

/// A patient reference in canonical form, matching its trial's pattern: two references are
/// the same patient exactly when they are equal. Only [`PatientRef::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PatientRef(String);

impl PatientRef {
    /// The canonical form of `raw`, accepted or not: NFKC, upper case, NFKC, surrounding
    /// whitespace removed. Idempotent: `canonicalize(&canonicalize(x)) == canonicalize(x)`.
    pub fn canonicalize(raw: &str) -> String {
        let upper: String = raw.nfkc().collect::<String>().to_uppercase();
        upper.nfkc().collect::<String>().trim().to_string()
    }

    /// Canonicalises `raw` and checks it against `pattern`; the refusal says what is allowed
    /// and, where one character is to blame, names it with its code point and position.
    pub fn parse(raw: &str, pattern: &PatientRefPattern) -> Result<PatientRef, PatientRefError> {
        let canonical = Self::canonicalize(raw);
        let length = canonical.chars().count();
        if length == 0 {
            return Err(PatientRefError::Empty);
        }
        if let Some(found) = interior(raw).find(|(_, c)| c.is_control() || is_invisible(*c)) {
            return Err(PatientRefError::Invisible {
                found: found.1,
                position: found.0,
            });
        }
        if let Some((index, found)) = canonical
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() || is_invisible(*c))
        {
            return Err(PatientRefError::Invisible {
                found,
                position: index + 1,
            });
        }
        if length > MAX_REF_LEN {
            return Err(PatientRefError::TooLong {
                max: MAX_REF_LEN,
                found: length,
            });
        }
        if pattern.is_match(&canonical) {
            return Ok(PatientRef(canonical));
        }
        Err(diagnose(raw, &canonical, pattern))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The characters of `raw` between its surrounding whitespace, numbered from 1 as sent.
fn interior(raw: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let total = raw.chars().count();
    let lead = raw.chars().take_while(|c| c.is_whitespace()).count();
    let trail = raw.chars().rev().take_while(|c| c.is_whitespace()).count();
    let end = total.saturating_sub(trail).max(lead);
    raw.chars()
        .enumerate()
        .skip(lead)
        .take(end - lead)
        .map(|(i, c)| (i + 1, c))
}

fn diagnose(raw: &str, canonical: &str, pattern: &PatientRefPattern) -> PatientRefError {
    if pattern.is_default() {
        let allowed_char =
            |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || "._/-".contains(c);
        // The first character as sent whose canonical form the pattern cannot take.
        let culprit = interior(raw).find(|(_, c)| {
            !PatientRef::canonicalize(c.encode_utf8(&mut [0; 4]))
                .chars()
                .all(allowed_char)
                || c.is_whitespace()
        });
        if let Some((position, found)) = culprit {
            return PatientRefError::Character {
                allowed: DEFAULT_ALLOWED.into(),
                found,
                position,
            };
        }
        // Each character alone is fine; together they are not (e.g. É from E + accent).
        if let Some((index, found)) = canonical
            .chars()
            .enumerate()
            .find(|(_, c)| !allowed_char(*c))
        {
            return PatientRefError::Character {
                allowed: DEFAULT_ALLOWED.into(),
                found,
                position: index + 1,
            };
        }
        return PatientRefError::Pattern {
            allowed: format!("{DEFAULT_ALLOWED}, starting with a letter or a digit"),
        };
    }
    let allowed = format!(
        "in the trial's patient reference format {} (checked after upper-casing)",
        pattern.as_str()
    );
    match interior(raw).find(|(_, c)| !c.is_ascii()) {
        Some((position, found)) => PatientRefError::Character {
            allowed,
            found,
            position,
        },
        None => PatientRefError::Pattern { allowed },
    }
}

impl std::ops::Deref for PatientRef {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PatientRef {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PatientRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<PatientRef> for String {
    fn from(r: PatientRef) -> String {
        r.0
    }
}

impl PartialEq<str> for PatientRef {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PatientRef {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for PatientRef {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn default() -> PatientRefPattern {
        PatientRefPattern::default_pattern().unwrap()
    }

    fn parse(raw: &str) -> Result<PatientRef, PatientRefError> {
        PatientRef::parse(raw, &default())
    }

    #[test]
    fn spellings_of_one_patient_are_one_ref() {
        for raw in [
            "SITE01-0100",
            "site01-0100",
            "Site01-0100",
            "ＳＩＴＥ０１-0100",
            "ｓｉｔｅ０１－０１００",
            "  SITE01-0100\t",
            "\u{00A0}SITE01-0100\u{3000}",
        ] {
            assert_eq!(parse(raw).unwrap(), "SITE01-0100", "{raw:?}");
        }
    }

    #[test]
    fn lookalikes_are_refused_naming_the_character() {
        let cases = [
            (
                "SITE01\u{200B}-0100",
                "zero-width space (U+200B) at position 7",
            ),
            ("SIT\u{0415}01-0100", "U+0415"),
            ("SITE01\u{00AD}-0100", "soft hyphen (U+00AD)"),
            ("SITE01\u{2011}0100", "non-breaking hyphen"),
            ("SITE01\u{2013}0100", "en dash"),
            ("\u{FEFF}SITE01-0100", "byte order mark"),
            ("SITE01-0100\u{202E}", "right-to-left override"),
            ("SITE01 0100", "a space (U+0020) at position 7"),
            ("SIT\u{00C9}01", "U+00C9"),
            ("SITE\u{0301}01", "combining accent"),
        ];
        for (raw, needle) in cases {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.contains(needle), "{raw:?}: {err}");
        }
        let err = parse("SIT\u{0415}01-0100").unwrap_err().to_string();
        assert_eq!(
            err,
            "must be capital letters A–Z, digits and . _ / - (found 'Е' (U+0415, a letter outside A–Z) at position 4)"
        );
    }

    #[test]
    fn structure_is_checked_after_the_characters() {
        let err = parse("-0100").unwrap_err().to_string();
        assert!(err.contains("starting with a letter or a digit"), "{err}");
        assert_eq!(parse("   ").unwrap_err(), PatientRefError::Empty);
        assert_eq!(
            parse(&"A".repeat(65)).unwrap_err(),
            PatientRefError::TooLong { max: 64, found: 65 }
        );
        assert!(parse(&"A".repeat(64)).is_ok());
    }

    #[test]
    fn canonicalisation_composes_and_upper_cases() {
        assert_eq!(PatientRef::canonicalize("e\u{0301}"), "\u{00C9}");
        assert_eq!(PatientRef::canonicalize("straße"), "STRASSE");
        assert_eq!(PatientRef::canonicalize("ﬁ-1"), "FI-1");
        assert_eq!(PatientRef::canonicalize("\u{2011}"), "\u{2010}");
        assert_eq!(PatientRef::canonicalize("\u{FF0D}"), "-");
        assert_eq!(parse("straße-1").unwrap(), "STRASSE-1");
    }

    #[test]
    fn canonicalisation_is_idempotent_for_every_assigned_character() {
        // Planes 0–3 and the special-purpose plane 14; the rest is unassigned or private use,
        // which NFKC and case mapping leave alone.
        let chars = (0..=0x3_FFFFu32)
            .chain(0xE_0000..=0xE_0FFF)
            .filter_map(char::from_u32);
        for c in chars {
            let s = c.to_string();
            let once = PatientRef::canonicalize(&s);
            assert_eq!(
                PatientRef::canonicalize(&once),
                once,
                "U+{:04X}",
                u32::from(c)
            );
            let doubled = format!("A{c}{c}");
            let once = PatientRef::canonicalize(&doubled);
            assert_eq!(
                PatientRef::canonicalize(&once),
                once,
                "A U+{:04X} twice",
                u32::from(c)
            );
        }
    }

    #[test]
    fn patterns_must_be_anchored_valid_and_small() {
        assert!(PatientRefPattern::new("^P-[0-9]{4}$").is_ok());
        for (bad, needle) in [
            ("[A-Z]+", "anchored"),
            ("^[A-Z]+", "anchored"),
            ("[A-Z]+$", "anchored"),
            ("^[A-Z]+\\$", "anchored"),
            ("^[A-Z$", "not a valid regular expression"),
            (
                "^(((((((((((((((((((A)))))))))))))))))))$",
                "not a valid regular expression",
            ),
            ("^\\w{1000}\\w{1000}\\w{1000}$", "too complex"),
            ("^\\w{1,64}$", "rather than Unicode ones"),
        ] {
            let err = PatientRefPattern::new(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
        let long = format!("^{}$", "A".repeat(MAX_PATTERN_LEN));
        assert!(PatientRefPattern::new(&long)
            .unwrap_err()
            .contains("at most"));
    }

    #[test]
    fn a_pattern_matches_the_whole_reference_whatever_its_alternatives_or_flags() {
        let p = PatientRefPattern::new("^A|B$").unwrap();
        assert!(p.is_match("A") && p.is_match("B"));
        assert!(!p.is_match("AX") && !p.is_match("XB"));
        let p = PatientRefPattern::new("^(?m)A$").unwrap();
        assert!(!p.is_match("A\nA"));
    }

    #[test]
    fn a_custom_pattern_is_named_in_its_refusal() {
        let p = PatientRefPattern::new("^P-[0-9]{4}$").unwrap();
        assert_eq!(PatientRef::parse("p-0001", &p).unwrap(), "P-0001");
        let err = PatientRef::parse("P-01", &p).unwrap_err().to_string();
        assert!(err.contains("^P-[0-9]{4}$"), "{err}");
        let err = PatientRef::parse("P-00\u{0661}1", &p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("U+0661) at position 5"), "{err}");
        // Invisible characters are refused whatever the pattern allows.
        let any = PatientRefPattern::new("^.+$").unwrap();
        let err = PatientRef::parse("P\u{200D}1", &any).unwrap_err();
        assert_eq!(
            err,
            PatientRefError::Invisible {
                found: '\u{200D}',
                position: 2
            }
        );
    }
}
