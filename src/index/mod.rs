//! Stage 4: papers and their passage vectors, persisted; rebuilt incrementally.
//!
//! `build` reads the inputs, chunks them, and embeds only the passages whose cache key
//! (model fingerprint, precision, pooling, noise, passage text) the previous index does not
//! already hold: an unchanged collection embeds nothing, a changed file re-embeds its own
//! passages, a new model or new chunking changes every key and so rebuilds everything.
//! Queries read the stored vectors only; they never parse the corpus again.

pub mod ann;
pub mod csls;
pub mod store;

use crate::chunk::{self, Chunk, ChunkParams};
use crate::corpus::{self, ids, Paper, Warning};
use crate::embed::{self, EmbedError, EmbedOptions, EmbedStats, Embedder, ModelFiles, Role};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
pub use store::StoreError;

/// Bumped whenever the files' layout or meaning changes. Version 2 stores hubness and
/// int8 graphs; a version-1 index still answers `similar` and exact `search`, and its
/// vectors are reused by the next `index`, which writes the current version.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("no papers found in the inputs")]
    Empty,
}

/// How a paper's vector is made from its passage vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PaperVector {
    /// Normalized mean of all passage vectors.
    #[default]
    Mean,
    /// The first passage (title and opening, usually the abstract) counts as much as all
    /// the others together.
    TitleWeighted,
}

/// Settings that decide what goes into an index.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IndexSettings {
    pub chunking: ChunkParams,
    pub paper_vector: PaperVector,
    /// Standard deviation of Gaussian noise added to stored vectors (then re-normalized),
    /// against inversion of embeddings back to text; 0 = none.
    pub noise: f32,
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            chunking: ChunkParams::default(),
            paper_vector: PaperVector::default(),
            noise: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub fingerprint: String,
    pub dim: usize,
    pub precision: embed::Precision,
    pub pooling: embed::Pooling,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub model: ModelInfo,
    pub settings: IndexSettings,
    /// Input file → sha256 of its content.
    pub sources: BTreeMap<String, String>,
    pub papers: usize,
    pub chunks: usize,
    /// Every other file of the generation with its length and checksum.
    pub files: BTreeMap<String, FileInfo>,
}

/// A passage as stored: the chunk and the key its vector is cached under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredChunk {
    #[serde(flatten)]
    pub chunk: Chunk,
    pub key: String,
}

/// A loaded index.
pub struct Index {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub papers: Vec<Paper>,
    pub chunks: Vec<StoredChunk>,
    pub chunk_vectors: Vec<f32>,
    pub paper_vectors: Vec<f32>,
    /// Each paper's CSLS hubness in the centered space (see `csls`), in paper order.
    pub hubness: Vec<f32>,
}

const PAPERS: &str = "papers.json";
const CHUNKS: &str = "chunks.json";
const VECTORS: &str = "vectors.f32";
const HUBNESS: &str = "hubness.f32";
const PAPER_GRAPH: &str = "papers";
const CHUNK_GRAPH: &str = "chunks";

impl Index {
    pub fn dim(&self) -> usize {
        self.manifest.model.dim
    }

    pub fn paper_vector(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.paper_vectors[i * d..(i + 1) * d]
    }

    pub fn chunk_vector(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.chunk_vectors[i * d..(i + 1) * d]
    }

    /// Rows of `chunks` belonging to each paper, in paper order.
    pub fn chunks_by_paper(&self) -> Vec<Vec<usize>> {
        let pos: HashMap<&str, usize> = self
            .papers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let mut out = vec![Vec::new(); self.papers.len()];
        for (ci, c) in self.chunks.iter().enumerate() {
            if let Some(&pi) = pos.get(c.chunk.paper.as_str()) {
                out[pi].push(ci);
            }
        }
        out
    }

    /// Loads the live generation of `root`, verifying every file against the manifest.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let dir = store::current(root)?;
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: root.to_path_buf(),
            reason,
        };
        let manifest_path = dir.join("manifest.json");
        let text =
            std::fs::read(&manifest_path).map_err(|e| corrupt(format!("manifest.json: {e}")))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| corrupt(format!("manifest.json is not a recommend manifest: {e}")))?;
        if manifest.format == 0 || manifest.format > FORMAT_VERSION {
            return Err(corrupt(format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                manifest.format
            )));
        }
        let read = |name: &str| read_verified(&dir, &manifest, name, &corrupt);
        let papers: Vec<Paper> = serde_json::from_slice(&read(PAPERS)?)
            .map_err(|e| corrupt(format!("{PAPERS}: {e}")))?;
        let chunks: Vec<StoredChunk> = serde_json::from_slice(&read(CHUNKS)?)
            .map_err(|e| corrupt(format!("{CHUNKS}: {e}")))?;
        let raw = read(VECTORS)?;
        let dim = manifest.model.dim;
        let expected = (chunks.len() + papers.len()) * dim * 4;
        if raw.len() != expected
            || papers.len() != manifest.papers
            || chunks.len() != manifest.chunks
        {
            return Err(corrupt(format!(
                "{VECTORS} holds {} bytes, expected {expected}",
                raw.len()
            )));
        }
        let floats = f32s(&raw);
        let (c, p) = floats.split_at(chunks.len() * dim);
        // Indexes written before hubness was stored get it computed here, once per process.
        let hubness = if manifest.files.contains_key(HUBNESS) {
            let h = f32s(&read(HUBNESS)?);
            if h.len() != papers.len() {
                return Err(corrupt(format!(
                    "{HUBNESS} holds {} values for {} papers",
                    h.len(),
                    papers.len()
                )));
            }
            h
        } else {
            csls::paper_hubness(p, dim)
        };
        Ok(Index {
            dir,
            manifest,
            papers,
            chunk_vectors: c.to_vec(),
            paper_vectors: p.to_vec(),
            hubness,
            chunks,
        })
    }

    /// The HNSW graph over paper (`papers`) or chunk (`chunks`) vectors, after checking its
    /// files against the manifest.
    pub fn graph(&self, which: &str) -> Result<ann::Graph, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: self.dir.clone(),
            reason,
        };
        if self.manifest.format != FORMAT_VERSION {
            return Err(corrupt(format!(
                "its graphs are format version {} (this build reads {FORMAT_VERSION})",
                self.manifest.format
            )));
        }
        for ext in ["hnsw.graph", "hnsw.data"] {
            read_verified(
                &self.dir,
                &self.manifest,
                &format!("{which}.{ext}"),
                &corrupt,
            )?;
        }
        ann::Graph::load(&self.dir, which).map_err(|e| corrupt(format!("{which} graph: {e}")))
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A file of a generation, after checking its length and sha256 against the manifest.
fn read_verified(
    dir: &Path,
    manifest: &Manifest,
    name: &str,
    corrupt: &dyn Fn(String) -> StoreError,
) -> Result<Vec<u8>, StoreError> {
    let info = manifest
        .files
        .get(name)
        .ok_or_else(|| corrupt(format!("manifest lists no {name}")))?;
    let bytes = std::fs::read(dir.join(name)).map_err(|e| corrupt(format!("{name}: {e}")))?;
    if bytes.len() as u64 != info.bytes || store::sha256_hex(&bytes) != info.sha256 {
        return Err(corrupt(format!(
            "{name} does not match its checksum (truncated or changed)"
        )));
    }
    Ok(bytes)
}

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
        let m = &prev.manifest;
        if m.format == FORMAT_VERSION
            && m.model == model_info
            && m.settings == settings
            && m.sources == sources
        {
            return Ok(BuildReport {
                papers: prev.papers.len(),
                chunks: prev.chunks.len(),
                reused: prev.chunks.len(),
                up_to_date: true,
                elapsed: start.elapsed(),
                ..Default::default()
            });
        }
    }

    progress.message("reading papers");
    let previous_ids: ids::PreviousIds = previous
        .iter()
        .flat_map(|ix| ix.papers.iter())
        .map(|p| (ids::paper_key(p), p.id.clone()))
        .collect();
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
            for (i, c) in prev.chunks.iter().enumerate() {
                cached.insert(c.key.as_str(), prev.chunk_vector(i));
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
    let mut sums = vec![0f32; papers.len() * dim];
    let mut counts = vec![0usize; papers.len()];
    let mut firsts = vec![None; papers.len()];
    for (ci, c) in chunks.iter().enumerate() {
        let Some(&pi) = pos.get(c.paper.as_str()) else {
            continue;
        };
        let v = &vectors[ci * dim..(ci + 1) * dim];
        sums[pi * dim..(pi + 1) * dim]
            .iter_mut()
            .zip(v)
            .for_each(|(s, x)| *s += x);
        counts[pi] += 1;
        firsts[pi].get_or_insert(ci);
    }
    if mode == PaperVector::TitleWeighted {
        for pi in 0..papers.len() {
            if let (Some(ci), n) = (firsts[pi], counts[pi]) {
                // Give the first passage weight n (so it equals all the others together).
                let extra = n.saturating_sub(1) as f32;
                let v = &vectors[ci * dim..(ci + 1) * dim];
                sums[pi * dim..(pi + 1) * dim]
                    .iter_mut()
                    .zip(v)
                    .for_each(|(s, x)| *s += extra * x);
            }
        }
    }
    for row in sums.chunks_exact_mut(dim) {
        embed::pool::normalize(row);
    }
    sums
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

#[allow(clippy::too_many_arguments)]
fn write(
    root: &Path,
    papers: &[Paper],
    chunks: &[StoredChunk],
    chunk_vectors: &[f32],
    paper_vectors: &[f32],
    model: ModelInfo,
    settings: IndexSettings,
    sources: BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let dim = model.dim;
    let gen = store::new_generation(root)?;
    let mut files = BTreeMap::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), StoreError> {
        store::write_atomic(&gen.join(name), bytes)?;
        files.insert(
            name.to_string(),
            FileInfo {
                bytes: bytes.len() as u64,
                sha256: store::sha256_hex(bytes),
            },
        );
        Ok(())
    };
    put(
        PAPERS,
        &serde_json::to_vec(papers).expect("papers serialize"),
    )?;
    put(
        CHUNKS,
        &serde_json::to_vec(chunks).expect("chunks serialize"),
    )?;
    let all: Vec<f32> = [chunk_vectors, paper_vectors].concat();
    put(VECTORS, &f32_bytes(&all))?;
    // The paper graph holds centered vectors, the space of the default scoring; with it,
    // hubness for a large collection costs one graph search per paper, not one scan.
    let centered = csls::centered(paper_vectors, dim);
    let mut paper_graph = None;
    for (name, vectors) in [(CHUNK_GRAPH, chunk_vectors), (PAPER_GRAPH, &centered[..])] {
        // hnsw_rs writes its two files in place; write them into a scratch directory, then
        // move them into the generation like every other file.
        let scratch = tempfile::tempdir_in(&gen).map_err(store::io_err(&gen))?;
        let graph = ann::Graph::build(vectors, dim);
        graph
            .dump(scratch.path(), name)
            .map_err(|e| StoreError::Io {
                path: scratch.path().to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
        for ext in ["hnsw.graph", "hnsw.data"] {
            let file = format!("{name}.{ext}");
            let bytes =
                std::fs::read(scratch.path().join(&file)).map_err(store::io_err(scratch.path()))?;
            put(&file, &bytes)?;
        }
        if name == PAPER_GRAPH {
            paper_graph = Some(graph);
        }
    }
    let large = papers.len() >= ann::EXACT_BELOW;
    let hubness = csls::hubness(&centered, dim, paper_graph.as_ref().filter(|_| large));
    put(HUBNESS, &f32_bytes(&hubness))?;
    let manifest = Manifest {
        format: FORMAT_VERSION,
        model,
        settings,
        sources,
        papers: papers.len(),
        chunks: chunks.len(),
        files,
    };
    store::write_atomic(
        &gen.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest).expect("manifest serializes"),
    )?;
    store::publish(root, &gen)
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
            let cos = ann::dot(&v, &base);
            assert!(cos > min_cos && cos < max_cos, "sigma {sigma}: cos {cos}");
        }
    }
}
