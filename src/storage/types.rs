//! The domain's enums stored as TEXT: `diesel::sql_types::Text` mappings for both backends.
//!
//! The domain stays free of diesel; the impls live here (same crate, so the orphan rule allows
//! them). `AsExpression`/`FromSqlRow` are derived on private proxy structs with
//! `#[diesel(foreign_derive)]`, which makes diesel implement them for the wrapped domain type;
//! `ToSql`/`FromSql` are written out for SQLite and PostgreSQL, and for the `MultiBackend` of
//! [`DbConnection`](super::DbConnection), which dispatches to those two. A TEXT value that names no variant is a deserialisation error, never a panic.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::connection::MultiBackend;
use crate::access::Role;
use crate::eligibility::Outcome;
use crate::protocol::{CorrectionStatus, DeviationKind, SubjectStatus, TrialStatus};

/// Implements the Text mapping of `$ty` (which has `as_str(self) -> &'static str` and
/// `parse(&str) -> Option<Self>`) through the proxy `$proxy`.
macro_rules! text_enum {
    ($ty:ty, $proxy:ident, $what:literal) => {
        #[derive(AsExpression, FromSqlRow)]
        #[diesel(foreign_derive, sql_type = Text)]
        #[allow(dead_code)]
        struct $proxy($ty);

        impl ToSql<Text, Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                <str as ToSql<Text, Sqlite>>::to_sql(self.as_str(), out)
            }
        }

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Sqlite> for $ty {
            fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
                parse_text(&text, <$ty>::parse, $what)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
                parse_text(&text, <$ty>::parse, $what)
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(
                value: <MultiBackend as Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                value.from_sql::<$ty, Text>()
            }
        }

        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }
    };
}

fn parse_text<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> deserialize::Result<T> {
    parse(text).ok_or_else(|| format!("unknown {what} {text:?} in the database").into())
}

text_enum!(Role, RoleProxy, "role");
text_enum!(Outcome, OutcomeProxy, "screening outcome");
text_enum!(TrialStatus, TrialStatusProxy, "trial status");
text_enum!(SubjectStatus, SubjectStatusProxy, "subject status");
text_enum!(CorrectionStatus, CorrectionStatusProxy, "correction status");
text_enum!(DeviationKind, DeviationKindProxy, "deviation kind");
