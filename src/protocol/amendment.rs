//! What a protocol amendment changes, and what it may not once patients are randomized.

use serde_json::Value;

use super::Protocol;

/// The keys of the randomization design: fixed once any subject is randomized, because every
/// allocation made so far was computed from them (changing them would change the schedule
/// of allocations already given, or the strata patients were placed in).
pub const DESIGN_KEYS: [&str; 3] = ["arms", "block_sizes", "stratification"];

/// Why an amendment is refused: each names the key concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmendmentError {
    #[error("id: the amendment is for trial {found:?}, not {expected:?}")]
    OtherTrial { expected: String, found: String },
    #[error("{key}: may not change once a subject is randomized ({enrolled} are)")]
    DesignLocked { key: &'static str, enrolled: i64 },
    #[error("cap: {cap} is below the {enrolled} subjects already randomized")]
    CapBelowEnrolled { cap: u32, enrolled: i64 },
    #[error("the amendment changes nothing: it is the protocol in force")]
    NothingChanges,
}

impl AmendmentError {
    /// The protocol key the refusal is about (the field a client should look at).
    pub fn key(&self) -> &'static str {
        match self {
            AmendmentError::OtherTrial { .. } => "id",
            AmendmentError::DesignLocked { key, .. } => key,
            AmendmentError::CapBelowEnrolled { .. } => "cap",
            AmendmentError::NothingChanges => "protocol",
        }
    }
}

/// The top-level keys whose value differs between the two protocols, in key order.
pub fn changed_keys(old: &Protocol, new: &Protocol) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Checks `new` as an amendment of `old` in a trial with `enrolled` randomized subjects; returns
/// the keys it changes. Every problem is reported, the first of each kind.
pub fn check(
    old: &Protocol,
    new: &Protocol,
    enrolled: i64,
) -> Result<Vec<String>, Vec<AmendmentError>> {
    let mut errors = Vec::new();
    if new.id != old.id {
        errors.push(AmendmentError::OtherTrial {
            expected: old.id.clone(),
            found: new.id.clone(),
        });
    }
    let changed = changed_keys(old, new);
    if enrolled > 0 {
        for key in DESIGN_KEYS {
            if changed.iter().any(|k| k == key) {
                errors.push(AmendmentError::DesignLocked { key, enrolled });
            }
        }
    }
    if i64::from(new.cap) < enrolled {
        errors.push(AmendmentError::CapBelowEnrolled {
            cap: new.cap,
            enrolled,
        });
    }
    if errors.is_empty() && changed.is_empty() {
        errors.push(AmendmentError::NothingChanges);
    }
    if errors.is_empty() {
        Ok(changed)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::DEFAULT_PROTOCOL_TOML;

    fn with(from: &str, to: &str) -> Protocol {
        let text = DEFAULT_PROTOCOL_TOML.replacen(from, to, 1);
        assert_ne!(text, DEFAULT_PROTOCOL_TOML, "{from}");
        Protocol::from_toml(&text, "test").unwrap()
    }

    #[test]
    fn design_keys_lock_after_the_first_randomization() {
        let old = Protocol::default_trial().unwrap();
        let blocks = with("block_sizes = [3, 6]", "block_sizes = [3]");
        assert_eq!(check(&old, &blocks, 0).unwrap(), ["block_sizes"]);
        let refused = check(&old, &blocks, 1).unwrap_err();
        assert_eq!(
            refused.iter().map(AmendmentError::key).collect::<Vec<_>>(),
            ["block_sizes"]
        );
        let cap = with("cap = 90", "cap = 120");
        assert_eq!(check(&old, &cap, 50).unwrap(), ["cap"]);
        let low = with("cap = 90", "cap = 10");
        assert_eq!(check(&old, &low, 11).unwrap_err()[0].key(), "cap");
        assert_eq!(
            check(&old, &old, 0).unwrap_err()[0],
            AmendmentError::NothingChanges
        );
        let other = with("id = \"NCT06987370\"", "id = \"NCT00000000\"");
        assert_eq!(check(&old, &other, 0).unwrap_err()[0].key(), "id");
    }
}
