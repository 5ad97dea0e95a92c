//! `recommend eval`: ranking quality as numbers, on the seed corpus.
//!
//! Four measurements: cross-lingual retrieval (each digest paper's Korean abstract must
//! find its English one and back), related papers (nDCG@10 and P@5 of `similar` against
//! `tests/data/related.json`, judged by reading the summaries, overall and per kind of
//! query paper: feed, digest, blog), reading lists (two seeds taken from one judged
//! paper's closest relatives; the judged paper and the rest of its list are the targets),
//! and free-text search (hit@1/hit@3 of `search` on `tests/data/queries.json`). With
//! `--sweep` the same figures are computed for each pooling, paper-vector, scoring and
//! seed choice and for stored-vector noise, which is how the defaults were chosen.
//!
//! Eval is meant to be re-run after every change to the ranking, so it keeps what is
//! expensive: the seed index is built (incrementally) in a persistent cache directory, one
//! per embedding setting, and the query and abstract vectors are cached by text. Only a
//! change of text or model embeds anything again.

use crate::chunk::Lang;
use crate::corpus::{ids, Paper};
use crate::embed::{EmbedOptions, Embedder, ModelFiles, Pooling, Role};
use crate::index::{self, Index, IndexSettings, PaperVector};
use crate::query::{
    self, Fusion, PaperSpace, Scoring, SearchFusion, SearchRequest, Seeds, SimilarRequest,
};
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
    /// What kind of source the query paper comes from: `feed`, `digest` or `blog`
    /// (derived from the paper when absent).
    #[serde(default)]
    pub kind: Option<String>,
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

/// Finds a judged paper by id, else by title (the judges wrote both), in `papers`.
fn resolve<'a>(papers: &'a [Paper], id: &str, title: &str) -> Option<&'a Paper> {
    ids::find(papers, id).ok().or_else(|| {
        let key = ids::title_key(title);
        papers
            .iter()
            .find(|p| !key.is_empty() && ids::title_key(&p.title) == key)
    })
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

/// nDCG@10 and P@5 over the judged queries of one kind.
#[derive(Debug, Clone, Serialize, Default)]
pub struct KindFigures {
    pub kind: String,
    pub queries: usize,
    pub ndcg10: f64,
    pub p5: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Figures {
    pub setting: String,
    /// Cross-lingual retrieval in the space passage matching compares passages in (each
    /// vector minus its language's mean passage, `PaperSpace::language_centered`).
    pub ko_to_en: f64,
    pub en_to_ko: f64,
    /// The same on the model's vectors as they are.
    pub ko_to_en_raw: f64,
    pub en_to_ko_raw: f64,
    pub pairs: usize,
    pub ndcg10: f64,
    pub p5: f64,
    pub related_queries: usize,
    /// Per kind of query paper (feed, digest, blog).
    pub kinds: Vec<KindFigures>,
    /// Two seeds from one judged paper's grade-2 list.
    pub seeds_ndcg10: f64,
    pub seeds_p5: f64,
    pub seed_cases: usize,
    pub hit1: f64,
    pub hit3: f64,
    pub search_queries: usize,
}

impl Figures {
    fn kind(&self, kind: &str) -> Option<&KindFigures> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

#[derive(Debug, Serialize, Default)]
pub struct EvalReport {
    pub rows: Vec<Figures>,
    pub unresolved: Vec<String>,
}

const KINDS: [&str; 3] = ["feed", "digest", "blog"];

impl EvalReport {
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{:<46} {:>6} {:>6} {:>7} {:>5}",
            "setting", "ko→en", "en→ko", "nDCG@10", "P@5"
        );
        for k in KINDS {
            let _ = write!(s, " {:>11}", format!("{k} nDCG/P5"));
        }
        let _ = writeln!(s, " {:>11} {:>5} {:>5}", "2-seed", "hit@1", "hit@3");
        for r in &self.rows {
            let _ = write!(
                s,
                "{:<46} {:>6.3} {:>6.3} {:>7.3} {:>5.3}",
                r.setting, r.ko_to_en, r.en_to_ko, r.ndcg10, r.p5
            );
            for k in KINDS {
                match r.kind(k) {
                    Some(f) => {
                        let _ = write!(s, " {:>11}", format!("{:.3}/{:.3}", f.ndcg10, f.p5));
                    }
                    None => {
                        let _ = write!(s, " {:>11}", "-");
                    }
                }
            }
            let _ = writeln!(
                s,
                " {:>11} {:>5.3} {:>5.3}",
                format!("{:.3}/{:.3}", r.seeds_ndcg10, r.seeds_p5),
                r.hit1,
                r.hit3
            );
        }
        if let Some(r) = self.rows.first() {
            let kinds: Vec<String> = r
                .kinds
                .iter()
                .map(|k| format!("{} {}", k.queries, k.kind))
                .collect();
            let _ = writeln!(
                s,
                "({} abstract pairs, language-centered; raw vectors ko→en {:.3}, en→ko {:.3}; \
                 {} judged queries: {}; {} two-seed cases; {} search queries)",
                r.pairs,
                r.ko_to_en_raw,
                r.en_to_ko_raw,
                r.related_queries,
                kinds.join(", "),
                r.seed_cases,
                r.search_queries
            );
        }
        for u in &self.unresolved {
            let _ = writeln!(s, "warning: {u}");
        }
        s
    }
}

/// One ranking configuration: the requests' options (ids and text are filled per query).
#[derive(Debug, Clone)]
pub struct Setting {
    pub label: String,
    pub similar: SimilarRequest,
    pub search: SearchRequest,
}

impl Setting {
    /// The defaults of `similar` and `search`, under `label`.
    pub fn default_named(label: impl Into<String>) -> Self {
        Setting {
            label: label.into(),
            similar: SimilarRequest::new("", 10),
            search: SearchRequest::new("", 3),
        }
    }
}

/// Grades by paper id.
type Grades = HashMap<String, u8>;

/// The judged set resolved against one index.
struct Resolved<'a> {
    /// Query paper, its kind, the grades of the others.
    related: Vec<(&'a Paper, String, Grades)>,
    /// (seeds, grades of everything else) for two-seed reading lists, grouped by query.
    seed_cases: Vec<Vec<(Vec<String>, Grades)>>,
    search: Vec<(usize, Vec<&'a str>)>,
}

/// The kind of source a paper comes from, where the judges did not say.
fn kind_of(p: &Paper) -> &'static str {
    if p.feed.is_some() {
        "feed"
    } else if p.title_ko.is_some() {
        "digest"
    } else {
        "blog"
    }
}

/// Two-seed cases drawn from each query's grade-2 list (at most this many per query).
const SEED_CASES_PER_QUERY: usize = 3;

fn resolve_judged<'a>(
    papers: &'a [Paper],
    judged: &Judged,
    queries: &Queries,
    unresolved: &mut Vec<String>,
) -> Resolved<'a> {
    let mut related = Vec::new();
    let mut seed_cases = Vec::new();
    for q in &judged.queries {
        let Some(qp) = resolve(papers, &q.id, &q.title) else {
            unresolved.push(format!("judged query paper {} not in the index", q.id));
            continue;
        };
        let grades: HashMap<String, u8> = q
            .related
            .iter()
            .filter_map(|r| match resolve(papers, &r.id, &r.title) {
                Some(p) => Some((p.id.clone(), r.grade)),
                None => {
                    unresolved.push(format!("judged paper {} not in the index", r.id));
                    None
                }
            })
            .collect();
        let kind = q.kind.clone().unwrap_or_else(|| kind_of(qp).to_string());
        // Reading lists: two of the query's closest relatives as seeds; the query paper
        // itself and the rest of its list are what they should find.
        let mut close: Vec<&String> = q
            .related
            .iter()
            .filter(|r| r.grade >= 2)
            .filter_map(|r| resolve(papers, &r.id, &r.title).map(|p| &p.id))
            .collect();
        close.dedup();
        let mut cases = Vec::new();
        'pairs: for a in 0..close.len() {
            for b in a + 1..close.len() {
                if cases.len() == SEED_CASES_PER_QUERY {
                    break 'pairs;
                }
                let seeds = vec![close[a].clone(), close[b].clone()];
                let mut g: HashMap<String, u8> = grades
                    .iter()
                    .filter(|(id, _)| !seeds.contains(id))
                    .map(|(id, &g)| (id.clone(), g))
                    .collect();
                g.insert(qp.id.clone(), 2);
                cases.push((seeds, g));
            }
        }
        if !cases.is_empty() {
            seed_cases.push(cases);
        }
        related.push((qp, kind, grades));
    }
    let mut search = Vec::new();
    for (n, q) in queries.queries.iter().enumerate() {
        let Some(expect) = resolve(papers, &q.expect, &q.title) else {
            unresolved.push(format!("search target {} not in the index", q.expect));
            continue;
        };
        let mut accepted = vec![expect.id.as_str()];
        accepted.extend(
            q.also
                .iter()
                .filter_map(|a| ids::find(papers, a).ok().map(|p| p.id.as_str())),
        );
        search.push((n, accepted));
    }
    Resolved {
        related,
        seed_cases,
        search,
    }
}

/// Related-paper, reading-list and search figures of one index under one setting.
fn rank_figures(
    ix: &Index,
    setting: &Setting,
    judged: &Resolved,
    queries: &Queries,
    query_vectors: &[Vec<f32>],
) -> Figures {
    let Ok(space) = PaperSpace::new(ix) else {
        return Figures::default();
    };
    // Every judged query and sweep setting ranks the same passages.
    let space = space.keep_passages(ix, crate::query::KEEP_PASSAGES_BYTES);
    let ranked = |ids: Vec<String>| -> Option<Vec<String>> {
        let req = SimilarRequest {
            ids,
            ..setting.similar.clone()
        };
        let out = query::similar(ix, &space, &req).ok()?;
        Some(out.results.into_iter().map(|r| r.id).collect())
    };
    let mut by_kind: Vec<(String, f64, f64, usize)> = Vec::new();
    let (mut ndcg, mut p5, mut nq) = (0.0, 0.0, 0);
    for (qp, kind, grades) in &judged.related {
        let Some(got) = ranked(vec![qp.id.clone()]) else {
            continue;
        };
        let got: Vec<&str> = got.iter().map(String::as_str).collect();
        let (n, p) = (ndcg_at(&got, grades, 10), precision_at(&got, grades, 5));
        ndcg += n;
        p5 += p;
        nq += 1;
        match by_kind.iter_mut().find(|k| &k.0 == kind) {
            Some(k) => {
                k.1 += n;
                k.2 += p;
                k.3 += 1;
            }
            None => by_kind.push((kind.clone(), n, p, 1)),
        }
    }
    by_kind.sort_by_key(|k| KINDS.iter().position(|&n| n == k.0).unwrap_or(KINDS.len()));
    // Reading lists: each query's cases averaged first, so that a query with many close
    // relatives does not count more than one with two.
    let (mut sn, mut sp, mut cases) = (0.0, 0.0, 0);
    for group in &judged.seed_cases {
        let (mut gn, mut gp, mut m) = (0.0, 0.0, 0);
        for (seeds, grades) in group {
            let Some(got) = ranked(seeds.clone()) else {
                continue;
            };
            let got: Vec<&str> = got.iter().map(String::as_str).collect();
            gn += ndcg_at(&got, grades, 10);
            gp += precision_at(&got, grades, 5);
            m += 1;
        }
        if m > 0 {
            sn += gn / m as f64;
            sp += gp / m as f64;
            cases += 1;
        }
    }
    let (mut h1, mut h3, mut ns) = (0, 0, 0);
    for (n, accepted) in &judged.search {
        let req = SearchRequest {
            text: queries.queries[*n].query.clone(),
            ..setting.search.clone()
        };
        let Ok(out) = query::search_with_vector(ix, &space, &req, &query_vectors[*n]) else {
            continue;
        };
        let got: Vec<&str> = out.results.iter().map(|r| r.id.as_str()).collect();
        h1 += hit_at(&got, accepted, 1) as usize;
        h3 += hit_at(&got, accepted, 3) as usize;
        ns += 1;
    }
    let avg = |x: f64, n: usize| x / n.max(1) as f64;
    Figures {
        setting: setting.label.clone(),
        ndcg10: avg(ndcg, nq),
        p5: avg(p5, nq),
        related_queries: nq,
        kinds: by_kind
            .into_iter()
            .map(|(kind, n, p, q)| KindFigures {
                kind,
                queries: q,
                ndcg10: avg(n, q),
                p5: avg(p, q),
            })
            .collect(),
        seeds_ndcg10: avg(sn, cases),
        seeds_p5: avg(sp, cases),
        seed_cases: cases,
        hit1: avg(h1 as f64, ns),
        hit3: avg(h3 as f64, ns),
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
    let mut chunk_vectors = ix.passage_vectors().into_owned();
    for row in chunk_vectors.chunks_exact_mut(ix.dim()) {
        index::add_noise(row, sigma, &mut rng);
    }
    ix.with_passage_vectors(chunk_vectors, ix.manifest().settings.paper_vector)
}

/// Vectors of short texts (queries, abstracts) cached by model, pooling, role and text, so
/// that an eval run after a ranking change loads no model at all.
struct TextVectors {
    path: PathBuf,
    map: HashMap<String, Vec<f32>>,
    changed: bool,
}

impl TextVectors {
    fn open(path: PathBuf) -> Self {
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        TextVectors {
            path,
            map,
            changed: false,
        }
    }

    fn get(
        &mut self,
        files: &ModelFiles,
        opts: EmbedOptions,
        model: &mut Option<Embedder>,
        texts: &[&str],
        role: Role,
    ) -> Result<Vec<Vec<f32>>> {
        let fp = crate::embed::source::fingerprint(files)?;
        let key = |t: &str| {
            index::store::sha256_hex(
                format!(
                    "{fp}\0{}\0{}\0{}\0{t}",
                    opts.precision,
                    opts.pooling,
                    role.prefix()
                )
                .as_bytes(),
            )
        };
        let missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !self.map.contains_key(&key(t)))
            .collect();
        if !missing.is_empty() {
            if model.is_none() {
                *model = Some(Embedder::load(files, opts)?);
            }
            let vectors = model
                .as_ref()
                .expect("loaded above")
                .embed(&missing, role)?;
            for (t, v) in missing.iter().zip(vectors) {
                self.map.insert(key(t), v);
            }
            self.changed = true;
        }
        Ok(texts.iter().map(|t| self.map[&key(t)].clone()).collect())
    }

    fn save(&self) -> Result<()> {
        if self.changed {
            index::store::write_atomic(&self.path, &serde_json::to_vec(&self.map)?)?;
        }
        Ok(())
    }
}

/// Where and how `run` works.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// Persistent directory for the evaluated indexes and cached vectors.
    pub cache: PathBuf,
    pub settings: IndexSettings,
    /// Compare scorings, fusion weights and seed strategies.
    pub sweep: bool,
    /// Also compare poolings (each embeds the seed corpus once, then stays cached).
    pub sweep_pooling: bool,
    pub verbose: bool,
}

/// The settings compared by `--sweep` on one index (the first is the default).
fn sweep_settings() -> Vec<Setting> {
    let mut out = vec![Setting::default_named("default")];
    for scoring in [
        Scoring::Cosine,
        Scoring::Centered,
        Scoring::Csls,
        Scoring::MaxSim,
        Scoring::Matching,
        Scoring::Lexical,
    ] {
        let mut s = Setting::default_named(format!("{scoring}"));
        s.similar.scoring = scoring;
        out.push(s);
    }
    let mut korean = Setting::default_named("lexical, Korean bigrams weight 1");
    korean.similar.scoring = Scoring::Lexical;
    korean.similar.fusion.terms.korean = 1.0;
    out.push(korean);
    for (csls, matching, lexical) in [
        (1.0, 0.0, 0.5),
        (1.0, 0.0, 1.0),
        (0.0, 1.0, 0.5),
        (0.0, 1.0, 1.0),
        (1.0, 1.0, 0.0),
        (1.0, 1.0, 0.5),
        (1.0, 1.0, 1.0),
        (1.0, 1.0, 2.0),
        (1.0, 0.5, 1.0),
        (0.5, 1.0, 1.0),
    ] {
        let mut s = Setting::default_named(format!(
            "fused csls {csls} + matching {matching} + lexical {lexical}"
        ));
        s.similar.fusion = Fusion {
            csls,
            matching,
            lexical,
            ..Fusion::default()
        };
        out.push(s);
    }
    for korean in [0.3, 1.0] {
        let mut s = Setting::default_named(format!("fused, Korean bigrams weight {korean}"));
        s.similar.fusion.terms.korean = korean;
        out.push(s);
    }
    for max_df in [0.2, 1.0] {
        let mut s = Setting::default_named(format!("fused, terms in at most {max_df} of papers"));
        s.similar.fusion.terms.max_df = max_df;
        out.push(s);
    }
    for temperature in [0.0, 0.005, 0.01, 0.02] {
        for (paper, lexical) in [(0.0, 0.0), (0.5, 0.3), (0.25, 0.3)] {
            let mut s = Setting::default_named(format!(
                "search: passages pooled at t {temperature} + {paper} paper + {lexical} lexical"
            ));
            s.search.fusion = SearchFusion {
                paper,
                lexical,
                temperature,
                ..SearchFusion::default()
            };
            out.push(s);
        }
    }
    for korean in [0.3, 1.0] {
        let mut s = Setting::default_named(format!("search: Korean bigrams weight {korean}"));
        s.search.fusion.terms.korean = korean;
        out.push(s);
    }
    for seeds in [Seeds::BestScore, Seeds::Rocchio] {
        let mut s = Setting::default_named(format!("seeds {seeds:?}"));
        s.similar.seeds = seeds;
        out.push(s);
    }
    out
}

/// Runs the evaluation. Without `sweep`, one row: the default settings.
pub fn run(files: &ModelFiles, options: EmbedOptions, cfg: &EvalConfig) -> Result<EvalReport> {
    let judged: Judged = load_json(&data_dir().join("related.json"))?;
    let queries: Queries = load_json(&data_dir().join("queries.json"))?;
    let inputs = vec![crate::corpus::seed_dir()];
    let mut report = EvalReport::default();
    let poolings: &[Pooling] = if cfg.sweep_pooling {
        &[Pooling::Mean, Pooling::Cls, Pooling::Ditto]
    } else {
        &[options.pooling]
    };
    std::fs::create_dir_all(&cfg.cache).with_context(|| cfg.cache.display().to_string())?;
    let mut texts = TextVectors::open(cfg.cache.join("texts.json"));
    for &pooling in poolings {
        let opts = EmbedOptions { pooling, ..options };
        let chunking = cfg.settings.chunking;
        let dir = cfg.cache.join(format!(
            "{pooling}-{}-{}-{}",
            opts.precision, chunking.max_tokens, chunking.overlap_tokens
        ));
        if cfg.verbose {
            eprintln!(
                "indexing the seed corpus with {pooling} pooling in {}",
                dir.display()
            );
        }
        index::build(&dir, &inputs, files, opts, cfg.settings, &mut index::Silent)?;
        let ix = Index::open(&dir)?;
        let mut model = None;
        let qtexts: Vec<&str> = queries.queries.iter().map(|q| q.query.as_str()).collect();
        let qvecs = texts.get(files, opts, &mut model, &qtexts, Role::Query)?;
        let papers = (0..ix.paper_count())
            .map(|i| ix.paper(i))
            .collect::<Result<Vec<Paper>, _>>()?;
        let pairs = abstract_pairs(&papers);
        let ko: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
        let en: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
        let kov = texts.get(files, opts, &mut model, &ko, Role::Passage)?;
        let env = texts.get(files, opts, &mut model, &en, Role::Passage)?;
        texts.save()?;
        let raw = (nearest_accuracy(&kov, &env), nearest_accuracy(&env, &kov));
        // Passage matching compares a Korean and an English passage after taking each
        // language's mean passage away; cross-lingual retrieval is measured in that space.
        let space = PaperSpace::new(&ix)?;
        let centered = |vs: &[Vec<f32>], lang| -> Vec<Vec<f32>> {
            vs.iter()
                .map(|v| space.language_centered(v, Some(lang)))
                .collect()
        };
        let (kov_c, env_c) = (centered(&kov, Lang::Ko), centered(&env, Lang::En));
        let cross = (
            nearest_accuracy(&kov_c, &env_c),
            nearest_accuracy(&env_c, &kov_c),
        );

        let mut variants: Vec<(Setting, Option<Index>)> = Vec::new();
        if cfg.sweep {
            for s in sweep_settings() {
                variants.push((s, None));
            }
            let s = Setting::default_named("title-weighted paper vectors");
            let v = ix.with_passage_vectors(
                ix.passage_vectors().into_owned(),
                PaperVector::TitleWeighted,
            );
            variants.push((s, Some(v)));
            let s = Setting::default_named("language-balanced paper vectors");
            let v = ix.with_passage_vectors(
                ix.passage_vectors().into_owned(),
                PaperVector::LanguageBalanced,
            );
            variants.push((s, Some(v)));
            if pooling == options.pooling {
                for sigma in [0.001f32, 0.01, 0.1] {
                    variants.push((
                        Setting::default_named(format!("noise {sigma}")),
                        Some(with_noise(&ix, sigma)),
                    ));
                }
            }
        } else {
            variants.push((Setting::default_named("default"), None));
        }
        let resolved = resolve_judged(&papers, &judged, &queries, &mut report.unresolved);
        for (mut setting, variant) in variants {
            if cfg.sweep {
                setting.label = format!("{pooling}: {}", setting.label);
            }
            let v = variant.as_ref().unwrap_or(&ix);
            let mut f = rank_figures(v, &setting, &resolved, &queries, &qvecs);
            f.ko_to_en = cross.0;
            f.en_to_ko = cross.1;
            f.ko_to_en_raw = raw.0;
            f.en_to_ko_raw = raw.1;
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
