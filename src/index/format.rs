//! What an index generation holds: the format version, the manifest, and the names of its
//! files. The one place the on-disk layout is described; `open` reads it, `write` writes it.

use crate::chunk::Chunk;
use crate::chunk::ChunkParams;
use crate::corpus::{Paper, Section, SourceKind};
use crate::embed;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped whenever the files' layout or meaning changes.
/// - 1: JSON papers and passages, one vector file, HNSW graphs.
/// - 2: + hubness, int8 graphs.
/// - 3: memory-mapped tables with headers, records with offsets tables, filter columns,
///   IVF lists over passages, the paper graph only above the exact-scan size. Formats 1
///   and 2 are still read (whole, into memory), and the next `index` rewrites them in the
///   current format without embedding anything again.
/// - 4: passage vectors in half precision (`passages.f16`, see `vectors::PassageRows`).
///   Format 3 is still read as it is (mapped, `passages.f32`), and the next `index`
///   rewrites it as 4 from its stored vectors.
pub const FORMAT_VERSION: u32 = 4;

pub const MANIFEST: &str = "manifest.json";
/// Input file → sha256 (what `index` compares to decide whether anything changed).
pub const SOURCES: &str = "sources.json";
/// Each paper's `PaperMeta`, JSON, one record per paper.
pub const PAPER_META: &str = "papers.meta";
/// Each paper's links and sections (`PaperText`), JSON, one record per paper.
pub const PAPER_TEXT: &str = "papers.text";
/// Each passage's text as a reader sees it, UTF-8, one record per passage.
pub const PASSAGE_TEXT: &str = "passages.text";
/// Each passage's language (one byte: 0 unknown, 1 Korean, 2 English).
pub const PASSAGE_LANGS: &str = "passages.lang";
pub const LANGS_KIND: &[u8; 8] = b"lang u8 ";
/// The mean passage vector of all passages, of the Korean ones and of the English ones
/// (three rows; a row of zeros where there is no passage of that language): what passage
/// matching centers passages by (`query::PaperSpace`). Indexes written before it was
/// stored have the means estimated from a sample of passages at query time.
pub const PASSAGE_LANG_MEANS: &str = "passages.lang-means";
/// Each passage's 32-byte cache key.
pub const PASSAGE_KEYS: &str = "passages.keys";
/// Each paper's first passage row, then the passage count (u64).
pub const PAPER_STARTS: &str = "papers.passages";
/// Passage vectors in single precision (format 3).
pub const PASSAGE_VECTORS: &str = "passages.f32";
/// Passage vectors in half precision (format 4).
pub const PASSAGE_VECTORS_F16: &str = "passages.f16";
pub const PAPER_VECTORS: &str = "papers.f32";
pub const PAPER_HUBNESS: &str = "papers.hubness";
/// The mean paper vector (one row) and each paper's distance from it.
pub const PAPER_CENTER: &str = "papers.center";
pub const PAPER_CNORMS: &str = "papers.center-norms";
/// The HNSW graph over centered paper vectors (`papers.hnsw.graph`, `papers.hnsw.data`),
/// written from `ann::EXACT_BELOW` papers on (see `ann`).
pub const PAPER_GRAPH: &str = "papers";
/// The two files hnsw_rs writes for a graph.
pub const GRAPH_PARTS: [&str; 2] = ["hnsw.graph", "hnsw.data"];
/// IVF lists over passage vectors (see `ivf`).
pub const PASSAGE_IVF: &str = "passages.ivf";
/// IVF lists over centered paper vectors (from `ann::EXACT_BELOW` papers): `similar`'s
/// first stage and the neighbours behind hubness. Indexes written before them hold an
/// HNSW graph (`PAPER_GRAPH`) instead, still read.
pub const PAPER_IVF: &str = "papers.ivf";
/// Each paper's 2-D map position `(x, y)` (see `crate::layout`), in paper order.
pub const MAP: &str = "map.f32";
/// Term statistics for lexical scoring in the one file of earlier indexes (read by
/// `query::lexical`, which now writes them as the tables `query::lexical::TABLES`).
pub const LEXICAL: &str = "lexical.bin";

pub const F32_ROWS: &[u8; 8] = b"f32 rows";
pub const F16_ROWS: &[u8; 8] = b"f16 rows";
pub const KEYS_KIND: &[u8; 8] = b"key sha2";
pub const STARTS_KIND: &[u8; 8] = b"starts  ";

/// Files of formats 1 and 2.
pub const LEGACY_PAPERS: &str = "papers.json";
pub const LEGACY_CHUNKS: &str = "chunks.json";
pub const LEGACY_VECTORS: &str = "vectors.f32";
pub const LEGACY_HUBNESS: &str = "hubness.f32";

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
    /// Input file → sha256 of its content (formats 1 and 2; formats 3 and 4 keep them in
    /// `sources.json`, so that opening an index of many files stays cheap).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    pub papers: usize,
    pub chunks: usize,
    /// Every other file of the generation with its length and checksum.
    pub files: BTreeMap<String, FileInfo>,
}

/// A passage as formats 1 and 2 stored it: the chunk and the key its vector is cached
/// under.
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

/// The rest of a paper's record: its links and its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperText {
    pub urls: Vec<String>,
    pub sections: Vec<Section>,
}
