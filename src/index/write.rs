//! Writing one generation: every file through `GenerationWriter::put`, which records its
//! length and checksum for the manifest, then the manifest, then `store::publish`.

use super::ann;
use super::csls;
use super::format::*;
use super::store::{self, StoreError};
use super::vectors::f32_bytes;
use crate::corpus::Paper;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A generation being written. Features that store something at index time add their own
/// named file with one `put`; it is listed in the manifest like every other file.
pub struct GenerationWriter {
    dir: PathBuf,
    files: BTreeMap<String, FileInfo>,
}

impl GenerationWriter {
    /// A new, empty generation of the index in `root` (not live until `finish`).
    pub fn new(root: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            dir: store::new_generation(root)?,
            files: BTreeMap::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes file `name` of the generation and records its length and sha256.
    pub fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        store::write_atomic(&self.dir.join(name), bytes)?;
        self.files.insert(
            name.to_string(),
            FileInfo {
                bytes: bytes.len() as u64,
                sha256: store::sha256_hex(bytes),
            },
        );
        Ok(())
    }

    /// Writes the manifest (listing every file put) and makes the generation live.
    pub fn finish(
        self,
        root: &Path,
        model: ModelInfo,
        settings: IndexSettings,
        sources: BTreeMap<String, String>,
        papers: usize,
        chunks: usize,
    ) -> Result<(), StoreError> {
        let manifest = Manifest {
            format: FORMAT_VERSION,
            model,
            settings,
            sources,
            papers,
            chunks,
            files: self.files,
        };
        store::write_atomic(
            &self.dir.join(MANIFEST),
            &serde_json::to_vec_pretty(&manifest).expect("manifest serializes"),
        )?;
        store::publish(root, &self.dir)
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn write(
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
    let mut gen = GenerationWriter::new(root)?;
    gen.put(
        PAPERS,
        &serde_json::to_vec(papers).expect("papers serialize"),
    )?;
    gen.put(
        CHUNKS,
        &serde_json::to_vec(chunks).expect("chunks serialize"),
    )?;
    let all: Vec<f32> = [chunk_vectors, paper_vectors].concat();
    gen.put(VECTORS, &f32_bytes(&all))?;
    // The paper graph holds centered vectors, the space of the default scoring; with it,
    // hubness for a large collection costs one graph search per paper, not one scan.
    let centered = csls::centered(paper_vectors, dim);
    let mut paper_graph = None;
    for (name, vectors) in [(CHUNK_GRAPH, chunk_vectors), (PAPER_GRAPH, &centered[..])] {
        // hnsw_rs writes its two files in place; write them into a scratch directory, then
        // move them into the generation like every other file.
        let scratch = tempfile::tempdir_in(gen.dir()).map_err(store::io_err(gen.dir()))?;
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
            gen.put(&file, &bytes)?;
        }
        if name == PAPER_GRAPH {
            paper_graph = Some(graph);
        }
    }
    let large = papers.len() >= ann::EXACT_BELOW;
    let hubness = csls::hubness(&centered, dim, paper_graph.as_ref().filter(|_| large));
    gen.put(HUBNESS, &f32_bytes(&hubness))?;
    let map: Vec<f32> = crate::layout::layout(&centered, dim).concat();
    gen.put(MAP, &f32_bytes(&map))?;
    let lexical = crate::query::lexical::LexicalStats::of_papers(
        papers,
        chunks
            .iter()
            .map(|c| (c.chunk.paper.as_str(), c.chunk.text.as_str())),
    );
    gen.put(LEXICAL, &lexical.to_bytes())?;
    gen.finish(root, model, settings, sources, papers.len(), chunks.len())
}
