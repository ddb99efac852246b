//! Hostile input to every parser: no panic, and every refusal is an error value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use trialgate::audit::checkpoint::{verify_signature, Checkpoint};
use trialgate::protocol::{Protocol, DEFAULT_PROTOCOL_TOML};
use trialgate::randomization::Seed;

/// The default protocol with one line removed, duplicated or with a value replaced.
fn mutated_protocol() -> impl Strategy<Value = String> {
    let lines: Vec<String> = DEFAULT_PROTOCOL_TOML.lines().map(str::to_string).collect();
    let n = lines.len();
    (
        0..n,
        0..4u8,
        prop::sample::select(vec![
            "0",
            "-1",
            "1e400",
            "\"x\"",
            "[]",
            "[3, 4]",
            "true",
            "nan",
            "inf",
            "\"\"",
            "{}",
            "99999999999999999999",
            "[0]",
            "\"_system\"",
            "0.0",
        ]),
    )
        .prop_map(move |(i, op, value)| {
            let mut l = lines.clone();
            match op {
                0 => {
                    l.remove(i);
                }
                1 => {
                    let line = l[i].clone();
                    l.insert(i, line);
                }
                2 => {
                    if let Some((key, _)) = l[i].split_once('=') {
                        l[i] = format!("{key}= {value}");
                    }
                }
                _ => l[i] = format!("{}{value}", l[i]),
            }
            l.join("\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn protocol_parser_never_panics(text in ".{0,400}") {
        let _ = Protocol::from_toml(&text, "fuzz");
        let _ = Protocol::from_canonical_json(&text, "fuzz");
    }

    #[test]
    fn mutated_protocols_load_or_are_refused_with_a_message(text in mutated_protocol()) {
        match Protocol::from_toml(&text, "fuzz") {
            Ok(p) => {
                // Whatever loads is consistent: the design holds and the JSON round-trips.
                prop_assert!(p.cap >= 1);
                prop_assert!(p.design().block_sizes().iter().all(|b| b % p.design().ratio_sum() == 0));
                let back = Protocol::from_canonical_json(&p.canonical_json(), "db").unwrap();
                prop_assert_eq!(back, p);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn seed_parser_never_panics_and_accepts_only_64_hex(text in "([0-9a-fA-F]{64}|.{0,80})(\r?\n)?") {
        let valid = {
            let t = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(&text);
            t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
        };
        prop_assert_eq!(Seed::from_hex(&text).is_ok(), valid);
    }

    #[test]
    fn seed_hex_round_trips(bytes in any::<[u8; 32]>()) {
        let seed = Seed::from_bytes(bytes);
        prop_assert_eq!(Seed::from_hex(&seed.to_hex()).unwrap(), seed);
    }

    #[test]
    fn checkpoint_parser_never_panics(text in ".{0,300}") {
        if let Ok(c) = serde_json::from_str::<Checkpoint>(&text) {
            let _ = verify_signature(&c);
        }
    }

    #[test]
    fn checkpoint_with_garbage_fields_is_refused(
        key in ".{0,60}", sig in ".{0,100}", seq in any::<i64>(), hash in ".{0,70}"
    ) {
        let c = Checkpoint {
            trial: "T".into(), seq, hash, at: "2026-11-27T00:00:00Z".into(),
            public_key: key, key_id: "0000000000000000".into(), signature: sig,
        };
        prop_assert!(verify_signature(&c).is_err());
    }
}
