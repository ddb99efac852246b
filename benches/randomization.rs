//! Throughput of schedule generation and of the design simulation, in allocations per second.
//!
//! `cargo bench --bench randomization`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trialgate::randomization::simulation::simulate;
use trialgate::randomization::{Design, Schedule, Seed};

const TRIAL: &str = "NCT06987370";

fn seed() -> Seed {
    Seed::from_bytes(std::array::from_fn(|i| i as u8))
}

fn schedule_generation(c: &mut Criterion) {
    let design = Design::new(vec![2, 1], vec![3, 6]).unwrap();
    let seed = seed();
    const N: u64 = 1_000_000;
    let mut group = c.benchmark_group("schedule");
    group.throughput(Throughput::Elements(N));
    group.bench_function("unstratified [3,6] 2:1, 1M allocations", |b| {
        b.iter(|| {
            let mut schedule = Schedule::new(&seed, TRIAL, "", &design);
            let mut a_count = 0u64;
            for allocation in schedule.by_ref().take(N as usize) {
                a_count += u64::from(allocation.arm == 0);
            }
            black_box(a_count)
        })
    });
    group.finish();
}

fn simulation(c: &mut Criterion) {
    let seed = seed();
    const TRIALS: u64 = 1000;
    const PATIENTS: u64 = 90;
    let mut group = c.benchmark_group("simulate");
    group.throughput(Throughput::Elements(TRIALS * PATIENTS));
    for sizes in [vec![3, 6], vec![6]] {
        let design = Design::new(vec![2, 1], sizes.clone()).unwrap();
        group.bench_function(format!("{sizes:?} 2:1, 1000 trials x 90 patients"), |b| {
            b.iter(|| black_box(simulate(&design, TRIAL, PATIENTS, TRIALS, &seed)))
        });
    }
    group.finish();
}

criterion_group!(benches, schedule_generation, simulation);
criterion_main!(benches);
