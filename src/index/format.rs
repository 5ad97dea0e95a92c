//! What an index generation holds: the format version, the manifest, and the names of its
//! files. The one place the on-disk layout is described; `open` reads it, `write` writes it.

use crate::chunk::Chunk;
use crate::chunk::ChunkParams;
use crate::corpus::{Paper, SourceKind};
use crate::embed;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped whenever the files' layout or meaning changes. Version 2 stores hubness and
/// int8 graphs; a version-1 index still answers `similar` and exact `search`, and its
/// vectors are reused by the next `index`, which writes the current version.
pub const FORMAT_VERSION: u32 = 2;

pub const MANIFEST: &str = "manifest.json";
pub const PAPERS: &str = "papers.json";
pub const CHUNKS: &str = "chunks.json";
pub const VECTORS: &str = "vectors.f32";
pub const HUBNESS: &str = "hubness.f32";
/// Each paper's 2-D map position `(x, y)` (see `crate::layout`), in paper order.
pub const MAP: &str = "map.f32";
/// Term statistics for lexical scoring (written by `query::lexical`).
pub const LEXICAL: &str = "lexical.bin";
pub const PAPER_GRAPH: &str = "papers";
pub const CHUNK_GRAPH: &str = "chunks";

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
    /// The mean of each language's unit mean: a paper summarized in Korean and in English
    /// counts each language once.
    LanguageBalanced,
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

/// A paper's short metadata: what a result list, a filter or `list` needs, without the
/// text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperMeta {
    pub id: String,
    pub title: String,
    pub title_ko: Option<String>,
    /// ISO date `YYYY-MM-DD` where known.
    pub date: Option<String>,
    /// Files the paper was read from, as given to `index`.
    pub sources: Vec<String>,
    /// Title of the feed it came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// The post's link (the first of the paper's links).
    pub url: Option<String>,
    pub venue: Option<String>,
    pub tags: Vec<String>,
    pub title_only: bool,
    /// The kind of file it was read from (`feed`, `digest`, `blog`, …).
    #[serde(default)]
    pub source_kind: SourceKind,
}

impl From<&Paper> for PaperMeta {
    fn from(p: &Paper) -> Self {
        PaperMeta {
            id: p.id.clone(),
            title: p.title.clone(),
            title_ko: p.title_ko.clone(),
            date: p.date.clone(),
            sources: p.sources.clone(),
            feed: p.feed.clone(),
            url: p.urls.first().cloned(),
            venue: p.venue.clone(),
            tags: p.tags.clone(),
            title_only: p.title_only,
            source_kind: p.source_kind,
        }
    }
}
