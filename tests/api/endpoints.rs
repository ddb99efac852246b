//! Every endpoint of api.md does what the table says.

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trialgate::protocol::Protocol;
use trialgate::randomization::{Schedule, Seed};

use super::support::{
    audit_head, audit_records, enroll, error_fields, get_json, protocol_with, screen,
    screen_eligible, send, T, TRIAL,
};
use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn seed_of(app: &TestApp) -> Seed {
    Seed::read_file(&app.seed_file(TRIAL)).unwrap()
}

/// The first `n` arms of a stratum's schedule for the app's seed and `protocol`.
fn schedule_arms(app: &TestApp, protocol: &Protocol, stratum: &str, n: usize) -> Vec<String> {
    Schedule::new(&seed_of(app), TRIAL, stratum, protocol.design())
        .take(n)
        .map(|e| protocol.arms[e.arm].code.clone())
        .collect()
}

fn operations(db: TestDb) {
    let app = TestApp::spawn(db);
    let r = app.client.get(app.url("/healthz")).send().unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"status": "ok", "database": "ok"})
    );
    assert_eq!(text, r#"{"status":"ok","database":"ok"}"#);

    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    enroll(&app, &inv, &pharm, "P-1", "SITE01");
    let r = app.client.get(app.url("/metrics")).send().unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = r.text().unwrap();
    assert!(text.contains("# TYPE trialgate_http_requests_total counter"));
    assert!(text.contains("trialgate_http_requests_total{"));
    assert!(
        text.lines()
            .any(|l| l == format!("trialgate_allocations_total{{trial=\"{TRIAL}\"}} 1")),
        "{text}"
    );
    // Every sample line is `name{labels} value` or `name value`.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
        assert!(line.starts_with("trialgate_"), "{line}");
    }
    assert!(!text.contains("SFRT_SCART") && !text.contains("\"CRT\""));
}
both_backends!(operations);

/// api.md's endpoint table (the checkpoint, not built yet, aside).
const CONTRACT_PATHS: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/trials"),
    ("get", "/api/v1/trials/{trial}"),
    ("post", "/api/v1/trials/{trial}/screenings"),
    ("get", "/api/v1/trials/{trial}/screenings/{id}"),
    ("get", "/api/v1/trials/{trial}/screenings"),
    ("post", "/api/v1/trials/{trial}/randomizations"),
    ("get", "/api/v1/trials/{trial}/subjects"),
    ("get", "/api/v1/trials/{trial}/subjects/{subject_id}"),
    (
        "post",
        "/api/v1/trials/{trial}/subjects/{subject_id}/withdrawal",
    ),
    ("get", "/api/v1/trials/{trial}/balance"),
    ("get", "/api/v1/trials/{trial}/audit"),
    ("get", "/api/v1/trials/{trial}/audit/head"),
    ("get", "/api/v1/trials/{trial}/audit/verify"),
    ("get", "/api/v1/trials/{trial}/export"),
    ("post", "/api/v1/trials/{trial}/close"),
    ("post", "/api/v1/users"),
    ("delete", "/api/v1/users/{name}"),
];

fn openapi_document(db: TestDb) {
    let app = TestApp::spawn(db);
    let r = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "no token needed");
    let doc: Value = r.json().unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in CONTRACT_PATHS {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "openapi.json lacks {method} {path}; has {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
both_backends!(openapi_document);

const CRITERIA: [&str; 15] = [
    "age",
    "bone_met_soft_tissue",
    "informed_consent",
    "hemoglobin",
    "anc",
    "platelets",
    "alt",
    "ast",
    "bilirubin",
    "alp",
    "creatinine",
    "urine_protein",
    "no_acute_infection_or_serious_disease",
    "no_neuro_psych_history",
    "investigator_judgement",
];

fn trials_list_and_detail(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    enroll(&app, &inv, &pharm, "P-1", "SITE01");

    let list = get_json(&app, &inv, "/api/v1/trials");
    assert_eq!(
        list,
        json!([{
            "id": TRIAL,
            "title": "SFRT and SCART in Radiotherapy for Bone Metastases With Soft Tissue",
            "status": "open",
            "enrolled": 1,
            "cap": 90
        }])
    );

    let d = get_json(&app, &inv, T);
    assert_eq!(d["id"], TRIAL);
    assert_eq!(d["status"], "open");
    assert_eq!(d["enrolled"], 1);
    assert_eq!(d["cap"], 90);
    let arms: Vec<(String, u64)> = d["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert!(a["name"].as_str().is_some_and(|n| !n.is_empty()));
            (
                a["code"].as_str().unwrap().to_string(),
                a["ratio"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(arms, [("SFRT_SCART".into(), 2), ("CRT".into(), 1)]);
    let criteria: Vec<&str> = d["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["text"].as_str().is_some_and(|t| !t.is_empty()), "{c}");
            c["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(criteria, CRITERIA);
    assert_eq!(d["stratification"], json!([]));
    let seed_text = std::fs::read_to_string(app.seed_file(TRIAL)).unwrap();
    let seed_bytes = hex::decode(seed_text.trim()).unwrap();
    assert_eq!(seed_bytes.len(), 32);
    assert_eq!(d["seed_commitment"], sha256_hex(&seed_bytes));
    assert_eq!(d["seed_available"], true);
    assert_eq!(d["seed_revealed"], false);

    // A screening lists every criterion in protocol order.
    let s = screen(&app, &inv, &eligible("P-2", "SITE01"));
    let ids: Vec<&str> = s["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, CRITERIA);
    let again = get_json(
        &app,
        &pharm,
        &format!("{T}/screenings/{}", s["id"].as_str().unwrap()),
    );
    for key in [
        "id",
        "trial",
        "patient_ref",
        "site",
        "outcome",
        "criteria",
        "missing",
        "screening_date",
        "screened_at",
        "screened_by",
    ] {
        assert_eq!(again[key], s[key], "{key}");
    }
    assert_eq!(again["screened_by"], "ines");
    assert_eq!(again["screening_date"], "2026-11-20");
}
both_backends!(trials_list_and_detail);

fn screening_queue(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let waiting = screen_eligible(&app, &inv, "A", "SITE01");
    enroll(&app, &inv, &pharm, "B", "SITE01");
    let mut low_hb = eligible("C", "SITE01");
    low_hb["labs"]["hemoglobin"]["value"] = json!(80);
    screen(&app, &inv, &low_hb);
    let mut incomplete = eligible("D", "SITE02");
    incomplete["labs"].as_object_mut().unwrap().remove("anc");
    screen(&app, &inv, &incomplete);
    // E was eligible, then re-screened ineligible: not in the queue.
    screen_eligible(&app, &inv, "E", "SITE01");
    let mut e = low_hb.clone();
    e["patient_ref"] = json!("E");
    screen(&app, &inv, &e);
    // F was ineligible, then re-screened eligible: in the queue with the later screening.
    let mut f = low_hb.clone();
    f["patient_ref"] = json!("F");
    f["site"] = json!("SITE02");
    screen(&app, &inv, &f);
    let f_latest = screen_eligible(&app, &inv, "F", "SITE02");

    let queue = get_json(
        &app,
        &pharm,
        &format!("{T}/screenings?outcome=eligible&randomized=false"),
    );
    let mut ids: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["outcome"], "eligible");
            assert_eq!(s["latest"], true);
            assert!(s.get("subject_id").is_none());
            s["id"].as_str().unwrap()
        })
        .collect();
    ids.sort_unstable();
    let mut want = vec![waiting.as_str(), f_latest.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // The other filters.
    let all = get_json(&app, &inv, &format!("{T}/screenings"));
    let refs = |v: &Value| -> Vec<String> {
        let mut r: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["patient_ref"].as_str().unwrap().to_string())
            .collect();
        r.sort();
        r
    };
    assert_eq!(
        refs(&all),
        ["A", "B", "C", "D", "E", "F"],
        "latest per patient"
    );
    let randomized_list = get_json(&app, &inv, &format!("{T}/screenings?randomized=true"));
    assert_eq!(refs(&randomized_list), ["B"]);
    assert!(randomized_list[0]["subject_id"].is_string());
    let ineligible = get_json(&app, &inv, &format!("{T}/screenings?outcome=ineligible"));
    assert_eq!(refs(&ineligible), ["C", "E"]);
    let incomplete = get_json(&app, &inv, &format!("{T}/screenings?outcome=incomplete"));
    assert_eq!(refs(&incomplete), ["D"]);
    let site2 = get_json(&app, &inv, &format!("{T}/screenings?site=SITE02"));
    assert_eq!(refs(&site2), ["D", "F"]);
    let limited = get_json(&app, &inv, &format!("{T}/screenings?limit=2"));
    assert_eq!(limited.as_array().unwrap().len(), 2);
}
both_backends!(screening_queue);

fn subjects_and_balance(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let n = 8;
    let made: Vec<Value> = (0..n)
        .map(|i| enroll(&app, &inv, &pharm, &format!("P-{i}"), "SITE01"))
        .collect();
    let protocol = Protocol::default_trial().unwrap();
    let schedule: Vec<_> = Schedule::new(&seed_of(&app), TRIAL, "", protocol.design())
        .take(n)
        .collect();

    let subjects = get_json(&app, &pharm, &format!("{T}/subjects"));
    let subjects = subjects.as_array().unwrap();
    assert_eq!(subjects.len(), n);
    for (i, s) in subjects.iter().enumerate() {
        assert_eq!(s["sequence"], i as i64 + 1);
        assert_eq!(s["subject_id"], format!("{TRIAL}-{:04}", i + 1));
        assert_eq!(s["arm"], protocol.arms[schedule[i].arm].code);
        assert_eq!(s, &made[i], "list and allocation agree");
        let arm = protocol.arm(s["arm"].as_str().unwrap()).unwrap();
        assert_eq!(s["arm_name"], arm.name);
        assert_eq!(s["randomized_by"], "paul");
        assert_eq!(s["status"], "on_study");
        let one = get_json(
            &app,
            &inv,
            &format!("{T}/subjects/{}", s["subject_id"].as_str().unwrap()),
        );
        assert_eq!(&one, s);
    }

    let b = get_json(&app, &mon, &format!("{T}/balance"));
    let count = |arm: &str, upto: &[trialgate::randomization::ScheduledAllocation]| {
        upto.iter()
            .filter(|e| protocol.arms[e.arm].code == arm)
            .count() as i64
    };
    let counts = json!([
        {"arm": "SFRT_SCART", "count": count("SFRT_SCART", &schedule)},
        {"arm": "CRT", "count": count("CRT", &schedule)},
    ]);
    assert_eq!(b["counts"], counts);
    assert_eq!(b["enrolled"], n);
    let strata = b["strata"].as_array().unwrap();
    assert_eq!(strata.len(), 1);
    assert_eq!(strata[0]["stratum_key"], "");
    assert_eq!(strata[0]["counts"], counts);
    // While the seed is secret, no block information at all.
    assert!(strata[0]["blocks"].is_null(), "{b}");
    assert!(b["blocks"].is_null(), "{b}");

    // After close with reveal: blocks as the revealed seed's schedule lays them out.
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &json!({"reason": "end of accrual", "reveal_seed": true}),
    );
    assert_eq!(r.status(), 200);
    let b = get_json(&app, &mon, &format!("{T}/balance"));
    let strata = b["strata"].as_array().unwrap();
    assert_eq!(
        b["blocks"], strata[0]["blocks"],
        "all strata's blocks, flattened"
    );
    let mut want_blocks = Vec::new();
    for index in 0..=schedule.last().unwrap().block_index {
        let members: Vec<_> = schedule
            .iter()
            .filter(|e| e.block_index == index)
            .cloned()
            .collect();
        let size = members[0].block_size;
        want_blocks.push(json!({
            "size": size,
            "filled": members.len(),
            "counts": [
                {"arm": "SFRT_SCART", "count": count("SFRT_SCART", &members)},
                {"arm": "CRT", "count": count("CRT", &members)},
            ],
            "complete": members.len() as u32 == size,
        }));
    }
    let got_blocks: Vec<Value> = strata[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|blk| {
            json!({
                "size": blk["size"],
                "filled": blk["filled"],
                "counts": blk["counts"],
                "complete": blk["complete"],
            })
        })
        .collect();
    assert_eq!(got_blocks, want_blocks);
    // A complete block is exactly 2:1.
    for blk in &got_blocks {
        if blk["complete"] == true {
            let size = blk["size"].as_i64().unwrap();
            assert_eq!(blk["counts"][0]["count"], size / 3 * 2);
            assert_eq!(blk["counts"][1]["count"], size / 3);
        }
    }
}
both_backends!(subjects_and_balance);

fn audit_paging(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let a = enroll(&app, &inv, &pharm, "P-1", "SITE01");
    enroll(&app, &inv, &pharm, "P-2", "SITE01");
    let r = app.post(
        &inv,
        &format!(
            "{T}/subjects/{}/withdrawal",
            a["subject_id"].as_str().unwrap()
        ),
        &json!({"reason": "moved"}),
    );
    assert_eq!(r.status(), 200);
    // initialized, 2 × (screening, randomization), withdrawal
    let (head_seq, head_hash) = audit_head(&app, &mon);
    assert_eq!(head_seq, 6);

    let all = get_json(&app, &mon, &format!("{T}/audit"));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 6);
    let mut prev = "0".repeat(64);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e["seq"], i as i64 + 1);
        assert_eq!(e["prev_hash"], prev);
        let record = e["record"].as_str().unwrap();
        let mut hashed = prev.clone().into_bytes();
        hashed.extend_from_slice(record.as_bytes());
        assert_eq!(e["hash"], sha256_hex(&hashed));
        let r: Value = serde_json::from_str(record).unwrap();
        for key in ["seq", "at", "actor", "role", "action"] {
            assert_eq!(r[key], e[key], "{key} of entry {i}");
        }
        assert_eq!(r["trial"], TRIAL);
        prev = e["hash"].as_str().unwrap().to_string();
    }
    assert_eq!(prev, head_hash);
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "trial.initialized",
            "screening.recorded",
            "subject.randomized",
            "screening.recorded",
            "subject.randomized",
            "subject.withdrawn",
        ]
    );
    let first: Value = serde_json::from_str(all[0]["record"].as_str().unwrap()).unwrap();
    let d = get_json(&app, &mon, T);
    assert_eq!(first["data"]["seed_commitment"], d["seed_commitment"]);

    let page = |after: i64, limit: i64| -> Vec<i64> {
        get_json(
            &app,
            &mon,
            &format!("{T}/audit?after={after}&limit={limit}"),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
    };
    assert_eq!(page(0, 2), [1, 2]);
    assert_eq!(page(2, 2), [3, 4]);
    assert_eq!(page(4, 2), [5, 6]);
    assert_eq!(page(6, 2), Vec::<i64>::new());
    assert_eq!(page(3, 1000), [4, 5, 6]);

    let v = get_json(&app, &mon, &format!("{T}/audit/verify"));
    assert_eq!(
        v,
        json!({"valid": true, "entries": 6, "head": head_hash, "first_invalid_seq": null})
    );
}
both_backends!(audit_paging);

fn close_with_reveal(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    enroll(&app, &inv, &pharm, "P-1", "SITE01");
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &json!({"reason": "accrual complete", "reveal_seed": true}),
    );
    assert_eq!(r.status(), 200);
    let d: Value = r.json().unwrap();
    assert_eq!(d["status"], "closed");
    assert_eq!(d["seed_revealed"], true);
    assert_eq!(d["close_reason"], "accrual complete");
    assert!(d["closed_at"].is_string());
    let records = audit_records(&app, &mon);
    let n = records.len();
    assert_eq!(records[n - 2]["action"], "trial.closed");
    assert_eq!(records[n - 2]["data"]["reason"], "accrual complete");
    assert_eq!(records[n - 1]["action"], "seed.revealed");
    let seed_hex = records[n - 1]["data"]["seed"].as_str().unwrap();
    assert_eq!(
        sha256_hex(&hex::decode(seed_hex).unwrap()),
        d["seed_commitment"].as_str().unwrap()
    );
    assert_eq!(seed_hex, seed_of(&app).to_hex());
    let list = get_json(&app, &inv, "/api/v1/trials");
    assert_eq!(list[0]["status"], "closed");
    assert_eq!(get_json(&app, &inv, T)["status"], "closed");
    let v = get_json(&app, &mon, &format!("{T}/audit/verify"));
    assert_eq!(v["valid"], true);
}
both_backends!(close_with_reveal);

fn close_without_reveal(db: TestDb) {
    let app = TestApp::spawn(db);
    let mon = app.user("mona", "monitor", &[]);
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &json!({"reason": "stopped"}),
    );
    assert_eq!(r.status(), 200);
    let d: Value = r.json().unwrap();
    assert_eq!(d["status"], "closed");
    assert_eq!(d["seed_revealed"], false);
    let records = audit_records(&app, &mon);
    assert_eq!(records.last().unwrap()["action"], "trial.closed");
    let seed_hex = seed_of(&app).to_hex();
    let all = get_json(&app, &mon, &format!("{T}/audit")).to_string();
    assert!(!all.contains(&seed_hex));
}
both_backends!(close_without_reveal);

fn users_create_and_revoke(db: TestDb) {
    let app = TestApp::spawn(db);
    let r = app.post(
        &app.admin,
        "/api/v1/users",
        &json!({"name": "paula", "role": "pharmacist", "sites": ["SITE01", "SITE02"]}),
    );
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let created: Value = r.json().unwrap();
    assert_eq!(created["name"], "paula");
    assert_eq!(created["role"], "pharmacist");
    let token = created["token"].as_str().unwrap().to_string();
    // 256 bits of randomness, however it is spelled.
    assert!(token.len() >= 43, "{token}");
    assert_eq!(app.get(&token, T).status(), 200);
    // The same name twice is refused.
    let r = app.post(
        &app.admin,
        "/api/v1/users",
        &json!({"name": "paula", "role": "monitor"}),
    );
    let p = super::support::assert_problem(r, 422, "validation_failed");
    assert_eq!(error_fields(&p), ["name"]);
    // A user without sites.
    let mon = app.user("mona", "monitor", &[]);
    assert_eq!(app.get(&mon, &format!("{T}/balance")).status(), 200);

    let r = send(
        &app,
        Method::DELETE,
        Some(&app.admin),
        "/api/v1/users/paula",
        None,
    );
    assert_eq!(r.status(), 200);
    super::support::assert_problem(app.get(&token, T), 401, "unauthorized");
    assert_eq!(app.get(&mon, T).status(), 200, "other users unaffected");

    let mut conn = app.db.connection();
    let v = trialgate::storage::verify_chain(&mut conn, "_system", None).unwrap();
    assert!(v.valid, "{v:?}");
    let entries = trialgate::storage::read_audit(&mut conn, "_system", 0, 1000).unwrap();
    assert_eq!(v.entries as usize, entries.len());
    let records: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::from_str(&e.record).unwrap())
        .collect();
    let find = |action: &str, name: &str| {
        records
            .iter()
            .find(|r| r["action"] == action && r["data"]["name"] == name)
            .unwrap_or_else(|| panic!("no {action} of {name} in {records:?}"))
            .clone()
    };
    let c = find("user.created", "paula");
    assert_eq!(c["actor"], "admin");
    assert_eq!(c["data"]["role"], "pharmacist");
    assert_eq!(c["data"]["sites"], json!(["SITE01", "SITE02"]));
    assert!(
        !c.to_string().contains(&token),
        "the token is never recorded"
    );
    let rv = find("user.revoked", "paula");
    assert_eq!(rv["actor"], "admin");
    find("user.created", "mona");
    // User events stay out of the trial's chain.
    let trial_entries = trialgate::storage::read_audit(&mut conn, TRIAL, 0, 1000).unwrap();
    assert!(trial_entries.iter().all(|e| !e.action.starts_with("user.")));
}
both_backends!(users_create_and_revoke);

fn stratified_by_site(db: TestDb) {
    let protocol = protocol_with("stratification = []", "stratification = [\"site\"]");
    let app = TestApp::spawn_with(db, vec![protocol.clone()]);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    assert_eq!(get_json(&app, &inv, T)["stratification"], json!(["site"]));
    let sites = [
        "SITE01", "SITE02", "SITE02", "SITE01", "SITE01", "SITE02", "SITE02", "SITE01", "SITE01",
        "SITE02",
    ];
    let mut got: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (i, site) in sites.iter().enumerate() {
        let a = enroll(&app, &inv, &pharm, &format!("{site}-{i:04}"), site);
        assert_eq!(a["sequence"], i as i64 + 1, "sequence is trial-wide");
        got.entry(site)
            .or_default()
            .push(a["arm"].as_str().unwrap().to_string());
    }
    for (site, arms) in &got {
        let want = schedule_arms(&app, &protocol, &format!("site={site}"), arms.len());
        assert_eq!(arms, &want, "{site} follows its own stream");
    }
    // The streams differ from each other and from the unstratified one.
    let a = schedule_arms(&app, &protocol, "site=SITE01", 30);
    let b = schedule_arms(&app, &protocol, "site=SITE02", 30);
    let c = schedule_arms(&app, &protocol, "", 30);
    assert!(a != b && a != c);

    let balance = get_json(&app, &mon, &format!("{T}/balance"));
    let keys: Vec<&str> = balance["strata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stratum_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["site=SITE01", "site=SITE02"]);
    // The randomization records name the stratum and its own positions.
    let records = audit_records(&app, &mon);
    let positions: Vec<(String, i64)> = records
        .iter()
        .filter(|r| r["action"] == "subject.randomized")
        .map(|r| {
            (
                r["data"]["stratum_key"].as_str().unwrap().to_string(),
                r["data"]["stratum_position"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(positions[0], ("site=SITE01".into(), 0));
    assert_eq!(positions[1], ("site=SITE02".into(), 0));
    assert_eq!(positions[2], ("site=SITE02".into(), 1));
    assert_eq!(positions[9], ("site=SITE02".into(), 4));
}
both_backends!(stratified_by_site);

fn stratified_by_sex_needs_sex(db: TestDb) {
    let protocol = protocol_with("stratification = []", "stratification = [\"sex\"]");
    let app = TestApp::spawn_with(db, vec![protocol]);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mut no_sex = eligible("P-1", "SITE01");
    no_sex.as_object_mut().unwrap().remove("sex");
    let p = super::support::assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &no_sex),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["sex"]);
    let a = enroll(&app, &inv, &pharm, "P-1", "SITE01");
    let protocol = protocol_with("stratification = []", "stratification = [\"sex\"]");
    assert_eq!(a["arm"], schedule_arms(&app, &protocol, "sex=female", 1)[0]);
}
both_backends!(stratified_by_sex_needs_sex);

/// Admins cannot be limited to sites, and the refusal says why; nothing is created. Monitors
/// can (a CRA visiting their sites).
fn admins_are_not_site_limited(db: TestDb) {
    let app = TestApp::spawn(db);
    let r = app.post(
        &app.admin,
        "/api/v1/users",
        &json!({"name": "adam", "role": "admin", "sites": ["SITE01"]}),
    );
    let p = super::support::assert_problem(r, 422, "validation_failed");
    assert_eq!(error_fields(&p), ["sites"], "{p}");
    let message = p["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("admin"), "{message}");
    // Without sites they are fine; a monitor may be limited to sites.
    app.user("adam", "admin", &[]);
    app.user("mona", "monitor", &["SITE01"]);
    let mut conn = app.db.connection();
    let created: Vec<Value> = trialgate::storage::read_audit(&mut conn, "_system", 0, 1000)
        .unwrap()
        .iter()
        .filter(|e| e.action == "user.created")
        .map(|e| serde_json::from_str::<Value>(&e.record).unwrap()["data"].clone())
        .collect();
    // The first admin, adam, and the monitor.
    let sites: Vec<&Value> = created.iter().map(|d| &d["sites"]).collect();
    assert_eq!(
        sites,
        [&json!([]), &json!([]), &json!(["SITE01"])],
        "{created:?}"
    );
}
both_backends!(admins_are_not_site_limited);

/// `after` beyond the chain head is refused naming `after`; nothing overflows.
fn audit_after_out_of_range(db: TestDb) {
    let app = TestApp::spawn(db);
    let mon = app.user("mona", "monitor", &[]);
    let (head, _) = audit_head(&app, &mon);
    assert_eq!(
        get_json(&app, &mon, &format!("{T}/audit?after={head}")),
        json!([])
    );
    for after in [
        (head + 1).to_string(),
        i64::MAX.to_string(),
        (i64::MAX - 1).to_string(),
        "-1".into(),
        i64::MIN.to_string(),
    ] {
        let r = app.get(&mon, &format!("{T}/audit?after={after}&limit=1000"));
        let p = super::support::assert_problem(r, 422, "validation_failed");
        assert_eq!(error_fields(&p), ["after"], "after={after}: {p}");
    }
    // Not a 64-bit number at all: a malformed query string, as for every integer parameter.
    let r = app.get(&mon, &format!("{T}/audit?after=9223372036854775808"));
    super::support::assert_problem(r, 400, "malformed_request");
}
both_backends!(audit_after_out_of_range);

/// The SQLite database and its WAL files are private to the server's user (0600), like the
/// seed files and keys beside them.
#[cfg(unix)]
#[test]
fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::sqlite();
    let path = db.dir().unwrap().join("trialgate.db");
    assert!(!path.exists());
    let app = TestApp::spawn(db);
    // Something written, so the WAL exists while the server runs.
    app.user("ines", "investigator", &[]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "{}", path.display());
    let mut checked = 1;
    for suffix in ["-wal", "-shm"] {
        let side = path.with_file_name(format!("trialgate.db{suffix}"));
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
            checked += 1;
        }
    }
    assert!(checked > 1, "WAL mode: the -wal file is there");
}

/// Every response names its request: the id every log line of that request carries.
fn responses_carry_a_request_id(db: TestDb) {
    let app = TestApp::spawn(db);
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let r = app.get(&app.admin, "/api/v1/trials");
            assert_eq!(r.status(), 200);
            let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
            id
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
    // Refusals too.
    let r = app.get("not-a-token", "/api/v1/trials");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-request-id"));
}
both_backends!(responses_carry_a_request_id);
