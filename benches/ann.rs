//! HNSW insert and search at 10k and 100k vectors of dimension 384, with recall@10 against
//! the exact scan printed beside the timing.
//!
//! Insert time is printed once per size (one build of 100k takes minutes on 2 cores, too
//! long to repeat). The vectors have low intrinsic dimension, like sentence embeddings;
//! uniformly random vectors in 384 dimensions have no neighbourhood structure at all and
//! say little about real collections.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use recommend::embed::pool::normalize;
use recommend::index::ann::{self, Graph};

const DIM: usize = 384;

fn clustered(n: usize, seed: u64) -> Vec<f32> {
    // Points on a 24-dimensional linear manifold in 384-d plus isotropic noise at a fifth of
    // the signal's norm: sentence embeddings have an intrinsic dimension of this order.
    const LATENT: usize = 24;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let basis: Vec<f32> = (0..DIM * LATENT).map(|_| normal.sample(&mut rng)).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let z: Vec<f32> = (0..LATENT).map(|_| normal.sample(&mut rng)).collect();
        let mut v: Vec<f32> = basis
            .chunks_exact(LATENT)
            .map(|row| {
                row.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>() + normal.sample(&mut rng)
            })
            .collect();
        normalize(&mut v);
        out.extend(v);
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("hnsw");
    group.sample_size(10);
    // ANN_BENCH_SIZES=10000 runs the small size alone (e.g. under a profiler). Under
    // `cargo test --all-targets` (no `--bench` flag) only 10k is built: a 100k graph takes
    // minutes and a test run only checks that the bench works.
    let default = if std::env::args().any(|a| a == "--bench") {
        "10000,100000"
    } else {
        "10000"
    };
    let sizes: Vec<usize> = std::env::var("ANN_BENCH_SIZES")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for n in sizes {
        let data = clustered(n, 1);
        let queries = clustered(200, 2);
        let query_rows: Vec<&[f32]> = queries.chunks_exact(DIM).collect();
        let t = std::time::Instant::now();
        let graph = Graph::build(&data, DIM);
        let build = t.elapsed();
        let recall = ann::recall_at(&graph, &data, DIM, &query_rows, 10);
        println!(
            "hnsw n={n}: build {:.2} s ({:.0} inserts/s), recall@10 vs exact = {recall:.4}",
            build.as_secs_f64(),
            n as f64 / build.as_secs_f64()
        );
        group.bench_with_input(BenchmarkId::new("search_k10", n), &n, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % query_rows.len();
                graph.search(query_rows[i], 10)
            })
        });
        group.bench_with_input(BenchmarkId::new("exact_k10", n), &n, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % query_rows.len();
                ann::exact(&data, DIM, query_rows[i], 10)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
