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

/// Where a correcting screening stands. Recorded as `applied` (the patient was not randomized:
/// it is simply the latest screening) or `pending` (randomized: it waits for a monitor);
/// a monitor's decision makes a pending one `approved` or `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionStatus {
    Applied,
    Pending,
    Approved,
    Rejected,
}

impl CorrectionStatus {
    pub const ALL: [CorrectionStatus; 4] = [
        CorrectionStatus::Applied,
        CorrectionStatus::Pending,
        CorrectionStatus::Approved,
        CorrectionStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionStatus::Applied => "applied",
            CorrectionStatus::Pending => "pending",
            CorrectionStatus::Approved => "approved",
            CorrectionStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<CorrectionStatus> {
        CorrectionStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Whether the correction stands as the patient's screening (a rejected one does not;
    /// a pending one does not yet).
    pub fn in_effect(self) -> bool {
        matches!(self, CorrectionStatus::Applied | CorrectionStatus::Approved)
    }
}

/// A monitor's answer to a pending correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The status the correction has after this decision.
    pub fn status(self) -> CorrectionStatus {
        match self {
            Decision::Approve => CorrectionStatus::Approved,
            Decision::Reject => CorrectionStatus::Rejected,
        }
    }
}

/// A protocol deviation an approved correction revealed about a randomized subject, who keeps
/// arm and stratum (intention to treat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviationKind {
    /// Not eligible under the corrected screening.
    IneligibleRandomized,
    /// The corrected screening places the patient in another stratum.
    Misstratified,
}

impl DeviationKind {
    pub const ALL: [DeviationKind; 2] = [
        DeviationKind::IneligibleRandomized,
        DeviationKind::Misstratified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviationKind::IneligibleRandomized => "ineligible_randomized",
            DeviationKind::Misstratified => "misstratified",
        }
    }

    pub fn parse(text: &str) -> Option<DeviationKind> {
        DeviationKind::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for CorrectionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for DeviationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
        for s in CorrectionStatus::ALL {
            assert_eq!(CorrectionStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::from(s.as_str()))
            );
        }
        for k in DeviationKind::ALL {
            assert_eq!(DeviationKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(serde_json::Value::from(k.as_str()))
            );
        }
        assert_eq!(TrialStatus::parse("Open"), None);
        assert_eq!(SubjectStatus::parse("on-study"), None);
    }
}
