//! Nearest neighbours over unit vectors: an exact scan, or an hnsw_rs graph.
//!
//! Small collections (the seed corpus has about a hundred papers) are answered by an exact
//! scan, which is both faster than a graph walk at that size and the ground truth the graph
//! is measured against. The graph is built and persisted all the same so that a collection
//! that grows past `EXACT_BELOW` needs nothing new.

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::{AnnT, Hnsw, HnswIo};
use std::path::Path;

/// Below this many vectors, queries scan exactly unless `--hnsw` is forced.
pub const EXACT_BELOW: usize = 5_000;

/// HNSW parameters: M, ef at construction, ef at search. Chosen with `cargo bench --bench
/// ann` to keep recall@10 ≥ 0.99 at 100k vectors of dimension 384.
pub const MAX_CONNECTIONS: usize = 24;
pub const EF_CONSTRUCTION: usize = 200;
pub const EF_SEARCH: usize = 64;

/// `1 - a·b` for unit vectors, clamped at 0. hnsw_rs's own `DistDot` asserts the value is
/// non-negative and panics when rounding makes a self-match `-1e-7`; `DistCosine`
/// renormalizes every pair, work these vectors do not need.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// Dot product, with AVX2+FMA code when the CPU has it (checked once, then cached by std):
/// the default x86-64 target only allows SSE2, and this loop is where scans and graph walks
/// spend their time.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features this function is compiled for were just detected.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_lanes::<false, 16>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<true, 32>(a, b)
}

/// `L` independent accumulators let the compiler vectorize without -ffast-math and keep
/// several FMA chains in flight (64 = eight AVX2 registers); `FMA` fuses multiply and add
/// where the caller was compiled with FMA (elsewhere `mul_add` would be a library call).
#[inline(always)]
fn dot_lanes<const FMA: bool, const L: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; L];
    let (ca, ra) = a.split_at(a.len() / L * L);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(L).zip(cb.chunks_exact(L)) {
        for i in 0..L {
            acc[i] = if FMA {
                x[i].mul_add(y[i], acc[i])
            } else {
                x[i] * y[i] + acc[i]
            };
        }
    }
    acc.iter().sum::<f32>() + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
}

/// A neighbour: row number and cosine similarity.
pub type Hit = (usize, f32);

/// The `k` rows of `vectors` (row-major, `dim` wide) most similar to `query`, best first.
pub fn exact(vectors: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<Hit> {
    let mut hits: Vec<Hit> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (i, dot(v, query)))
        .collect();
    let k = k.min(hits.len());
    if k == 0 {
        return Vec::new();
    }
    hits.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
    hits.truncate(k);
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hits
}

/// An HNSW graph over rows of a vector table.
pub struct Graph {
    hnsw: Hnsw<'static, f32, UnitCosine>,
}

impl Graph {
    pub fn build(vectors: &[f32], dim: usize) -> Self {
        let n = vectors.len() / dim.max(1);
        let layers = 16;
        let hnsw = Hnsw::new(
            MAX_CONNECTIONS,
            n.max(1),
            layers,
            EF_CONSTRUCTION,
            UnitCosine,
        );
        let rows: Vec<(&[f32], usize)> = vectors.chunks_exact(dim).zip(0..).collect();
        hnsw.parallel_insert_slice(&rows);
        let mut graph = Self { hnsw };
        graph.hnsw.set_searching_mode(true);
        graph
    }

    pub fn len(&self) -> usize {
        self.hnsw.get_nb_point()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn search(&self, query: &[f32], k: usize) -> Vec<Hit> {
        let ef = EF_SEARCH.max(k);
        self.hnsw
            .search(query, k, ef)
            .into_iter()
            .map(|n| (n.d_id, 1.0 - n.distance))
            .collect()
    }

    /// Writes `<basename>.hnsw.graph` and `<basename>.hnsw.data` into `dir`.
    pub fn dump(&self, dir: &Path, basename: &str) -> anyhow::Result<()> {
        self.hnsw.file_dump(dir, basename)?;
        Ok(())
    }

    /// Loads a dump. The caller must have checked the files' checksums first: hnsw_rs ends
    /// the process on some malformed files instead of returning an error.
    pub fn load(dir: &Path, basename: &str) -> anyhow::Result<Self> {
        // A reloaded graph borrows its loader for its whole life; a CLI process loads a
        // graph once, so the loader is leaked rather than made self-referential.
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
        let mut hnsw = io.load_hnsw::<f32, UnitCosine>()?;
        hnsw.set_searching_mode(true);
        Ok(Self { hnsw })
    }
}

/// Fraction of the exact top-`k` that the graph returns, averaged over `queries`.
pub fn recall_at(graph: &Graph, vectors: &[f32], dim: usize, queries: &[&[f32]], k: usize) -> f64 {
    let mut found = 0usize;
    let mut total = 0usize;
    for q in queries {
        let truth: std::collections::HashSet<usize> =
            exact(vectors, dim, q, k).into_iter().map(|h| h.0).collect();
        total += truth.len();
        found += graph
            .search(q, k)
            .into_iter()
            .filter(|h| truth.contains(&h.0))
            .count();
    }
    if total == 0 {
        1.0
    } else {
        found as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_unit(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        let mut v: Vec<f32> = (0..n * dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        for row in v.chunks_exact_mut(dim) {
            crate::embed::pool::normalize(row);
        }
        v
    }

    #[test]
    fn exact_finds_self_first_and_sorts() {
        let v = random_unit(50, 16, 1);
        let hits = exact(&v, 16, &v[16 * 7..16 * 8], 5);
        assert_eq!(hits[0].0, 7);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn graph_recall_and_dump_roundtrip() {
        let dim = 32;
        let v = random_unit(2000, dim, 7);
        let g = Graph::build(&v, dim);
        let queries: Vec<&[f32]> = v.chunks_exact(dim).step_by(40).collect();
        let r = recall_at(&g, &v, dim, &queries, 10);
        assert!(r >= 0.99, "recall {r}");
        // Self-matches do not panic and come back first.
        assert_eq!(g.search(queries[3], 1)[0].0, 3 * 40);
        let dir = tempfile::tempdir().unwrap();
        g.dump(dir.path(), "t").unwrap();
        let back = Graph::load(dir.path(), "t").unwrap();
        assert_eq!(back.len(), 2000);
        assert_eq!(back.search(queries[3], 1)[0].0, 3 * 40);
    }
}
