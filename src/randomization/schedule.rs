//! The `trialgate/v1` permuted-block schedule (see `randomization.md`), bit for bit.
//!
//! Only ChaCha20's raw `next_u32` words are consumed, through [`uniform`]; no helper of the
//! `rand` family whose algorithm could change between releases is used.

use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::Sha256;

use super::Seed;

/// The algorithm identifier recorded with every trial.
pub const ALGORITHM: &str = "trialgate/v1";

/// The part of a protocol the schedule depends on: arm ratios (in protocol order, as arm
/// indices 0, 1, …) and the permitted block sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Design {
    ratios: Vec<u32>,
    block_sizes: Vec<u32>,
    ratio_sum: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DesignError {
    #[error("a design needs at least two arms, got {0}")]
    TooFewArms(usize),
    #[error("arm {arm}: ratio must be at least 1")]
    ZeroRatio { arm: usize },
    #[error("a design needs at least one block size")]
    NoBlockSizes,
    #[error("block size {size} is not a positive multiple of the ratio sum {ratio_sum}")]
    BlockSizeNotMultiple { size: u32, ratio_sum: u32 },
    #[error("block size {0} is listed twice")]
    DuplicateBlockSize(u32),
    #[error("block size {0} exceeds the maximum of 255")]
    BlockTooLarge(u32),
    #[error("more than 255 arms")]
    TooManyArms,
}

impl Design {
    pub fn new(ratios: Vec<u32>, block_sizes: Vec<u32>) -> Result<Self, DesignError> {
        if ratios.len() < 2 {
            return Err(DesignError::TooFewArms(ratios.len()));
        }
        if ratios.len() > 255 {
            return Err(DesignError::TooManyArms);
        }
        if let Some(arm) = ratios.iter().position(|&r| r == 0) {
            return Err(DesignError::ZeroRatio { arm });
        }
        let ratio_sum = ratios
            .iter()
            .try_fold(0u32, |acc, &r| acc.checked_add(r))
            .ok_or(DesignError::BlockTooLarge(u32::MAX))?;
        if block_sizes.is_empty() {
            return Err(DesignError::NoBlockSizes);
        }
        for (i, &size) in block_sizes.iter().enumerate() {
            if size == 0 || size % ratio_sum != 0 {
                return Err(DesignError::BlockSizeNotMultiple { size, ratio_sum });
            }
            if size > 255 {
                return Err(DesignError::BlockTooLarge(size));
            }
            if block_sizes[..i].contains(&size) {
                return Err(DesignError::DuplicateBlockSize(size));
            }
        }
        Ok(Design {
            ratios,
            block_sizes,
            ratio_sum,
        })
    }

    pub fn ratios(&self) -> &[u32] {
        &self.ratios
    }

    pub fn block_sizes(&self) -> &[u32] {
        &self.block_sizes
    }

    pub fn arm_count(&self) -> usize {
        self.ratios.len()
    }

    pub fn ratio_sum(&self) -> u32 {
        self.ratio_sum
    }

    /// How many allocations of `arm` a block of `size` holds.
    pub fn per_block(&self, arm: usize, size: u32) -> u32 {
        size / self.ratio_sum * self.ratios[arm]
    }
}

/// `HMAC-SHA256(seed, "trialgate/v1/schedule" ‖ 0x00 ‖ trial_id ‖ 0x00 ‖ stratum_key)`:
/// the ChaCha20 key of one stratum's stream.
pub fn stream_key(seed: &Seed, trial_id: &str, stratum_key: &str) -> [u8; 32] {
    // HMAC accepts keys of any length; 32 bytes can never be refused.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(seed.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts every key length"),
    };
    mac.update(b"trialgate/v1/schedule");
    mac.update(&[0]);
    mac.update(trial_id.as_bytes());
    mac.update(&[0]);
    mac.update(stratum_key.as_bytes());
    mac.finalize().into_bytes().into()
}

/// `uniform(n)` of the spec: rejection sampling on raw 32-bit words, so every value in
/// `0..n` is exactly equally likely. `uniform(1)` still consumes one word.
#[inline]
pub fn uniform(rng: &mut ChaCha20Rng, n: u32) -> u32 {
    debug_assert!(n >= 1);
    let limit = ((1u64 << 32) / u64::from(n)) * u64::from(n);
    loop {
        let x = rng.next_u32();
        if u64::from(x) < limit {
            return x % n;
        }
    }
}

/// Produces one stratum's blocks in order, each already shuffled.
pub struct BlockGenerator {
    rng: ChaCha20Rng,
    design: Design,
    next_index: u64,
    block: Vec<u8>,
}

/// A shuffled block: `arms[i]` is the arm index of the block's i-th allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    pub index: u64,
    pub size: u32,
    pub arms: &'a [u8],
}

impl BlockGenerator {
    pub fn new(seed: &Seed, trial_id: &str, stratum_key: &str, design: &Design) -> Self {
        Self::from_key(stream_key(seed, trial_id, stratum_key), design)
    }

    /// A generator keyed directly with a stream key (simulations derive their own keys).
    pub fn from_key(key: [u8; 32], design: &Design) -> Self {
        BlockGenerator {
            rng: ChaCha20Rng::from_seed(key),
            design: design.clone(),
            next_index: 0,
            block: Vec::with_capacity(255),
        }
    }

    pub fn design(&self) -> &Design {
        &self.design
    }

    pub fn next_block(&mut self) -> Block<'_> {
        let sizes = &self.design.block_sizes;
        let size = sizes[uniform(&mut self.rng, sizes.len() as u32) as usize];
        self.block.clear();
        for arm in 0..self.design.ratios.len() {
            let copies = self.design.per_block(arm, size) as usize;
            // `arm` < 256 is guaranteed by `Design::new`.
            self.block.extend(std::iter::repeat_n(arm as u8, copies));
        }
        for i in (1..self.block.len()).rev() {
            let j = uniform(&mut self.rng, i as u32 + 1) as usize;
            self.block.swap(i, j);
        }
        let index = self.next_index;
        self.next_index += 1;
        Block {
            index,
            size,
            arms: &self.block,
        }
    }
}

/// One entry of a stratum's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ScheduledAllocation {
    /// 0-based position in the stratum's sequence.
    pub position: u64,
    pub block_index: u64,
    pub block_size: u32,
    /// 0-based position inside the block.
    pub position_in_block: u32,
    /// Arm index in protocol order.
    pub arm: usize,
}

/// The endless schedule of one stratum, position by position.
pub struct Schedule {
    blocks: BlockGenerator,
    current: Vec<u8>,
    block_index: u64,
    block_size: u32,
    offset: usize,
    position: u64,
}

impl Schedule {
    pub fn new(seed: &Seed, trial_id: &str, stratum_key: &str, design: &Design) -> Self {
        Schedule {
            blocks: BlockGenerator::new(seed, trial_id, stratum_key, design),
            current: Vec::with_capacity(255),
            block_index: 0,
            block_size: 0,
            offset: 0,
            position: 0,
        }
    }
}

impl Iterator for Schedule {
    type Item = ScheduledAllocation;

    #[inline]
    fn next(&mut self) -> Option<ScheduledAllocation> {
        if self.offset == self.current.len() {
            let block = self.blocks.next_block();
            self.block_index = block.index;
            self.block_size = block.size;
            self.current.clear();
            self.current.extend_from_slice(block.arms);
            self.offset = 0;
        }
        let entry = ScheduledAllocation {
            position: self.position,
            block_index: self.block_index,
            block_size: self.block_size,
            position_in_block: self.offset as u32,
            arm: usize::from(self.current[self.offset]),
        };
        self.offset += 1;
        self.position += 1;
        Some(entry)
    }
}

/// The allocation at 0-based `position` of a stratum: the arm the `position`-th patient
/// randomized in that stratum receives.
pub fn allocation_at(
    seed: &Seed,
    trial_id: &str,
    stratum_key: &str,
    design: &Design,
    position: u64,
) -> ScheduledAllocation {
    let mut blocks = BlockGenerator::new(seed, trial_id, stratum_key, design);
    let mut start = 0u64;
    loop {
        let block = blocks.next_block();
        let end = start + u64::from(block.size);
        if position < end {
            let offset = (position - start) as usize;
            return ScheduledAllocation {
                position,
                block_index: block.index,
                block_size: block.size,
                position_in_block: offset as u32,
                arm: usize::from(block.arms[offset]),
            };
        }
        start = end;
    }
}
