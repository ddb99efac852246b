//! Seeded permuted-block randomization, `trialgate/v1` (pure: no I/O but the seed file).

mod schedule;
mod seed;
pub mod simulation;

pub use schedule::{
    allocation_at, stream_key, uniform, Block, BlockGenerator, Design, DesignError, Schedule,
    ScheduledAllocation, ALGORITHM,
};
pub use seed::{private_file_options, Seed, SeedError};

/// The stratum key of a patient: `name=value` pairs sorted by name, joined with `;`
/// (the empty string for an unstratified trial).
pub fn stratum_key<'a>(factors: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = factors.into_iter().collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    #[test]
    fn stratum_key_sorts_by_name() {
        assert_eq!(
            super::stratum_key([("site", "SITE01"), ("sex", "female")]),
            "sex=female;site=SITE01"
        );
        assert_eq!(super::stratum_key([]), "");
    }
}
