//! Building (or refreshing) an index: read, chunk, embed only what the previous generation
//! does not already hold, write a new generation.
//!
//! Every passage vector is cached under a key made of the model fingerprint, precision,
//! pooling, noise and the passage's text: an unchanged collection embeds nothing, a changed
//! file re-embeds its own passages, a new model or new chunking changes every key and so
//! rebuilds everything.

use super::format::*;
use super::open::Index;
use super::store::{self, StoreError};
use super::write::write;
use super::IndexError;
use crate::chunk::{self, Chunk, Lang};
use crate::corpus::{self, ids, Paper, Warning};
use crate::embed::{self, EmbedOptions, EmbedStats, Embedder, ModelFiles, Role};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What `build` did.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub papers: usize,
    pub chunks: usize,
    /// Passages embedded in this run (0 when everything came from the cache).
    pub embedded: usize,
    pub reused: usize,
    pub up_to_date: bool,
    pub warnings: Vec<Warning>,
    pub embed: EmbedStats,
    pub model_load: Duration,
    pub elapsed: Duration,
}

/// Progress callbacks, so the CLI can draw a bar or print lines.
pub trait Progress {
    fn message(&mut self, _msg: &str) {}
    /// Called before embedding `chunks` passages of `tokens` ids in total.
    fn start_embedding(&mut self, _chunks: usize, _tokens: usize) {}
    fn embedded(&mut self, _stats: &EmbedStats) {}
}

/// No progress output.
pub struct Silent;
impl Progress for Silent {}

/// Input file → sha256 of its bytes, for every non-hidden file under `inputs`.
pub fn hash_sources(inputs: &[PathBuf]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for input in inputs {
        let walker = walkdir::WalkDir::new(input)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker.flatten() {
            if entry.file_type().is_file() {
                let hash = std::fs::read(entry.path())
                    .map(|b| store::sha256_hex(&b))
                    .unwrap_or_else(|e| format!("unreadable: {e}"));
                out.insert(entry.path().display().to_string(), hash);
            }
        }
    }
    out
}

fn cache_key(model: &ModelInfo, noise: f32, input: &str) -> String {
    let head = format!(
        "{}\0{}\0{}\0{}\0",
        model.fingerprint, model.precision, model.pooling, noise
    );
    store::sha256_hex(&[head.as_bytes(), input.as_bytes()].concat())
}

/// Builds (or refreshes) the index in `root` from `inputs`.
pub fn build(
    root: &Path,
    inputs: &[PathBuf],
    model: &ModelFiles,
    options: EmbedOptions,
    settings: IndexSettings,
    progress: &mut dyn Progress,
) -> Result<BuildReport, IndexError> {
    let start = Instant::now();
    let _lock = store::Lock::acquire(root)?;
    let previous = match Index::open(root) {
        Ok(ix) => Some(ix),
        Err(StoreError::Missing(_)) => None,
        Err(e) => {
            progress.message(&format!("warning: {e}; building a new index"));
            None
        }
    };
    let tokenizer = embed::load_tokenizer(model)?;
    let model_info = ModelInfo {
        name: model.name.clone(),
        fingerprint: embed::source::fingerprint(model)?,
        dim: embed::model_dim(model)?,
        precision: options.precision,
        pooling: options.pooling,
    };
    let sources = hash_sources(inputs);
    if let Some(prev) = &previous {
        let m = prev.manifest();
        if m.format == FORMAT_VERSION
            && m.model == model_info
            && m.settings == settings
            && m.sources == sources
        {
            return Ok(BuildReport {
                papers: prev.paper_count(),
                chunks: prev.passage_count(),
                reused: prev.passage_count(),
                up_to_date: true,
                elapsed: start.elapsed(),
                ..Default::default()
            });
        }
    }

    progress.message("reading papers");
    let mut previous_ids = ids::PreviousIds::new();
    if let Some(prev) = &previous {
        for i in 0..prev.paper_count() {
            let meta = prev.paper_meta(i)?;
            previous_ids.insert(ids::title_key(&meta.title), meta.id);
        }
    }
    let corpus = corpus::load(inputs, &previous_ids);
    if corpus.papers.is_empty() {
        return Err(IndexError::Empty);
    }
    let count = |s: &str| {
        tokenizer
            .encode_fast(s, false)
            .map(|e| e.get_ids().len())
            .unwrap_or(s.len())
    };
    let chunks = chunk::chunk_papers(&corpus.papers, settings.chunking, &count);
    let inputs_text: Vec<String> = chunks.iter().map(Chunk::input).collect();
    let keys: Vec<String> = inputs_text
        .iter()
        .map(|t| cache_key(&model_info, settings.noise, t))
        .collect();

    // Reuse vectors the previous index already computed for the same key.
    let dim = model_info.dim;
    let mut cached: HashMap<&str, &[f32]> = HashMap::new();
    if let Some(prev) = &previous {
        if prev.dim() == dim {
            for ci in 0..prev.passage_count() {
                cached.insert(prev.passage_key(ci), prev.passage_vector(ci));
            }
        }
    }
    let mut vectors = vec![0f32; chunks.len() * dim];
    let mut missing = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        match cached.get(key.as_str()) {
            Some(v) => vectors[i * dim..(i + 1) * dim].copy_from_slice(v),
            None => missing.push(i),
        }
    }
    let mut report = BuildReport {
        papers: corpus.papers.len(),
        chunks: chunks.len(),
        embedded: missing.len(),
        reused: chunks.len() - missing.len(),
        warnings: corpus.warnings,
        ..Default::default()
    };
    if !missing.is_empty() {
        progress.message("loading model");
        let embedder = Embedder::load(model, options)?;
        report.model_load = embedder.load_time;
        let texts: Vec<&str> = missing.iter().map(|&i| inputs_text[i].as_str()).collect();
        let ids = embedder.tokenize(&texts, Role::Passage)?;
        progress.start_embedding(ids.len(), ids.iter().map(Vec::len).sum());
        let (embedded, stats) = embedder.embed_ids(&ids, &mut |s| progress.embedded(s))?;
        report.embed = stats;
        let mut rng = rand::rng();
        for (mut v, &i) in embedded.into_iter().zip(&missing) {
            add_noise(&mut v, settings.noise, &mut rng);
            vectors[i * dim..(i + 1) * dim].copy_from_slice(&v);
        }
    }

    let papers = corpus.papers;
    let paper_vectors = paper_vectors(&papers, &chunks, &vectors, dim, settings.paper_vector);
    progress.message("writing index");
    let stored: Vec<StoredChunk> = chunks
        .into_iter()
        .zip(keys)
        .map(|(chunk, key)| StoredChunk { chunk, key })
        .collect();
    write(
        root,
        &papers,
        &stored,
        &vectors,
        &paper_vectors,
        model_info,
        settings,
        sources,
    )?;
    report.elapsed = start.elapsed();
    Ok(report)
}

/// One vector per paper from its passage vectors, unit length.
pub fn paper_vectors(
    papers: &[Paper],
    chunks: &[Chunk],
    vectors: &[f32],
    dim: usize,
    mode: PaperVector,
) -> Vec<f32> {
    let pos: HashMap<&str, usize> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); papers.len()];
    for (ci, c) in chunks.iter().enumerate() {
        if let Some(&pi) = pos.get(c.paper.as_str()) {
            rows[pi].push(ci);
        }
    }
    let langs: Vec<Option<Lang>> = chunks.iter().map(|c| c.lang).collect();
    paper_vectors_of(
        rows.iter().map(|r| r.iter().copied()),
        &langs,
        vectors,
        dim,
        mode,
    )
}

/// `paper_vectors` for passages stored grouped by paper: paper `i`'s passages are the
/// rows `ranges[i]`; `langs` holds each passage's language.
pub fn paper_vectors_from_ranges(
    ranges: impl Iterator<Item = Range<usize>>,
    langs: &[Option<Lang>],
    vectors: &[f32],
    dim: usize,
    mode: PaperVector,
) -> Vec<f32> {
    paper_vectors_of(ranges, langs, vectors, dim, mode)
}

fn paper_vectors_of<R: IntoIterator<Item = usize>>(
    rows: impl Iterator<Item = R>,
    langs: &[Option<Lang>],
    vectors: &[f32],
    dim: usize,
    mode: PaperVector,
) -> Vec<f32> {
    let row = |ci: usize| &vectors[ci * dim..(ci + 1) * dim];
    let mut out = Vec::new();
    for paper_rows in rows {
        let paper_rows: Vec<usize> = paper_rows.into_iter().collect();
        let mut sum = vec![0f32; dim];
        match mode {
            PaperVector::Mean | PaperVector::TitleWeighted => {
                for &ci in &paper_rows {
                    sum.iter_mut().zip(row(ci)).for_each(|(s, x)| *s += x);
                }
                if let (PaperVector::TitleWeighted, Some(&ci)) = (mode, paper_rows.first()) {
                    // Give the first passage weight n (so it equals all the others together).
                    let extra = paper_rows.len().saturating_sub(1) as f32;
                    sum.iter_mut()
                        .zip(row(ci))
                        .for_each(|(s, x)| *s += extra * x);
                }
            }
            PaperVector::LanguageBalanced => {
                // The unit mean of each language's passages, then their mean: a paper given
                // in two languages counts each once, however many passages each has.
                let mut groups: Vec<(Option<Lang>, Vec<f32>)> = Vec::new();
                for &ci in &paper_rows {
                    let lang = langs.get(ci).copied().flatten();
                    let g = match groups.iter().position(|(l, _)| *l == lang) {
                        Some(g) => g,
                        None => {
                            groups.push((lang, vec![0f32; dim]));
                            groups.len() - 1
                        }
                    };
                    groups[g]
                        .1
                        .iter_mut()
                        .zip(row(ci))
                        .for_each(|(s, x)| *s += x);
                }
                for (_, mut g) in groups {
                    embed::pool::normalize(&mut g);
                    sum.iter_mut().zip(&g).for_each(|(s, x)| *s += x);
                }
            }
        }
        embed::pool::normalize(&mut sum);
        out.extend(sum);
    }
    out
}

/// Adds Gaussian noise of standard deviation `sigma` to a stored vector and re-normalizes
/// it (`index --noise`, against inverting embeddings back to text); `sigma` 0 is a no-op.
pub fn add_noise(v: &mut [f32], sigma: f32, rng: &mut impl rand::Rng) {
    if sigma > 0.0 {
        use rand_distr::{Distribution, Normal};
        let normal = Normal::new(0.0f32, sigma).expect("sigma is finite and positive");
        v.iter_mut().for_each(|x| *x += normal.sample(rng));
        embed::pool::normalize(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn noise_moves_vectors_a_little_and_keeps_them_unit() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut base = vec![0f32; 384];
        base[0] = 1.0;
        let mut same = base.clone();
        add_noise(&mut same, 0.0, &mut rng);
        assert_eq!(same, base);
        for (sigma, min_cos, max_cos) in [(0.01f32, 0.9, 0.9999), (0.1, 0.2, 0.9)] {
            let mut v = base.clone();
            add_noise(&mut v, sigma, &mut rng);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
            let cos = super::super::ann::dot(&v, &base);
            assert!(cos > min_cos && cos < max_cos, "sigma {sigma}: cos {cos}");
        }
    }
}
