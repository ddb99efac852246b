//! Formula-safe CSV cells (OWASP "CSV injection"): monitors open exports in spreadsheets, and
//! patient refs, reasons and names come from users. A text cell beginning with `=`, `+`, `-`,
//! `@`, tab or carriage return is written with a leading `'` so no spreadsheet evaluates it.
//! Numbers are written as they are: a negative number is data, not a formula.

use std::borrow::Cow;

/// Characters that make a spreadsheet treat a cell as a formula (or hide its start).
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The text as it must appear in a CSV cell.
pub fn text(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_TRIGGERS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A number's cell: never prefixed.
pub fn number(value: impl Into<i64>) -> String {
    value.into().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_payloads_are_neutralised() {
        for payload in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1",
            "\r=1",
        ] {
            let cell = text(payload);
            assert!(cell.starts_with('\''), "{payload:?} → {cell:?}");
            assert_eq!(&cell[1..], payload);
        }
    }

    #[test]
    fn ordinary_text_and_numbers_are_unchanged() {
        assert_eq!(text("SITE01-0007"), "SITE01-0007");
        assert_eq!(text("a=b"), "a=b");
        assert_eq!(text(""), "");
        assert_eq!(number(-5), "-5");
    }
}
