//! Why a side is a sorted `Vec` and not a `BTreeMap`: both, same updates, same run.
//!
//!     cargo run --release --manifest-path libs/book/Cargo.toml --example side_vs_btreemap
//!
//! Updates on a side of `depth` levels either at the distances from the top the recorded Binance
//! diffs have (half within 4 levels of the best, 90% within 33, none beyond 87) or uniformly
//! over the whole side; a fifth of them remove a level. Each is followed by a read of the best.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use eip_book_native::side::{Kind, Side};

const UPDATES: usize = 2_000_000;

/// Distance from the best level of the updates in the recorded Binance diffs, as quantiles.
const RECORDED: [(f64, f64); 7] = [
    (0.0, 0.0),
    (0.25, 1.0),
    (0.5, 4.0),
    (0.75, 10.0),
    (0.9, 33.0),
    (0.99, 65.0),
    (1.0, 87.0),
];

fn recorded_distance(u: f64) -> u64 {
    let upper = RECORDED
        .iter()
        .position(|&(q, _)| q >= u)
        .unwrap_or(6)
        .max(1);
    let ((q0, d0), (q1, d1)) = (RECORDED[upper - 1], RECORDED[upper]);
    (d0 + (d1 - d0) * (u - q0) / (q1 - q0)) as u64
}

fn updates(depth: u64, near_top: bool) -> Vec<(u128, u128)> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..UPDATES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let distance = if near_top {
                recorded_distance((state >> 11) as f64 / (1u64 << 53) as f64) % depth
            } else {
                state % depth
            };
            let size = if (state >> 20) % 5 == 0 {
                0
            } else {
                (state >> 24) % 1000 + 1
            };
            (u128::from(1_000_000 - distance), u128::from(size))
        })
        .collect()
}

fn main() {
    println!(
        "{:<28}{:>14}{:>14}{:>8}",
        "updates (+ best)", "Vec ns", "BTreeMap ns", "ratio"
    );
    for (depth, near_top) in [(1_000, true), (1_000, false), (5_000, true), (5_000, false)] {
        let updates = updates(depth, near_top);
        let mut side = Side::new(Kind::Bids);
        let mut tree: BTreeMap<u128, u128> = BTreeMap::new();
        for distance in 0..depth {
            side.set(u128::from(1_000_000 - distance), 1);
            tree.insert(u128::from(1_000_000 - distance), 1);
        }
        let began = Instant::now();
        for &(price, size) in &updates {
            side.set(price, size);
            black_box(side.best());
        }
        let vec_ns = began.elapsed().as_nanos() as f64 / UPDATES as f64;
        let began = Instant::now();
        for &(price, size) in &updates {
            if size == 0 {
                tree.remove(&price);
            } else {
                tree.insert(price, size);
            }
            black_box(tree.last_key_value());
        }
        let tree_ns = began.elapsed().as_nanos() as f64 / UPDATES as f64;
        let label = format!(
            "{depth} levels, {}",
            if near_top { "as recorded" } else { "uniform" }
        );
        println!(
            "{label:<28}{vec_ns:>14.1}{tree_ns:>14.1}{:>8.2}",
            tree_ns / vec_ns
        );
    }
}
