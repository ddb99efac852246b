use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::storage::models::Site;
use crate::storage::schema::sites;
use crate::storage::{DbConnection, StorageError};

pub fn insert(c: &mut DbConnection, site: &Site) -> Result<(), StorageError> {
    diesel::insert_into(sites::table).values(site).execute(c)?;
    Ok(())
}

pub fn get(c: &mut DbConnection, code: &str) -> Result<Option<Site>, StorageError> {
    Ok(sites::table
        .find(code)
        .select(Site::as_select())
        .first(c)
        .optional()?)
}

/// Every site, by code.
pub fn list(c: &mut DbConnection) -> Result<Vec<Site>, StorageError> {
    Ok(sites::table
        .order(sites::code)
        .select(Site::as_select())
        .load(c)?)
}

/// The registered sites among `codes`, by code.
pub fn of_codes(c: &mut DbConnection, codes: &[String]) -> Result<Vec<Site>, StorageError> {
    Ok(sites::table
        .filter(sites::code.eq_any(codes))
        .order(sites::code)
        .select(Site::as_select())
        .load(c)?)
}

/// Sets a site's name, time zone and e-mail.
pub fn update(
    c: &mut DbConnection,
    code: &str,
    name: &str,
    time_zone: &str,
    email: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StorageError> {
    diesel::update(sites::table.find(code))
        .set((
            sites::name.eq(name),
            sites::time_zone.eq(time_zone),
            sites::email.eq(email),
            sites::changed_at.eq(Some(at)),
        ))
        .execute(c)?;
    Ok(())
}
