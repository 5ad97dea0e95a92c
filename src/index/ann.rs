//! The kernels of nearest-neighbour search over unit vectors (f32 and int8 dot products,
//! AVX2 where the CPU has it), the exact scan, and the hnsw_rs graph over paper vectors.
//!
//! Small collections (the seed corpus has about a hundred papers) are answered by an exact
//! scan, which is both as fast as anything at that size and the ground truth the
//! approximate structures are measured against. Above `EXACT_BELOW` papers, `similar`'s
//! first stage reads IVF lists (`ivf`) over the centered paper vectors, as `search` does
//! over passages. Indexes written before 2026-12-02 hold an HNSW graph (hnsw_rs) over the
//! papers instead, which this module still loads and walks: a walk is faster than probing
//! lists (2.8 ms for 200 candidates at 100,000 papers), but hnsw_rs reads the whole graph
//! before the first walk (3.2 s at that size), which a one-shot `similar` cannot afford, and
//! builds it with one search per insert.

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::{AnnT, Hnsw, HnswIo};
use rayon::prelude::*;
use std::path::Path;

/// Below this many rows, queries scan exactly unless the approximate structures are asked
/// for (`search --hnsw`); see `search::EXACT_BELOW`.
pub const EXACT_BELOW: usize = 5_000;

/// HNSW parameters: M (links per node; twice that on the bottom layer), ef at construction,
/// ef at search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub max_connections: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
}

impl Default for Params {
    /// Chosen with `cargo bench --bench ann` (see BENCHMARKS.md) to keep recall@10 ≥ 0.99 at
    /// 100k vectors of dimension 384.
    fn default() -> Self {
        Self {
            max_connections: 24,
            ef_construction: 200,
            ef_search: 64,
        }
    }
}

/// The graph's distance over int8 vectors: `K − a·b` with `K` the largest possible dot
/// product, so it is never negative (hnsw_rs asserts that) and orders pairs exactly as
/// `1 − cos` does for vectors quantized with one shared scale. The graph only compares
/// distances; `Graph::search` re-scores its candidates on the f32 vectors.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuantDot;

impl Distance<i8> for QuantDot {
    fn eval(&self, a: &[i8], b: &[i8]) -> f32 {
        let bound = (127 * 127 * a.len()) as i64;
        (bound - dot_i8(a, b) as i64) as f32
    }
}

/// Integer dot product, with AVX2 code when the CPU has it: sign-extend 16 bytes to 16-bit
/// lanes, then `vpmaddwd` multiplies and adds pairs into 32-bit sums.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the feature this function is compiled for was just detected.
            return unsafe { dot_i8_avx2(a, b) };
        }
    }
    dot_i8_scalar(a, b)
}

fn dot_i8_scalar(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let body = n / 32 * 32;
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let load = |p: &[i8], i: usize| {
        // SAFETY: i + 16 <= body <= len of both slices.
        unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(p.as_ptr().add(i) as *const __m128i)) }
    };
    let mut i = 0;
    while i < body {
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(load(a, i), load(b, i)));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(load(a, i + 16), load(b, i + 16)));
        i += 32;
    }
    let mut lanes = [0i32; 8];
    _mm256_storeu_si256(
        lanes.as_mut_ptr() as *mut __m256i,
        _mm256_add_epi32(acc0, acc1),
    );
    lanes.iter().sum::<i32>() + dot_i8_scalar(&a[body..n], &b[body..n])
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

/// Rows scaled by `scale` and rounded to int8 (clamped, in case a row exceeds the range the
/// scale was chosen for).
fn quantize(row: &[f32], scale: f32) -> Vec<i8> {
    row.iter()
        .map(|x| (x * scale).round().clamp(-127.0, 127.0) as i8)
        .collect()
}

/// The scale that maps the largest magnitude in `values` to 127.
fn scale_for(values: &[f32]) -> f32 {
    let max = values.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max > 0.0 {
        127.0 / max
    } else {
        1.0
    }
}

/// An HNSW graph over rows of a vector table.
///
/// The graph holds the rows as int8 (one scale for the whole table): a quarter of the
/// memory, and a walk that reads a quarter of the bytes per visited node. The walk's
/// candidates (ef of them) are then re-scored on the f32 rows, so the order of the results
/// is exact and quantization only matters where it pushes a true neighbour out of the
/// candidate list.
pub struct Graph {
    hnsw: Hnsw<'static, i8, QuantDot>,
    ef_search: usize,
}

impl Graph {
    pub fn build(vectors: &[f32], dim: usize) -> Self {
        Self::build_with(vectors, dim, Params::default())
    }

    pub fn build_with(vectors: &[f32], dim: usize, params: Params) -> Self {
        let scale = scale_for(vectors);
        let rows: Vec<Vec<i8>> = vectors
            .par_chunks_exact(dim)
            .map(|r| quantize(r, scale))
            .collect();
        Self::insert_all(rows, params)
    }

    /// A graph over rows computed on demand (e.g. centered paper vectors, never held as
    /// f32 all at once): one pass for the int8 scale, one to quantize.
    pub fn build_rows(rows: &dyn super::ivf::RowSource, params: Params) -> Self {
        let dim = rows.dim();
        let max = (0..rows.len())
            .into_par_iter()
            .map_init(
                || vec![0f32; dim],
                |buf, i| {
                    rows.row(i, buf);
                    buf.iter().fold(0f32, |m, x| m.max(x.abs()))
                },
            )
            .reduce(|| 0.0, f32::max);
        let scale = if max > 0.0 { 127.0 / max } else { 1.0 };
        let quantized: Vec<Vec<i8>> = (0..rows.len())
            .into_par_iter()
            .map_init(
                || vec![0f32; dim],
                |buf, i| {
                    rows.row(i, buf);
                    quantize(buf, scale)
                },
            )
            .collect();
        Self::insert_all(quantized, params)
    }

    fn insert_all(rows: Vec<Vec<i8>>, params: Params) -> Self {
        let n = rows.len();
        let layers = 16;
        let hnsw = Hnsw::new(
            params.max_connections,
            n.max(1),
            layers,
            params.ef_construction,
            QuantDot,
        );
        let refs: Vec<(&Vec<i8>, usize)> = rows.iter().zip(0..).collect();
        hnsw.parallel_insert(&refs);
        let mut graph = Self {
            hnsw,
            ef_search: params.ef_search,
        };
        graph.hnsw.set_searching_mode(true);
        graph
    }

    /// Sets the search beam width (ef); higher finds more true neighbours, more slowly.
    pub fn set_ef_search(&mut self, ef: usize) {
        self.ef_search = ef;
    }

    pub fn len(&self) -> usize {
        self.hnsw.get_nb_point()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `k` rows most similar to `query`, best first, with exact cosines. `vectors` is
    /// the f32 table the graph was built from.
    pub fn search(&self, vectors: &[f32], query: &[f32], k: usize) -> Vec<Hit> {
        let dim = query.len();
        self.search_with(query, k, &|row| {
            vectors
                .get(row * dim..(row + 1) * dim)
                .map_or(f32::NEG_INFINITY, |v| dot(v, query))
        })
    }

    /// The `k` best rows for `query` (in the space the graph was built in) by `exact`,
    /// which re-scores the walk's candidates.
    pub fn search_with(&self, query: &[f32], k: usize, exact: &dyn Fn(usize) -> f32) -> Vec<Hit> {
        let ef = self.ef_search.max(k);
        // The query has its own scale: a common factor on every candidate's distance does
        // not change their order.
        let q = quantize(query, scale_for(query));
        let mut hits: Vec<Hit> = self
            .hnsw
            .search(&q, ef, ef)
            .into_iter()
            .map(|n| (n.d_id, exact(n.d_id)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        hits
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
        let mut hnsw = io.load_hnsw::<i8, QuantDot>()?;
        hnsw.set_searching_mode(true);
        Ok(Self {
            hnsw,
            ef_search: Params::default().ef_search,
        })
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
            .search(vectors, q, k)
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
    fn int8_dot_matches_scalar_at_every_length() {
        for len in [0, 1, 15, 16, 31, 32, 33, 384, 385] {
            let a: Vec<i8> = (0..len).map(|i| (i * 37 % 255) as u8 as i8).collect();
            let b: Vec<i8> = (0..len).map(|i| (i * 91 % 253) as u8 as i8).collect();
            assert_eq!(dot_i8(&a, &b), dot_i8_scalar(&a, &b), "len {len}");
        }
        assert_eq!(dot_i8(&[-128; 64], &[-128; 64]), 64 * 128 * 128);
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
        assert_eq!(g.search(&v, queries[3], 1)[0].0, 3 * 40);
        let dir = tempfile::tempdir().unwrap();
        g.dump(dir.path(), "t").unwrap();
        let back = Graph::load(dir.path(), "t").unwrap();
        assert_eq!(back.len(), 2000);
        assert_eq!(back.search(&v, queries[3], 1)[0].0, 3 * 40);
    }
}
