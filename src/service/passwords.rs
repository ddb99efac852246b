//! People's passwords: the policy a new password must meet, and argon2id hashing (PHC strings,
//! the `argon2` crate's recommended parameters: 19 MiB, 2 passes, 1 lane).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::eligibility::FieldError;
use crate::service::error::Internal;

/// Shortest password, in characters.
pub const MIN_CHARS: usize = 12;
/// Longest password, in bytes (hashing cost is bounded; no one types more).
pub const MAX_BYTES: usize = 256;

/// Why a new password is refused, or `None` when it meets the policy: at least [`MIN_CHARS`]
/// characters, not a common password nor built from one (zxcvbn's list of 30,000 common
/// passwords with its variations: l33t, reversals, repeats, keyboard walks, dates), and not
/// made of the account's own name. `personal` is the user's login and full name.
pub fn weakness(password: &str, personal: &[&str]) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Some(format!("must be at least {MIN_CHARS} characters long"));
    }
    if password.len() > MAX_BYTES {
        return Some(format!("must be at most {MAX_BYTES} bytes long"));
    }
    if password.chars().any(char::is_control) {
        return Some("must not contain control characters".to_string());
    }
    // A password containing one's own name is guessed first by anyone who knows the person.
    let lower = password.to_lowercase();
    let personal: Vec<&str> = personal.iter().copied().filter(|p| !p.is_empty()).collect();
    if personal.iter().any(|p| {
        let p = p.to_lowercase();
        let long_enough = if p.is_ascii() {
            p.len() >= 3
        } else {
            p.chars().count() >= 2
        };
        long_enough && lower.contains(&p)
    }) {
        return Some(
            "must not contain your name or user name; choose words that are not about you"
                .to_string(),
        );
    }
    let entropy = zxcvbn::zxcvbn(password, &personal);
    // Score 3: "safely unguessable" against an online attack and slowed offline ones.
    if u8::from(entropy.score()) >= 3 {
        return None;
    }
    use zxcvbn::feedback::Warning;
    let common = entropy
        .feedback()
        .and_then(|f| f.warning())
        .is_some_and(|w| {
            matches!(
                w,
                Warning::ThisIsATop10Password
                    | Warning::ThisIsATop100Password
                    | Warning::ThisIsACommonPassword
                    | Warning::ThisIsSimilarToACommonlyUsedPassword
            )
        });
    Some(
        if common {
            "is too easy to guess: it is a common password or built from one; a few unrelated \
             words make a strong password"
        } else {
            "is too easy to guess (a pattern, sequence or common words); a few unrelated words \
             make a strong password"
        }
        .to_string(),
    )
}

/// [`weakness`] as the field error of `field`.
pub fn check(field: &str, password: &str, personal: &[&str]) -> Result<(), FieldError> {
    match weakness(password, personal) {
        None => Ok(()),
        Some(message) => Err(FieldError::new(field, message)),
    }
}

/// The argon2id PHC string of a password, with a fresh 128-bit salt.
pub fn hash(password: &str) -> Result<String, Internal> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Internal::new(format!("no randomness from the operating system: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Internal::new(format!("encoding a password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Internal::new(format!("hashing a password: {e}")))
}

/// Whether `password` is the one `phc` was made from. A malformed hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends the time of one verification without a hash to check against, so that an unknown
/// name answers as slowly as a wrong password (no user enumeration by timing).
pub fn verify_nothing(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash("trialgate: no such account").ok()) {
        verify(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_personal_passwords_are_refused() {
        assert!(weakness("Kestrel-Harbour-2931", &[]).is_none());
        let short = weakness("Abc-12345", &[]).unwrap_or_default();
        assert!(short.contains("at least 12"), "{short}");
        for common in [
            "password1234",
            "qwertyuiop123",
            "123456789012",
            "iloveyou1234",
            "P@ssw0rd2024!",
        ] {
            assert!(weakness(common, &[]).is_some(), "{common} accepted");
        }
        for mine in ["wangli.harbour.kestrel", "Harbour-Kestrel-王丽-29"] {
            let why = weakness(mine, &["wangli", "王丽"]).unwrap_or_default();
            assert!(why.contains("your name"), "{mine}: {why}");
        }
        assert!(weakness(&"x".repeat(MAX_BYTES + 1), &[]).is_some());
        assert!(weakness("tab\tin the middle of it", &[]).is_some());
        // Length counts characters, in any script: 11 are too few, 12 unrelated ones are fine.
        assert!(weakness("长城黄河泰山西湖桂林漓", &[]).is_some_and(|w| w.contains("at least")));
        assert_eq!(weakness("长城黄河泰山西湖桂林漓江", &[]), None);
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let phc = hash("Kestrel-Harbour-2931").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("Kestrel-Harbour-2931", &phc));
        assert!(!verify("Kestrel-Harbour-2932", &phc));
        assert!(!verify("Kestrel-Harbour-2931", "not a hash"));
        // Salted: the same password hashes differently.
        assert_ne!(hash("Kestrel-Harbour-2931").unwrap_or_default(), phc);
    }
}
