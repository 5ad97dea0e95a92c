//! HNSW insert and search at 10k and 100k vectors of dimension 384, with recall@10 against
//! the exact scan printed beside the timing.
//!
//! The vectors are clustered (unit vectors around 1,000 random centres), like sentence
//! embeddings; uniformly random vectors in 384 dimensions have no neighbourhood structure
//! and say little about real collections.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use recommend::embed::pool::normalize;
use recommend::index::ann::{self, Graph};

const DIM: usize = 384;

fn clustered(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let centres: Vec<Vec<f32>> = (0..1000)
        .map(|_| {
            let mut c: Vec<f32> = (0..DIM).map(|_| normal.sample(&mut rng)).collect();
            normalize(&mut c);
            c
        })
        .collect();
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let c = &centres[rng.random_range(0..centres.len())];
        let mut v: Vec<f32> = c
            .iter()
            .map(|x| x + 0.06 * normal.sample(&mut rng))
            .collect();
        normalize(&mut v);
        out.extend(v);
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("hnsw");
    group.sample_size(10);
    for n in [10_000usize, 100_000] {
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
        if n == 10_000 {
            group.bench_function(BenchmarkId::new("insert_all", n), |b| {
                b.iter(|| Graph::build(&data, DIM))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
