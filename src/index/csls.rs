//! The collection statistics behind the default paper scoring (CSLS on centered vectors).
//!
//! CSLS needs, for every paper, its mean similarity to its nearest neighbours (its
//! "hubness"). Finding those neighbours for every paper is a k-nearest-neighbour pass over
//! the whole collection, so it is done once, when the index is written, and stored beside
//! the vectors; a `similar` query then only reads it.

use super::ann;
use super::ivf;
use crate::embed::pool::normalize;
use rayon::prelude::*;

/// Neighbours averaged for a paper's hubness.
pub const NEIGHBOURS: usize = 10;

/// `vectors` minus their mean, each row re-normalized. Sentence-embedding spaces are
/// anisotropic: one shared direction makes every pair of papers look alike, and removing
/// it lets the differences between papers decide the ranking.
pub fn centered(vectors: &[f32], dim: usize) -> Vec<f32> {
    let n = vectors.len() / dim.max(1);
    let mut out = vectors.to_vec();
    if n < 2 {
        return out;
    }
    let mut mean = vec![0f32; dim];
    for row in vectors.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
    }
    mean.iter_mut().for_each(|m| *m /= n as f32);
    for row in out.chunks_exact_mut(dim) {
        row.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
        normalize(row);
    }
    out
}

/// Each row's mean cosine to its `NEIGHBOURS` nearest other rows, by an exact scan (see
/// `hubness_graph` for collections too large to scan n times).
pub fn hubness(vectors: &[f32], dim: usize) -> Vec<f32> {
    vectors
        .par_chunks_exact(dim)
        .enumerate()
        .map(|(i, q)| {
            let hits = ann::exact(vectors, dim, q, NEIGHBOURS + 1);
            let others: Vec<f32> = hits
                .iter()
                .filter(|h| h.0 != i)
                .take(NEIGHBOURS)
                .map(|h| h.1)
                .collect();
            others.iter().sum::<f32>() / others.len().max(1) as f32
        })
        .collect()
}

/// Hubness of raw paper vectors by exact scan: for indexes written before it was stored,
/// and for in-memory variants of an index (`eval`).
pub fn paper_hubness(paper_vectors: &[f32], dim: usize) -> Vec<f32> {
    hubness(&centered(paper_vectors, dim), dim)
}

/// The mean of the paper vectors and each paper's distance from it. Centered vectors are
/// computed from these on demand (`(v − mean) / norm`) rather than stored: one vector and
/// one number per paper instead of a second copy of the table.
pub struct Center {
    pub mean: Vec<f32>,
    pub norms: Vec<f32>,
}

impl Center {
    /// Of `vectors` (unit rows). With fewer than two rows there is nothing to center on,
    /// and the mean is zero (as `centered` leaves such a table as it is).
    pub fn of(vectors: &[f32], dim: usize) -> Self {
        let n = vectors.len() / dim.max(1);
        let mut mean = vec![0f64; dim];
        if n >= 2 {
            for row in vectors.chunks_exact(dim) {
                mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x as f64);
            }
            mean.iter_mut().for_each(|m| *m /= n as f64);
        }
        let mean: Vec<f32> = mean.into_iter().map(|m| m as f32).collect();
        let norms = vectors
            .par_chunks_exact(dim)
            .map(|row| {
                row.iter()
                    .zip(&mean)
                    .map(|(x, m)| (x - m) * (x - m))
                    .sum::<f32>()
                    .sqrt()
            })
            .collect();
        Center { mean, norms }
    }

    pub fn view(&self) -> CenterView<'_> {
        CenterView {
            mean: &self.mean,
            norms: &self.norms,
        }
    }
}

/// `Center`, borrowed (from memory or from the index's mapped files).
#[derive(Clone, Copy)]
pub struct CenterView<'a> {
    pub mean: &'a [f32],
    pub norms: &'a [f32],
}

impl CenterView<'_> {
    /// `v` minus the mean, unit length: a query in the centered space.
    pub fn centered(&self, v: &[f32]) -> Vec<f32> {
        let mut out: Vec<f32> = v.iter().zip(self.mean).map(|(x, m)| x - m).collect();
        normalize(&mut out);
        out
    }

    /// Cosine of the centered query `q` (from `centered`) and centered row `j` of
    /// `vectors`, without materializing the row: `(q·v − q·mean) / |v − mean|`. `q_mean` is
    /// `q · mean`, computed once per query.
    pub fn cosine(&self, q: &[f32], q_mean: f32, vectors: &[f32], j: usize) -> f32 {
        let dim = q.len();
        match vectors.get(j * dim..(j + 1) * dim) {
            Some(v) => self.cosine_of(q, q_mean, v, j),
            None => 0.0,
        }
    }

    /// [`Self::cosine`] with row `j`'s values `v` already read (`Index::read_paper_vectors`).
    pub fn cosine_of(&self, q: &[f32], q_mean: f32, v: &[f32], j: usize) -> f32 {
        match self.norms.get(j).copied() {
            Some(norm) if norm > 0.0 => (ann::dot(q, v) - q_mean) / norm,
            _ => 0.0,
        }
    }
}

/// The centered paper vectors as rows for building (see `ivf::RowSource`).
pub struct CenteredRows<'a> {
    pub vectors: &'a [f32],
    pub center: CenterView<'a>,
}

impl ivf::RowSource for CenteredRows<'_> {
    fn len(&self) -> usize {
        self.center.norms.len()
    }
    fn dim(&self) -> usize {
        self.center.mean.len()
    }
    fn row(&self, i: usize, out: &mut [f32]) {
        let dim = out.len();
        let v = &self.vectors[i * dim..(i + 1) * dim];
        let norm = self.center.norms[i];
        for ((o, x), m) in out.iter_mut().zip(v).zip(self.center.mean) {
            *o = if norm > 0.0 { (x - m) / norm } else { 0.0 };
        }
    }
}

/// Hubness of every row by exact scan (small collections).
pub fn hubness_exact(rows: &dyn ivf::RowSource) -> Vec<f32> {
    let dim = rows.dim();
    let mut table = vec![0f32; rows.len() * dim];
    for (i, out) in table.chunks_exact_mut(dim.max(1)).enumerate() {
        rows.row(i, out);
    }
    hubness(&table, dim)
}

/// Hubness of every row through IVF lists built over the same rows: each row's nearest
/// rows among the lists' candidates (`ivf::HUBNESS_CANDIDATES` from at most
/// `ivf::HUBNESS_PROBES` lists), re-scored exactly.
pub fn hubness_lists(rows: &dyn ivf::RowSource, lists: &ivf::Ivf) -> Vec<f32> {
    let dim = rows.dim();
    (0..rows.len())
        .into_par_iter()
        .map_init(
            || (vec![0f32; dim], vec![0f32; dim]),
            |(q, other), i| {
                rows.row(i, q);
                let mut sims: Vec<f32> = lists
                    .candidates(
                        q,
                        lists.default_probes().min(ivf::HUBNESS_PROBES),
                        ivf::HUBNESS_CANDIDATES,
                    )
                    .into_iter()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, _)| {
                        rows.row(j, other);
                        ann::dot(q, other)
                    })
                    .collect();
                sims.sort_by(|a, b| b.total_cmp(a));
                sims.truncate(NEIGHBOURS);
                sims.iter().sum::<f32>() / sims.len().max(1) as f32
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centered_rows_are_unit_and_mean_free() {
        let dim = 3;
        let mut v = vec![1.0, 0.1, 0.0, 1.0, 0.0, 0.1, 1.0, -0.1, 0.0];
        for row in v.chunks_exact_mut(dim) {
            normalize(row);
        }
        let c = centered(&v, dim);
        for row in c.chunks_exact(dim) {
            assert!((ann::dot(row, row) - 1.0).abs() < 1e-5);
            // The shared x direction is gone.
            assert!(row[0].abs() < 0.2, "{row:?}");
        }
    }

    #[test]
    fn hubness_is_mean_similarity_to_nearest_and_the_lists_agree_with_scan() {
        // Two tight clusters and one vector halfway between them (cosine 0.707 to all).
        let dim = 8;
        let mut v = Vec::new();
        let mut push = |x: [f32; 8]| {
            let mut r = x.to_vec();
            normalize(&mut r);
            v.extend(r);
        };
        for i in 0..12 {
            let e = i as f32 * 0.01;
            push([1.0, e, 0.0, 0.0, 0.0, 0.0, 0.0, e]);
            push([0.0, e, 1.0, 0.0, 0.0, e, 0.0, 0.0]);
        }
        push([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let scan = hubness(&v, dim);
        let between = *scan.last().unwrap();
        assert!((between - 0.707).abs() < 0.01, "{between}");
        assert!(scan[..24].iter().all(|&h| h > 0.99), "{scan:?}");
        let rows = ivf::Plain { vectors: &v, dim };
        // IVF lists over the same rows, probed in full, find the same neighbours.
        let dir = tempfile::tempdir().unwrap();
        let mut gen = super::super::GenerationWriter::new(dir.path()).unwrap();
        ivf::write(&mut gen, "t.ivf", &rows).unwrap();
        let corrupt = |reason: String| super::super::StoreError::Corrupt {
            dir: dir.path().into(),
            reason,
        };
        let n = ivf::RowSource::len(&rows);
        let lists = ivf::Ivf::open(
            gen.dir(),
            gen.file_infos(),
            "t.ivf",
            n,
            dim,
            Some(n),
            &corrupt,
        )
        .unwrap();
        let listed = hubness_lists(&rows, &lists);
        for (a, b) in scan.iter().zip(&listed) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
