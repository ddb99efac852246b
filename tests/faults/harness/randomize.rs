//! One randomization request under an idempotency key, its answer classified into an
//! [`Outcome`].

use std::fmt::Write as _;

use reqwest::blocking::Client;
use serde_json::{json, Value};

use super::T;

/// What a 201 said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alloc {
    pub subject_id: String,
    pub sequence: i64,
    pub arm: String,
    pub patient_ref: String,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// 201.
    Ack { alloc: Alloc, replayed: bool },
    /// 409 / 422 with its problem code.
    Refused { status: u16, code: String },
    /// Unknown: 503 with its problem code.
    Unavailable { code: String },
    /// Unknown: no connection, or the connection broke before a full answer.
    Connection(String),
    /// Unknown: no answer within the client timeout (a hang).
    Timeout,
    /// Anything else (500, …): always a finding.
    Unexpected { status: u16, body: String },
}

impl Outcome {
    pub fn is_unknown(&self) -> bool {
        matches!(
            self,
            Outcome::Unavailable { .. } | Outcome::Connection(_) | Outcome::Timeout
        )
    }
}

/// One `POST /randomizations` under an `Idempotency-Key`, classified.
pub fn randomize(
    client: &Client,
    base: &str,
    token: &str,
    key: &str,
    screening_id: &str,
) -> Outcome {
    let response = client
        .post(format!("{base}{T}/randomizations"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({ "screening_id": screening_id }))
        .send();
    let r = match response {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Outcome::Timeout,
        Err(e) => return Outcome::Connection(error_chain(&e)),
    };
    let status = r.status().as_u16();
    let replayed = r.headers().contains_key("Idempotent-Replayed");
    let body = match r.text() {
        Ok(body) => body,
        Err(e) if e.is_timeout() => return Outcome::Timeout,
        Err(e) => return Outcome::Connection(error_chain(&e)),
    };
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let code = json["code"].as_str().unwrap_or("").to_string();
    match status {
        201 => match alloc_of(&json) {
            Some(alloc) => Outcome::Ack { alloc, replayed },
            None => Outcome::Unexpected { status, body },
        },
        409 | 422 => Outcome::Refused { status, code },
        503 => Outcome::Unavailable { code },
        _ => Outcome::Unexpected { status, body },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

pub fn alloc_of(v: &Value) -> Option<Alloc> {
    Some(Alloc {
        subject_id: v["subject_id"].as_str()?.to_string(),
        sequence: v["sequence"].as_i64()?,
        arm: v["arm"].as_str()?.to_string(),
        patient_ref: v["patient_ref"].as_str()?.to_string(),
    })
}
