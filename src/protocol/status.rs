//! Where a trial and its subjects are in their lifecycle, as stored (`trials.status`,
//! `subjects.status`) and shown in the API.

use serde::{Deserialize, Serialize};

/// `trials.status`: a trial accepts screenings and allocations until it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    Open,
    Closed,
}

impl TrialStatus {
    pub const ALL: [TrialStatus; 2] = [TrialStatus::Open, TrialStatus::Closed];

    /// The stored and serialised text: `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Open => "open",
            TrialStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<TrialStatus> {
        TrialStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// `subjects.status`: a randomized subject is on study until withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStatus {
    OnStudy,
    Withdrawn,
}

impl SubjectStatus {
    pub const ALL: [SubjectStatus; 2] = [SubjectStatus::OnStudy, SubjectStatus::Withdrawn];

    /// The stored and serialised text: `on_study` or `withdrawn`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectStatus::OnStudy => "on_study",
            SubjectStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<SubjectStatus> {
        SubjectStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The stored text, as [`TrialStatus::as_str`] gives it.
impl std::fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored text, as [`SubjectStatus::as_str`] gives it.
impl std::fmt::Display for SubjectStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_matches_serde() {
        for s in TrialStatus::ALL {
            assert_eq!(TrialStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::from(s.as_str()))
            );
        }
        for s in SubjectStatus::ALL {
            assert_eq!(SubjectStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::from(s.as_str()))
            );
        }
        assert_eq!(TrialStatus::parse("Open"), None);
        assert_eq!(SubjectStatus::parse("on-study"), None);
    }
}
