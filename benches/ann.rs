//! The approximate searches of the index at 10k and 100k vectors of dimension 384, with
//! recall@10 against the exact scan printed beside the timing: the hnsw_rs graph (papers'
//! first stage above 5,000 papers) and the IVF lists (passages), at several probe counts.
//!
//! Insert time is printed once per size (one build of 100k takes minutes on 2 cores, too
//! long to repeat). The vectors have low intrinsic dimension, like sentence embeddings;
//! uniformly random vectors in 384 dimensions have no neighbourhood structure at all and
//! say little about real collections.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use recommend::embed::pool::normalize;
use recommend::index::ann::{self, Graph, Params};
use recommend::index::{ivf, GenerationWriter, StoreError};
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
        let params = params_from_env();
        let t = Instant::now();
        let mut graph = Graph::build_with(&data, DIM, params);
        let build = t.elapsed();
        println!(
            "hnsw n={n} M={} ef_construction={}: build {:.2} s ({:.0} inserts/s)",
            params.max_connections,
            params.ef_construction,
            build.as_secs_f64(),
            n as f64 / build.as_secs_f64()
        );
        for ef in ef_sweep(params.ef_search) {
            graph.set_ef_search(ef);
            let recall = ann::recall_at(&graph, &data, DIM, &query_rows, 10);
            let mut times: Vec<f64> = (0..5)
                .flat_map(|_| query_rows.iter())
                .map(|q| {
                    let t = Instant::now();
                    std::hint::black_box(graph.search(&data, q, 10));
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                "  ef_search={ef}: recall@10 vs exact = {recall:.4}, p50 {:.3} ms, p95 {:.3} ms",
                times[times.len() / 2],
                times[times.len() * 95 / 100]
            );
        }
        graph.set_ef_search(params.ef_search);
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
        group.bench_with_input(BenchmarkId::new("ivf_search_k10", n), &n, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % query_rows.len();
                search(&lists, &data, query_rows[i], chosen)
            })
        });
        group.bench_with_input(BenchmarkId::new("search_k10", n), &n, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % query_rows.len();
                graph.search(&data, query_rows[i], 10)
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

/// `ANN_PARAMS=M:EF_CONSTRUCTION:EF_SEARCH` overrides the defaults (e.g. to try a graph).
fn params_from_env() -> Params {
    let mut p = Params::default();
    if let Ok(spec) = std::env::var("ANN_PARAMS") {
        let v: Vec<usize> = spec.split(':').filter_map(|s| s.parse().ok()).collect();
        if let [m, efc, ef] = v[..] {
            p = Params {
                max_connections: m,
                ef_construction: efc,
                ef_search: ef,
            };
        } else {
            panic!("ANN_PARAMS must be M:EF_CONSTRUCTION:EF_SEARCH, got {spec:?}");
        }
    }
    p
}

/// `ANN_EF=32,48,64` prints recall and latency at each search ef; by default only the one
/// in use.
fn ef_sweep(default: usize) -> Vec<usize> {
    std::env::var("ANN_EF")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![default])
}

criterion_group!(benches, bench);
criterion_main!(benches);
