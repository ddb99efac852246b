//! Failed authentication: counted, audited in the `_system` chain without the token, and
//! rate limited per client address.

use serde_json::Value;

use crate::common::app::TestApp;
use crate::common::TestDb;

fn wrong_tokens_are_audited_then_blocked(db: TestDb) {
    let app = TestApp::spawn(db);
    let mon = app.user("mona", "monitor", &[]);
    let guess = "tg_0000000000000000000000000000000000000000000000000000000000000000";
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(app.get(guess, "/api/v1/trials").status().as_u16());
    }
    // The default quota is 20 failures a minute per address.
    assert!(statuses[..20].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|&s| s == 429), "{statuses:?}");
    let r = app.get(&mon, "/api/v1/trials");
    assert_eq!(
        r.status(),
        429,
        "a blocked address is refused before its token is checked"
    );
    assert_eq!(r.json::<Value>().unwrap()["code"], "too_many_requests");

    // Audited in the _system chain, which still verifies, and the token is nowhere in it.
    let mut conn = app.db.connection();
    let entries = trialgate::storage::read_audit(&mut conn, "_system", 0, 1000).unwrap();
    let failed = entries.iter().filter(|e| e.action == "auth.failed").count();
    let blocked = entries
        .iter()
        .filter(|e| e.action == "auth.blocked")
        .count();
    assert_eq!((failed, blocked), (20, 1));
    assert!(entries.iter().all(|e| !e.record.contains(guess)));
    let v = trialgate::storage::verify_chain(&mut conn, "_system", None).unwrap();
    assert!(v.valid);
}
both_backends!(wrong_tokens_are_audited_then_blocked);

/// Every 429 says in `Retry-After` (whole seconds) when the address may try again.
fn too_many_requests_says_retry_after(db: TestDb) {
    let app = TestApp::spawn_with_auth_quota(db, 2);
    let guess = "tg_0000000000000000000000000000000000000000000000000000000000000000";
    let statuses: Vec<u16> = (0..3)
        .map(|_| app.get(guess, "/api/v1/trials").status().as_u16())
        .collect();
    assert_eq!(statuses, [401, 401, 429]);
    // The request that tripped the block, and one refused while blocked.
    for r in [
        app.get(guess, "/api/v1/trials"),
        app.get(&app.admin, "/api/v1/trials"),
    ] {
        assert_eq!(r.status(), 429);
        let seconds: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&seconds), "{seconds}");
        assert_eq!(r.json::<Value>().unwrap()["code"], "too_many_requests");
    }
}
both_backends!(too_many_requests_says_retry_after);
