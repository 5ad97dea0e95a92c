//! Approximate nearest neighbours for large tables: an inverted file (IVF) of int8 rows.
//!
//! The rows are clustered by spherical k-means into about √n lists; each list stores its
//! rows' ids and int8 codes contiguously. A query scores the list centroids, scans the
//! rows of the `probes` best lists with an int8 dot product, and hands its best candidates
//! to the caller, who re-scores them exactly on the full-precision rows (f32, or the
//! passage vectors' f16 widened). Every part is a flat
//! memory-mapped array, so opening costs nothing and a query pages in only the lists it
//! scans (at a million rows, ~40 lists of ~1,000 rows: a few MB).
//!
//! Why not a graph (HNSW): a graph is faster per query at equal recall, but its build is
//! one search per insert (hours for ten million passages on two cores), and hnsw_rs loads
//! the whole graph into memory before the first query (seconds and gigabytes at a million
//! papers). k-means over a sample plus one assignment pass (a GEMM per block of rows)
//! builds in minutes, and the IVF's per-query cost (a few MB of int8 reads) is well inside
//! the latency targets. See BENCHMARKS.md for the measured recall and times.

use super::ann::{dot, dot_i8};
use super::format::FileInfo;
use super::mapped::Array;
use super::store::StoreError;
use super::write::GenerationWriter;
use rand::seq::index::sample;
use rand::SeedableRng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

pub const CENTROIDS: &[u8; 8] = b"ivf cent";
pub const LISTS: &[u8; 8] = b"ivf list";
pub const IDS: &[u8; 8] = b"ivf ids ";
pub const SCALES: &[u8; 8] = b"ivf scal";
pub const CODES: &[u8; 8] = b"ivf code";

pub const PROBES: &[u8; 8] = b"ivf prob";

/// The files of an IVF named `base` (`papers.ivf` → `papers.ivf.centroids`, …).
pub fn file_names(base: &str) -> [String; 6] {
    ["centroids", "lists", "ids", "scales", "codes", "probes"].map(|part| format!("{base}.{part}"))
}

/// Recall@10 the probe count is chosen for, on a sample of the table's own rows.
pub const TARGET_RECALL: f64 = 0.985;
/// Rows sampled to choose the probe count.
const CALIBRATION_QUERIES: usize = 200;

/// Candidates a query re-scores exactly (at least; more when it asks for more results).
pub const CANDIDATES: usize = 200;
/// Candidates per row when computing hubness (its 10 nearest neighbours) at index time.
pub const HUBNESS_CANDIDATES: usize = 40;
/// Lists probed per row for hubness, at most: hubness is a mean of ten similarities, which
/// a few of the nearest lists estimate well, and the probe count chosen for queries' recall
/// (a third of the lists on the synthetic 100,000) would make it a scan per row.
pub const HUBNESS_PROBES: usize = 16;

/// Training sample per list: enough rows that every centroid sees a few dozen.
const SAMPLE_PER_LIST: usize = 48;
const TRAIN_ITERATIONS: usize = 10;
/// Rows per GEMM block when assigning rows to lists.
const BLOCK: usize = 1024;

/// Lists for `n` rows: about √n, so a list and the centroid table are both about √n long.
pub fn lists_for(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).clamp(1, 8192)
}

/// A source of unit rows for the build (the vectors themselves, or a transform of them such
/// as the centered paper vectors), read by row number from any thread.
pub trait RowSource: Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn dim(&self) -> usize;
    /// Writes row `i` into `out` (`dim` values).
    fn row(&self, i: usize, out: &mut [f32]);
}

/// Rows of a row-major table, as they are.
pub struct Plain<'a> {
    pub vectors: &'a [f32],
    pub dim: usize,
}

impl RowSource for Plain<'_> {
    fn len(&self) -> usize {
        self.vectors.len() / self.dim.max(1)
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn row(&self, i: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.vectors[i * self.dim..(i + 1) * self.dim]);
    }
}

/// Rows of a row-major table of half-precision values (format 4's passage vectors),
/// widened as they are read.
pub struct Half<'a> {
    pub bits: &'a [u16],
    pub dim: usize,
}

impl RowSource for Half<'_> {
    fn len(&self) -> usize {
        self.bits.len() / self.dim.max(1)
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn row(&self, i: usize, out: &mut [f32]) {
        super::vectors::widen(&self.bits[i * self.dim..(i + 1) * self.dim], out);
    }
}

/// `scores[r × lists + j] = rows[r] · centroids[j]` for a block of rows (one GEMM).
fn block_scores(rows: &[f32], centroids: &[f32], dim: usize) -> Vec<f32> {
    let m = rows.len() / dim;
    let n = centroids.len() / dim;
    let mut out = vec![0f32; m * n];
    if m == 0 || n == 0 {
        return out;
    }
    // SAFETY: the pointers cover m×dim, n×dim and m×n values with the strides given.
    unsafe {
        gemm::gemm(
            m,
            n,
            dim,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            rows.as_ptr(),
            1,
            dim as isize,
            centroids.as_ptr(),
            dim as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    out
}

fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (j, &s) in row.iter().enumerate() {
        if s > row[best] {
            best = j;
        }
    }
    best as u32
}

/// The nearest centroid of every row of `source`, in parallel blocks.
fn assign(source: &dyn RowSource, centroids: &[f32]) -> Vec<u32> {
    let dim = source.dim();
    let lists = centroids.len() / dim;
    let n = source.len();
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .flat_map_iter(|b| {
            let range = b * BLOCK..((b + 1) * BLOCK).min(n);
            let mut rows = vec![0f32; range.len() * dim];
            for (i, out) in range.zip(rows.chunks_exact_mut(dim)) {
                source.row(i, out);
            }
            let scores = block_scores(&rows, centroids, dim);
            scores
                .chunks_exact(lists)
                .map(argmax)
                .collect::<Vec<_>>()
                .into_iter()
        })
        .collect()
}

/// Spherical k-means over a sample of `source`: `lists` unit centroids.
fn train(source: &dyn RowSource, lists: usize, seed: u64) -> Vec<f32> {
    let dim = source.dim();
    let n = source.len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let m = (lists * SAMPLE_PER_LIST).min(n);
    let mut picks: Vec<usize> = sample(&mut rng, n, m).into_vec();
    picks.sort_unstable();
    let mut rows = vec![0f32; m * dim];
    for (&i, out) in picks.iter().zip(rows.chunks_exact_mut(dim)) {
        source.row(i, out);
    }
    let sample_rows = Plain {
        vectors: &rows,
        dim,
    };
    // Start from `lists` distinct sample rows.
    let mut centroids: Vec<f32> = sample(&mut rng, m, lists)
        .into_iter()
        .flat_map(|i| rows[i * dim..(i + 1) * dim].to_vec())
        .collect();
    for _ in 0..TRAIN_ITERATIONS {
        let owner = assign(&sample_rows, &centroids);
        let mut sums = vec![0f32; lists * dim];
        let mut counts = vec![0usize; lists];
        for (r, &o) in rows.chunks_exact(dim).zip(&owner) {
            let o = o as usize;
            counts[o] += 1;
            sums[o * dim..(o + 1) * dim]
                .iter_mut()
                .zip(r)
                .for_each(|(s, x)| *s += x);
        }
        for (j, c) in sums.chunks_exact_mut(dim).enumerate() {
            if counts[j] == 0 {
                // An empty list restarts from a random sample row.
                let i = rand::RngExt::random_range(&mut rng, 0..m);
                c.copy_from_slice(&rows[i * dim..(i + 1) * dim]);
            }
            crate::embed::pool::normalize(c);
        }
        centroids = sums;
    }
    centroids
}

/// Scale and int8 codes of one row: the largest magnitude maps to 127.
pub fn quantize(row: &[f32], codes: &mut [i8]) -> f32 {
    let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { 127.0 / max } else { 1.0 };
    for (c, x) in codes.iter_mut().zip(row) {
        *c = (x * scale).round().clamp(-127.0, 127.0) as i8;
    }
    1.0 / scale
}

/// Builds the IVF of `source` and writes its files into the generation as `base.*`.
pub fn write(
    gen: &mut GenerationWriter,
    base: &str,
    source: &dyn RowSource,
) -> Result<(), StoreError> {
    let dim = source.dim();
    let n = source.len();
    let lists = lists_for(n).min(n.max(1));
    let centroids = if n == 0 {
        vec![0f32; dim]
    } else {
        train(source, lists, 0x1f1f)
    };
    let owner = assign(source, &centroids);
    let mut offsets = vec![0u64; lists + 1];
    for &o in &owner {
        offsets[o as usize + 1] += 1;
    }
    for j in 0..lists {
        offsets[j + 1] += offsets[j];
    }
    // Each row's position: its list's start plus the rows of that list before it.
    let mut cursor: Vec<u64> = offsets[..lists].to_vec();
    let position: Vec<u64> = owner
        .iter()
        .map(|&o| {
            let p = cursor[o as usize];
            cursor[o as usize] += 1;
            p
        })
        .collect();
    let mut ids = vec![0u32; n];
    for (i, &p) in position.iter().enumerate() {
        ids[p as usize] = i as u32;
    }
    drop(owner);
    let [f_centroids, f_lists, f_ids, f_scales, f_codes, f_probes] = file_names(base);
    gen.put_array(&f_centroids, CENTROIDS, dim, &centroids)?;
    gen.put_array(&f_lists, LISTS, 1, &offsets)?;
    gen.put_array(&f_ids, IDS, 1, &ids)?;
    drop(ids);
    // Codes and scales go to their list positions as the rows are read in order.
    let mut scales = vec![0f32; n];
    gen.put_array_with(&f_codes, CODES, n, dim, |codes: &mut [i8]| {
        // Rows in parallel blocks; each row's codes and scale land at its position.
        let codes_ptr = SendPtr(codes.as_mut_ptr());
        let scales_ptr = SendPtr(scales.as_mut_ptr());
        (0..n.div_ceil(BLOCK)).into_par_iter().for_each(|b| {
            let mut row = vec![0f32; dim];
            let start = b * BLOCK;
            let end = (start + BLOCK).min(n);
            for (i, &p) in (start..end).zip(&position[start..end]) {
                source.row(i, &mut row);
                let p = p as usize;
                // SAFETY: positions are a permutation of 0..n, so every row writes its
                // own disjoint `dim` codes and one scale, inside the buffers.
                let (c, s) = unsafe {
                    (
                        std::slice::from_raw_parts_mut(codes_ptr.get().add(p * dim), dim),
                        &mut *scales_ptr.get().add(p),
                    )
                };
                *s = quantize(&row, c);
            }
        });
    })?;
    gen.put_array(&f_scales, SCALES, 1, &scales)?;
    drop(scales);
    // Probe count: the fewest lists that find the true neighbours of sampled rows.
    let dir = gen.dir().to_path_buf();
    let corrupt = |reason: String| StoreError::Corrupt {
        dir: dir.clone(),
        reason,
    };
    let built = Ivf::open(gen.dir(), gen.file_infos(), base, n, dim, Some(1), &corrupt)?;
    let probes = calibrate(&built, source);
    gen.put_array(&f_probes, PROBES, 1, &[probes as u32])?;
    Ok(())
}

/// The fewest probes whose candidates, re-scored exactly, hold `TARGET_RECALL` of the true
/// 10 nearest rows of sampled rows (each query's own row left out of both).
fn calibrate(lists: &Ivf, source: &dyn RowSource) -> usize {
    let (n, dim) = (source.len(), source.dim());
    if n <= 10 || lists.lists() <= 1 {
        return lists.lists().max(1);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let queries: Vec<usize> = sample(&mut rng, n, CALIBRATION_QUERIES.min(n)).into_vec();
    let row = |i: usize| {
        let mut r = vec![0f32; dim];
        source.row(i, &mut r);
        r
    };
    // True neighbours by one parallel scan over all rows, each worker keeping only the
    // best ten per query (the blocks' candidates merged as they finish: keeping every
    // block's lists until the end held 16 bytes × 200 queries × every row, 32 GB at ten
    // million rows).
    let qrows: Vec<Vec<f32>> = queries.iter().map(|&q| row(q)).collect();
    let none = || vec![Vec::<(usize, f32)>::new(); qrows.len()];
    let merge = |mut a: Vec<Vec<(usize, f32)>>, b: Vec<Vec<(usize, f32)>>| {
        for (x, y) in a.iter_mut().zip(b) {
            x.extend(y);
            top(x, 10);
        }
        a
    };
    let truth: Vec<Vec<usize>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .fold(none, |mut best, b| {
            let mut r = vec![0f32; dim];
            for i in b * BLOCK..((b + 1) * BLOCK).min(n) {
                source.row(i, &mut r);
                for (qi, q) in qrows.iter().enumerate() {
                    if queries[qi] != i {
                        best[qi].push((i, dot(q, &r)));
                    }
                }
            }
            for b in &mut best {
                top(b, 10);
            }
            best
        })
        .reduce(none, merge)
        .into_iter()
        .map(|best| best.into_iter().map(|h| h.0).collect())
        .collect();
    let recall = |probes: usize| -> f64 {
        let found: usize = (0..qrows.len())
            .into_par_iter()
            .map(|qi| {
                let q = &qrows[qi];
                let mut other = vec![0f32; dim];
                let mut hits: Vec<(usize, f32)> = lists
                    .candidates(q, probes, CANDIDATES)
                    .into_iter()
                    .filter(|h| h.0 != queries[qi])
                    .map(|(j, _)| {
                        source.row(j, &mut other);
                        (j, dot(q, &other))
                    })
                    .collect();
                top(&mut hits, 10);
                hits.iter().filter(|h| truth[qi].contains(&h.0)).count()
            })
            .sum();
        let total: usize = truth.iter().map(Vec::len).sum();
        found as f64 / total.max(1) as f64
    };
    let mut probes = 4usize.min(lists.lists());
    while probes < lists.lists() && recall(probes) < TARGET_RECALL {
        probes = (probes * 5 / 4).max(probes + 1);
    }
    probes.min(lists.lists())
}

/// Rows a probe reads above which its lists are scanned in parallel: below, starting the
/// threads costs more than they save.
const PARALLEL_SCAN: usize = 32_768;

/// The `n` best of `hits` (by score, then row: the same rows whatever their order), in no
/// particular order; all of them for `n == 0`.
fn keep_best(hits: &mut Vec<(usize, f32)>, n: usize) {
    if hits.len() > n && n > 0 {
        hits.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(n);
    }
}

/// The `k` best of `hits`, best first.
fn top(hits: &mut Vec<(usize, f32)>, k: usize) {
    if hits.len() > k && k > 0 {
        hits.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
    }
    hits.truncate(k);
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: used only for disjoint writes from the parallel loop above.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// An IVF read from a generation.
#[derive(Clone)]
pub struct Ivf {
    dim: usize,
    rows: usize,
    centroids: Array<f32>,
    offsets: Array<u64>,
    ids: Array<u32>,
    scales: Array<f32>,
    codes: Array<i8>,
    /// Probe count chosen when the lists were built (see `calibrate`).
    probes: usize,
    /// Set once the centroids and offsets have been asked for (`candidates`).
    asked: std::sync::OnceLock<()>,
}

impl Ivf {
    /// Maps the files of the IVF `base` over `rows` rows of `dim` values, checking their
    /// headers and lengths.
    pub fn open(
        dir: &Path,
        files: &BTreeMap<String, FileInfo>,
        base: &str,
        rows: usize,
        dim: usize,
        probes: Option<usize>,
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<Self, StoreError> {
        let [f_centroids, f_lists, f_ids, f_scales, f_codes, f_probes] = file_names(base);
        let size = |name: &str| {
            files
                .get(name)
                .map(|f| f.bytes)
                .ok_or_else(|| corrupt(format!("manifest lists no {name}")))
        };
        let (hc, centroids) = Array::open(
            dir,
            &f_centroids,
            size(&f_centroids)?,
            CENTROIDS,
            Some(dim),
            corrupt,
        )?;
        let (hl, offsets) = Array::open(dir, &f_lists, size(&f_lists)?, LISTS, Some(1), corrupt)?;
        let (hi, ids) = Array::open(dir, &f_ids, size(&f_ids)?, IDS, Some(1), corrupt)?;
        let (hs, scales) = Array::open(dir, &f_scales, size(&f_scales)?, SCALES, Some(1), corrupt)?;
        let (hk, codes) = Array::open(dir, &f_codes, size(&f_codes)?, CODES, Some(dim), corrupt)?;
        let n = rows as u64;
        if hl.rows != hc.rows + 1 || hi.rows != n || hs.rows != n || hk.rows != n {
            return Err(corrupt(format!(
                "{base}: its files do not agree on {rows} rows"
            )));
        }
        let probes = match probes {
            Some(p) => p,
            None => {
                let (_, p) =
                    Array::<u32>::open(dir, &f_probes, size(&f_probes)?, PROBES, Some(1), corrupt)?;
                p.as_slice().first().copied().unwrap_or(1) as usize
            }
        };
        Ok(Ivf {
            probes: probes.clamp(1, (hc.rows as usize).max(1)),
            dim,
            rows,
            centroids,
            offsets,
            ids,
            scales,
            codes,
            asked: std::sync::OnceLock::new(),
        })
    }

    pub fn lists(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Lists a query reads unless told otherwise: the fewest that found `TARGET_RECALL` of
    /// sampled rows' true neighbours when the lists were built.
    pub fn default_probes(&self) -> usize {
        self.probes
    }

    /// Up to `n` rows by approximate similarity to `query` (unit, `dim` values), found in
    /// the `probes` lists whose centroids are closest; best first, scores approximate.
    pub fn candidates(&self, query: &[f32], probes: usize, n: usize) -> Vec<(usize, f32)> {
        let dim = self.dim;
        // A query reads all the centroids and list offsets, and of the lists only those it
        // probes (asked for whole below). Asked for by the first query, not when the index
        // is opened: a process that opens the index for other work (`similar` never reads
        // the passage lists, `show` no lists at all) reads none of them.
        self.asked.get_or_init(|| {
            self.centroids.will_need(0..self.centroids.len());
            self.offsets.will_need(0..self.offsets.len());
        });
        let centroids = self.centroids.as_slice();
        let mut near: Vec<(usize, f32)> = centroids
            .chunks_exact(dim)
            .map(|c| dot(c, query))
            .enumerate()
            .collect();
        let probes = probes.clamp(1, near.len().max(1));
        if near.len() > probes {
            near.select_nth_unstable_by(probes - 1, |a, b| b.1.total_cmp(&a.1));
            near.truncate(probes);
        }
        let mut q = vec![0i8; dim];
        let q_scale = quantize(query, &mut q);
        let offsets = self.offsets.as_slice();
        let (ids, scales, codes) = (
            self.ids.as_slice(),
            self.scales.as_slice(),
            self.codes.as_slice(),
        );
        // A damaged offsets table reads as empty lists, never out of bounds.
        let span = |list: usize| {
            let start = (offsets[list] as usize).min(self.rows);
            start..(offsets[list + 1] as usize).clamp(start, self.rows)
        };
        // Every probed list asked for before the first is read, so that the kernel reads
        // them side by side where they are not in the page cache.
        for &(list, _) in &near {
            let rows = span(list);
            self.codes.will_need(rows.start * dim..rows.end * dim);
            self.ids.will_need(rows.clone());
            self.scales.will_need(rows);
        }
        // Every list scored into its own best `n`, then merged: the same answer in any
        // order, so the lists of a large probe are scanned on every core (at a million
        // papers, 150 lists of 1,000 rows, most of a `similar`'s time).
        let scan = |mut best: Vec<(usize, f32)>, list: usize| {
            for p in span(list) {
                let id = ids[p] as usize;
                if id >= self.rows {
                    continue;
                }
                let code = &codes[p * dim..(p + 1) * dim];
                best.push((id, dot_i8(&q, code) as f32 * q_scale * scales[p]));
            }
            if best.len() >= 2 * n.max(1) {
                keep_best(&mut best, n);
            }
            best
        };
        let merge = |mut a: Vec<(usize, f32)>, b: Vec<(usize, f32)>| {
            a.extend(b);
            keep_best(&mut a, n);
            a
        };
        let rows: usize = near.iter().map(|&(list, _)| span(list).len()).sum();
        let mut hits = if rows >= PARALLEL_SCAN && rayon::current_num_threads() > 1 {
            near.par_iter()
                .fold(Vec::new, |best, &(list, _)| scan(best, list))
                .reduce(Vec::new, merge)
        } else {
            merge(
                near.iter()
                    .fold(Vec::new(), |best, &(list, _)| scan(best, list)),
                Vec::new(),
            )
        };
        hits.truncate(n);
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn a_large_probe_scanned_on_several_threads_finds_what_one_thread_finds() {
        let (n, dim) = (40_000, 16);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Rows near a few directions, so that lists differ in size and scores tie often
        // enough to matter at the cut.
        let bases: Vec<f32> = (0..8 * dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut vectors = Vec::with_capacity(n * dim);
        for i in 0..n {
            let base = &bases[(i % 8) * dim..(i % 8 + 1) * dim];
            let mut row: Vec<f32> = base
                .iter()
                .map(|b| b + 0.3 * rng.random_range(-1.0f32..1.0))
                .collect();
            crate::embed::pool::normalize(&mut row);
            vectors.extend(row);
        }
        let root = tempfile::tempdir().unwrap();
        let mut gen = GenerationWriter::new(root.path()).unwrap();
        let source = Plain {
            vectors: &vectors,
            dim,
        };
        write(&mut gen, "t.ivf", &source).unwrap();
        let corrupt = |reason| StoreError::Corrupt {
            dir: root.path().into(),
            reason,
        };
        let lists =
            Ivf::open(gen.dir(), gen.file_infos(), "t.ivf", n, dim, None, &corrupt).unwrap();
        let pool = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        let (one, two) = (pool(1), pool(2));
        for q in [0, 17, 12_345, 39_999] {
            let query = &vectors[q * dim..(q + 1) * dim];
            // Every list (a scan of all 40,000 rows, so the threads are used) and a few.
            for probes in [lists.lists(), 3] {
                let serial = one.install(|| lists.candidates(query, probes, 500));
                let parallel = two.install(|| lists.candidates(query, probes, 500));
                assert_eq!(serial, parallel, "query {q}, {probes} probes");
                if probes == lists.lists() {
                    assert_eq!(serial.len(), 500);
                }
                assert!(serial.windows(2).all(|w| w[0].1 >= w[1].1));
            }
            // Every list read: the query's own row is its best candidate.
            let all = two.install(|| lists.candidates(query, lists.lists(), 10));
            assert_eq!(all[0].0, q);
        }
    }
}
