//! Stage 5: answers from a loaded index — papers like one or more papers (and unlike
//! others), papers for a free-text query, and the passages that explain each match.
//!
//! Both front ends (the CLI and the web server) call `similar` and `search` with a request
//! struct and get plain `Serialize` results back; nothing here prints.
//!
//! Several seeds. A reader thinks in reading lists: "papers like A and B, but not like C".
//! Two ways to combine seeds are implemented and measured by `recommend eval`
//! (see `Seeds`): scoring against each seed and keeping the best (Qdrant's `best_score`
//! recommend strategy), or merging the seeds into one pseudo-paper first (Rocchio).

pub mod filter;
pub mod lexical;

pub use filter::{Filter, FilterError, PartialDate};
pub use lexical::LexicalWeights;
use lexical::Sparse;

use crate::chunk::Lang;
use crate::corpus::ids;
use crate::embed::{EmbedError, Embedder, Role};
use crate::index::format::{F32_ROWS, PASSAGE_LANG_MEANS};
use crate::index::search::EXACT_BELOW;
use crate::index::{ann, Index, Lists, PaperMeta, Scan, StoreError};
use lexical::LexicalStats;
use recommend_kernels::{Epilogue, Kernels, PackedF32};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How two papers are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
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
    Csls,
    /// The best-matching pair of passages, one from each paper (no paper vector at all).
    #[value(alias = "maxsim")]
    MaxSim,
    /// Symmetric passage matching (BERTScore-style, on centered passage vectors): each
    /// passage's best match in the other paper, averaged over both papers' passages. A
    /// long post and a short one are compared part by part instead of through two means
    /// that the long post's experiment sections dominate.
    Matching,
    /// tf-idf cosine over English terms (and Korean bigrams), see `lexical`.
    Lexical,
    /// CSLS, passage matching and lexical overlap, each standardized over the candidates
    /// and summed with the weights of `Fusion`.
    #[default]
    Fused,
}

impl std::fmt::Display for Scoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_name(self))
    }
}

/// Weights of the standardized signals summed by `Scoring::Fused` (chosen with
/// `recommend eval --sweep`, see BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fusion {
    pub csls: f32,
    pub matching: f32,
    pub lexical: f32,
    pub terms: LexicalWeights,
}

impl Default for Fusion {
    fn default() -> Self {
        Self {
            csls: 1.0,
            matching: 1.0,
            lexical: 1.0,
            terms: LexicalWeights::default(),
        }
    }
}

/// Centered passage vectors a long-lived caller (the server, eval) keeps, at most
/// (`PaperSpace::keep_passages`): every passage of an index of up to about 170,000
/// passages of 384 dimensions; above that each query centers its own shortlist's passages.
pub const KEEP_PASSAGES_BYTES: usize = 256 << 20;

/// Vocabularies up to this many terms get a dense copy of the probe's tf-idf vector per
/// query (4 MiB at most).
const DENSE_TERMS: usize = 1 << 20;

/// Papers a cheap first stage (CSLS on paper vectors) keeps for the scorings that compare
/// passages: their cost then stays flat as the collection grows.
pub const SHORTLIST: usize = 200;

/// Candidates the paper lists propose for CSLS to rank (above `EXACT_BELOW` papers), from
/// which it keeps the `SHORTLIST`: CSLS subtracts each paper's hubness, so a paper just
/// outside the nearest few hundred by cosine can enter its top 200.
pub const FIRST_STAGE: usize = 5 * SHORTLIST;

/// How several seed papers are combined into one ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Seeds {
    /// Each candidate is scored against every seed and keeps its best (standardized)
    /// score: a candidate close to any one seed ranks high, so a reading list on two
    /// topics yields both (Qdrant's `best_score`).
    #[value(alias = "best")]
    BestScore,
    /// The seeds are merged into one pseudo-paper (mean vector, all passages, all terms)
    /// and candidates are scored against it (Rocchio's relevance feedback). The default:
    /// on the judged reading lists (`recommend eval --sweep`) it finds the rest of a list
    /// better than best-score (nDCG@10 0.808 vs 0.778).
    #[default]
    #[value(alias = "average")]
    Rocchio,
}

/// The serde name of a unit variant (`best-score`), which is also its flag value.
fn serde_name(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl std::fmt::Display for Seeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_name(self))
    }
}

/// Weight of the papers to avoid against the seeds: a candidate's standardized score
/// against them (combined like the seeds) is subtracted at this weight. Qdrant's
/// `average_vector` uses the same ratio (`2·mean(positive) − mean(negative)`). Unlike
/// Qdrant's `best_score` rule, which leaves a candidate alone unless it is nearer a paper
/// to avoid than to every seed, this pushes down everything in proportion to how close it
/// is to what the reader does not want.
const AVOID_WEIGHT: f32 = 0.5;

/// "Papers like these, unlike those".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarRequest {
    /// Seed papers (one or more), by id.
    pub ids: Vec<String>,
    /// Papers whose neighbours are not wanted.
    #[serde(default)]
    pub not: Vec<String>,
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default)]
    pub scoring: Scoring,
    #[serde(default)]
    pub seeds: Seeds,
    #[serde(default)]
    pub fusion: Fusion,
    #[serde(default)]
    pub filter: Filter,
    /// Rank every paper (the ground truth) instead of the paper lists' candidates, which
    /// an index of `index::search::EXACT_BELOW` papers or more uses by default.
    #[serde(default)]
    pub exact: bool,
}

fn default_k() -> usize {
    10
}

impl SimilarRequest {
    /// Papers like one paper, with the default scoring and no filter.
    pub fn new(id: impl Into<String>, k: usize) -> Self {
        Self {
            ids: vec![id.into()],
            not: Vec::new(),
            k,
            scoring: Scoring::default(),
            seeds: Seeds::default(),
            fusion: Fusion::default(),
            filter: Filter::default(),
            exact: false,
        }
    }
}

/// Papers for a free-text query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub text: String,
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default)]
    pub filter: Filter,
    /// Use the approximate-search lists (`index::ivf`) instead of scanning every passage.
    #[serde(default)]
    pub graph: bool,
    #[serde(default)]
    pub fusion: SearchFusion,
}

/// How `search` ranks the papers whose passages came nearest the query: a soft maximum of
/// the paper's passage cosines, plus these weights times the paper vector's cosine and the
/// query's tf-idf overlap with the paper, each standardized over the candidates.
///
/// The best passage alone favours papers with many passages: the largest of many noisy
/// cosines is high by chance, so a 50-passage survey outranks the two-passage summary that
/// answers the query. `temperature` pools a paper's cosines as `t · ln(mean(exp(cos / t)))`
/// instead: near the maximum when one passage stands out, but a paper gains nothing from
/// passages that do not match (the mean, not the sum). It is in cosine units, scaled to
/// e5's cosines, which spread about 0.02 around a query. The paper vector and the exact
/// terms of the query temper what is left. Chosen with `recommend eval --sweep`
/// (BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchFusion {
    pub paper: f32,
    pub lexical: f32,
    /// 0: a paper's best passage alone.
    pub temperature: f32,
    /// Which terms of the query count, and how much.
    pub terms: LexicalWeights,
}

impl Default for SearchFusion {
    fn default() -> Self {
        Self {
            paper: 0.25,
            lexical: 0.3,
            temperature: 0.01,
            terms: LexicalWeights::default(),
        }
    }
}

/// `t · ln(mean(exp(x / t)))`: a mean that tends to the maximum as `t` falls to 0 (and is
/// the maximum at 0).
fn soft_max(xs: impl Iterator<Item = f32> + Clone, t: f32) -> f32 {
    let max = xs.clone().fold(f32::NEG_INFINITY, f32::max);
    if t <= 0.0 || !max.is_finite() {
        return max;
    }
    let (sum, n) = xs.fold((0f64, 0usize), |(s, n), x| {
        (s + (((x - max) / t) as f64).exp(), n + 1)
    });
    max + t * (sum / n as f64).ln() as f32
}

impl SearchRequest {
    pub fn new(text: impl Into<String>, k: usize) -> Self {
        Self {
            text: text.into(),
            k,
            filter: Filter::default(),
            graph: false,
            fusion: SearchFusion::default(),
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
    /// The seed the query passage comes from (only when there are several seeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
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
    /// The (first) seed paper.
    pub query: PaperRef,
    /// Further seed papers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<PaperRef>,
    /// Papers whose neighbours were pushed down.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not: Vec<PaperRef>,
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

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    UnknownId(#[from] ids::UnknownId),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("no seed paper given: name at least one paper id")]
    NoSeed,
    #[error("{0} is both a seed and a paper to avoid")]
    SeedAndNot(String),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] crate::index::StoreError),
    #[error("the index holds {index}-d vectors but the model makes {model}-d ones: run `recommend index` with this model")]
    Dimension { index: usize, model: usize },
}

/// Paper-to-paper similarity over a whole index, prepared once per process (or server):
/// what every query needs and the index does not store ready to use.
pub struct PaperSpace {
    dim: usize,
    /// Every paper's short metadata, read on the first filtered query (a query without a
    /// filter reads only the rows it prints).
    metas: std::sync::OnceLock<Vec<PaperMeta>>,
    /// The mean passage vector of each language (`None`: passages of unknown language,
    /// and the fallback for a language with no mean): passage matching compares passages
    /// after subtracting their language's mean, so that a Korean and an English passage on
    /// one topic are as close as two Korean ones (see `centered_passages`).
    lang_means: Vec<(Option<Lang>, Vec<f32>)>,
    lexical: LexicalStats,
    /// Every passage centered and packed for `kernels`, when a long-lived caller asked
    /// for it (`keep_passages`).
    kept: Option<PackedF32>,
    /// The CPU's matrix kernels, for passage matching.
    kernels: Kernels,
}

/// What candidates are scored against: one paper, or several merged into a pseudo-paper.
struct Probe {
    /// Unit paper vector (raw and centered: minus the collection's mean paper vector,
    /// re-normalized).
    raw: Vec<f32>,
    centered: Vec<f32>,
    /// `centered · mean`, for cosines against stored papers (`csls::CenterView::cosine`).
    centered_mean: f32,
    /// CSLS hubness of the probe (constant over candidates; kept so that single-paper
    /// scores are today's CSLS scores).
    hubness: f32,
    passages: Vec<usize>,
    papers: Vec<usize>,
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    crate::embed::pool::normalize(&mut v);
    v
}

fn mean_rows<'a>(rows: impl Iterator<Item = &'a [f32]>, dim: usize) -> Vec<f32> {
    let mut sum = vec![0f32; dim];
    for r in rows {
        sum.iter_mut().zip(r).for_each(|(s, x)| *s += x);
    }
    unit(sum)
}

/// Candidates whose vectors are copied out at a time (`PaperSpace::centered_cosines`):
/// an exact ranking of a million papers reads them in blocks, not all at once.
const READ_BLOCK: usize = 4096;

/// The exact centered cosines `similar`'s first stage computed for its candidates (see
/// `Index::nearest_papers`), for the probe of the seeds `seeds` taken together: CSLS on
/// those candidates is then no second read of their vectors. Empty where every paper is
/// ranked.
#[derive(Debug, Default)]
struct FirstStage {
    seeds: Vec<usize>,
    centered: std::collections::HashMap<usize, f32>,
}

impl FirstStage {
    fn centered_cos(&self, probe: &Probe, j: usize) -> Option<f32> {
        (probe.papers == self.seeds)
            .then(|| self.centered.get(&j).copied())
            .flatten()
    }
}

/// `rows` as runs of consecutive rows (a paper's passages are one run).
fn runs(rows: impl Iterator<Item = usize>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in rows {
        match out.last_mut() {
            Some(last) if last.end == r => last.end += 1,
            _ => out.push(r..r + 1),
        }
    }
    out
}

impl PaperSpace {
    pub fn new(index: &Index) -> Result<Self, StoreError> {
        let dim = index.dim();
        let lang_means = language_means(index);
        let lexical = LexicalStats::open(index)?;
        Ok(Self {
            dim,
            metas: Default::default(),
            lang_means,
            lexical,
            kept: None,
            kernels: Kernels::best(),
        })
    }

    /// Cosines of the probe and each of `candidates` in the centered space, from the
    /// index's stored mean and norms (no centered copy of the collection is made): those
    /// the first stage already computed for this probe from `known`, the others from the
    /// candidates' vectors, copied out in batches rather than read through the map (they
    /// are scattered rows, see `Array::read_ranges`).
    fn centered_cosines(
        &self,
        index: &Index,
        probe: &Probe,
        candidates: &[usize],
        known: &FirstStage,
    ) -> Vec<f32> {
        let mut out = vec![0f32; candidates.len()];
        let mut todo = Vec::new();
        for (c, &j) in candidates.iter().enumerate() {
            match known.centered_cos(probe, j) {
                Some(cos) => out[c] = cos,
                None => todo.push(c),
            }
        }
        let center = index.center();
        for block in todo.chunks(READ_BLOCK) {
            let rows: Vec<usize> = block.iter().map(|&c| candidates[c]).collect();
            if let Some(v) = index.read_paper_vectors(&rows) {
                for ((&c, &j), v) in block.iter().zip(&rows).zip(v.chunks_exact(self.dim)) {
                    out[c] = center.cosine_of(&probe.centered, probe.centered_mean, v, j);
                }
            }
        }
        out
    }

    /// A probe for the papers `seeds` taken together (one paper: exactly that paper).
    fn probe(&self, index: &Index, seeds: &[usize]) -> Probe {
        let d = self.dim;
        let center = index.center();
        let each: Vec<Vec<f32>> = seeds
            .iter()
            .map(|&s| center.centered(index.paper_vector(s)))
            .collect();
        let centered = mean_rows(each.iter().map(Vec::as_slice), d);
        let centered_mean = ann::dot(&centered, center.mean);
        Probe {
            raw: mean_rows(seeds.iter().map(|&s| index.paper_vector(s)), d),
            centered,
            centered_mean,
            hubness: seeds.iter().map(|&s| index.hubness()[s]).sum::<f32>() / seeds.len() as f32,
            passages: seeds.iter().flat_map(|&s| index.passages_of(s)).collect(),
            papers: seeds.to_vec(),
        }
    }

    fn csls(
        &self,
        index: &Index,
        probe: &Probe,
        candidates: &[usize],
        known: &FirstStage,
    ) -> Vec<f32> {
        let hubness = index.hubness();
        self.centered_cosines(index, probe, candidates, known)
            .into_iter()
            .zip(candidates)
            .map(|(cos, &j)| 2.0 * cos - probe.hubness - hubness[j])
            .collect()
    }

    /// The mean passage of language `lang` (or of all passages, for a language with no
    /// mean of its own).
    fn lang_mean(&self, lang: Option<Lang>) -> Option<&[f32]> {
        self.lang_means
            .iter()
            .find(|(l, _)| *l == lang)
            .or_else(|| self.lang_means.iter().find(|(l, _)| l.is_none()))
            .map(|(_, m)| m.as_slice())
    }

    /// Passages `rows`, each minus the mean passage of its language and re-normalized, one
    /// after another in one row-major block. The multilingual model puts every Korean
    /// passage nearer every other Korean passage than any English one, whatever the topic:
    /// without this, papers summarized in both languages (the digests) match each other for
    /// their shared layout. Measured on the judged set (`recommend eval`): matching alone
    /// nDCG@10 0.581 with one global mean, 0.618 with per-language means.
    fn centered_passages(&self, index: &Index, rows: &[Range<usize>]) -> Vec<f32> {
        let n: usize = rows.iter().map(|r| r.len()).sum();
        // Copied out in one batch: a shortlist's passages are scattered over the table
        // (see `Array::read_ranges`).
        let (mut out, langs) = index
            .read_passages(rows)
            .unwrap_or_else(|| (vec![0f32; n * self.dim], vec![None; n]));
        for (row, lang) in out.chunks_exact_mut(self.dim).zip(langs) {
            self.center_in_language(row, lang);
        }
        out
    }

    /// `v`, a passage vector of language `lang`, minus that language's mean passage and
    /// re-normalized: the space in which passage matching compares passages (see
    /// `centered_passages`). Eval measures cross-lingual retrieval in it.
    pub fn language_centered(&self, v: &[f32], lang: Option<Lang>) -> Vec<f32> {
        let mut row = v.to_vec();
        self.center_in_language(&mut row, lang);
        row
    }

    fn center_in_language(&self, row: &mut [f32], lang: Option<Lang>) {
        if let Some(mean) = self.lang_mean(lang) {
            row.iter_mut().zip(mean).for_each(|(x, m)| *x -= m);
        }
        let norm = ann::dot(row, row).sqrt();
        if norm > 0.0 {
            let inv = 1.0 / norm;
            row.iter_mut().for_each(|x| *x *= inv);
        }
    }

    /// Keeps every passage centered (`centered_passages`) and packed for the CPU's matrix
    /// kernels (`recommend_kernels`) for the life of this space, when they fit in
    /// `budget_bytes`. A server or an evaluation that answers many queries then compares a
    /// probe with every passage in one product against weights packed once, instead of
    /// centering and packing the candidates' passages on every query (together nine
    /// tenths of an uncached `similar` call). A one-shot CLI query does without: it
    /// centers only its shortlist.
    pub fn keep_passages(mut self, index: &Index, budget_bytes: usize) -> Self {
        let n = index.passage_count();
        if n > 0 && n * self.dim * std::mem::size_of::<f32>() <= budget_bytes {
            let all = self.centered_passages(index, std::slice::from_ref(&(0..n)));
            self.kept = Some(self.kernels.pack_f32(&all, n, self.dim, None));
        }
        self
    }

    /// Symmetric passage matching (BERTScore-style) of the probe's passages and each
    /// candidate's: each passage's best match in the other paper, averaged over both
    /// papers. All the cosines are one matrix product (probe passages × candidate
    /// passages), so a query costs one pass over the shortlist's passages and no
    /// allocation per candidate.
    fn matching(&self, index: &Index, probe: &[usize], candidates: &[usize]) -> Vec<f32> {
        let d = self.dim;
        let p = probe.len();
        let wanted: usize = candidates.iter().map(|&j| index.passages_of(j).len()).sum();
        if p == 0 || wanted == 0 {
            return vec![0.0; candidates.len()];
        }
        let ours = self.centered_passages(index, &runs(probe.iter().copied()));
        // cos[i * width + c]: probe passage i against column c, where each candidate's
        // passages are the columns from `first[j]`: every passage of the index in index
        // order (the kept, packed passages, when the candidates hold a good part of
        // them), or else the candidates' passages centered and packed now, in candidate
        // order. Both go through the same kernel, so a server's answer and a one-shot
        // query's are the same to the last bit.
        let packed_now;
        let (packed, width, first): (&PackedF32, usize, Vec<usize>) = match &self.kept {
            Some(packed) if 4 * wanted >= index.passage_count() => (
                packed,
                index.passage_count(),
                candidates
                    .iter()
                    .map(|&j| index.passages_of(j).start)
                    .collect(),
            ),
            _ => {
                let rows: Vec<Range<usize>> =
                    candidates.iter().map(|&j| index.passages_of(j)).collect();
                let theirs = self.centered_passages(index, &rows);
                packed_now = self.kernels.pack_f32(&theirs, wanted, d, None);
                let mut at = 0;
                let first = candidates
                    .iter()
                    .map(|&j| {
                        let col = at;
                        at += index.passages_of(j).len();
                        col
                    })
                    .collect();
                (&packed_now, wanted, first)
            }
        };
        let mut cos = vec![0f32; p * width];
        self.kernels
            .sgemm(p, &ours, d, packed, &mut cos, width, &Epilogue::default());
        let mut best_theirs = Vec::new();
        candidates
            .iter()
            .zip(first)
            .map(|(&j, first)| {
                let len = index.passages_of(j).len();
                if len == 0 {
                    return 0.0;
                }
                best_theirs.clear();
                best_theirs.resize(len, f32::NEG_INFINITY);
                let mut ours_sum = 0f32;
                for i in 0..p {
                    let row = &cos[i * width + first..i * width + first + len];
                    let mut best = f32::NEG_INFINITY;
                    for (t, &s) in best_theirs.iter_mut().zip(row) {
                        best = best.max(s);
                        *t = t.max(s);
                    }
                    ours_sum += best;
                }
                let theirs_mean = best_theirs.iter().sum::<f32>() / len as f32;
                (ours_sum / p as f32 + theirs_mean) / 2.0
            })
            .collect()
    }

    fn max_sim(&self, index: &Index, probe: &[usize], b: usize) -> f32 {
        let mut best = f32::NEG_INFINITY;
        for &i in probe {
            for j in index.passages_of(b) {
                best = best.max(ann::dot(&index.passage_vector(i), &index.passage_vector(j)));
            }
        }
        best
    }

    /// Scores of `candidates` against `probe` under `scoring`. Single signals are raw
    /// scores; `Fused` is a sum of standardized ones.
    fn scores(
        &self,
        index: &Index,
        scoring: Scoring,
        fusion: &Fusion,
        probe: &Probe,
        candidates: &[usize],
        known: &FirstStage,
    ) -> Vec<f32> {
        let lexical = || {
            let q = Sparse::sum(
                probe
                    .papers
                    .iter()
                    .map(|&p| self.lexical.paper(p, &fusion.terms))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|p| &**p),
            );
            // The probe's terms spread over the vocabulary (when that is of a size to
            // allocate per query): each candidate then costs one lookup per term.
            let dense =
                (self.lexical.terms() <= DENSE_TERMS).then(|| q.to_dense(self.lexical.terms()));
            self.lexical
                .paper_vectors(candidates, &fusion.terms)
                .iter()
                .map(|theirs| match &dense {
                    Some(dense) => theirs.dot_dense(dense),
                    None => q.dot(theirs),
                })
                .collect::<Vec<f32>>()
        };
        let each = |f: &dyn Fn(usize) -> f32| candidates.iter().map(|&j| f(j)).collect();
        match scoring {
            Scoring::Cosine => each(&|j| ann::dot(&probe.raw, index.paper_vector(j))),
            Scoring::Centered => self.centered_cosines(index, probe, candidates, known),
            Scoring::Csls => self.csls(index, probe, candidates, known),
            Scoring::MaxSim => each(&|j| self.max_sim(index, &probe.passages, j)),
            Scoring::Matching => self.matching(index, &probe.passages, candidates),
            Scoring::Lexical => lexical(),
            Scoring::Fused => {
                let mut total = vec![0f32; candidates.len()];
                let mut add = |w: f32, signal: &dyn Fn() -> Vec<f32>| {
                    if w != 0.0 {
                        let z = standardized(signal());
                        total.iter_mut().zip(z).for_each(|(t, z)| *t += w * z);
                    }
                };
                add(fusion.csls, &|| self.csls(index, probe, candidates, known));
                add(fusion.matching, &|| {
                    self.matching(index, &probe.passages, candidates)
                });
                add(fusion.lexical, &lexical);
                total
            }
        }
    }

    /// `candidates` ranked for the seeds `pos` and the papers to avoid `neg`, best first.
    fn rank(
        &self,
        index: &Index,
        req: &SimilarRequest,
        pos: &[usize],
        neg: &[usize],
        candidates: &[usize],
        known: &FirstStage,
    ) -> Vec<(usize, f32)> {
        let passages = matches!(
            req.scoring,
            Scoring::Matching | Scoring::MaxSim | Scoring::Fused
        );
        if passages && candidates.len() > SHORTLIST {
            let cheap = SimilarRequest {
                scoring: Scoring::Csls,
                ..req.clone()
            };
            let mut first = self.rank(index, &cheap, pos, neg, candidates, known);
            first.truncate(SHORTLIST);
            let shortlist: Vec<usize> = first.into_iter().map(|c| c.0).collect();
            return self.rank(index, req, pos, neg, &shortlist, known);
        }
        let score = |group: &[usize]| {
            self.scores(
                index,
                req.scoring,
                &req.fusion,
                &self.probe(index, group),
                candidates,
                known,
            )
        };
        // One side (the seeds, or the papers to avoid) as standardized scores.
        let side = |group: &[usize]| -> Vec<f32> {
            match req.seeds {
                Seeds::BestScore => {
                    let per: Vec<Vec<f32>> =
                        group.iter().map(|&s| standardized(score(&[s]))).collect();
                    (0..candidates.len())
                        .map(|c| per.iter().map(|v| v[c]).fold(f32::NEG_INFINITY, f32::max))
                        .collect()
                }
                Seeds::Rocchio => standardized(score(group)),
            }
        };
        let combined: Vec<f32> = if pos.len() == 1 && neg.is_empty() {
            score(pos)
        } else if neg.is_empty() {
            side(pos)
        } else {
            let n = side(neg);
            side(pos)
                .iter()
                .zip(&n)
                .map(|(p, n)| p - AVOID_WEIGHT * n)
                .collect()
        };
        let mut out: Vec<(usize, f32)> = candidates.iter().copied().zip(combined).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

/// Passages read to estimate the language means: a mean of unit vectors is known well
/// from a few thousand of them, and a query must not read every passage of a large index.
const MEAN_SAMPLE: usize = 20_000;

/// The sample is read as this many runs of consecutive passages, spread evenly over the
/// index: rows scattered one by one over a memory-mapped table each fault in their own
/// pages (with the kernel's read-around), which at a million passages made a `similar`
/// process map 1.3 GB of the table and spend a third of its time in page faults.
const MEAN_RUNS: usize = 20;

/// The mean passage vector of each language found in the index, and of all passages
/// (under `None`, used for passages of unknown language): as the index stores them
/// (`PASSAGE_LANG_MEANS`, three rows), or for an index written before that, from a sample.
fn language_means(index: &Index) -> Vec<(Option<Lang>, Vec<f32>)> {
    let dim = index.dim();
    let stored = index
        .feature_array::<f32>(PASSAGE_LANG_MEANS, F32_ROWS, dim)
        .ok()
        .flatten()
        .filter(|(h, _)| h.rows == 3);
    let Some((_, means)) = stored else {
        return sampled_language_means(index);
    };
    let rows = means.as_slice().chunks_exact(dim);
    [None, Some(Lang::Ko), Some(Lang::En)]
        .into_iter()
        .zip(rows)
        // A row of zeros: no passage of that language.
        .filter(|(_, m)| m.iter().any(|&x| x != 0.0))
        .map(|(l, m)| (l, m.to_vec()))
        .collect()
}

/// `language_means` estimated from at most `MEAN_SAMPLE` passages (all of them in a
/// smaller index).
fn sampled_language_means(index: &Index) -> Vec<(Option<Lang>, Vec<f32>)> {
    let dim = index.dim();
    let rows = index.passage_count();
    let run = MEAN_SAMPLE / MEAN_RUNS;
    let sample: Box<dyn Iterator<Item = usize>> = if rows <= MEAN_SAMPLE {
        Box::new(0..rows)
    } else {
        Box::new((0..MEAN_RUNS).flat_map(move |r| {
            let start = r * (rows - run) / (MEAN_RUNS - 1);
            start..start + run
        }))
    };
    let sample: Vec<usize> = sample.collect();
    for run in sample.chunk_by(|a, b| b == &(a + 1)) {
        index.prefetch_passages(run[0]..run[run.len() - 1] + 1);
    }
    let mut sums: Vec<(Option<Lang>, Vec<f32>, usize)> = vec![(None, vec![0f32; dim], 0)];
    for i in sample {
        let row = index.passage_vector(i);
        let lang = index.passage_lang(i);
        let at = match sums
            .iter()
            .position(|(l, _, _)| lang.is_some() && *l == lang)
        {
            Some(at) => Some(at),
            None if lang.is_some() => {
                sums.push((lang, vec![0f32; dim], 0));
                Some(sums.len() - 1)
            }
            None => None,
        };
        for k in std::iter::once(0).chain(at) {
            sums[k].1.iter_mut().zip(&*row).for_each(|(s, x)| *s += x);
            sums[k].2 += 1;
        }
    }
    sums.into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(l, mut m, n)| {
            m.iter_mut().for_each(|x| *x /= n as f32);
            (l, m)
        })
        .collect()
}

/// `v` as z-scores (mean 0, standard deviation 1), so that the scores of different seeds,
/// which sit at different levels, can be compared and combined.
fn standardized(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.len().max(1) as f32;
    let mean = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    let sd = var.sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x = (*x - mean) / sd);
    v
}

/// Looks up each id, in order, dropping repeats.
fn resolve_ids(index: &Index, wanted: &[String]) -> Result<Vec<usize>, ids::UnknownId> {
    let mut out: Vec<usize> = Vec::new();
    for id in wanted {
        let i = index.find(id)?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

impl PaperSpace {
    /// Papers that pass `filter` (after checking it against the collection).
    fn allowed(&self, index: &Index, filter: &Filter) -> Result<Vec<bool>, QueryError> {
        if filter.is_empty() {
            return Ok(vec![true; index.paper_count()]);
        }
        let metas = match self.metas.get() {
            Some(m) => m,
            None => {
                index.prefetch_metadata();
                let all = (0..index.paper_count())
                    .map(|i| index.paper_meta(i))
                    .collect::<Result<Vec<_>, _>>()?;
                self.metas.get_or_init(|| all)
            }
        };
        filter.check(metas)?;
        Ok(metas.iter().map(|m| filter.allows(m)).collect())
    }
}

fn paper_ref(index: &Index, i: usize) -> Result<PaperRef, StoreError> {
    let m = index.paper_meta(i)?;
    Ok(PaperRef {
        id: m.id,
        title: m.title,
    })
}

/// Papers like the request's seeds, best first; never a seed or a paper to avoid, and only
/// papers that pass the filter.
pub fn similar(
    index: &Index,
    space: &PaperSpace,
    req: &SimilarRequest,
) -> Result<Similar, QueryError> {
    let pos = resolve_ids(index, &req.ids)?;
    let neg = resolve_ids(index, &req.not)?;
    if pos.is_empty() {
        return Err(QueryError::NoSeed);
    }
    if let Some(&both) = pos.iter().find(|p| neg.contains(p)) {
        return Err(QueryError::SeedAndNot(paper_ref(index, both)?.id));
    }
    let allowed = space.allowed(index, &req.filter)?;
    let accept = |i: usize| allowed[i] && !pos.contains(&i) && !neg.contains(&i);
    let (candidates, known): (Vec<usize>, FirstStage) = match index.lists(Lists::Papers) {
        // A large index: the papers nearest the seeds in the centered space, from the
        // lists (a few lists read, not every paper scored), with the exact cosines they
        // were re-scored by, which CSLS then reuses.
        Ok(_) if !req.exact && index.paper_count() >= EXACT_BELOW => {
            let probe = space.probe(index, &pos);
            let hits =
                index.nearest_papers(&probe.centered, FIRST_STAGE, Scan::Approximate, &accept)?;
            let known = FirstStage {
                seeds: pos.clone(),
                centered: hits.iter().copied().collect(),
            };
            (hits.into_iter().map(|h| h.0).collect(), known)
        }
        _ => (
            (0..index.paper_count()).filter(|&i| accept(i)).collect(),
            FirstStage::default(),
        ),
    };
    let ranked = space.rank(index, req, &pos, &neg, &candidates, &known);
    let several = pos.len() > 1;
    let text = |c: Option<usize>| c.map_or(Ok(String::new()), |c| index.passage_text(c));
    let results = ranked
        .into_iter()
        .take(req.k)
        .map(|(j, score)| {
            let (seed, qc, mc) = best_pair(index, &pos, j);
            let found = paper_ref(index, j)?;
            Ok(SimilarHit {
                id: found.id,
                title: found.title,
                score,
                why: Why {
                    query_passage: text(qc)?,
                    match_passage: text(mc)?,
                    seed: several
                        .then(|| paper_ref(index, seed).map(|r| r.id))
                        .transpose()?,
                },
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Similar {
        query: paper_ref(index, pos[0])?,
        also: pos[1..]
            .iter()
            .map(|&i| paper_ref(index, i))
            .collect::<Result<_, _>>()?,
        not: neg
            .iter()
            .map(|&i| paper_ref(index, i))
            .collect::<Result<_, _>>()?,
        results,
    })
}

/// The pair of passages, one from a seed and one from paper `b`, whose vectors agree most,
/// and the seed it came from.
fn best_pair(index: &Index, seeds: &[usize], b: usize) -> (usize, Option<usize>, Option<usize>) {
    let mut best = (seeds[0], None, None);
    let mut best_score = f32::NEG_INFINITY;
    for &s in seeds {
        for i in index.passages_of(s) {
            for j in index.passages_of(b) {
                let v = ann::dot(&index.passage_vector(i), &index.passage_vector(j));
                if v > best_score {
                    best_score = v;
                    best = (s, Some(i), Some(j));
                }
            }
        }
    }
    best
}

/// Papers for a free-text query: passages ranked by the query vector, each paper scored by
/// its best passage.
pub fn search(
    index: &Index,
    space: &PaperSpace,
    embedder: &Embedder,
    req: &SearchRequest,
) -> Result<Search, QueryError> {
    let qv = embedder
        .embed(&[req.text.as_str()], Role::Query)?
        .pop()
        .expect("one vector per text");
    search_with_vector(index, space, req, &qv)
}

/// `search` for a query whose vector is already known (`req.text` is not embedded again).
pub fn search_with_vector(
    index: &Index,
    space: &PaperSpace,
    req: &SearchRequest,
    qv: &[f32],
) -> Result<Search, QueryError> {
    let dim = index.dim();
    if qv.len() != dim {
        return Err(QueryError::Dimension {
            index: dim,
            model: qv.len(),
        });
    }
    let allowed = space.allowed(index, &req.filter)?;
    let passing = allowed.iter().filter(|a| **a).count();
    let total = index.passage_count();
    // Enough passages that k distinct papers are almost surely among them.
    let wanted = (req.k * 8).max(64).min(total);
    let scan = if req.graph {
        Scan::Approximate
    } else {
        Scan::Exact
    };
    let mut hits = index.nearest_passages(qv, wanted, scan)?;
    let enough = |hits: &[(usize, f32)]| {
        let mut seen = std::collections::HashSet::new();
        hits.iter()
            .map(|h| index.paper_of_passage(h.0))
            .filter(|&p| allowed[p] && seen.insert(p))
            .count()
            >= req.k.min(passing)
    };
    if !enough(&hits) && wanted < total {
        // A narrow filter: most nearby passages belong to papers it excludes, so rank
        // every passage (still one pass over the vectors).
        hits = index.exact_passages(qv, total);
    }
    // Candidate papers with their best passage, in order of first appearance.
    let mut best: Vec<(usize, usize, f32)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (row, score) in hits {
        let p = index.paper_of_passage(row);
        if allowed[p] && seen.insert(p) {
            best.push((p, row, score));
        }
    }
    let fusion = req.fusion;
    if fusion.temperature > 0.0 {
        for &(p, _, _) in &best {
            index.prefetch_passages(index.passages_of(p));
        }
    }
    // Each candidate's passages pooled (its best passage's cosine where the temperature
    // is 0, and no passage needs scoring again).
    let pooled: Vec<f32> = best
        .iter()
        .map(|&(p, _, score)| {
            if fusion.temperature > 0.0 {
                let cos = index
                    .passages_of(p)
                    .map(|r| ann::dot(qv, &index.passage_vector(r)));
                soft_max(cos, fusion.temperature)
            } else {
                score
            }
        })
        .collect();
    let scores: Vec<f32> = if best.len() > 1 && (fusion.paper != 0.0 || fusion.lexical != 0.0) {
        let weights = fusion.terms;
        let terms = space.lexical.text(&req.text, &weights);
        let passage = standardized(pooled);
        let paper = standardized(
            best.iter()
                .map(|b| ann::dot(qv, index.paper_vector(b.0)))
                .collect(),
        );
        let lexical = standardized(
            best.iter()
                .map(|b| terms.dot(&space.lexical.paper(b.0, &weights)))
                .collect(),
        );
        (0..best.len())
            .map(|i| passage[i] + fusion.paper * paper[i] + fusion.lexical * lexical[i])
            .collect()
    } else {
        pooled
    };
    let mut order: Vec<usize> = (0..best.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut results = Vec::new();
    for i in order.into_iter().take(req.k) {
        let (p, row, score) = best[i];
        let found = paper_ref(index, p)?;
        results.push(SearchHit {
            id: found.id,
            title: found.title,
            score,
            passage: index.passage_text(row)?,
        });
    }
    Ok(Search { results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_max_lies_between_mean_and_max_and_gains_nothing_from_weak_passages() {
        let xs = [0.80f32, 0.84, 0.86];
        assert_eq!(soft_max(xs.iter().copied(), 0.0), 0.86);
        let t = soft_max(xs.iter().copied(), 0.01);
        assert!(t < 0.86 && t > 0.8333, "{t}");
        // Far above the cosines' spread it is the mean; far below, the maximum.
        assert!((soft_max(xs.iter().copied(), 100.0) - 0.8333).abs() < 1e-3);
        assert!((soft_max(xs.iter().copied(), 1e-4) - 0.86).abs() < 1e-3);
        // One strong passage among many weak ones scores below the same passage alone:
        // a long paper does not win on the number of its passages.
        let alone = soft_max([0.86f32].into_iter(), 0.01);
        let padded = soft_max([0.86f32].into_iter().chain([0.80; 40]), 0.01);
        assert!(padded < alone - 0.01, "{padded} vs {alone}");
    }

    #[test]
    fn standardized_scores_have_mean_zero_and_unit_spread() {
        let z = standardized(vec![1.0, 2.0, 3.0, 4.0]);
        assert!(z.iter().sum::<f32>().abs() < 1e-5);
        let var = z.iter().map(|x| x * x).sum::<f32>() / 4.0;
        assert!((var - 1.0).abs() < 1e-5);
        assert_eq!(standardized(vec![5.0, 5.0]), vec![0.0, 0.0]);
    }

    /// Passage matching as one matrix product gives what its definition says pair by pair,
    /// and CSLS from the index's stored centre equals CSLS on a centered copy of the papers.
    #[test]
    fn matching_and_csls_agree_with_their_definitions() {
        let (papers, dim) = (40, 16);
        let root = tempfile::tempdir().unwrap();
        let spec = crate::index::synthetic::Spec {
            papers,
            passages_per_paper: 3,
            dim,
            seed: 9,
        };
        let model = crate::index::ModelInfo {
            name: "synthetic".into(),
            fingerprint: "none".into(),
            dim,
            precision: crate::embed::Precision::F32,
            pooling: crate::embed::Pooling::Mean,
        };
        crate::index::synthetic::write(root.path(), spec, model).unwrap();
        let ix = Index::open(root.path()).unwrap();
        let space = PaperSpace::new(&ix).unwrap();
        let seed = 3;
        let probe = space.probe(&ix, &[seed]);
        let candidates: Vec<usize> = (0..papers).filter(|&j| j != seed).collect();
        let got = space.matching(&ix, &probe.passages, &candidates);
        let centered = |rows: Vec<usize>| -> Vec<Vec<f32>> {
            rows.into_iter()
                .map(|i| space.centered_passages(&ix, std::slice::from_ref(&(i..i + 1))))
                .collect()
        };
        // Mean over `a` of each row's best cosine in `b`.
        let best = |a: &[Vec<f32>], b: &[Vec<f32>]| {
            a.iter()
                .map(|x| b.iter().map(|y| ann::dot(x, y)).fold(f32::MIN, f32::max))
                .sum::<f32>()
                / a.len() as f32
        };
        // The language means the index stores are those a sample of every passage gives.
        let (stored, sampled) = (language_means(&ix), sampled_language_means(&ix));
        assert_eq!(stored.len(), sampled.len());
        for ((la, a), (lb, b)) in stored.iter().zip(&sampled) {
            assert_eq!(la, lb);
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5), "{la:?}");
        }
        let ours = centered(probe.passages.clone());
        // One passage centered on its own (what eval's cross-lingual check uses) is the
        // row matching compares.
        for i in [0, 7, ix.passage_count() - 1] {
            let one = space.language_centered(&ix.passage_vector(i), ix.passage_lang(i));
            assert_eq!(one, centered(vec![i])[0]);
            assert!((ann::dot(&one, &one) - 1.0).abs() < 1e-5);
        }
        for (c, &j) in candidates.iter().enumerate() {
            let theirs = centered(ix.passages_of(j).collect());
            let want = (best(&ours, &theirs) + best(&theirs, &ours)) / 2.0;
            assert!(
                (got[c] - want).abs() < 1e-5,
                "paper {j}: {} vs {want}",
                got[c]
            );
        }
        // Kept passages give the very same scores, whether the product runs over all of
        // them (most papers are candidates) or over the few gathered and packed per query.
        let kept = PaperSpace::new(&ix).unwrap().keep_passages(&ix, usize::MAX);
        for some in [&candidates[..], &candidates[5..9]] {
            let (a, b) = (
                space.matching(&ix, &probe.passages, some),
                kept.matching(&ix, &probe.passages, some),
            );
            assert!(
                a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-6),
                "{a:?} {b:?}"
            );
        }
        let copy = crate::index::csls::centered(ix.paper_vectors(), dim);
        let row = |i: usize| &copy[i * dim..(i + 1) * dim];
        let hub = ix.hubness();
        let got = space.csls(&ix, &probe, &candidates, &FirstStage::default());
        for (&j, got) in candidates.iter().zip(&got) {
            let want = 2.0 * ann::dot(row(seed), row(j)) - hub[seed] - hub[j];
            assert!((got - want).abs() < 1e-4, "paper {j}: {got} vs {want}");
        }
        // The first stage's cosines are used for the probe they were computed for, and
        // only for it.
        let marked = |seeds: Vec<usize>| FirstStage {
            seeds,
            centered: [(candidates[1], 0.5)].into_iter().collect(),
        };
        let reused = space.csls(&ix, &probe, &candidates, &marked(vec![seed]));
        assert_eq!(reused[1], 2.0 * 0.5 - hub[seed] - hub[candidates[1]]);
        assert_eq!((reused[0], reused[2]), (got[0], got[2]));
        let other = space.csls(&ix, &probe, &candidates, &marked(vec![seed, candidates[0]]));
        assert_eq!(other, got);
    }
}
