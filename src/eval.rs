//! `recommend eval`: ranking quality as numbers, on the seed corpus.
//!
//! Three measurements: cross-lingual retrieval (each digest paper's Korean abstract must
//! find its English one and back), related papers (nDCG@10 and P@5 of `similar` against
//! `tests/data/related.json`, judged by reading the summaries), and free-text search
//! (hit@1/hit@3 of `search` on `tests/data/queries.json`). With `--sweep` the same figures
//! are computed for each pooling, paper-vector and scoring choice and for stored-vector
//! noise, which is how the defaults were chosen.

use crate::corpus::{ids, Paper};
use crate::embed::{EmbedOptions, Embedder, ModelFiles, Pooling, Role};
use crate::index::{self, Index, IndexSettings, PaperVector};
use crate::query::{self, PaperSpace, Scoring};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
pub struct Judged {
    pub queries: Vec<JudgedQuery>,
}

#[derive(Debug, Deserialize)]
pub struct JudgedQuery {
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub related: Vec<Judgement>,
}

#[derive(Debug, Deserialize)]
pub struct Judgement {
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub grade: u8,
}

#[derive(Debug, Deserialize)]
pub struct Queries {
    pub queries: Vec<SearchQuery>,
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    pub query: String,
    pub expect: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub also: Vec<String>,
}

// ---- metrics -------------------------------------------------------------------------------

/// nDCG@k with gains `2^grade − 1`; unjudged results count as grade 0.
pub fn ndcg_at(ranked: &[&str], grades: &HashMap<String, u8>, k: usize) -> f64 {
    let gain = |g: u8| 2f64.powi(g as i32) - 1.0;
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| gain(*grades.get(*id).unwrap_or(&0)) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u8> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| gain(g) / (i as f64 + 2.0).log2())
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

/// Fraction of the first `k` results judged related (grade ≥ 1).
pub fn precision_at(ranked: &[&str], grades: &HashMap<String, u8>, k: usize) -> f64 {
    let hits = ranked
        .iter()
        .take(k)
        .filter(|id| grades.get(**id).is_some_and(|&g| g > 0))
        .count();
    hits as f64 / k as f64
}

/// Whether any of `accepted` is among the first `k` results.
pub fn hit_at(ranked: &[&str], accepted: &[&str], k: usize) -> bool {
    ranked.iter().take(k).any(|r| accepted.contains(r))
}

/// For row vectors `a[i]` and `b[i]` describing the same item, the fraction of `i` whose
/// nearest `b` is `b[i]`.
pub fn nearest_accuracy(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let correct = a
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            let best = b
                .iter()
                .enumerate()
                .max_by(|x, y| index::ann::dot(v, x.1).total_cmp(&index::ann::dot(v, y.1)))
                .map(|x| x.0);
            best == Some(*i)
        })
        .count();
    correct as f64 / a.len() as f64
}

// ---- data ----------------------------------------------------------------------------------

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Finds a judged paper by id, else by title (the judges wrote both), in `ix`; its ID.
fn resolve(ix: &Index, id: &str, title: &str) -> Option<String> {
    let row = ix.find(id).ok().or_else(|| {
        let key = ids::title_key(title);
        (0..ix.paper_count()).find(|&i| {
            !key.is_empty()
                && ix
                    .paper_meta(i)
                    .is_ok_and(|p| ids::title_key(&p.title) == key)
        })
    })?;
    ix.paper_meta(row).ok().map(|p| p.id)
}

/// Korean and English abstract of each paper that has both (the weekly digests).
pub fn abstract_pairs(papers: &[Paper]) -> Vec<(String, String)> {
    let hangul = |s: &str| {
        let letters = s.chars().filter(|c| c.is_alphabetic()).count().max(1);
        s.chars()
            .filter(|c| ('\u{AC00}'..='\u{D7A3}').contains(c))
            .count() as f64
            / letters as f64
    };
    let mut out = Vec::new();
    // Only papers given in both languages (the digests); elsewhere an "Abstract" section
    // is one language with the other's terms mixed in, and a split would pair noise.
    for p in papers.iter().filter(|p| p.title_ko.is_some()) {
        let (mut ko, mut en) = (String::new(), String::new());
        for s in &p.sections {
            let heading = s.heading.as_deref().unwrap_or("").to_lowercase();
            if !(heading.contains("abstract") || heading.contains("초록")) {
                continue;
            }
            for para in s.text.split('\n').filter(|t| !t.trim().is_empty()) {
                if hangul(para) > 0.3 {
                    ko.push_str(para);
                    ko.push(' ');
                } else {
                    en.push_str(para);
                    en.push(' ');
                }
            }
        }
        if ko.len() > 40 && en.len() > 40 {
            out.push((ko.trim().to_string(), en.trim().to_string()));
        }
    }
    out
}

// ---- report --------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Default)]
pub struct Figures {
    pub setting: String,
    pub ko_to_en: f64,
    pub en_to_ko: f64,
    pub pairs: usize,
    pub ndcg10: f64,
    pub p5: f64,
    pub related_queries: usize,
    pub hit1: f64,
    pub hit3: f64,
    pub search_queries: usize,
}

#[derive(Debug, Serialize, Default)]
pub struct EvalReport {
    pub rows: Vec<Figures>,
    pub unresolved: Vec<String>,
}

impl EvalReport {
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<44} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6}",
            "setting", "ko→en", "en→ko", "nDCG@10", "P@5", "hit@1", "hit@3"
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:<44} {:>8.3} {:>8.3} {:>8.3} {:>6.3} {:>6.3} {:>6.3}",
                r.setting, r.ko_to_en, r.en_to_ko, r.ndcg10, r.p5, r.hit1, r.hit3
            );
        }
        if let Some(r) = self.rows.first() {
            let _ = writeln!(
                s,
                "({} abstract pairs, {} judged queries, {} search queries)",
                r.pairs, r.related_queries, r.search_queries
            );
        }
        for u in &self.unresolved {
            let _ = writeln!(s, "warning: {u}");
        }
        s
    }
}

/// Related-paper and search figures of one index under one scoring.
fn rank_figures(
    ix: &Index,
    scoring: Scoring,
    judged: &Judged,
    queries: &Queries,
    query_vectors: &[Vec<f32>],
    unresolved: &mut Vec<String>,
) -> Figures {
    let space = PaperSpace::new(ix, scoring);
    let (mut ndcg, mut p5, mut nq) = (0.0, 0.0, 0);
    for q in &judged.queries {
        let Some(qp) = resolve(ix, &q.id, &q.title) else {
            unresolved.push(format!("judged query paper {} not in the index", q.id));
            continue;
        };
        let grades: HashMap<String, u8> = q
            .related
            .iter()
            .filter_map(|r| match resolve(ix, &r.id, &r.title) {
                Some(p) => Some((p, r.grade)),
                None => {
                    unresolved.push(format!("judged paper {} not in the index", r.id));
                    None
                }
            })
            .collect();
        let Ok(out) = query::similar(ix, &space, &qp, 10) else {
            continue;
        };
        let ranked: Vec<&str> = out.results.iter().map(|r| r.id.as_str()).collect();
        ndcg += ndcg_at(&ranked, &grades, 10);
        p5 += precision_at(&ranked, &grades, 5);
        nq += 1;
    }
    let (mut h1, mut h3, mut ns) = (0, 0, 0);
    for (q, qv) in queries.queries.iter().zip(query_vectors) {
        let Some(expect) = resolve(ix, &q.expect, &q.title) else {
            unresolved.push(format!("search target {} not in the index", q.expect));
            continue;
        };
        let mut accepted = vec![expect];
        accepted.extend(
            q.also
                .iter()
                .filter_map(|a| ix.find(a).ok().and_then(|i| ix.paper_meta(i).ok()))
                .map(|p| p.id),
        );
        let accepted: Vec<&str> = accepted.iter().map(String::as_str).collect();
        let Ok(out) = query::search_vector(ix, qv, 3, false) else {
            continue;
        };
        let ranked: Vec<&str> = out.results.iter().map(|r| r.id.as_str()).collect();
        h1 += hit_at(&ranked, &accepted, 1) as usize;
        h3 += hit_at(&ranked, &accepted, 3) as usize;
        ns += 1;
    }
    Figures {
        ndcg10: ndcg / nq.max(1) as f64,
        p5: p5 / nq.max(1) as f64,
        related_queries: nq,
        hit1: h1 as f64 / ns.max(1) as f64,
        hit3: h3 as f64 / ns.max(1) as f64,
        search_queries: ns,
        ..Default::default()
    }
}

fn load_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

/// Adds Gaussian noise to every stored vector of a copy of `ix` (as `index --noise` does).
fn with_noise(ix: &Index, sigma: f32) -> Index {
    use rand::SeedableRng;
    // Seeded: an eval figure should not move between runs.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut chunk_vectors = ix.passage_vectors().to_vec();
    for row in chunk_vectors.chunks_exact_mut(ix.dim()) {
        index::add_noise(row, sigma, &mut rng);
    }
    ix.with_passage_vectors(chunk_vectors, ix.manifest().settings.paper_vector)
}

/// Runs the evaluation. Without `sweep`, one row: the default settings.
pub fn run(
    files: &ModelFiles,
    options: EmbedOptions,
    settings: IndexSettings,
    sweep: bool,
    verbose: bool,
) -> Result<EvalReport> {
    let judged: Judged = load_json(&data_dir().join("related.json"))?;
    let queries: Queries = load_json(&data_dir().join("queries.json"))?;
    let inputs = vec![crate::corpus::seed_dir()];
    let mut report = EvalReport::default();
    let poolings: &[Pooling] = if sweep {
        &[Pooling::Mean, Pooling::Cls, Pooling::Ditto]
    } else {
        &[options.pooling]
    };
    for &pooling in poolings {
        let opts = EmbedOptions { pooling, ..options };
        let scratch = tempfile::tempdir()?;
        if verbose {
            eprintln!("indexing the seed corpus with {pooling} pooling");
        }
        index::build(
            scratch.path(),
            &inputs,
            files,
            opts,
            settings,
            &mut index::Silent,
        )?;
        let ix = Index::open(scratch.path())?;
        let embedder = Embedder::load(files, opts)?;
        let qtexts: Vec<&str> = queries.queries.iter().map(|q| q.query.as_str()).collect();
        let qvecs = embedder.embed(&qtexts, Role::Query)?;
        let papers = (0..ix.paper_count())
            .map(|i| ix.paper(i))
            .collect::<Result<Vec<Paper>, _>>()?;
        let pairs = abstract_pairs(&papers);
        let ko: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
        let en: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
        let (kov, env) = if pairs.is_empty() {
            (vec![], vec![])
        } else {
            (
                embedder.embed(&ko, Role::Passage)?,
                embedder.embed(&en, Role::Passage)?,
            )
        };
        let cross = (nearest_accuracy(&kov, &env), nearest_accuracy(&env, &kov));

        let mut variants: Vec<(String, Index, Scoring)> = Vec::new();
        let scorings: &[Scoring] = if sweep {
            &[
                Scoring::Cosine,
                Scoring::Centered,
                Scoring::Csls,
                Scoring::MaxSim,
            ]
        } else {
            &[Scoring::Csls]
        };
        let modes: &[PaperVector] = if sweep {
            &[PaperVector::Mean, PaperVector::TitleWeighted]
        } else {
            &[PaperVector::Mean]
        };
        for &mode in modes {
            for &scoring in scorings {
                let v = ix.with_passage_vectors(ix.passage_vectors().to_vec(), mode);
                variants.push((
                    format!("{pooling} pooling, {mode:?} papers, {scoring:?}"),
                    v,
                    scoring,
                ));
            }
        }
        if sweep && pooling == Pooling::Mean {
            for sigma in [0.001f32, 0.01, 0.1] {
                variants.push((
                    format!("mean pooling, Mean papers, Csls, noise {sigma}"),
                    with_noise(&ix, sigma),
                    Scoring::Csls,
                ));
            }
        }
        for (setting, v, scoring) in variants {
            let mut f = rank_figures(
                &v,
                scoring,
                &judged,
                &queries,
                &qvecs,
                &mut report.unresolved,
            );
            f.setting = setting;
            f.ko_to_en = cross.0;
            f.en_to_ko = cross.1;
            f.pairs = pairs.len();
            report.rows.push(f);
        }
    }
    report.unresolved.sort();
    report.unresolved.dedup();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(pairs: &[(&str, u8)]) -> HashMap<String, u8> {
        pairs.iter().map(|(k, g)| (k.to_string(), *g)).collect()
    }

    #[test]
    fn ndcg_of_known_rankings() {
        let g = grades(&[("a", 2), ("b", 1)]);
        assert!((ndcg_at(&["a", "b", "c"], &g, 10) - 1.0).abs() < 1e-12);
        // b first, a second: (1/log2 2 + 3/log2 3) / (3/log2 2 + 1/log2 3)
        let expected = (1.0 + 3.0 / 3f64.log2()) / (3.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&["b", "a"], &g, 10) - expected).abs() < 1e-12);
        assert_eq!(ndcg_at(&["x", "y"], &g, 10), 0.0);
        // Beyond k nothing counts.
        assert_eq!(ndcg_at(&["x", "a"], &g, 1), 0.0);
    }

    #[test]
    fn precision_hits_and_nearest() {
        let g = grades(&[("a", 2), ("b", 1), ("z", 0)]);
        assert_eq!(precision_at(&["a", "z", "b", "c", "d"], &g, 5), 0.4);
        assert!(hit_at(&["x", "a"], &["a"], 2));
        assert!(!hit_at(&["x", "a"], &["a"], 1));
        let a = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![std::f32::consts::FRAC_1_SQRT_2; 2],
        ];
        let b = vec![vec![0.9, 0.1], vec![0.6, 0.8], vec![0.1, 0.9]];
        // a0→b0 right; a1→b2 wrong; a2→b1 wrong.
        assert!((nearest_accuracy(&a, &b) - 1.0 / 3.0).abs() < 1e-12);
    }
}
