//! Setting a scenario up through the API: the HTTP client, the actors, the screened patients.

use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{json, Value};

use super::server::Server;
use super::T;
use crate::common::app::eligible;

/// A client for the load and the checks. The timeout is far above the server's pool timeout
/// (5 s), so a request that times out is a hang, not a slow 503.
pub fn http_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

pub struct Actors {
    pub admin: String,
    pub investigator: String,
    pub pharmacist: String,
    pub monitor: String,
}

pub fn create_actors(server: &Server, client: &Client) -> Actors {
    let admin = server.admin_token();
    // The site the scenarios screen at (409: registered by an earlier run on this database).
    let r = client
        .post(format!("{}/api/v1/sites", server.base()))
        .bearer_auth(&admin)
        .json(&json!({"code": "SITE01", "name": "Site 01", "time_zone": "UTC"}))
        .send()
        .unwrap();
    assert!(r.status() == 201 || r.status() == 409, "registering SITE01");
    let user = |name: &str, role: &str| {
        let r = client
            .post(format!("{}/api/v1/users", server.base()))
            .bearer_auth(&admin)
            .json(&json!({"name": name, "role": role}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "creating {name}");
        r.json::<Value>().unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    Actors {
        investigator: user("ines", "investigator"),
        pharmacist: user("paul", "pharmacist"),
        monitor: user("mona", "monitor"),
        admin,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Patient {
    pub screening_id: String,
    pub patient_ref: String,
}

/// Screens `n` eligible patients `{prefix}-0000`, … (three threads; every one must be 201).
pub fn screen(
    server: &Server,
    client: &Client,
    token: &str,
    prefix: &str,
    n: usize,
) -> Vec<Patient> {
    let url = format!("{}{T}/screenings", server.base());
    let workers = 3;
    let handles: Vec<JoinHandle<Vec<(usize, Patient)>>> = (0..workers)
        .map(|w| {
            let (client, url, token, prefix) = (
                client.clone(),
                url.clone(),
                token.to_string(),
                prefix.to_string(),
            );
            std::thread::spawn(move || {
                (w..n)
                    .step_by(workers)
                    .map(|i| {
                        let patient_ref = format!("{prefix}-{i:05}");
                        let r = client
                            .post(&url)
                            .bearer_auth(&token)
                            .json(&eligible(&patient_ref, "SITE01"))
                            .send()
                            .unwrap();
                        assert_eq!(r.status(), 201, "screening {patient_ref}");
                        let body: Value = r.json().unwrap();
                        assert_eq!(body["outcome"], "eligible");
                        let screening_id = body["id"].as_str().unwrap().to_string();
                        (
                            i,
                            Patient {
                                screening_id,
                                patient_ref,
                            },
                        )
                    })
                    .collect()
            })
        })
        .collect();
    let mut all: Vec<(usize, Patient)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, p)| p).collect()
}
