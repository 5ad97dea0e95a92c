//! The collection statistics behind the default paper scoring (CSLS on centered vectors).
//!
//! CSLS needs, for every paper, its mean similarity to its nearest neighbours (its
//! "hubness"). Finding those neighbours for every paper is a k-nearest-neighbour pass over
//! the whole collection, so it is done once, when the index is written, and stored beside
//! the vectors; a `similar` query then only reads it.

use super::ann::{self, Graph};
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

/// Each row's mean cosine to its `NEIGHBOURS` nearest other rows: by an exact scan, or
/// through `graph` (built over the same rows) for collections too large to scan n times.
pub fn hubness(vectors: &[f32], dim: usize, graph: Option<&Graph>) -> Vec<f32> {
    vectors
        .par_chunks_exact(dim)
        .enumerate()
        .map(|(i, q)| {
            let hits = match graph {
                Some(g) => g.search(vectors, q, NEIGHBOURS + 1),
                None => ann::exact(vectors, dim, q, NEIGHBOURS + 1),
            };
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
    hubness(&centered(paper_vectors, dim), dim, None)
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
    fn hubness_is_mean_similarity_to_nearest_and_graph_agrees_with_scan() {
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
        let scan = hubness(&v, dim, None);
        let between = *scan.last().unwrap();
        assert!((between - 0.707).abs() < 0.01, "{between}");
        assert!(scan[..24].iter().all(|&h| h > 0.99), "{scan:?}");
        let graph = Graph::build(&v, dim);
        let walked = hubness(&v, dim, Some(&graph));
        for (a, b) in scan.iter().zip(&walked) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
