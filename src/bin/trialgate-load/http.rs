//! The HTTP client and the API requests other than the timed randomizations: users, the
//! audit verdict, the eligible screening body.

use std::time::Duration;

use serde_json::{json, Value};

use crate::Res;

pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(timeout))
            .build(),
    )
}

/// Sends a request; returns (status, body).
pub(crate) fn send(
    http: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> Res<(u16, String)> {
    let auth = format!("Bearer {token}");
    let result = match (method, body) {
        ("GET", _) => http.get(url).header("Authorization", &auth).call(),
        (_, Some(body)) => http
            .post(url)
            .header("Authorization", &auth)
            .content_type("application/json")
            .send(body.to_string()),
        (_, None) => http.post(url).header("Authorization", &auth).send_empty(),
    };
    let mut response = result.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{method} {url}: reading body: {e}"))?;
    Ok((status, text))
}

pub(crate) fn create_user(
    http: &ureq::Agent,
    base: &str,
    admin: &str,
    name: &str,
    role: &str,
) -> Res<String> {
    let name = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (status, text) = send(
        http,
        "POST",
        &format!("{base}/api/v1/users"),
        admin,
        Some(&json!({"name": name, "role": role})),
    )?;
    if status != 201 {
        return Err(format!("creating user {name}: {status} {text}"));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("user response: {e}"))?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("user response without token: {text}"))
}

/// Registers the site the load screens at (already registered is fine).
pub(crate) fn register_site(http: &ureq::Agent, base: &str, admin: &str, code: &str) -> Res<()> {
    let (status, text) = send(
        http,
        "POST",
        &format!("{base}/api/v1/sites"),
        admin,
        Some(&json!({"code": code, "name": format!("Load test site {code}"), "time_zone": "UTC"})),
    )?;
    if status != 201 && status != 409 {
        return Err(format!("registering site {code}: {status} {text}"));
    }
    Ok(())
}

/// (valid, entries) of the trial's audit chain.
pub(crate) fn verify_audit(
    http: &ureq::Agent,
    base: &str,
    monitor: &str,
    trial: &str,
) -> Res<(bool, u64)> {
    let (status, text) = send(
        http,
        "GET",
        &format!("{base}/api/v1/trials/{trial}/audit/verify"),
        monitor,
        None,
    )?;
    if status != 200 {
        return Err(format!("audit verify: {status} {text}"));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("audit verify: {e}"))?;
    Ok((
        v["valid"].as_bool() == Some(true),
        v["entries"].as_u64().unwrap_or(0),
    ))
}

/// A fully eligible screening request (the API tests' reference patient).
pub(crate) fn eligible(patient_ref: &str) -> Value {
    json!({
        "patient_ref": patient_ref, "site": "SITE01",
        "birth_date": "1961-03-02", "sex": "female", "screening_date": "2026-11-20",
        "liver_metastasis": false,
        "attestations": {
            "bone_met_soft_tissue": true, "informed_consent": true,
            "acute_infection_or_serious_disease": false, "neuro_psych_history": false,
            "investigator_finds_suitable": true
        },
        "labs": {
            "hemoglobin": {"value": 112, "unit": "g/L"},
            "anc": {"value": 2.1, "unit": "10^9/L"},
            "platelets": {"value": 180, "unit": "10^9/L"},
            "alt": {"value": 35, "uln": 40, "unit": "U/L"},
            "ast": {"value": 30, "uln": 40, "unit": "U/L"},
            "bilirubin": {"value": 12, "uln": 21, "unit": "umol/L"},
            "alp": {"value": 150, "uln": 125, "unit": "U/L"},
            "creatinine": {"value": 80, "uln": 97, "unit": "umol/L"},
            "creatinine_clearance_24h": {"value": 62, "unit": "mL/min"},
            "urine_protein_dipstick": "1+",
            "urine_protein_24h": {"value": 1.2, "unit": "g/24h"},
            "upc_ratio": 1.4
        }
    })
}
