//! Pooling: from per-token hidden states to one sentence vector.

use serde::{Deserialize, Serialize};

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over real tokens: what e5 was trained with.
    #[default]
    Mean,
    /// The `<s>` token's vector.
    Cls,
    /// Ditto (Chen et al., 2023): tokens weighted by the diagonal of the first layer's
    /// attention, which tracks how informative a token is, without any training.
    Ditto,
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Ditto => "ditto",
        })
    }
}

/// Pools one sequence. `hidden` is `len × dim` row-major for the padded length; only the first
/// `n` rows are real tokens. `weights` (Ditto) has one weight per padded position.
pub fn pool(
    pooling: Pooling,
    hidden: &[f32],
    dim: usize,
    n: usize,
    weights: Option<&[f32]>,
) -> Vec<f32> {
    let rows = hidden.chunks_exact(dim).take(n);
    let mut out = vec![0f32; dim];
    match (pooling, weights) {
        (Pooling::Cls, _) => out.copy_from_slice(&hidden[..dim]),
        (Pooling::Ditto, Some(w)) => {
            for (row, &wi) in rows.zip(w) {
                out.iter_mut().zip(row).for_each(|(o, x)| *o += wi * x);
            }
        }
        // Mean; also Ditto without weights, which cannot happen through `Embedder`.
        _ => {
            for row in rows {
                out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
            }
        }
    }
    normalize(&mut out);
    out
}

/// L2-normalizes in place; a zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
