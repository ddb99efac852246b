//! Audit verification rate: the verifier over 1 million realistic entries, against plain
//! SHA-256 over the same bytes (the floor any verifier must pay).
//!
//! `cargo bench --bench audit`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use sha2::{Digest, Sha256};
use trialgate::audit::{next_entry, verify, Entry, GENESIS_HASH};

const N: usize = 1_000_000;

/// A chain shaped like a real trial's: mostly randomizations and screenings.
fn chain() -> Vec<Entry> {
    let start = NaiveDate::from_ymd_opt(2026, 1, 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    let mut entries: Vec<Entry> = Vec::with_capacity(N);
    let (mut seq, mut hash) = (0i64, GENESIS_HASH.to_string());
    for i in 0..N {
        let data = json!({
            "subject_id": format!("NCT06987370-{i:07}"),
            "screening_id": "0193a6f0-7c1e-7b7a-9f5e-2b7e4c1d9a01",
            "patient_ref": format!("SITE01-{i:05}"), "site": "SITE01",
            "arm": if i % 3 == 0 { "CRT" } else { "SFRT_SCART" },
            "sequence": i + 1, "stratum_key": "", "stratum_position": i,
            "block_index": i / 6, "block_size": 6,
        });
        let at = start + chrono::Duration::milliseconds(i as i64);
        let e = next_entry(
            seq,
            &hash,
            at,
            "paul",
            "pharmacist",
            "subject.randomized",
            "NCT06987370",
            &data,
        )
        .unwrap();
        seq = e.seq;
        hash = e.hash.clone();
        entries.push(e);
    }
    entries
}

fn bench(c: &mut Criterion) {
    let entries = chain();
    let bytes: usize = entries.iter().map(|e| 64 + e.record.len()).sum();
    let mut group = c.benchmark_group("audit_verify_1M");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("verify", |b| {
        b.iter(|| {
            let v = verify("NCT06987370", entries.iter(), None);
            assert!(v.valid);
        })
    });
    group.bench_function("sha256_same_bytes", |b| {
        b.iter(|| {
            let mut last = [0u8; 32];
            for e in &entries {
                let mut h = Sha256::new();
                h.update(e.prev_hash.as_bytes());
                h.update(e.record.as_bytes());
                last = h.finalize().into();
            }
            last
        })
    });
    group.finish();
    eprintln!("{N} entries, {bytes} bytes hashed");
}

criterion_group!(benches, bench);
criterion_main!(benches);
