//! Field-named input errors, and the one mapping from a JSON body to a typed request: every
//! edge (API, web, tests) parses requests through [`parse_json`], so a wrong type, an unknown
//! or a missing field reads the same wherever it comes from.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A refusal of one input field, e.g. `labs.hemoglobin.unit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's path in the request, dot-separated, e.g. `labs.hemoglobin.unit`; empty when
    /// the refusal concerns the whole body.
    #[schema(example = "labs.hemoglobin.unit")]
    pub field: String,
    /// What is wrong with it, for a person to read.
    #[schema(example = "\"mg/L\" is not an accepted unit; use g/L or g/dL")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a JSON body could not become its typed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not JSON at all, more than one document, or not an object at the top.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Well-formed JSON with a field of the wrong type, unknown or missing, named by its path.
    #[error("invalid request: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

/// A request body type: which of its fields hold arrays. serde's derived structs also accept
/// a JSON array and read it positionally (`"labs": []` as no labs), so every array anywhere
/// else in the body is refused, naming its path.
pub trait JsonRequest: DeserializeOwned {
    /// Dot-separated paths of the fields that are arrays.
    const ARRAY_FIELDS: &'static [&'static str] = &[];
}

/// Parses `body` into `T` (which should deny unknown fields). Syntax errors are
/// [`InputError::Malformed`]; a wrong, unknown or missing field is [`InputError::Invalid`]
/// naming the field.
pub fn parse_json<T: JsonRequest>(body: &[u8]) -> Result<T, InputError> {
    // Syntax and shape first: a typed parse stops at the first unknown field, before it would
    // see that the text is not JSON at all.
    let document: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| InputError::Malformed(e.to_string()))?;
    if !document.is_object() {
        return Err(InputError::Malformed(
            "the request body must be a JSON object".into(),
        ));
    }
    let mut arrays = Vec::new();
    find_arrays(&document, "", T::ARRAY_FIELDS, &mut arrays);
    if !arrays.is_empty() {
        return Err(InputError::Invalid(arrays));
    }
    serde_path_to_error::deserialize::<_, T>(document).map_err(|err| {
        let path = err.path().to_string();
        InputError::Invalid(vec![field_error_from_serde(
            (path != ".").then_some(path.as_str()),
            &err.into_inner().to_string(),
        )])
    })
}

/// Most field errors [`parse_json_all`] collects before it gives up on a body.
const MAX_FIELD_ERRORS: usize = 64;

/// Like [`parse_json`], but a wrong, unknown or missing field does not end the parse: it is
/// recorded, taken out of the body, and the rest parsed again, so one answer can name every
/// field at once. Returns the request without the refused fields and the refusals (empty
/// when the body is fine). Syntax errors are still [`InputError::Malformed`].
pub fn parse_json_all<T: JsonRequest>(body: &[u8]) -> Result<(T, Vec<FieldError>), InputError> {
    let mut document: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| InputError::Malformed(e.to_string()))?;
    if !document.is_object() {
        return Err(InputError::Malformed(
            "the request body must be a JSON object".into(),
        ));
    }
    let mut errors = Vec::new();
    find_arrays(&document, "", T::ARRAY_FIELDS, &mut errors);
    for e in &errors {
        remove_path(&mut document, &e.field);
    }
    loop {
        match serde_path_to_error::deserialize::<_, T>(document.clone()) {
            Ok(value) => return Ok((value, errors)),
            Err(err) => {
                let path = err.path().to_string();
                let error = field_error_from_serde(
                    (path != ".").then_some(path.as_str()),
                    &err.into_inner().to_string(),
                );
                // A missing part makes its parent unusable: take the parent out.
                let removed = remove_path(&mut document, &error.field)
                    || error
                        .field
                        .rsplit_once('.')
                        .is_some_and(|(parent, _)| remove_path(&mut document, parent));
                if !errors.iter().any(|e: &FieldError| e.field == error.field) {
                    errors.push(error);
                }
                if !removed || errors.len() >= MAX_FIELD_ERRORS {
                    return Err(InputError::Invalid(errors));
                }
            }
        }
    }
}

/// Removes the value at a dot-separated path; false when there is none.
fn remove_path(document: &mut serde_json::Value, path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop().filter(|l| !l.is_empty()) else {
        return false;
    };
    let mut node = document;
    for part in parts {
        match node.get_mut(part) {
            Some(child) => node = child,
            None => return false,
        }
    }
    node.as_object_mut()
        .is_some_and(|map| map.remove(last).is_some())
}

fn find_arrays(
    value: &serde_json::Value,
    path: &str,
    allowed: &[&str],
    found: &mut Vec<FieldError>,
) {
    match value {
        serde_json::Value::Array(_) if allowed.contains(&path) => {}
        serde_json::Value::Array(_) => found.push(FieldError::new(
            path,
            "invalid type: sequence, expected a single value or an object",
        )),
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                find_arrays(child, &child_path, allowed, found);
            }
        }
        _ => {}
    }
}

fn field_error_from_serde(path: Option<&str>, text: &str) -> FieldError {
    // serde_json may append " at line L column C"; the field name says more to a client.
    let message = text
        .rsplit_once(" at line ")
        .map_or(text, |(m, _)| m)
        .to_string();
    // Name the field itself: the path of an unknown field already ends with it, the path of
    // a missing field stops at its parent.
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string());
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string());
    let named = unknown.clone().or_else(|| missing.clone());
    let field = match (path, named) {
        (Some(p), Some(name))
            if unknown.is_some() && (p == name || p.ends_with(&format!(".{name}"))) =>
        {
            p.to_string()
        }
        (Some(p), Some(name)) => format!("{p}.{name}"),
        (None, Some(name)) => name,
        (Some(p), None) => p.to_string(),
        (None, None) => String::new(),
    };
    let message = if unknown.is_some() {
        "is not a known field".to_string()
    } else if missing.is_some() {
        "is required".to_string()
    } else {
        message
    };
    FieldError::new(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        unit: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        screening_id: String,
        inner: Option<Inner>,
        #[serde(default)]
        tags: Vec<String>,
    }

    impl JsonRequest for Outer {
        const ARRAY_FIELDS: &'static [&'static str] = &["tags"];
    }

    fn fields(body: &str) -> Vec<(String, String)> {
        match parse_json::<Outer>(body.as_bytes()) {
            Err(InputError::Invalid(errors)) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => vec![(format!("{other:?}"), String::new())],
        }
    }

    #[test]
    fn unknown_missing_and_mistyped_fields_are_named_once() {
        let named = |body: &str| -> Vec<String> { fields(body).into_iter().map(|f| f.0).collect() };
        assert_eq!(named(r#"{"screening_id":"s","colour":1}"#), ["colour"]);
        assert_eq!(
            named(r#"{"screening_id":"s","inner":{"unit":"g","flag":1}}"#),
            ["inner.flag"]
        );
        assert_eq!(named(r#"{"screening_id":"s","inner":{}}"#), ["inner.unit"]);
        assert_eq!(named(r#"{"inner":null}"#), ["screening_id"]);
        assert_eq!(named(r#"{"screening_id":7}"#), ["screening_id"]);
        assert_eq!(
            fields(r#"{"colour":1,"screening_id":"s"}"#)[0].1,
            "is not a known field"
        );
        assert_eq!(fields(r#"{"inner":null}"#)[0].1, "is required");
    }

    #[test]
    fn every_bad_field_is_named_in_one_parse() {
        let body = br#"{"screening_id":7,"colour":1,"inner":{"unit":3},"tags":["a"]}"#;
        match parse_json_all::<Outer>(body) {
            Err(InputError::Invalid(errors)) => {
                let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                // screening_id is required: once it is taken out the parse cannot succeed,
                // but everything found on the way is named.
                assert_eq!(named, ["colour", "inner.unit", "screening_id"]);
            }
            other => panic!("{other:?}"),
        }
        let body = br#"{"screening_id":"s","colour":1,"inner":{"unit":3}}"#;
        let (value, errors) = parse_json_all::<Outer>(body).unwrap();
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["colour", "inner.unit"]);
        assert!(value.inner.is_none());
        let (_, errors) = parse_json_all::<Outer>(br#"{"screening_id":"s"}"#).unwrap();
        assert!(errors.is_empty());
    }

    #[test]
    fn arrays_only_where_the_request_has_them() {
        assert!(parse_json::<Outer>(br#"{"screening_id":"s","tags":["a"]}"#).is_ok());
        assert_eq!(fields(r#"{"screening_id":"s","inner":[]}"#)[0].0, "inner");
    }

    #[test]
    fn text_that_is_not_a_json_object_is_malformed() {
        for body in [
            r#"{"colour": "#,
            r#"{"screening_id":"s"}}"#,
            "",
            "nope",
            "[]",
            "7",
        ] {
            assert!(
                matches!(
                    parse_json::<Outer>(body.as_bytes()),
                    Err(InputError::Malformed(_))
                ),
                "{body}"
            );
        }
    }
}
