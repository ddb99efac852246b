//! Who may do what: roles and site scoping (pure rules, enforced by every use case).

use serde::{Deserialize, Serialize};

/// Why a user may not do something: the message says what was missing. The edges map it to
/// their "forbidden" answer (403 in the API).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AccessDenied(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Investigator,
    Pharmacist,
    Monitor,
}

/// The role trialgate itself acts with and is recorded with in the audit trail (initialising a
/// trial, creating the first admin): one spelling, `admin`, for every entry it writes.
pub const SYSTEM_ROLE: Role = Role::Admin;

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Investigator,
        Role::Pharmacist,
        Role::Monitor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Investigator => "investigator",
            Role::Pharmacist => "pharmacist",
            Role::Monitor => "monitor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// May this role see the randomization design's secrets (block sizes, positions)?
    pub fn sees_design(self) -> bool {
        matches!(self, Role::Admin | Role::Monitor)
    }
}

/// What a use case needs, declared once and checked by the use case itself, so the API and
/// the web pages refuse alike. Edges may check the same permission earlier (before reading a
/// body, or to open a page), never a different rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Trial list and trial detail.
    ReadTrials,
    /// Screen a patient (record a screening).
    Screen,
    /// Read screenings and allocations of one's sites.
    ReadPatients,
    /// Randomize an eligible patient.
    Randomize,
    /// Withdraw a randomized subject.
    Withdraw,
    /// Correct a screening of the user's site.
    Correct,
    /// Approve or reject a correction of a randomized patient (never one's own).
    ReviewCorrections,
    /// Monitoring: balance, flow, audit trail, exports — of the user's sites' subjects and
    /// entries when the user is limited to sites, else of the whole trial.
    Monitor,
    /// Whole-chain evidence: checkpoints, Merkle proofs, `audit verify`. Trial-wide only: it
    /// is about every entry of the chain, which a site-limited monitor may not read.
    VerifyLog,
    /// Close a trial (and reveal its seed).
    CloseTrial,
    /// Put a new version of a trial's protocol in force.
    AmendProtocol,
    /// Create, list and revoke users.
    ManageUsers,
    /// List the sites register (every role: pages and clients name sites).
    ReadSites,
    /// Register and change sites.
    ManageSites,
}

impl Permission {
    pub const ALL: [Permission; 14] = [
        Permission::ReadTrials,
        Permission::Screen,
        Permission::ReadPatients,
        Permission::Randomize,
        Permission::Withdraw,
        Permission::Correct,
        Permission::ReviewCorrections,
        Permission::Monitor,
        Permission::VerifyLog,
        Permission::CloseTrial,
        Permission::AmendProtocol,
        Permission::ManageUsers,
        Permission::ReadSites,
        Permission::ManageSites,
    ];

    /// The roles that hold it.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Permission::ReadTrials | Permission::ReadSites => &Role::ALL,
            Permission::Screen | Permission::Withdraw | Permission::Correct => {
                &[Role::Investigator]
            }
            Permission::ReviewCorrections => &[Role::Monitor],
            Permission::ReadPatients => &[Role::Investigator, Role::Pharmacist, Role::Monitor],
            Permission::Randomize => &[Role::Pharmacist],
            Permission::Monitor | Permission::VerifyLog => &[Role::Monitor],
            Permission::CloseTrial
            | Permission::AmendProtocol
            | Permission::ManageUsers
            | Permission::ManageSites => &[Role::Admin],
        }
    }

    /// The permission's name in reports (the access review): `read_patients`, `randomize`, …
    pub fn name(self) -> &'static str {
        match self {
            Permission::ReadTrials => "read_trials",
            Permission::Screen => "screen",
            Permission::ReadPatients => "read_patients",
            Permission::Randomize => "randomize",
            Permission::Withdraw => "withdraw",
            Permission::Correct => "correct",
            Permission::ReviewCorrections => "review_corrections",
            Permission::Monitor => "monitor",
            Permission::CloseTrial => "close_trial",
            Permission::AmendProtocol => "amend_protocol",
            Permission::ManageUsers => "manage_users",
            Permission::VerifyLog => "verify_log",
            Permission::ReadSites => "read_sites",
            Permission::ManageSites => "manage_sites",
        }
    }

    /// Whether it needs a user without site limits (whole-chain evidence).
    pub fn trial_wide(self) -> bool {
        matches!(self, Permission::VerifyLog)
    }
}

/// The stored text, as [`Role::as_str`] gives it.
impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated user: a name, one role and, optionally, the sites they are limited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// Empty: all sites.
    pub sites: Vec<String>,
}

impl User {
    /// Refuses unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AccessDenied> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AccessDenied(format!(
                "role {} may not do this (needs {})",
                self.role.as_str(),
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
    }

    /// Refuses unless the user holds `permission` (its role, and no site limit where the
    /// permission is trial-wide).
    pub fn require_permission(&self, permission: Permission) -> Result<(), AccessDenied> {
        self.require(permission.roles())?;
        if permission.trial_wide() {
            self.require_all_sites()?;
        }
        Ok(())
    }

    pub fn is_site_limited(&self) -> bool {
        !self.sites.is_empty()
    }

    pub fn may_access_site(&self, site: &str) -> bool {
        self.sites.is_empty() || self.sites.iter().any(|s| s == site)
    }

    /// Refuses access to another site's patient.
    pub fn require_site(&self, site: &str) -> Result<(), AccessDenied> {
        if self.may_access_site(site) {
            Ok(())
        } else {
            Err(AccessDenied(format!(
                "user {} is not authorised for site {site}",
                self.name
            )))
        }
    }

    /// Whole-chain evidence (checkpoints, proofs, verification) needs a user without site
    /// limits: it covers every site's entries.
    pub fn require_all_sites(&self) -> Result<(), AccessDenied> {
        if self.is_site_limited() {
            Err(AccessDenied(
                "checkpoints, proofs and verification cover the whole chain (every site's \
                 entries): they need a monitor without site limits"
                    .into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, sites: &[&str]) -> User {
        User {
            name: "u".into(),
            role,
            sites: sites.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn roles_and_sites() {
        let p = user(Role::Pharmacist, &["SITE01"]);
        assert!(p.require(&[Role::Pharmacist]).is_ok());
        assert!(p.require(&[Role::Monitor, Role::Admin]).is_err());
        assert!(p.require_site("SITE01").is_ok());
        assert!(p.require_site("SITE02").is_err());
        assert!(p.require_all_sites().is_err());
        let m = user(Role::Monitor, &[]);
        assert!(m.require_site("ANY").is_ok());
        assert!(m.require_all_sites().is_ok());
        // A site-limited monitor monitors its sites, but the whole chain's evidence is not its.
        let cra = user(Role::Monitor, &["SITE01"]);
        assert!(cra.require_permission(Permission::Monitor).is_ok());
        assert!(cra.require_permission(Permission::VerifyLog).is_err());
        assert!(m.require_permission(Permission::VerifyLog).is_ok());
        assert!(cra.require_site("SITE02").is_err());
        assert!(Role::Monitor.sees_design() && !Role::Pharmacist.sees_design());
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }
}
