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

/// One changed top-level key of a protocol, as a reviewer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// A plain value: before and after, as text (`None`: the key is absent).
    Value {
        key: String,
        old: Option<String>,
        new: Option<String>,
    },
    /// A list of named items (criteria by `id`, arms by `code`): which came, went or changed.
    Items {
        key: String,
        added: Vec<Item>,
        removed: Vec<Item>,
        changed: Vec<ItemChange>,
    },
}

/// An item of a list: its id and the text people know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub label: String,
}

/// An item present before and after, with its whole entry (compact JSON) before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemChange {
    pub item: Item,
    pub old: String,
    pub new: String,
}

/// The lists whose items have ids: (key, id field, label field).
const ITEM_LISTS: [(&str, &str, &str); 2] = [("criteria", "id", "text"), ("arms", "code", "name")];

/// A value as text: a string as it is, anything else as compact JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn items(v: Option<&Value>, id: &str, label: &str) -> Vec<(Item, String)> {
    v.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| {
                    let field = |f: &str| e.get(f).map(text_of).unwrap_or_default();
                    (
                        Item {
                            id: field(id),
                            label: field(label),
                        },
                        e.to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What changes from `old` to `new`, key by key in key order ([`changed_keys`]).
pub fn describe(old: &Protocol, new: &Protocol) -> Vec<KeyChange> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    changed_keys(old, new)
        .into_iter()
        .map(|key| match ITEM_LISTS.iter().find(|(k, _, _)| *k == key) {
            Some((_, id, label)) => {
                let before = items(a.get(&key), id, label);
                let after = items(b.get(&key), id, label);
                let find = |list: &[(Item, String)], id: &str| {
                    list.iter()
                        .find(|(i, _)| i.id == id)
                        .map(|(_, j)| j.clone())
                };
                KeyChange::Items {
                    added: after
                        .iter()
                        .filter(|(i, _)| find(&before, &i.id).is_none())
                        .map(|(i, _)| i.clone())
                        .collect(),
                    removed: before
                        .iter()
                        .filter(|(i, _)| find(&after, &i.id).is_none())
                        .map(|(i, _)| i.clone())
                        .collect(),
                    changed: after
                        .iter()
                        .filter_map(|(i, json)| {
                            let old = find(&before, &i.id)?;
                            (old != *json).then(|| ItemChange {
                                item: i.clone(),
                                old,
                                new: json.clone(),
                            })
                        })
                        .collect(),
                    key,
                }
            }
            None => KeyChange::Value {
                old: a.get(&key).map(text_of),
                new: b.get(&key).map(text_of),
                key,
            },
        })
        .collect()
}

/// Whether the arms differ in their translated names and descriptions only: those are what
/// people read, not the design, so they may be amended after randomization.
fn only_translations(old: &Protocol, new: &Protocol) -> bool {
    let design = |p: &Protocol| {
        p.arms
            .iter()
            .map(|a| {
                (
                    a.code.clone(),
                    a.name.clone(),
                    a.description.clone(),
                    a.ratio,
                )
            })
            .collect::<Vec<_>>()
    };
    design(old) == design(new)
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
            if changed.iter().any(|k| k == key) && !(key == "arms" && only_translations(old, new)) {
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

    #[test]
    fn a_change_is_described_key_by_key() {
        let old = Protocol::default_trial().unwrap();
        let text = DEFAULT_PROTOCOL_TOML
            .replacen("cap = 90", "cap = 120", 1)
            .replacen("Platelet count ≥ 75×10⁹/L", "Platelets ≥ 75×10⁹/L", 1);
        let new = Protocol::from_toml(&text, "test").unwrap();
        let changes = describe(&old, &new);
        assert_eq!(
            changes[0],
            KeyChange::Value {
                key: "cap".into(),
                old: Some("90".into()),
                new: Some("120".into())
            }
        );
        let KeyChange::Items {
            key,
            added,
            removed,
            changed,
        } = &changes[1]
        else {
            panic!("{changes:?}")
        };
        assert_eq!(key, "criteria");
        assert!(added.is_empty() && removed.is_empty());
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].item.id, "platelets");
        assert_eq!(changed[0].item.label, "Platelets ≥ 75×10⁹/L");
        assert!(changed[0].old.contains("Platelet count"));
        assert_eq!(changes.len(), 2);
    }
}
