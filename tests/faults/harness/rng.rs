//! A small seeded random number generator for the load's choices and the fault timing.

use std::time::Duration;

/// splitmix64: enough randomness for timing and choices, reproducible from the seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `base` scaled by a factor uniform in [0.5, 1.5).
    pub fn jitter(&mut self, base: Duration) -> Duration {
        base.mul_f64(0.5 + (self.below(1000) as f64) / 1000.0)
    }
}
