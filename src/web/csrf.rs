//! CSRF protection of every form POST.
//!
//! Signed in: a synchronizer token per session, HMAC-SHA256 of a fixed label keyed by the
//! session id (which only the server and the HttpOnly cookie know), in a hidden field of
//! every form and checked on every POST.
//!
//! The sign-in form, before any session exists, is bound to a pre-session: a random id in
//! an HttpOnly, SameSite=Strict cookie, and in the form `EXPIRES.MAC`, where MAC is
//! HMAC-SHA256 over (pre-session id, EXPIRES) keyed with a secret only the server holds. A
//! sign-in POST is accepted only with an unexpired token the server issued for that very
//! pre-session, so a value an attacker chose — planted as the cookie and copied into the
//! form — is refused (a plain double-submit cookie would accept it). Nothing is stored:
//! the key is derived (HMAC with its own label) from the checkpoint signing key kept 0600 in
//! the data directory, so every instance sharing that key — as they must to sign
//! checkpoints monitors can pin — accepts a form another issued (no sticky load balancing
//! needed), restarts do not void open forms, and no client can make the server store
//! anything before signing in.

use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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

/// Is `sent` the CSRF token of this session? (Compared in constant time.)
pub fn token_matches(session_id: &str, sent: &str) -> bool {
    hex::decode(sent)
        .ok()
        .zip(mac(session_id))
        .is_some_and(|(bytes, m)| m.verify_slice(&bytes).is_ok())
}

/// How long a sign-in form stays valid, in seconds.
pub const SIGNIN_TTL_SECS: i64 = 30 * 60;

/// How far the clocks of instances sharing the key may differ, in seconds.
const CLOCK_SKEW_SECS: i64 = 5 * 60;

/// The sign-in MAC of a pre-session and an expiry (Unix seconds).
fn signin_mac(key: &SigningKey, pre_session: &str, expires: i64) -> Option<Hmac<Sha256>> {
    let mut derive = Hmac::<Sha256>::new_from_slice(&key.to_bytes()).ok()?;
    derive.update(b"trialgate web sign-in csrf key v1");
    let mut mac = Hmac::<Sha256>::new_from_slice(&derive.finalize().into_bytes()).ok()?;
    mac.update(pre_session.as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    Some(mac)
}

/// The sign-in form's token for a pre-session, valid for [`SIGNIN_TTL_SECS`] from `now`.
pub fn signin_token(key: &SigningKey, pre_session: &str, now: i64) -> String {
    let expires = now.saturating_add(SIGNIN_TTL_SECS);
    signin_mac(key, pre_session, expires)
        .map(|m| format!("{expires}.{}", hex::encode(m.finalize().into_bytes())))
        .unwrap_or_default()
}

/// Did the server issue `sent` for this pre-session, and is it still valid at `now`?
/// (The MAC is compared in constant time.)
pub fn signin_token_valid(key: &SigningKey, pre_session: &str, sent: &str, now: i64) -> bool {
    let Some((expires, mac)) = sent.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    // Issued for at most the TTL from now, give or take another instance's clock.
    let live = now < expires && expires <= now.saturating_add(SIGNIN_TTL_SECS + CLOCK_SKEW_SECS);
    live && crate::service::web_sessions::well_formed(pre_session)
        && hex::decode(mac)
            .ok()
            .zip(signin_mac(key, pre_session, expires))
            .is_some_and(|(bytes, m)| m.verify_slice(&bytes).is_ok())
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
    }

    #[test]
    fn signin_tokens_are_bound_to_the_pre_session_key_and_time() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other_key = SigningKey::from_bytes(&[8; 32]);
        let pre = "a".repeat(64);
        let now = 1_800_000_000;
        let t = signin_token(&key, &pre, now);
        assert!(signin_token_valid(&key, &pre, &t, now));
        assert!(signin_token_valid(
            &key,
            &pre,
            &t,
            now + SIGNIN_TTL_SECS - 1
        ));
        assert!(
            !signin_token_valid(&key, &pre, &t, now + SIGNIN_TTL_SECS),
            "expired"
        );
        assert!(
            !signin_token_valid(&key, &"b".repeat(64), &t, now),
            "other pre-session"
        );
        assert!(
            !signin_token_valid(&other_key, &pre, &t, now),
            "other server key"
        );
        // Another expiry under the same MAC, a far-future expiry, the pre-session itself,
        // a short or malformed pre-session: all refused.
        let (_, mac) = t.split_once('.').unwrap();
        let later = format!("{}.{mac}", now + 60);
        assert!(!signin_token_valid(&key, &pre, &later, now));
        let far = signin_token(&key, &pre, now + 10 * SIGNIN_TTL_SECS);
        assert!(!signin_token_valid(&key, &pre, &far, now));
        // Issued by an instance whose clock is a minute ahead: still good.
        let ahead = signin_token(&key, &pre, now + 60);
        assert!(signin_token_valid(&key, &pre, &ahead, now));
        for bad in [pre.as_str(), "", ".", "x.y", &format!("{}.", now + 60)] {
            assert!(!signin_token_valid(&key, &pre, bad, now), "{bad:?}");
        }
        assert!(!signin_token_valid(
            &key,
            "x",
            &signin_token(&key, "x", now),
            now
        ));
        assert!(!signin_token_valid(&key, &pre, &t, i64::MAX));
    }
}
