//! Stage 5: answers from a loaded index — papers like a paper, papers for a free-text query,
//! and the passages that explain each match.

use crate::corpus::ids;
use crate::embed::{EmbedError, Embedder, Role};
use crate::index::{ann, csls, Index};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How two papers are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scoring {
    /// Cosine of the paper vectors.
    Cosine,
    /// Cosine after subtracting the collection's mean vector: embedding spaces are
    /// anisotropic, and the shared direction makes every pair look alike.
    Centered,
    /// CSLS (Conneau et al., 2018) on centered vectors: `2·cos(a,b) − r(a) − r(b)`, where
    /// `r(x)` is x's mean similarity to its nearest neighbours (stored in the index, see
    /// `index::csls`); it discounts "hub" papers that are close to everything, such as long
    /// surveys.
    #[default]
    Csls,
    /// The best-matching pair of passages, one from each paper (no paper vector at all).
    MaxSim,
}

impl std::str::FromStr for Scoring {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cosine" => Ok(Scoring::Cosine),
            "centered" => Ok(Scoring::Centered),
            "csls" => Ok(Scoring::Csls),
            "max-sim" | "maxsim" => Ok(Scoring::MaxSim),
            _ => Err(format!(
                "unknown scoring {s:?} (cosine, centered, csls, max-sim)"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PaperRef {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Why {
    pub query_passage: String,
    pub match_passage: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimilarHit {
    pub id: String,
    pub title: String,
    pub score: f32,
    pub why: Why,
}

#[derive(Debug, Clone, Serialize)]
pub struct Similar {
    pub query: PaperRef,
    pub results: Vec<SimilarHit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    pub score: f32,
    pub passage: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Search {
    pub results: Vec<SearchHit>,
}

/// Paper-to-paper similarity over a whole index, prepared once per process.
pub struct PaperSpace {
    dim: usize,
    /// Passage rows of each paper, and the passage vectors (for `MaxSim`).
    by_paper: Vec<Vec<usize>>,
    chunk_vectors: Vec<f32>,
    vectors: Vec<f32>,
    hubness: Vec<f32>,
    scoring: Scoring,
}

impl PaperSpace {
    pub fn new(index: &Index, scoring: Scoring) -> Self {
        let dim = index.dim();
        let n = index.paper_count();
        let vectors = if matches!(scoring, Scoring::Centered | Scoring::Csls) {
            csls::centered(index.paper_vectors(), dim)
        } else {
            index.paper_vectors().to_vec()
        };
        let hubness = if scoring == Scoring::Csls {
            index.hubness().to_vec()
        } else {
            vec![0.0; n]
        };
        let (by_paper, chunk_vectors) = if scoring == Scoring::MaxSim {
            (
                (0..n).map(|i| index.passages_of(i).collect()).collect(),
                index.passage_vectors().to_vec(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Self {
            dim,
            by_paper,
            chunk_vectors,
            vectors,
            hubness,
            scoring,
        }
    }

    /// Every other paper's score against paper `q`, best first.
    pub fn rank(&self, q: usize) -> Vec<(usize, f32)> {
        let d = self.dim;
        let qv = &self.vectors[q * d..(q + 1) * d];
        let mut out: Vec<(usize, f32)> = self
            .vectors
            .chunks_exact(d)
            .enumerate()
            .filter(|&(j, _)| j != q)
            .map(|(j, v)| {
                let s = match self.scoring {
                    Scoring::Csls => 2.0 * ann::dot(qv, v) - self.hubness[q] - self.hubness[j],
                    Scoring::MaxSim => self.max_sim(q, j),
                    _ => ann::dot(qv, v),
                };
                (j, s)
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

impl PaperSpace {
    fn max_sim(&self, a: usize, b: usize) -> f32 {
        let d = self.dim;
        let row = |i: usize| &self.chunk_vectors[i * d..(i + 1) * d];
        let mut best = f32::NEG_INFINITY;
        for &i in &self.by_paper[a] {
            for &j in &self.by_paper[b] {
                best = best.max(ann::dot(row(i), row(j)));
            }
        }
        best
    }
}

/// Papers like paper `id`, best first, never the paper itself.
pub fn similar(
    index: &Index,
    space: &PaperSpace,
    id: &str,
    k: usize,
) -> Result<Similar, QueryError> {
    let q = index.find(id)?;
    let paper = index.paper_meta(q)?;
    let text = |c: Option<usize>| c.map_or(Ok(String::new()), |c| index.passage_text(c));
    let results = space
        .rank(q)
        .into_iter()
        .take(k)
        .map(|(j, score)| {
            let (qc, mc) = best_pair(index, index.passages_of(q), index.passages_of(j));
            let meta = index.paper_meta(j)?;
            Ok(SimilarHit {
                id: meta.id,
                title: meta.title,
                score,
                why: Why {
                    query_passage: text(qc)?,
                    match_passage: text(mc)?,
                },
            })
        })
        .collect::<Result<_, crate::index::StoreError>>()?;
    Ok(Similar {
        query: PaperRef {
            id: paper.id,
            title: paper.title,
        },
        results,
    })
}

/// The pair of passages, one from each paper, whose vectors agree most.
fn best_pair(index: &Index, a: Range<usize>, b: Range<usize>) -> (Option<usize>, Option<usize>) {
    let mut best = (None, None);
    let mut best_score = f32::NEG_INFINITY;
    for i in a {
        for j in b.clone() {
            let s = ann::dot(index.passage_vector(i), index.passage_vector(j));
            if s > best_score {
                best_score = s;
                best = (Some(i), Some(j));
            }
        }
    }
    best
}

/// Papers for a free-text query: passages ranked by the query vector, each paper scored by
/// its best passage.
pub fn search(
    index: &Index,
    embedder: &Embedder,
    query: &str,
    k: usize,
    use_graph: bool,
) -> Result<Search, QueryError> {
    let qv = embedder
        .embed(&[query], Role::Query)?
        .pop()
        .expect("one vector per text");
    if qv.len() != index.dim() {
        return Err(QueryError::Dimension {
            index: index.dim(),
            model: qv.len(),
        });
    }
    Ok(search_vector(index, &qv, k, use_graph)?)
}

/// `search` for an already embedded query.
pub fn search_vector(
    index: &Index,
    qv: &[f32],
    k: usize,
    use_graph: bool,
) -> Result<Search, crate::index::StoreError> {
    let dim = index.dim();
    // Enough passages that k distinct papers are almost surely among them.
    let wanted = (k * 8).max(64).min(index.passage_count());
    let hits = if use_graph {
        index
            .graph("chunks")?
            .search(index.passage_vectors(), qv, wanted)
    } else {
        ann::exact(index.passage_vectors(), dim, qv, wanted)
    };
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    for (ci, score) in hits {
        let pi = index.paper_of_passage(ci);
        if !seen.insert(pi) {
            continue;
        }
        let meta = index.paper_meta(pi)?;
        results.push(SearchHit {
            id: meta.id,
            title: meta.title,
            score,
            passage: index.passage_text(ci)?,
        });
        if results.len() == k {
            break;
        }
    }
    Ok(Search { results })
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] crate::index::StoreError),
    #[error(transparent)]
    UnknownId(#[from] ids::UnknownId),
    #[error("the index holds {index}-d vectors but the model makes {model}-d ones: run `recommend index` with this model")]
    Dimension { index: usize, model: usize },
}
