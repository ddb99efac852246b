//! Electronic signatures (21 CFR 11.50, 11.70): the manifestation an audit entry carries when
//! a person signed the act it records — who (login name and printed name), when, and what the
//! signature means, in words fixed by the act itself rather than typed by the signer.

use serde::{Deserialize, Serialize};

/// What a signature means: the act signed, with what it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    Randomize { patient_ref: String },
    Withdraw { subject_id: String },
    ApproveCorrection { patient_ref: String },
    RejectCorrection { patient_ref: String },
    CloseTrial { trial_id: String },
}

impl Meaning {
    /// The statement the signer sees before signing and the record keeps, in English (the
    /// record's language; pages may show it translated).
    pub fn statement(&self) -> String {
        match self {
            Meaning::Randomize { patient_ref } => format!("I randomize patient {patient_ref}"),
            Meaning::Withdraw { subject_id } => format!("I withdraw subject {subject_id}"),
            Meaning::ApproveCorrection { patient_ref } => {
                format!("I approve the correction of patient {patient_ref}'s screening")
            }
            Meaning::RejectCorrection { patient_ref } => {
                format!("I reject the correction of patient {patient_ref}'s screening")
            }
            Meaning::CloseTrial { trial_id } => format!("I close trial {trial_id}"),
        }
    }
}

/// The signature manifestation, as it is written into an audit entry's `data.signature` and
/// into the signed row; `signed_at` is the entry's own time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signature {
    /// The signer's login name.
    pub name: String,
    /// The signer's printed name.
    pub full_name: String,
    /// The statement signed, e.g. "I randomize patient SITE01-0007".
    pub meaning: String,
    /// RFC 3339, UTC, microseconds: when the act was recorded.
    pub signed_at: String,
}

impl Signature {
    /// The JSON text kept in the signed row (what `audit verify` compares with the entry).
    pub fn to_json(&self) -> String {
        serde_json::to_value(self)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    /// A stored signature, or `None` when the text is not one.
    pub fn from_json(text: &str) -> Option<Signature> {
        serde_json::from_str(text).ok()
    }

    /// How the signature reads on a card or in a CSV cell.
    pub fn manifestation(&self) -> String {
        format!(
            "Signed electronically by {} ({}) at {}: \"{}\"",
            self.full_name, self.name, self.signed_at, self.meaning
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_what_was_signed() {
        let m = Meaning::Randomize {
            patient_ref: "SITE01-0007".into(),
        };
        assert_eq!(m.statement(), "I randomize patient SITE01-0007");
        assert_eq!(
            Meaning::CloseTrial {
                trial_id: "NCT06987370".into()
            }
            .statement(),
            "I close trial NCT06987370"
        );
    }

    #[test]
    fn stored_text_round_trips() {
        let s = Signature {
            name: "wangli".into(),
            full_name: "王丽".into(),
            meaning: "I withdraw subject NCT06987370-0001".into(),
            signed_at: "2026-12-01T08:08:17.000000Z".into(),
        };
        assert_eq!(Signature::from_json(&s.to_json()), Some(s.clone()));
        assert!(s.manifestation().contains("王丽 (wangli)"));
        assert_eq!(Signature::from_json("{}"), None);
    }
}
