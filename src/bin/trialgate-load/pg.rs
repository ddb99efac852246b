//! PostgreSQL: scratch databases (create, drop, their URLs) and restart detection.

use diesel::prelude::*;
use trialgate::storage::{self, DbConnection};

use crate::raw::Setting;
use crate::Res;

/// `url` with its database name replaced by `name`.
pub(crate) fn with_database(url: &str, name: &str) -> Res<String> {
    let scheme_end = url.find("://").ok_or_else(|| format!("not a URL: {url}"))? + 3;
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_end = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &before_query[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

pub(crate) fn create_pg_database(url: &str, name: &str) -> Res<()> {
    let mut conn = storage::establish(url).map_err(|e| format!("PostgreSQL {url}: {e}"))?;
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    Ok(())
}

pub(crate) fn drop_pg_database(url: &str, name: &str) -> Res<()> {
    let mut conn = storage::establish(url).map_err(|e| e.to_string())?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// When the PostgreSQL server started: a change during the run means someone restarted it.
pub(crate) fn postgres_start_time(url: &str) -> Res<String> {
    let conn = storage::establish(url).map_err(|e| format!("PostgreSQL {url}: {e}"))?;
    match conn {
        DbConnection::Postgres(mut c) => {
            diesel::sql_query("SELECT pg_postmaster_start_time()::text AS v")
                .get_result::<Setting>(&mut c)
                .map(|s| s.v)
                .map_err(|e| format!("pg_postmaster_start_time: {e}"))
        }
        DbConnection::Sqlite(_) => Err("--postgres-url is not a PostgreSQL URL".into()),
    }
}
