//! A loaded index, read through accessor methods only.
//!
//! Callers (queries, eval, the CLI, the server) never see how papers, passages and vectors
//! are stored: they ask for a count, a paper's metadata, a passage's text, a paper's
//! passage rows, a vector. That keeps the storage free to change (memory-mapped files,
//! offset tables) without touching them. Passages are stored grouped by paper, so a paper's
//! passages are one contiguous range of rows.

use super::ann;
use super::build::paper_vectors_from_ranges;
use super::csls;
use super::format::*;
use super::store::{self, StoreError};
use super::vectors::f32s;
use crate::chunk::Lang;
use crate::corpus::{ids, Paper};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A loaded index.
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    papers: Vec<Paper>,
    /// Passages, grouped by paper in paper order.
    chunks: Vec<StoredChunk>,
    /// `starts[i]..starts[i + 1]` are paper `i`'s passage rows.
    starts: Vec<usize>,
    chunk_vectors: Vec<f32>,
    paper_vectors: Vec<f32>,
    /// Each paper's CSLS hubness in the centered space (see `csls`), in paper order.
    hubness: Vec<f32>,
}

impl Index {
    /// The generation directory this index was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.manifest.model.dim
    }

    pub fn paper_count(&self) -> usize {
        self.papers.len()
    }

    pub fn passage_count(&self) -> usize {
        self.chunks.len()
    }

    /// Paper `i`'s short metadata (id, titles, date, sources, link, tags).
    pub fn paper_meta(&self, i: usize) -> Result<PaperMeta, StoreError> {
        Ok(PaperMeta::from(&self.papers[i]))
    }

    /// Paper `i`'s full record, text included (for `show`).
    pub fn paper(&self, i: usize) -> Result<Paper, StoreError> {
        Ok(self.papers[i].clone())
    }

    /// The text a reader sees for passage `ci` (its title where it has no text).
    pub fn passage_text(&self, ci: usize) -> Result<String, StoreError> {
        let c = &self.chunks[ci].chunk;
        Ok(if c.text.is_empty() {
            c.title.clone()
        } else {
            c.text.clone()
        })
    }

    /// The language of passage `ci` (`None` in indexes written before passages had one).
    pub fn passage_lang(&self, ci: usize) -> Option<Lang> {
        self.chunks[ci].chunk.lang
    }

    /// Paper `i`'s passage rows.
    pub fn passages_of(&self, i: usize) -> Range<usize> {
        self.starts[i]..self.starts[i + 1]
    }

    /// The paper passage `ci` belongs to.
    pub fn paper_of_passage(&self, ci: usize) -> usize {
        self.starts.partition_point(|&s| s <= ci) - 1
    }

    pub fn paper_vector(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.paper_vectors[i * d..(i + 1) * d]
    }

    pub fn passage_vector(&self, ci: usize) -> &[f32] {
        let d = self.dim();
        &self.chunk_vectors[ci * d..(ci + 1) * d]
    }

    /// Every paper vector, row-major, in paper order.
    pub fn paper_vectors(&self) -> &[f32] {
        &self.paper_vectors
    }

    /// Every passage vector, row-major, in passage order.
    pub fn passage_vectors(&self) -> &[f32] {
        &self.chunk_vectors
    }

    /// Each paper's CSLS hubness (see `csls`), in paper order.
    pub fn hubness(&self) -> &[f32] {
        &self.hubness
    }

    /// Each paper's 2-D map position in `[0, 1]`, in paper order: read from the index, or
    /// computed here (once per call) for an index written before the map was stored.
    pub fn map_layout(&self) -> Result<Vec<[f32; 2]>, StoreError> {
        if !self.manifest.files.contains_key(MAP) {
            let dim = self.dim();
            return Ok(crate::layout::layout(
                &csls::centered(&self.paper_vectors, dim),
                dim,
            ));
        }
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: self.dir.clone(),
            reason,
        };
        let xy = f32s(&read_verified(&self.dir, &self.manifest, MAP, &corrupt)?);
        if xy.len() != 2 * self.papers.len() {
            return Err(corrupt(format!(
                "{MAP} holds {} values for {} papers",
                xy.len(),
                self.papers.len()
            )));
        }
        Ok(xy.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
    }

    /// The row of the paper with this ID (case-insensitive), or the closest ID as a
    /// suggestion.
    pub fn find(&self, id: &str) -> Result<usize, ids::UnknownId> {
        ids::find_position(self.papers.iter().map(|p| p.id.as_str()), id)
    }

    /// A further file of the generation (one a feature added with `GenerationWriter::put`),
    /// checked against the manifest; `None` when this generation has no such file.
    pub fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.manifest.files.contains_key(name) {
            return Ok(None);
        }
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: self.dir.clone(),
            reason,
        };
        read_verified(&self.dir, &self.manifest, name, &corrupt).map(Some)
    }

    /// The cache key of passage `ci`'s vector (see `build`).
    pub(super) fn passage_key(&self, ci: usize) -> &str {
        &self.chunks[ci].key
    }

    /// The same index with other passage vectors (paper vectors made by `mode`, hubness
    /// recomputed): the in-memory variants `eval` compares.
    pub fn with_passage_vectors(&self, chunk_vectors: Vec<f32>, mode: PaperVector) -> Index {
        let dim = self.dim();
        let langs: Vec<Option<Lang>> = self.chunks.iter().map(|c| c.chunk.lang).collect();
        let paper_vectors = paper_vectors_from_ranges(
            (0..self.paper_count()).map(|i| self.passages_of(i)),
            &langs,
            &chunk_vectors,
            dim,
            mode,
        );
        let mut manifest = self.manifest.clone();
        manifest.settings.paper_vector = mode;
        Index {
            dir: self.dir.clone(),
            manifest,
            papers: self.papers.clone(),
            chunks: self.chunks.clone(),
            starts: self.starts.clone(),
            chunk_vectors,
            hubness: csls::paper_hubness(&paper_vectors, dim),
            paper_vectors,
        }
    }

    /// Loads the live generation of `root`, verifying every file against the manifest.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let dir = store::current(root)?;
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: root.to_path_buf(),
            reason,
        };
        let manifest_path = dir.join(MANIFEST);
        let text =
            std::fs::read(&manifest_path).map_err(|e| corrupt(format!("{MANIFEST}: {e}")))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| corrupt(format!("{MANIFEST} is not a recommend manifest: {e}")))?;
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
        let (chunks, chunk_vectors, starts) = group_by_paper(&papers, chunks, c, dim)
            .ok_or_else(|| corrupt(format!("{CHUNKS} names papers the index does not hold")))?;
        Ok(Index {
            dir,
            manifest,
            papers,
            chunks,
            starts,
            chunk_vectors,
            paper_vectors: p.to_vec(),
            hubness,
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

/// Passages (and their vectors) in paper order, with each paper's first row; `None` when a
/// passage names a paper the index does not hold. Indexes are written grouped already;
/// this keeps the promise for any that are not.
#[allow(clippy::type_complexity)]
fn group_by_paper(
    papers: &[Paper],
    chunks: Vec<StoredChunk>,
    vectors: &[f32],
    dim: usize,
) -> Option<(Vec<StoredChunk>, Vec<f32>, Vec<usize>)> {
    let pos: std::collections::HashMap<&str, usize> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let owner: Vec<usize> = chunks
        .iter()
        .map(|c| pos.get(c.chunk.paper.as_str()).copied())
        .collect::<Option<_>>()?;
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&ci| owner[ci]);
    let mut starts = vec![0; papers.len() + 1];
    for &o in &owner {
        starts[o + 1] += 1;
    }
    for i in 0..papers.len() {
        starts[i + 1] += starts[i];
    }
    let mut out_vectors = Vec::with_capacity(vectors.len());
    for &ci in &order {
        out_vectors.extend_from_slice(&vectors[ci * dim..(ci + 1) * dim]);
    }
    let mut slots: Vec<Option<StoredChunk>> = chunks.into_iter().map(Some).collect();
    let out_chunks = order
        .iter()
        .map(|&ci| slots[ci].take().expect("each row once"))
        .collect();
    Some((out_chunks, out_vectors, starts))
}

/// A file of a generation, after checking its length and sha256 against the manifest.
pub(super) fn read_verified(
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
