//! Operating characteristics of a randomization design, obtained by simulating the real
//! `trialgate/v1` schedule (pure: no I/O).
//!
//! [`simulate`] runs `trials` independent simulated trials of `patients` allocations each, in a
//! single stratum, and measures how predictable and how balanced the allocation sequence is:
//!
//! - `correct_guess_rate`: the share of allocations a *convergence* guesser predicts (before
//!   each allocation it guesses the arm furthest below its target share so far, see
//!   [`convergence_guess`]);
//! - `deterministic_share`: the share of allocations whose arm was certain to an observer who
//!   knows the design (arms, ratios, block sizes) and every earlier arm, but not where blocks
//!   begin (see [`DeterminismTracker`]);
//! - final and maximal imbalance, `max over arm pairs (i, j) of |N_i·r_j − N_j·r_i|` (see
//!   [`imbalance`]).

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::randomization::{BlockGenerator, Design, Seed, ALGORITHM};

/// Domain-separation label of the per-trial stream keys of a simulation.
pub const SIMULATION_DOMAIN: &str = "trialgate/v1/simulate";

/// The guessing rule behind `correct_guess_rate`, as reported.
pub const GUESS_STRATEGY: &str = "convergence: before each allocation guess the arm with the \
     smallest count/ratio so far (integer cross-multiplication); ties go to the largest ratio, \
     then protocol order";

/// One bar of an imbalance histogram: how many simulated trials ended with (or peaked at)
/// this imbalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImbalanceCount {
    pub imbalance: u64,
    pub trials: u64,
}

/// The result of [`simulate`]. Rates and means are 0 when there is nothing to average over
/// (no trials or no patients).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SimulationReport {
    /// The randomization algorithm simulated (`trialgate/v1`).
    pub algorithm: String,
    /// The trial id mixed into every simulated stream key.
    pub trial_id: String,
    pub trials: u64,
    /// Allocations per simulated trial (one stratum).
    pub patients: u64,
    /// `trials × patients`.
    pub allocations: u64,
    pub ratios: Vec<u32>,
    pub block_sizes: Vec<u32>,
    /// Lowercase hex SHA-256 of the simulation seed (the seed itself is not reported).
    pub seed_commitment: String,
    pub guess_strategy: String,
    pub correct_guesses: u64,
    pub correct_guess_rate: f64,
    pub deterministic_allocations: u64,
    pub deterministic_share: f64,
    pub mean_final_imbalance: f64,
    pub mean_max_imbalance: f64,
    /// The largest imbalance seen at any point of any simulated trial.
    pub max_imbalance: u64,
    /// Imbalance after the last allocation → number of trials, sorted by imbalance.
    pub final_imbalance_distribution: Vec<ImbalanceCount>,
    /// Largest imbalance within a trial → number of trials, sorted by imbalance.
    pub max_imbalance_distribution: Vec<ImbalanceCount>,
}

/// The ChaCha20 key of simulated trial number `trial_index` (0-based):
///
/// ```text
/// HMAC-SHA256(key = seed,
///             message = "trialgate/v1/simulate" ‖ 0x00 ‖ trial_id ‖ 0x00 ‖ decimal(trial_index))
/// ```
///
/// where `decimal` is the ASCII decimal representation without sign or leading zeros (`0`,
/// `1`, … `10`, …). The label differs from the schedule's `trialgate/v1/schedule`, so a
/// simulation run with a trial's real seed never reproduces one of its real strata.
pub fn simulation_stream_key(seed: &Seed, trial_id: &str, trial_index: u64) -> [u8; 32] {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(seed.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts every key length"),
    };
    let mut digits = [0u8; 20];
    mac.update(SIMULATION_DOMAIN.as_bytes());
    mac.update(&[0]);
    mac.update(trial_id.as_bytes());
    mac.update(&[0]);
    mac.update(decimal(trial_index, &mut digits));
    mac.finalize().into_bytes().into()
}

/// ASCII decimal of `n`, written into the end of `buf` (20 digits hold `u64::MAX`).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// The convergence guess: the arm furthest below its target share, i.e. the arm with the
/// smallest `counts[i] / ratios[i]`, compared exactly as `counts[i]·ratios[j]` vs
/// `counts[j]·ratios[i]`. Ties go to the arm with the largest ratio, then to the lower index.
///
/// `counts` and `ratios` must have the same, non-zero length.
#[inline]
pub fn convergence_guess(counts: &[u64], ratios: &[u32]) -> usize {
    let mut best = 0;
    for i in 1..counts.len().min(ratios.len()) {
        let candidate = u128::from(counts[i]) * u128::from(ratios[best]);
        let incumbent = u128::from(counts[best]) * u128::from(ratios[i]);
        if candidate < incumbent || (candidate == incumbent && ratios[i] > ratios[best]) {
            best = i;
        }
    }
    best
}

/// The imbalance of `counts` against the target `ratios`: the largest `|N_i·r_j − N_j·r_i|`
/// over arm pairs (for two arms simply `|N_A·r_B − N_B·r_A|`). Saturates at `u64::MAX`.
#[inline]
pub fn imbalance(counts: &[u64], ratios: &[u32]) -> u64 {
    let arms = counts.len().min(ratios.len());
    let mut worst = 0u128;
    for i in 0..arms {
        for j in i + 1..arms {
            let a = u128::from(counts[i]) * u128::from(ratios[j]);
            let b = u128::from(counts[j]) * u128::from(ratios[i]);
            worst = worst.max(a.abs_diff(b));
        }
    }
    u64::try_from(worst).unwrap_or(u64::MAX)
}

/// What an observer who knows the design (arms, ratios, block sizes) and every arm allocated
/// so far — but not where blocks begin — can infer about the next allocation.
///
/// The tracker keeps the exact set of states consistent with the observed prefix. A state is
/// either "at a block boundary" or (current block size `b`, per-arm counts inside the current
/// block). Blocks start at position 0, so the initial set is {boundary}. From a boundary any
/// block size of the design may start. On observing arm `a`, a state survives iff arm `a` still
/// had room in its block (`count_a < b / R × ratio_a`); it advances, and a completed block
/// becomes the boundary state. The next allocation is deterministic iff, across all current
/// states, exactly one arm has room (a boundary state gives every arm room).
///
/// Since blocks are placed back to back, a non-boundary state is identified by its block size
/// and by how many allocations of its block have been observed (the counts are then those of
/// the last `k` observed arms), so the set never holds duplicates and never more than
/// `Σ (b − 1)` non-boundary states. All buffers are allocated by [`DeterminismTracker::new`];
/// [`observe`](Self::observe) does not allocate.
#[derive(Debug, Clone)]
pub struct DeterminismTracker {
    arms: usize,
    sizes: Vec<u8>,
    /// `quotas[s * arms + a]`: allocations of arm `a` in a block of size `sizes[s]`.
    quotas: Vec<u8>,
    boundary: bool,
    current: StateSet,
    next: StateSet,
    forced: Option<usize>,
    consistent: bool,
}

/// Non-boundary states, struct-of-arrays, fixed capacity.
#[derive(Debug, Clone)]
struct StateSet {
    len: usize,
    size_index: Vec<u8>,
    filled: Vec<u8>,
    /// `counts[state * arms + a]`
    counts: Vec<u8>,
}

impl StateSet {
    fn with_capacity(states: usize, arms: usize) -> Self {
        StateSet {
            len: 0,
            size_index: vec![0; states],
            filled: vec![0; states],
            counts: vec![0; states * arms],
        }
    }
}

impl DeterminismTracker {
    pub fn new(design: &Design) -> Self {
        let arms = design.arm_count();
        // `Design::new` guarantees block sizes ≤ 255 and at most 255 arms.
        let sizes: Vec<u8> = design
            .block_sizes()
            .iter()
            .map(|&b| u8::try_from(b).unwrap_or(u8::MAX))
            .collect();
        let quotas: Vec<u8> = design
            .block_sizes()
            .iter()
            .flat_map(|&b| {
                (0..arms).map(move |a| u8::try_from(design.per_block(a, b)).unwrap_or(u8::MAX))
            })
            .collect();
        let capacity: usize = sizes.iter().map(|&b| usize::from(b)).sum();
        DeterminismTracker {
            arms,
            sizes,
            quotas,
            boundary: true,
            current: StateSet::with_capacity(capacity, arms),
            next: StateSet::with_capacity(capacity, arms),
            forced: None,
            consistent: true,
        }
    }

    /// Back to the start of a sequence: the only state is "at a block boundary".
    pub fn reset(&mut self) {
        self.boundary = true;
        self.current.len = 0;
        self.forced = None;
        self.consistent = true;
    }

    /// Records the next allocated arm. Returns `false` if no state allowed it, i.e. the
    /// observed sequence cannot come from the design; the state set is then empty, stays
    /// empty, and nothing is deterministic any more.
    pub fn observe(&mut self, arm: usize) -> bool {
        let arms = self.arms;
        if arm >= arms {
            self.current.len = 0;
            self.boundary = false;
            self.forced = None;
            self.consistent = false;
            return false;
        }
        let next = &mut self.next;
        next.len = 0;
        let mut boundary = false;
        if self.boundary {
            for (s, &size) in self.sizes.iter().enumerate() {
                // Every arm has a quota of at least one in every block size.
                if size <= 1 {
                    boundary = true;
                    continue;
                }
                let n = next.len;
                next.size_index[n] = s as u8;
                next.filled[n] = 1;
                let counts = &mut next.counts[n * arms..(n + 1) * arms];
                counts.fill(0);
                counts[arm] = 1;
                next.len += 1;
            }
        }
        let current = &self.current;
        for i in 0..current.len {
            let s = usize::from(current.size_index[i]);
            let counts = &current.counts[i * arms..(i + 1) * arms];
            if counts[arm] >= self.quotas[s * arms + arm] {
                continue;
            }
            let filled = current.filled[i] + 1;
            if filled == self.sizes[s] {
                boundary = true;
                continue;
            }
            let n = next.len;
            next.size_index[n] = current.size_index[i];
            next.filled[n] = filled;
            let target = &mut next.counts[n * arms..(n + 1) * arms];
            target.copy_from_slice(counts);
            target[arm] += 1;
            next.len += 1;
        }
        std::mem::swap(&mut self.current, &mut self.next);
        self.boundary = boundary;
        self.consistent = boundary || self.current.len > 0;
        self.forced = self.compute_forced();
        self.consistent
    }

    fn compute_forced(&self) -> Option<usize> {
        if self.boundary {
            // A new block may start: every arm has room (a design has at least two arms).
            return None;
        }
        let arms = self.arms;
        let mut found = None;
        for i in 0..self.current.len {
            let s = usize::from(self.current.size_index[i]);
            let counts = &self.current.counts[i * arms..(i + 1) * arms];
            let quotas = &self.quotas[s * arms..(s + 1) * arms];
            for (a, (&count, &quota)) in counts.iter().zip(quotas).enumerate() {
                if count < quota {
                    match found {
                        None => found = Some(a),
                        Some(f) if f != a => return None,
                        Some(_) => {}
                    }
                }
            }
        }
        found
    }

    /// The arm the next allocation must receive, if only one arm is possible.
    pub fn forced_arm(&self) -> Option<usize> {
        self.forced
    }

    /// Whether the next allocation's arm is certain given the observed prefix.
    pub fn is_deterministic(&self) -> bool {
        self.forced.is_some()
    }

    /// `false` once an observed arm was impossible under the design.
    pub fn is_consistent(&self) -> bool {
        self.consistent
    }

    /// Number of states (the boundary included) consistent with the observed prefix.
    pub fn state_count(&self) -> usize {
        self.current.len + usize::from(self.boundary)
    }
}

/// Simulates `trials` trials of `patients` allocations each under `design` and reports the
/// design's operating characteristics.
///
/// Simulated trial `t` (0-based) uses the stream key
/// [`simulation_stream_key`]`(seed, trial_id, t)` and draws its single stratum's allocations
/// with [`BlockGenerator::from_key`], i.e. with the production `trialgate/v1` algorithm. The
/// report is a pure function of the arguments: the same seed gives the same report.
pub fn simulate(
    design: &Design,
    trial_id: &str,
    patients: u64,
    trials: u64,
    seed: &Seed,
) -> SimulationReport {
    let ratios = design.ratios();
    let arms = design.arm_count();
    let mut counts = vec![0u64; arms];
    let mut tracker = DeterminismTracker::new(design);
    let mut final_distribution: BTreeMap<u64, u64> = BTreeMap::new();
    let mut max_distribution: BTreeMap<u64, u64> = BTreeMap::new();
    let mut correct_guesses = 0u64;
    let mut deterministic = 0u64;
    let mut final_sum = 0u128;
    let mut max_sum = 0u128;
    let mut overall_max = 0u64;

    for t in 0..trials {
        let mut blocks = BlockGenerator::from_key(simulation_stream_key(seed, trial_id, t), design);
        counts.fill(0);
        tracker.reset();
        let mut remaining = patients;
        let mut current = 0u64;
        let mut trial_max = 0u64;
        while remaining > 0 {
            let block = blocks.next_block();
            let take = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(block.arms.len());
            for &arm in &block.arms[..take] {
                let arm = usize::from(arm);
                if convergence_guess(&counts, ratios) == arm {
                    correct_guesses += 1;
                }
                if let Some(forced) = tracker.forced_arm() {
                    debug_assert_eq!(forced, arm, "the tracker excluded the real arm");
                    deterministic += 1;
                }
                tracker.observe(arm);
                counts[arm] += 1;
                current = imbalance(&counts, ratios);
                trial_max = trial_max.max(current);
            }
            remaining -= take as u64;
        }
        *final_distribution.entry(current).or_insert(0) += 1;
        *max_distribution.entry(trial_max).or_insert(0) += 1;
        final_sum += u128::from(current);
        max_sum += u128::from(trial_max);
        overall_max = overall_max.max(trial_max);
    }

    let allocations = trials.saturating_mul(patients);
    let share = |n: u64| ratio_or_zero(n as f64, allocations as f64);
    let histogram = |m: BTreeMap<u64, u64>| {
        m.into_iter()
            .map(|(imbalance, trials)| ImbalanceCount { imbalance, trials })
            .collect()
    };
    SimulationReport {
        algorithm: ALGORITHM.to_string(),
        trial_id: trial_id.to_string(),
        trials,
        patients,
        allocations,
        ratios: ratios.to_vec(),
        block_sizes: design.block_sizes().to_vec(),
        seed_commitment: seed.commitment(),
        guess_strategy: GUESS_STRATEGY.to_string(),
        correct_guesses,
        correct_guess_rate: share(correct_guesses),
        deterministic_allocations: deterministic,
        deterministic_share: share(deterministic),
        mean_final_imbalance: ratio_or_zero(final_sum as f64, trials as f64),
        mean_max_imbalance: ratio_or_zero(max_sum as f64, trials as f64),
        max_imbalance: overall_max,
        final_imbalance_distribution: histogram(final_distribution),
        max_imbalance_distribution: histogram(max_distribution),
    }
}

fn ratio_or_zero(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(sizes: &[u32]) -> Design {
        Design::new(vec![2, 1], sizes.to_vec()).unwrap()
    }

    #[test]
    fn decimal_digits() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(10, &mut buf), b"10");
        assert_eq!(decimal(u64::MAX, &mut buf), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn stream_key_derivation_is_the_documented_hmac() {
        let seed = Seed::from_bytes([9; 32]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[9; 32]).unwrap();
        mac.update(b"trialgate/v1/simulate\0NCT06987370\x00123");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(simulation_stream_key(&seed, "NCT06987370", 123), expected);
    }

    #[test]
    fn guess_ties_and_ordering() {
        let r = [2, 1];
        assert_eq!(convergence_guess(&[0, 0], &r), 0, "tie: larger ratio");
        assert_eq!(convergence_guess(&[1, 0], &r), 1);
        assert_eq!(convergence_guess(&[2, 1], &r), 0, "tie again");
        assert_eq!(convergence_guess(&[1, 1], &r), 0);
        assert_eq!(convergence_guess(&[3, 3], &[1, 1]), 0);
        assert_eq!(convergence_guess(&[3, 2], &[1, 1]), 1);
        assert_eq!(
            convergence_guess(&[1, 1, 1], &[1, 1, 1]),
            0,
            "tie: protocol order"
        );
        assert_eq!(convergence_guess(&[1, 0, 0], &[1, 1, 1]), 1);
        assert_eq!(convergence_guess(&[1, 0, 0], &[1, 1, 2]), 2);
    }

    #[test]
    fn imbalance_pairs() {
        assert_eq!(imbalance(&[0, 0], &[2, 1]), 0);
        assert_eq!(imbalance(&[1, 0], &[2, 1]), 1);
        assert_eq!(imbalance(&[0, 1], &[2, 1]), 2);
        assert_eq!(imbalance(&[3, 0, 1], &[1, 1, 1]), 3);
    }

    #[test]
    fn tracker_on_fixed_blocks_knows_block_ends() {
        let mut t = DeterminismTracker::new(&design(&[3]));
        assert!(!t.is_deterministic());
        assert!(t.observe(1));
        assert_eq!(t.forced_arm(), Some(0));
        assert!(t.observe(0));
        assert_eq!(t.forced_arm(), Some(0));
        assert!(t.observe(0));
        assert!(!t.is_deterministic(), "a new block starts");
        assert!(t.observe(1));
        assert!(!t.observe(1), "two Bs in a block of 3 are impossible");
        assert!(!t.is_consistent());
        assert!(!t.is_deterministic());
        t.reset();
        assert!(t.is_consistent());
        assert_eq!(t.state_count(), 1);
    }

    #[test]
    fn empty_simulation_reports_zeros() {
        let r = simulate(&design(&[3, 6]), "T", 0, 5, &Seed::from_bytes([1; 32]));
        assert_eq!(r.allocations, 0);
        assert_eq!(r.correct_guess_rate, 0.0);
        assert_eq!(r.final_imbalance_distribution.len(), 1);
        let r = simulate(&design(&[3, 6]), "T", 10, 0, &Seed::from_bytes([1; 32]));
        assert_eq!(r.mean_max_imbalance, 0.0);
        assert!(r.max_imbalance_distribution.is_empty());
    }

    #[test]
    fn report_serializes_with_the_contract_fields() {
        let r = simulate(&design(&[3, 6]), "T", 12, 3, &Seed::from_bytes([1; 32]));
        let v = serde_json::to_value(&r).unwrap();
        for field in [
            "trials",
            "patients",
            "correct_guess_rate",
            "deterministic_share",
            "mean_final_imbalance",
            "mean_max_imbalance",
            "max_imbalance",
            "final_imbalance_distribution",
            "max_imbalance_distribution",
            "block_sizes",
            "ratios",
            "seed_commitment",
            "guess_strategy",
        ] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
        assert_eq!(
            v["max_imbalance_distribution"][0]
                .as_object()
                .unwrap()
                .len(),
            2
        );
        let total: u64 = r.max_imbalance_distribution.iter().map(|c| c.trials).sum();
        assert_eq!(total, 3);
    }
}
