//! The register of sites: code, name, time zone and e-mail of each hospital, server-wide like
//! users, managed by admins and audited on the system chain. Screenings and users name
//! registered sites only; a site's time zone is how its users read times.

use serde_json::json;

use super::now;
use super::registry_fields::{checked_display_name, checked_email, valid_site_code};
use crate::access::{Permission, User};
use crate::audit::{Action, SYSTEM_CHAIN};
use crate::fields::FieldError;
use crate::local_time::SiteZones;
use crate::service::error::{Internal, Invalid, NotFound};
use crate::service::views::SiteView;
use crate::storage::{self, models, repo, DbConnection, StorageError};

/// Why a site could not be registered, changed or listed.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Denied(#[from] crate::access::AccessDenied),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The code is registered already (409).
    #[error("site {0} is registered already; change it instead (PATCH /api/v1/sites/{0}, `trialgate site change {0}`, or Admin → Sites)")]
    Exists(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<diesel::result::Error> for SiteError {
    fn from(e: diesel::result::Error) -> Self {
        SiteError::Storage(e.into())
    }
}

/// A new site's fields as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSite {
    pub code: String,
    pub name: String,
    pub time_zone: String,
    pub email: Option<String>,
}

/// PATCH /sites/{code}: what to change; absent fields stay, `email: Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteChange {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub email: Option<Option<String>>,
}

/// How to register a site, for refusals naming an unregistered one.
pub fn how_to_register(code: &str) -> String {
    format!(
        "site {code} is not registered: an admin registers it first (Admin → Sites in the web \
         pages, POST /api/v1/sites, or `trialgate site add {code} --name NAME --time-zone \
         Asia/Shanghai`)"
    )
}

/// The problems of `codes` that are well-formed but not registered, named `{field}[i]`
/// (or `field` itself when `codes` is one value, `indexed` false).
fn unregistered_codes(
    conn: &mut DbConnection,
    field: &str,
    codes: &[String],
    indexed: bool,
) -> Result<Vec<FieldError>, StorageError> {
    let wellformed: Vec<String> = codes
        .iter()
        .filter(|c| valid_site_code(c))
        .cloned()
        .collect();
    if wellformed.is_empty() {
        return Ok(Vec::new());
    }
    let known: Vec<String> = repo::sites::of_codes(conn, &wellformed)?
        .into_iter()
        .map(|s| s.code)
        .collect();
    Ok(codes
        .iter()
        .enumerate()
        .filter(|(_, c)| valid_site_code(c) && !known.contains(c))
        .map(|(i, c)| {
            let name = if indexed {
                format!("{field}[{i}]")
            } else {
                field.to_string()
            };
            FieldError::new(name, how_to_register(c))
        })
        .collect())
}

/// A user's sites that are not registered, each named `sites[i]`.
pub fn unregistered(
    conn: &mut DbConnection,
    field: &str,
    codes: &[String],
) -> Result<Vec<FieldError>, StorageError> {
    unregistered_codes(conn, field, codes, true)
}

/// The problem of a screening's `site` when it is not registered.
pub fn unregistered_site(
    conn: &mut DbConnection,
    code: &str,
) -> Result<Option<FieldError>, StorageError> {
    Ok(
        unregistered_codes(conn, "site", &[code.to_string()], false)?
            .into_iter()
            .next(),
    )
}

/// The time zones of a user's sites, for showing times (empty for users without sites).
pub fn zones_of(conn: &mut DbConnection, user: &User) -> Result<SiteZones, StorageError> {
    if !user.is_site_limited() {
        return Ok(SiteZones::default());
    }
    let rows = repo::sites::of_codes(conn, &user.sites)?;
    // In the user's order: the first site's zone is used for rows that name no site.
    Ok(SiteZones::new(user.sites.iter().filter_map(|code| {
        rows.iter()
            .find(|r| &r.code == code)
            .map(|r| (r.code.as_str(), r.time_zone.as_str()))
    })))
}

fn checked_code(code: &str, errors: &mut Vec<FieldError>) {
    if !valid_site_code(code) {
        errors.push(FieldError::new(
            "code",
            "must be 1–64 letters, digits, '-', '_' or '.'",
        ));
    }
}

fn checked_zone(text: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match crate::local_time::parse_zone(text.trim()) {
        Some(tz) => Some(tz.name().to_string()),
        None => {
            errors.push(FieldError::new(
                "time_zone",
                "must be an IANA time zone name, e.g. Asia/Shanghai or Europe/Berlin",
            ));
            None
        }
    }
}

fn view_of(row: models::Site) -> SiteView {
    SiteView {
        code: row.code,
        name: row.name,
        time_zone: row.time_zone,
        email: row.email,
        created_at: super::format_time(row.created_at),
        changed_at: row.changed_at.map(super::format_time),
    }
}

/// Registers a site; audited `site.created`.
#[tracing::instrument(name = "create_site", skip_all, fields(actor = %actor.name, code = %new.code))]
pub fn create(conn: &mut DbConnection, actor: &User, new: &NewSite) -> Result<SiteView, SiteError> {
    actor.require_permission(Permission::ManageSites)?;
    let mut errors = Vec::new();
    checked_code(&new.code, &mut errors);
    let name = checked_display_name("name", &new.name, &mut errors);
    let time_zone = checked_zone(&new.time_zone, &mut errors);
    let email = match new.email.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(e) => checked_email(e, &mut errors).map(Some),
    };
    let (Some(name), Some(time_zone), Some(email)) = (name, time_zone, email) else {
        return Err(Invalid(errors).into());
    };
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let at = now();
    let row = models::Site {
        code: new.code.clone(),
        name,
        time_zone,
        email,
        created_at: at,
        changed_at: None,
    };
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        if repo::sites::get(c, &row.code)?.is_some() {
            return Err(SiteError::Exists(row.code.clone()));
        }
        storage::append_audit(
            c,
            &mut head,
            at,
            &actor.name,
            Some(actor.role),
            Action::SiteCreated,
            json!({
                "code": row.code, "name": row.name, "time_zone": row.time_zone,
                "email": row.email,
            }),
        )?;
        repo::sites::insert(c, &row)?;
        Ok(view_of(row.clone()))
    })
}

/// Changes a site's name, time zone or e-mail; audited `site.changed` with old and new values.
/// Its users see times in the new zone from their next request.
#[tracing::instrument(name = "change_site", skip_all, fields(actor = %actor.name, code = %code))]
pub fn change(
    conn: &mut DbConnection,
    actor: &User,
    code: &str,
    change: &SiteChange,
) -> Result<SiteView, SiteError> {
    actor.require_permission(Permission::ManageSites)?;
    if !valid_site_code(code) {
        return Err(NotFound {
            kind: "site",
            id: code.to_string(),
        }
        .into());
    }
    let at = now();
    storage::write_transaction(conn, |c| {
        let mut head = storage::lock_chain_head(c, SYSTEM_CHAIN)?;
        let row = repo::sites::get(c, code)?.ok_or_else(|| NotFound {
            kind: "site",
            id: code.to_string(),
        })?;
        let mut errors = Vec::new();
        let name = match &change.name {
            Some(n) => checked_display_name("name", n, &mut errors),
            None => Some(row.name.clone()),
        };
        let time_zone = match &change.time_zone {
            Some(z) => checked_zone(z, &mut errors),
            None => Some(row.time_zone.clone()),
        };
        let email = match &change.email {
            Some(Some(e)) if !e.trim().is_empty() => checked_email(e, &mut errors).map(Some),
            Some(_) => Some(None),
            None => Some(row.email.clone()),
        };
        let (Some(name), Some(time_zone), Some(email)) = (name, time_zone, email) else {
            return Err(Invalid(errors).into());
        };
        if !errors.is_empty() {
            return Err(Invalid(errors).into());
        }
        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, old: serde_json::Value, new: serde_json::Value| {
            if old != new {
                changes.insert(field.into(), json!({ "old": old, "new": new }));
            }
        };
        note("name", json!(row.name), json!(name));
        note("time_zone", json!(row.time_zone), json!(time_zone));
        note("email", json!(row.email), json!(email));
        if changes.is_empty() {
            return Err(Invalid::field("", "changes nothing").into());
        }
        storage::append_audit(
            c,
            &mut head,
            at,
            &actor.name,
            Some(actor.role),
            Action::SiteChanged,
            json!({ "code": code, "changes": changes }),
        )?;
        repo::sites::update(c, code, &name, &time_zone, email.as_deref(), at)?;
        let row = repo::sites::get(c, code)?.ok_or_else(|| NotFound {
            kind: "site",
            id: code.to_string(),
        })?;
        Ok(view_of(row))
    })
}

/// Every registered site (any signed-in role: users pick sites, pages show their names).
pub fn list(conn: &mut DbConnection, actor: &User) -> Result<Vec<SiteView>, SiteError> {
    actor.require_permission(Permission::ReadSites)?;
    Ok(repo::sites::list(conn)?.into_iter().map(view_of).collect())
}
