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
use super::write::{IndexWriter, ManifestHead, PassageRow};
use super::IndexError;
use crate::chunk::{self, Chunk, Lang};
use crate::corpus::{self, ids, Warning};
use crate::embed::{self, EmbedOptions, EmbedStats, Embedder, ModelFiles, Role};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Passages embedded (and written) per block: enough for the embedder's length-sorted
/// batches to pack well, few enough that memory holds one block's vectors and ids.
const EMBED_BLOCK: usize = 8192;

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

/// The key a passage's vector is cached under: sha256 of everything that decides the
/// vector.
fn cache_key(model: &ModelInfo, noise: f32, input: &str) -> [u8; 32] {
    let head = format!(
        "{}\0{}\0{}\0{}\0",
        model.fingerprint, model.precision, model.pooling, noise
    );
    Sha256::new()
        .chain_update(head.as_bytes())
        .chain_update(input.as_bytes())
        .finalize()
        .into()
}

/// A key as formats 1 and 2 stored it (64 hex digits).
pub(super) fn key_from_hex(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
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
    // Nothing is reused from a generation that does not pass a full check.
    let previous = match super::verify::verify(root).and_then(|_| Index::open(root)) {
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
            && prev.input_hashes()? == sources
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
        prev.prefetch_metadata();
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
    let keys: Vec<[u8; 32]> = inputs_text
        .iter()
        .map(|t| cache_key(&model_info, settings.noise, t))
        .collect();

    // Reuse vectors the previous index already computed for the same key.
    let dim = model_info.dim;
    // Key → the previous index's passage row (its vector is read when the paper is
    // written: held here, ten million widened vectors would be 15 GB).
    let mut cached: HashMap<[u8; 32], usize> = HashMap::new();
    if let Some(prev) = &previous {
        if prev.dim() == dim {
            prev.prefetch_passages(0..prev.passage_count());
            for ci in 0..prev.passage_count() {
                if let Some(key) = prev.passage_key(ci) {
                    cached.insert(key, ci);
                }
            }
        }
    }
    let missing: Vec<usize> = (0..chunks.len())
        .filter(|&i| !cached.contains_key(&keys[i]))
        .collect();
    let mut report = BuildReport {
        papers: corpus.papers.len(),
        chunks: chunks.len(),
        embedded: missing.len(),
        reused: chunks.len() - missing.len(),
        warnings: corpus.warnings,
        ..Default::default()
    };
    let embedder = if missing.is_empty() {
        None
    } else {
        progress.message("loading model");
        let embedder = Embedder::load(model, options)?;
        report.model_load = embedder.load_time;
        // Token counts only (the ids themselves are made again block by block below, so
        // that a large collection never holds them all).
        let mut tokens = 0;
        for block in missing.chunks(EMBED_BLOCK) {
            let texts: Vec<&str> = block.iter().map(|&i| inputs_text[i].as_str()).collect();
            tokens += embedder
                .tokenize(&texts, Role::Passage)?
                .iter()
                .map(Vec::len)
                .sum::<usize>();
        }
        progress.start_embedding(missing.len(), tokens);
        Some(embedder)
    };

    // Papers in order, their passages' rows grouped by paper.
    let papers = corpus.papers;
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); papers.len()];
    let row_of: HashMap<&str, usize> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    for (ci, c) in chunks.iter().enumerate() {
        if let Some(&pi) = row_of.get(c.paper.as_str()) {
            rows[pi].push(ci);
        }
    }
    let passages: usize = rows.iter().map(Vec::len).sum();
    let mut writer = IndexWriter::new(root, dim, papers.len(), passages, settings.paper_vector)?;
    // Embedded and written in blocks of papers of about `EMBED_BLOCK` passages: new vectors
    // go to disk as each block is done, so memory holds one block of them, not all.
    let mut rng = rand::rng();
    let mut done = EmbedStats::default();
    let mut first = 0;
    while first < papers.len() {
        let mut last = first;
        let mut block_rows = 0;
        while last < papers.len() && (block_rows < EMBED_BLOCK || last == first) {
            block_rows += rows[last].len();
            last += 1;
        }
        let todo: Vec<usize> = rows[first..last]
            .iter()
            .flatten()
            .copied()
            .filter(|ci| !cached.contains_key(&keys[*ci]))
            .collect();
        let mut fresh: HashMap<usize, Vec<f32>> = HashMap::new();
        if let (Some(embedder), false) = (&embedder, todo.is_empty()) {
            let texts: Vec<&str> = todo.iter().map(|&i| inputs_text[i].as_str()).collect();
            let ids = embedder.tokenize(&texts, Role::Passage)?;
            let (vectors, stats) =
                embedder.embed_ids(&ids, &mut |s| progress.embedded(&sum_stats(&done, s)))?;
            done = sum_stats(&done, &stats);
            for (mut v, &ci) in vectors.into_iter().zip(&todo) {
                add_noise(&mut v, settings.noise, &mut rng);
                fresh.insert(ci, v);
            }
        }
        for (paper, rows) in papers[first..last].iter().zip(&rows[first..last]) {
            let passages: Vec<PassageRow> = rows
                .iter()
                .map(|&ci| PassageRow {
                    text: display_text(&chunks[ci]),
                    key: keys[ci],
                    lang: chunks[ci].lang,
                })
                .collect();
            let mut vectors = Vec::with_capacity(rows.len() * dim);
            for ci in rows {
                match (cached.get(&keys[*ci]), &previous) {
                    (Some(&old), Some(prev)) => {
                        vectors.extend_from_slice(&prev.passage_vector(old))
                    }
                    _ => vectors.extend_from_slice(&fresh[ci]),
                }
            }
            writer.add_paper(paper, &passages, &vectors)?;
        }
        first = last;
    }
    report.embed = done;
    progress.message("writing index");
    writer.finish(ManifestHead {
        model: model_info,
        settings,
        sources,
    })?;
    drop(cached);
    drop(previous);
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Embedding statistics of two runs together.
fn sum_stats(a: &EmbedStats, b: &EmbedStats) -> EmbedStats {
    EmbedStats {
        texts: a.texts + b.texts,
        tokens: a.tokens + b.tokens,
        padded_tokens: a.padded_tokens + b.padded_tokens,
        batches: a.batches + b.batches,
        elapsed: a.elapsed + b.elapsed,
    }
}

/// What a reader sees of a passage: its text, or its title where it has none.
fn display_text(c: &Chunk) -> &str {
    if c.text.is_empty() {
        &c.title
    } else {
        &c.text
    }
}

/// A paper's vector from its passage vectors (`vectors`, rows of `dim`) and their
/// languages (`langs`, one per row; missing ones count as unknown), unit length.
pub fn paper_vector(
    vectors: &[f32],
    langs: &[Option<Lang>],
    dim: usize,
    mode: PaperVector,
) -> Vec<f32> {
    let rows: Vec<&[f32]> = vectors.chunks_exact(dim.max(1)).collect();
    let mut sum = vec![0f32; dim];
    match mode {
        PaperVector::Mean | PaperVector::TitleWeighted => {
            for v in &rows {
                sum.iter_mut().zip(*v).for_each(|(s, x)| *s += x);
            }
            if let (PaperVector::TitleWeighted, Some(first)) = (mode, rows.first()) {
                // Give the first passage weight n (so it equals all the others together).
                let extra = rows.len().saturating_sub(1) as f32;
                sum.iter_mut()
                    .zip(*first)
                    .for_each(|(s, x)| *s += extra * x);
            }
        }
        PaperVector::LanguageBalanced => {
            // The unit mean of each language's passages, then their mean: a paper given
            // in two languages counts each once, however many passages each has.
            let mut groups: Vec<(Option<Lang>, Vec<f32>)> = Vec::new();
            for (i, v) in rows.iter().enumerate() {
                let lang = langs.get(i).copied().flatten();
                let g = match groups.iter().position(|(l, _)| *l == lang) {
                    Some(g) => g,
                    None => {
                        groups.push((lang, vec![0f32; dim]));
                        groups.len() - 1
                    }
                };
                groups[g].1.iter_mut().zip(*v).for_each(|(s, x)| *s += x);
            }
            for (_, mut g) in groups {
                embed::pool::normalize(&mut g);
                sum.iter_mut().zip(&g).for_each(|(s, x)| *s += x);
            }
        }
    }
    embed::pool::normalize(&mut sum);
    sum
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
