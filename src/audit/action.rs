//! The actions audit entries record (`api.md`, "Audit trail").

/// What an audit entry records. [`Action::as_str`] is the exact text written into the entry's
/// `action` column and record; entries read back keep the text (old or foreign actions must
/// still verify), so this type is only for writing and for looking entries up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    TrialInitialized,
    ScreeningRecorded,
    SubjectRandomized,
    SubjectWithdrawn,
    TrialClosed,
    SeedRevealed,
    UserCreated,
    UserRevoked,
    /// An admin changed a user's role, sites, full name, e-mail or expiry.
    UserChanged,
    AuthFailed,
    AuthBlocked,
    /// The chain's entries before the Merkle log existed were committed to it (once).
    LogStarted,
    /// A new version of the trial's protocol is in force.
    ProtocolAmended,
    /// A screening was corrected: a new screening row that names the one it corrects.
    ScreeningCorrected,
    CorrectionApproved,
    CorrectionRejected,
    /// An approved correction revealed a protocol deviation of a randomized subject.
    DeviationRecorded,
    /// The checkpoint key this database's logs are signed with was recorded (first start).
    SigningKeyRegistered,
    /// A person set their first password with their one-time token.
    UserActivated,
    /// A person changed their own password.
    PasswordChanged,
    /// An admin issued a user another bearer token (rotation, or a reset of the password).
    TokenIssued,
    /// An admin registered a site.
    SiteCreated,
    /// An admin changed a site's name, time zone or e-mail.
    SiteChanged,
}

impl Action {
    pub const ALL: [Action; 23] = [
        Action::TrialInitialized,
        Action::ScreeningRecorded,
        Action::SubjectRandomized,
        Action::SubjectWithdrawn,
        Action::TrialClosed,
        Action::SeedRevealed,
        Action::UserCreated,
        Action::UserRevoked,
        Action::UserChanged,
        Action::AuthFailed,
        Action::AuthBlocked,
        Action::LogStarted,
        Action::ProtocolAmended,
        Action::ScreeningCorrected,
        Action::CorrectionApproved,
        Action::CorrectionRejected,
        Action::DeviationRecorded,
        Action::SigningKeyRegistered,
        Action::UserActivated,
        Action::PasswordChanged,
        Action::TokenIssued,
        Action::SiteCreated,
        Action::SiteChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::TrialInitialized => "trial.initialized",
            Action::ScreeningRecorded => "screening.recorded",
            Action::SubjectRandomized => "subject.randomized",
            Action::SubjectWithdrawn => "subject.withdrawn",
            Action::TrialClosed => "trial.closed",
            Action::SeedRevealed => "seed.revealed",
            Action::UserCreated => "user.created",
            Action::UserRevoked => "user.revoked",
            Action::UserChanged => "user.changed",
            Action::AuthFailed => "auth.failed",
            Action::AuthBlocked => "auth.blocked",
            Action::LogStarted => "log.started",
            Action::ProtocolAmended => "protocol.amended",
            Action::ScreeningCorrected => "screening.corrected",
            Action::CorrectionApproved => "correction.approved",
            Action::CorrectionRejected => "correction.rejected",
            Action::DeviationRecorded => "deviation.recorded",
            Action::SigningKeyRegistered => "log.key_registered",
            Action::UserActivated => "user.activated",
            Action::PasswordChanged => "user.password_changed",
            Action::TokenIssued => "user.token_issued",
            Action::SiteCreated => "site.created",
            Action::SiteChanged => "site.changed",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_distinct_and_parse_back() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        let mut texts: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), Action::ALL.len());
        assert_eq!(Action::parse("trial.opened"), None);
    }
}
