//! The approximate-search lists (IVF, see `index::ivf`) at 10k and 100k vectors of dimension
//! 384: build time, and recall@10 against the exact scan with latency at several probe
//! counts (the calibrated default marked).
//!
//! The vectors have low intrinsic dimension, like sentence embeddings; uniformly random
//! vectors in 384 dimensions have no neighbourhood structure at all and say little about
//! real collections. Under `cargo test --all-targets` (no `--bench` flag) only 10k is built:
//! a test run only checks that the bench works. `ANN_BENCH_SIZES=100000` picks sizes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use recommend::embed::pool::normalize;
use recommend::index::{ann, ivf, GenerationWriter, StoreError};
use std::time::Instant;

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

/// The approximate top 10: candidates from the lists, re-scored exactly.
fn search(lists: &ivf::Ivf, data: &[f32], q: &[f32], probes: usize) -> Vec<usize> {
    let mut hits: Vec<(usize, f32)> = lists
        .candidates(q, probes, ivf::CANDIDATES)
        .into_iter()
        .map(|(r, _)| (r, ann::dot(q, &data[r * DIM..(r + 1) * DIM])))
        .collect();
    hits.sort_by(|a, b| b.1.total_cmp(&a.1));
    hits.into_iter().take(10).map(|h| h.0).collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ivf");
    group.sample_size(10);
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
        let root = tempfile::tempdir().unwrap();
        let mut gen = GenerationWriter::new(root.path()).unwrap();
        let t = Instant::now();
        ivf::write(
            &mut gen,
            "bench",
            &ivf::Plain {
                vectors: &data,
                dim: DIM,
            },
        )
        .unwrap();
        let build = t.elapsed();
        let corrupt = |reason| StoreError::Corrupt {
            dir: root.path().into(),
            reason,
        };
        let lists =
            ivf::Ivf::open(gen.dir(), gen.file_infos(), "bench", n, DIM, None, &corrupt).unwrap();
        let chosen = lists.default_probes();
        println!(
            "ivf n={n}: {} lists, build {:.2} s (k-means, assignment, calibration), calibrated probes {chosen}",
            lists.lists(),
            build.as_secs_f64()
        );
        let truth: Vec<Vec<usize>> = queries
            .chunks_exact(DIM)
            .map(|q| {
                ann::exact(&data, DIM, q, 10)
                    .into_iter()
                    .map(|h| h.0)
                    .collect()
            })
            .collect();
        let mut sweep = vec![chosen / 4, chosen / 2, chosen, chosen * 2];
        sweep.retain(|&p| p >= 1 && p <= lists.lists());
        sweep.dedup();
        for probes in sweep {
            let mut found = 0;
            let mut times = Vec::new();
            for (q, t) in queries.chunks_exact(DIM).zip(&truth) {
                let start = Instant::now();
                let got = search(&lists, &data, q, probes);
                times.push(start.elapsed().as_secs_f64() * 1e3);
                found += got.iter().filter(|r| t.contains(r)).count();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "  probes={probes}{}: recall@10 vs exact = {:.4}, p50 {:.3} ms, p95 {:.3} ms",
                if probes == chosen { " (default)" } else { "" },
                found as f64 / (10 * truth.len()) as f64,
                times[times.len() / 2],
                times[times.len() * 95 / 100]
            );
        }
        let query_rows: Vec<&[f32]> = queries.chunks_exact(DIM).collect();
        group.bench_with_input(BenchmarkId::new("search_k10", n), &n, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % query_rows.len();
                search(&lists, &data, query_rows[i], chosen)
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
