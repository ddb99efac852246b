//! The pieces every use case's error is made of. Each service module has its own `thiserror`
//! enum (`ScreeningError`, `AllocationError`, …) naming its own refusals; these are the parts
//! they share. Nothing here knows about HTTP: the edges map each enum to their answer.

use std::panic::Location;

use crate::fields::FieldError;

/// A row the use case needed and did not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {kind} {id:?}")]
pub struct NotFound {
    pub kind: &'static str,
    pub id: String,
}

impl NotFound {
    pub fn trial(id: &str) -> Self {
        NotFound {
            kind: "trial",
            id: id.to_string(),
        }
    }

    pub fn screening(id: &str) -> Self {
        NotFound {
            kind: "screening",
            id: id.to_string(),
        }
    }

    pub fn subject(id: &str) -> Self {
        NotFound {
            kind: "subject",
            id: id.to_string(),
        }
    }

    pub fn user(name: &str) -> Self {
        NotFound {
            kind: "user",
            id: name.to_string(),
        }
    }
}

/// Input that names its fields: every problem found, each with its field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Invalid(vec![FieldError::new(field, message)])
    }
}

/// A write in a trial that is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trial {0} is closed")]
pub struct TrialClosed(pub String);

/// A failure with no meaning to the caller: a broken invariant, unreadable stored data, no
/// entropy. It is logged with where it arose and its cause; clients see only that it happened.
#[derive(Debug, thiserror::Error)]
#[error("{what} (at {location})")]
pub struct Internal {
    what: String,
    location: &'static Location<'static>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Internal {
    #[track_caller]
    pub fn new(what: impl Into<String>) -> Self {
        Internal {
            what: what.into(),
            location: Location::caller(),
            source: None,
        }
    }

    #[track_caller]
    pub fn caused(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Internal {
            what: what.into(),
            location: Location::caller(),
            source: Some(source.into()),
        }
    }

    /// Where the error was made, for logs.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

/// The error and all its causes, for a log line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An id no row can have: control characters (PostgreSQL text cannot even hold NUL) or
/// longer than any id issued. Answered as not found without asking the database.
pub fn impossible_id(id: &str) -> bool {
    id.len() > 128 || id.chars().any(char::is_control)
}
