//! A 2-D picture of the collection for the web page's map: one point per paper, placed so
//! that papers close in the embedding space are close on the page.
//!
//! Computed once when the index is written and stored as its own file (`map.f32`), so a page
//! view only reads it. Two steps:
//! 1. PCA: the two directions of largest variance of the centered paper vectors, found by
//!    block power iteration on a sample of at most `PCA_SAMPLE` papers, then every paper
//!    projected (linear in the collection size). It keeps the global shape but crowds
//!    unrelated topics on top of each other.
//! 2. For collections below `REFINE_BELOW` papers, a neighbour-preserving refinement in the
//!    manner of UMAP (McInnes et al., 2018), started from the PCA picture: each paper is
//!    pulled towards its nearest neighbours in the embedding space and pushed away from
//!    random others. It needs every paper's neighbours, an exact scan here; above the limit
//!    a map of that many points is no longer read point by point and PCA is what is stored.
//!
//! Deterministic (fixed seeds), so re-indexing the same collection draws the same map.

use crate::index::ann;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

/// Papers whose map gets the neighbour-preserving refinement.
pub const REFINE_BELOW: usize = 5_000;
/// Papers the PCA directions are estimated from.
const PCA_SAMPLE: usize = 20_000;
/// Neighbours each paper is pulled towards.
const NEIGHBOURS: usize = 10;
const EPOCHS: usize = 300;
/// Random papers each paper is pushed away from, per neighbour and epoch.
const NEGATIVES: usize = 5;

/// One `(x, y)` per row of `vectors` (centered, unit rows of `dim` floats), scaled into
/// `[0, 1]` on the longer axis with the aspect ratio kept.
pub fn layout(vectors: &[f32], dim: usize) -> Vec<[f32; 2]> {
    let n = vectors.len() / dim.max(1);
    if n == 0 {
        return Vec::new();
    }
    let mut points = pca(vectors, dim);
    if n > 2 && n < REFINE_BELOW {
        refine(vectors, dim, &mut points);
    }
    normalize(&mut points);
    points
}

/// The two principal directions (block power iteration with Gram-Schmidt), then each row
/// projected onto them.
fn pca(vectors: &[f32], dim: usize) -> Vec<[f32; 2]> {
    let n = vectors.len() / dim;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut sample: Vec<usize> = (0..n).collect();
    if n > PCA_SAMPLE {
        sample.shuffle(&mut rng);
        sample.truncate(PCA_SAMPLE);
    }
    let mut mean = vec![0f32; dim];
    for &i in &sample {
        let row = &vectors[i * dim..(i + 1) * dim];
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, x)| *m += x / sample.len() as f32);
    }
    let mut basis: Vec<Vec<f32>> = (0..2)
        .map(|_| (0..dim).map(|_| rng.random::<f32>() - 0.5).collect())
        .collect();
    orthonormalize(&mut basis);
    for _ in 0..60 {
        // basis ← Cov · basis, Cov = Σ (x − mean)(x − mean)ᵀ over the sample.
        // Partial sums over fixed blocks, added in order: the same input gives the same
        // bits whatever the threads do, so the map is reproducible.
        let partials: Vec<Vec<Vec<f32>>> = sample
            .par_chunks(512)
            .map(|block| {
                let mut acc = vec![vec![0f32; dim]; 2];
                for &i in block {
                    let row = &vectors[i * dim..(i + 1) * dim];
                    let centered: Vec<f32> = row.iter().zip(&mean).map(|(x, m)| x - m).collect();
                    for (a, b) in acc.iter_mut().zip(&basis) {
                        let t = ann::dot(&centered, b);
                        a.iter_mut().zip(&centered).for_each(|(s, c)| *s += t * c);
                    }
                }
                acc
            })
            .collect();
        let mut next = vec![vec![0f32; dim]; 2];
        for part in partials {
            for (x, y) in next.iter_mut().zip(part) {
                x.iter_mut().zip(y).for_each(|(s, t)| *s += t);
            }
        }
        basis = next;
        orthonormalize(&mut basis);
    }
    vectors
        .par_chunks_exact(dim)
        .map(|row| {
            let centered: Vec<f32> = row.iter().zip(&mean).map(|(x, m)| x - m).collect();
            [
                ann::dot(&centered, &basis[0]),
                ann::dot(&centered, &basis[1]),
            ]
        })
        .collect()
}

fn orthonormalize(basis: &mut [Vec<f32>]) {
    for i in 0..basis.len() {
        for j in 0..i {
            let (done, rest) = basis.split_at_mut(i);
            let p = ann::dot(&rest[0], &done[j]);
            rest[0]
                .iter_mut()
                .zip(&done[j])
                .for_each(|(x, y)| *x -= p * y);
        }
        let norm = ann::dot(&basis[i], &basis[i]).sqrt();
        if norm > 1e-12 {
            basis[i].iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// UMAP-style optimisation of `points` (low-dimensional similarity `1 / (1 + d²)`): edges of
/// the k-nearest-neighbour graph attract, random pairs repel, with a step that shrinks to 0.
fn refine(vectors: &[f32], dim: usize, points: &mut [[f32; 2]]) {
    let n = points.len();
    let k = NEIGHBOURS.min(n - 1);
    let edges: Vec<(usize, usize)> = vectors
        .par_chunks_exact(dim)
        .enumerate()
        .flat_map_iter(|(i, q)| {
            ann::exact(vectors, dim, q, k + 1)
                .into_iter()
                .filter(move |h| h.0 != i)
                .take(k)
                .map(move |h| (i, h.0))
        })
        .collect();
    // Start from the PCA picture, spread to a scale where the forces are meaningful.
    let spread = points
        .iter()
        .flat_map(|p| p.iter())
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-6);
    for p in points.iter_mut() {
        p.iter_mut().for_each(|v| *v *= 10.0 / spread);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let clip = |g: f32| g.clamp(-4.0, 4.0);
    for epoch in 0..EPOCHS {
        let rate = 1.0 - epoch as f32 / EPOCHS as f32;
        for &(i, j) in &edges {
            let (d, dist2) = delta(points, i, j);
            let pull = -2.0 / (1.0 + dist2);
            for a in 0..2 {
                let g = clip(pull * d[a]) * rate;
                points[i][a] += g;
                points[j][a] -= g;
            }
            for _ in 0..NEGATIVES {
                let other = rng.random_range(0..n);
                if other == i {
                    continue;
                }
                let (d, dist2) = delta(points, i, other);
                let push = 2.0 / ((0.001 + dist2) * (1.0 + dist2));
                for a in 0..2 {
                    points[i][a] += clip(push * d[a]) * rate;
                }
            }
        }
    }
}

fn delta(points: &[[f32; 2]], i: usize, j: usize) -> ([f32; 2], f32) {
    let d = [points[i][0] - points[j][0], points[i][1] - points[j][1]];
    (d, d[0] * d[0] + d[1] * d[1])
}

/// Shifts and scales into `[0, 1]` on the longer axis, keeping the aspect ratio.
fn normalize(points: &mut [[f32; 2]]) {
    let mut lo = [f32::INFINITY; 2];
    let mut hi = [f32::NEG_INFINITY; 2];
    for p in points.iter() {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let range = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-12);
    for p in points.iter_mut() {
        for a in 0..2 {
            p[a] = (p[a] - lo[a]) / range;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::pool::normalize as unit;
    use rand_distr::{Distribution, Normal};

    /// `clusters` groups of `per` unit vectors around random centres in `dim` dimensions.
    fn clustered(clusters: usize, per: usize, dim: usize) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let normal = Normal::new(0.0f32, 1.0).unwrap();
        let mut out = Vec::new();
        for _ in 0..clusters {
            let centre: Vec<f32> = (0..dim).map(|_| normal.sample(&mut rng)).collect();
            for _ in 0..per {
                let mut v: Vec<f32> = centre
                    .iter()
                    .map(|c| c + 0.3 * normal.sample(&mut rng))
                    .collect();
                unit(&mut v);
                out.extend(v);
            }
        }
        out
    }

    fn nearest(points: &[[f32; 2]], i: usize) -> usize {
        (0..points.len())
            .filter(|&j| j != i)
            .min_by(|&a, &b| delta(points, i, a).1.total_cmp(&delta(points, i, b).1))
            .unwrap()
    }

    #[test]
    fn neighbours_in_the_embedding_space_are_neighbours_on_the_map() {
        let (clusters, per, dim) = (6, 15, 64);
        let v = clustered(clusters, per, dim);
        let points = layout(&v, dim);
        assert_eq!(points.len(), clusters * per);
        assert!(points
            .iter()
            .all(|p| p.iter().all(|x| (0.0..=1.0).contains(x))));
        let same = (0..points.len())
            .filter(|&i| nearest(&points, i) / per == i / per)
            .count();
        assert!(
            same >= points.len() * 95 / 100,
            "{same} of {}",
            points.len()
        );
        // The same vectors draw the same map.
        assert_eq!(points, layout(&v, dim));
    }

    #[test]
    fn pca_finds_the_direction_of_largest_spread() {
        // Points on a line in 16-d, with a little noise across it: the first coordinate
        // must order them as the line does.
        let dim = 16;
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut v = Vec::new();
        for i in 0..50 {
            let t = i as f32 / 10.0;
            v.extend((0..dim).map(|d| match d {
                3 => t,
                9 => -0.5 * t,
                _ => 0.01 * (rng.random::<f32>() - 0.5),
            }));
        }
        let xs: Vec<f32> = pca(&v, dim).iter().map(|p| p[0]).collect();
        let up = xs.windows(2).all(|w| w[0] < w[1]);
        let down = xs.windows(2).all(|w| w[0] > w[1]);
        assert!(up || down, "{xs:?}");
    }
}
