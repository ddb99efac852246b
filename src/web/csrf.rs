//! CSRF protection of every form POST.
//!
//! Signed in: a synchronizer token per session, HMAC-SHA256 of a fixed label keyed by the
//! session id (which only the server and the HttpOnly cookie know), in a hidden field of
//! every form and checked on every POST. The sign-in form, before any session exists, uses
//! a double-submit token: a random value in a SameSite=Strict cookie and in the form.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::WebError;
use super::form::Fields;
use super::session::WebSession;

/// The hidden field every form carries.
pub const FIELD: &str = "csrf";

fn mac(session_id: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(session_id.as_bytes()).ok()?;
    mac.update(b"trialgate web csrf v1");
    Some(mac)
}

/// The CSRF token of a session.
pub fn token_for(session_id: &str) -> String {
    mac(session_id)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Refuses a POST whose form lacks the session's token (compared in constant time).
pub fn check(session: &WebSession, form: &Fields) -> Result<(), WebError> {
    let sent = form.value(FIELD);
    let ok = hex::decode(sent)
        .ok()
        .zip(mac(session.id()))
        .is_some_and(|(bytes, m)| m.verify_slice(&bytes).is_ok());
    if ok {
        Ok(())
    } else {
        Err(WebError::Csrf {
            viewer: Some(Box::new(session.clone())),
        })
    }
}

/// Constant-time equality of two tokens (the sign-in form's double submit).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_the_session() {
        let a = token_for(&"a".repeat(64));
        assert_eq!(a.len(), 64);
        assert_eq!(a, token_for(&"a".repeat(64)));
        assert_ne!(a, token_for(&"b".repeat(64)));
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("", ""));
    }
}
