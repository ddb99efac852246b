//! The test vectors of `randomization.md`, reproduced exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use trialgate::randomization::{allocation_at, stream_key, Design, Schedule, Seed};

const TRIAL: &str = "NCT06987370";

fn vector_seed() -> Seed {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = i as u8;
    }
    Seed::from_bytes(bytes)
}

fn design(block_sizes: &[u32]) -> Design {
    Design::new(vec![2, 1], block_sizes.to_vec()).unwrap()
}

fn letters(seed: &Seed, stratum: &str, sizes: &[u32], n: usize) -> String {
    Schedule::new(seed, TRIAL, stratum, &design(sizes))
        .take(n)
        .map(|a| ["A", "B"][a.arm])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Block sizes in order of the blocks that start within the first `n` positions.
fn block_sizes_started(seed: &Seed, stratum: &str, n: usize) -> Vec<u32> {
    Schedule::new(seed, TRIAL, stratum, &design(&[3, 6]))
        .take(n)
        .filter(|a| a.position_in_block == 0)
        .map(|a| a.block_size)
        .collect()
}

#[test]
fn commitment() {
    assert_eq!(
        vector_seed().commitment(),
        "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
    );
}

#[test]
fn chacha20_first_ten_words() {
    let mut rng = ChaCha20Rng::from_seed(*vector_seed().as_bytes());
    let words: Vec<u32> = (0..10).map(|_| rng.next_u32()).collect();
    assert_eq!(
        words,
        [
            2100034873, 1780073945, 1996733837, 1229642936, 1876440458, 3429555900, 1283312818,
            2451892952, 3888915243, 2871222434
        ]
    );
}

#[test]
fn unstratified_stream() {
    let seed = vector_seed();
    assert_eq!(
        hex::encode(stream_key(&seed, TRIAL, "")),
        "ef913d4a8549da9c6fc236fe2208fca049f8e3368e56fa4c02a45a3cf6024e5e"
    );
    assert_eq!(
        letters(&seed, "", &[3, 6], 30),
        "A B A A A B A A B B A A A B A A B A A A A B A B A A A B A B"
    );
    assert_eq!(block_sizes_started(&seed, "", 30), [6, 6, 3, 3, 6, 6]);
}

#[test]
fn site_stratum_stream() {
    let seed = vector_seed();
    assert_eq!(
        hex::encode(stream_key(&seed, TRIAL, "site=SITE01")),
        "9827f5f5766a4fc82d3164ca5f98139c2a3fa429ea029b19052f0beb35bc6467"
    );
    assert_eq!(
        letters(&seed, "site=SITE01", &[3, 6], 30),
        "A A B B A A A A B A B A A B A A B A B A A A B A A A B A A B"
    );
    assert_eq!(
        block_sizes_started(&seed, "site=SITE01", 30),
        [6, 3, 3, 3, 3, 6, 3, 6]
    );
}

#[test]
fn fixed_blocks_of_six() {
    assert_eq!(
        letters(&vector_seed(), "", &[6], 18),
        "A B A A A B A A B B A A A A A B A B"
    );
}

#[test]
fn allocation_at_agrees_with_the_schedule() {
    let seed = vector_seed();
    let d = design(&[3, 6]);
    for (n, expected) in Schedule::new(&seed, TRIAL, "", &d).take(200).enumerate() {
        assert_eq!(allocation_at(&seed, TRIAL, "", &d, n as u64), expected);
    }
}
