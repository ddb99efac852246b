//! Free text a person types into the record: the reasons given for a withdrawal, a close or a
//! correction, and the character checks that patient references share. Pure: no I/O.
//!
//! A reason is read later by a monitor in a listing or an export, so it must say what it
//! seems to say: no control characters (they corrupt terminals, CSV and logs) and no
//! bidirectional overrides or isolates (they reorder the text on screen, so a listing can show
//! something other than what was recorded).

use std::fmt::Write as _;

/// Longest withdrawal or close reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// Checks a free-text reason: surrounding whitespace removed, line breaks normalised to
/// `\n` (a browser sends a textarea's lines as `\r\n`), then 1..=`max_chars` characters with
/// no control character other than `\n` (C0, DEL and C1 are refused) and no bidirectional
/// override or isolate (U+202A–U+202E, U+2066–U+2069). Returns the text to store, or a
/// message for the person who typed it (the caller names the field).
pub fn check_reason(text: &str, max_chars: usize) -> Result<String, String> {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    let reason = normalised.trim();
    let count = reason.chars().count();
    if count == 0 {
        return Err(format!("must not be empty (1–{max_chars} characters)"));
    }
    if count > max_chars {
        return Err(format!(
            "must be at most {max_chars} characters (found {count})"
        ));
    }
    for (index, c) in reason.chars().enumerate() {
        if c.is_control() && c != '\n' {
            return Err(format!(
                "must not contain control characters other than line breaks (found {} at position {})",
                describe_char(c),
                index + 1
            ));
        }
        if is_bidi_control(c) {
            return Err(format!(
                "must not contain characters that reorder text on screen (found {} at position {})",
                describe_char(c),
                index + 1
            ));
        }
    }
    Ok(reason.to_string())
}

/// Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they
/// change the order in which the text around them is displayed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing, or reorder or join what is around them: soft hyphen,
/// zero-width characters, bidirectional marks, embeddings, overrides and isolates, word
/// joiner and invisible operators, byte order mark, variation selectors, Hangul fillers, tag
/// characters and the other default-ignorable code points, and the line and paragraph
/// separators. Two references that differ only by one of these look identical to a person.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A character as a site coordinator can find it: its name when it is invisible or easily
/// mistaken for another, else the character in quotes; always with its code point.
pub fn describe_char(c: char) -> String {
    let code = format!("U+{:04X}", u32::from(c));
    let name = match c {
        ' ' => Some("a space"),
        '\t' => Some("a tab"),
        '\n' => Some("a line break"),
        '\r' => Some("a carriage return"),
        '\u{00A0}' => Some("a non-breaking space"),
        '\u{00AD}' => Some("a soft hyphen"),
        '\u{034F}' => Some("a combining grapheme joiner"),
        '\u{061C}' => Some("an Arabic letter mark"),
        '\u{200B}' => Some("a zero-width space"),
        '\u{200C}' => Some("a zero-width non-joiner"),
        '\u{200D}' => Some("a zero-width joiner"),
        '\u{200E}' => Some("a left-to-right mark"),
        '\u{200F}' => Some("a right-to-left mark"),
        '\u{2010}' => Some("a Unicode hyphen, not the keyboard '-'"),
        '\u{2011}' => Some("a non-breaking hyphen, not the keyboard '-'"),
        '\u{2012}' => Some("a figure dash, not the keyboard '-'"),
        '\u{2013}' => Some("an en dash, not the keyboard '-'"),
        '\u{2014}' => Some("an em dash, not the keyboard '-'"),
        '\u{2015}' => Some("a horizontal bar, not the keyboard '-'"),
        '\u{2212}' => Some("a minus sign, not the keyboard '-'"),
        '\u{2028}' => Some("a line separator"),
        '\u{2029}' => Some("a paragraph separator"),
        '\u{202A}' => Some("a left-to-right embedding"),
        '\u{202B}' => Some("a right-to-left embedding"),
        '\u{202C}' => Some("a pop directional formatting character"),
        '\u{202D}' => Some("a left-to-right override"),
        '\u{202E}' => Some("a right-to-left override"),
        '\u{2060}' => Some("a word joiner"),
        '\u{2066}' => Some("a left-to-right isolate"),
        '\u{2067}' => Some("a right-to-left isolate"),
        '\u{2068}' => Some("a first strong isolate"),
        '\u{2069}' => Some("a pop directional isolate"),
        '\u{3000}' => Some("an ideographic space"),
        '\u{FEFF}' => Some("a byte order mark (zero-width no-break space)"),
        _ => None,
    };
    let mut out = String::new();
    match name {
        Some(name) => match name.split_once(", ") {
            Some((name, note)) => {
                let _ = write!(out, "{name} ({code}, {note})");
            }
            None => {
                let _ = write!(out, "{name} ({code})");
            }
        },
        None if c.is_control() => {
            let _ = write!(out, "a control character ({code})");
        }
        None if is_invisible(c) => {
            let _ = write!(out, "an invisible character ({code})");
        }
        None if is_combining_mark(c) => {
            let _ = write!(out, "a combining accent or mark ({code})");
        }
        None if c.is_whitespace() => {
            let _ = write!(out, "a space character ({code})");
        }
        None if c.is_alphabetic() && !c.is_ascii() => {
            let _ = write!(out, "{c:?} ({code}, a letter outside A–Z)");
        }
        None => {
            let _ = write!(out, "{c:?} ({code})");
        }
    }
    out
}

/// The common combining-mark blocks: an accent typed as a separate character (E + U+0301).
fn is_combining_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_reason_is_trimmed_and_kept() {
        assert_eq!(
            check_reason("  moved abroad \n", 1000).unwrap(),
            "moved abroad"
        );
        assert_eq!(
            check_reason("line one\nline two", 1000).unwrap(),
            "line one\nline two"
        );
        // Unicode text is fine: it is shown as typed.
        assert_eq!(
            check_reason("Пациент отозвал согласие", 1000).unwrap(),
            "Пациент отозвал согласие"
        );
        assert_eq!(check_reason("المريض انسحب", 1000).unwrap(), "المريض انسحب");
    }

    #[test]
    fn browser_line_breaks_become_newlines() {
        assert_eq!(check_reason("a\r\nb\rc", 1000).unwrap(), "a\nb\nc");
    }

    #[test]
    fn a_reason_must_have_one_to_max_characters() {
        for empty in ["", " ", "\n\n", "\r\n", "\u{3000}"] {
            let err = check_reason(empty, 1000).unwrap_err();
            assert!(err.contains("must not be empty"), "{empty:?}: {err}");
        }
        assert!(check_reason(&"x".repeat(1000), 1000).is_ok());
        // Characters, not bytes.
        assert!(check_reason(&"é".repeat(1000), 1000).is_ok());
        let err = check_reason(&"x".repeat(1001), 1000).unwrap_err();
        assert!(err.contains("at most 1000"), "{err}");
        assert!(check_reason("abc", 2).is_err());
    }

    #[test]
    fn control_characters_other_than_newline_are_refused() {
        for c in [
            '\0', '\u{7}', '\t', '\u{1B}', '\u{7F}', '\u{80}', '\u{85}', '\u{9F}',
        ] {
            let text = format!("moved{c}abroad");
            let err = check_reason(&text, 1000).unwrap_err();
            assert!(err.contains("control characters"), "{c:?}: {err}");
            assert!(
                err.contains(&format!("U+{:04X}", u32::from(c))),
                "{c:?}: {err}"
            );
            assert!(err.contains("position 6"), "{c:?}: {err}");
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_are_refused() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            let err = check_reason(&format!("ok {c}dekcah"), 1000).unwrap_err();
            assert!(err.contains("reorder"), "{c:?}: {err}");
        }
        // Marks that only set direction for Arabic or Hebrew text are kept.
        assert!(check_reason("reason \u{200F}", 1000).is_ok());
    }

    #[test]
    fn characters_are_described_with_their_code_point() {
        assert_eq!(describe_char('\u{200B}'), "a zero-width space (U+200B)");
        assert_eq!(
            describe_char('\u{0415}'),
            "'Е' (U+0415, a letter outside A–Z)"
        );
        assert_eq!(describe_char('\u{7}'), "a control character (U+0007)");
        assert_eq!(
            describe_char('\u{0301}'),
            "a combining accent or mark (U+0301)"
        );
        assert_eq!(describe_char('#'), "'#' (U+0023)");
        assert_eq!(
            describe_char('\u{E0041}'),
            "an invisible character (U+E0041)"
        );
    }
}
