//! Checks of the fields people type into the registers of users and sites: display names in
//! any script, e-mail addresses, site codes. Shared by both registers' use cases.

use crate::eligibility::FieldError;

/// Longest full name, in characters.
pub const MAX_FULL_NAME_CHARS: usize = 200;

/// A site code: 1–64 letters, digits, '-', '_' or '.' (as screenings name sites).
pub fn valid_site_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= crate::eligibility::MAX_REF_LEN
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A name people read (a person's, a site's) as stored: trimmed, NFC, any script, 1–200
/// characters; no control or reordering character. A problem is named by `field`.
pub fn checked_display_name(
    field: &str,
    text: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let name: String = text.trim().nfc().collect();
    let count = name.chars().count();
    let problem = if count == 0 {
        Some(format!(
            "must not be empty (1–{MAX_FULL_NAME_CHARS} characters)"
        ))
    } else if count > MAX_FULL_NAME_CHARS {
        Some(format!("must be at most {MAX_FULL_NAME_CHARS} characters"))
    } else if name
        .chars()
        .any(|c| c.is_control() || crate::text::is_bidi_control(c))
    {
        Some("must not contain control characters or characters that reorder text".to_string())
    } else {
        None
    };
    match problem {
        Some(p) => {
            errors.push(FieldError::new(field, p));
            None
        }
        None => Some(name),
    }
}

/// An e-mail address as stored (trimmed).
pub fn checked_email(text: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let email = text.trim();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if ok {
        Some(email.to_string())
    } else {
        errors.push(FieldError::new(
            "email",
            "must be an e-mail address, e.g. wang.li@hospital.cn",
        ));
        None
    }
}
