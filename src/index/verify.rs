//! `recommend verify`: every byte of the live generation checked against its manifest.
//!
//! Opening an index checks lengths and headers only (constant work); this reads every
//! file once, compares its sha256 with the manifest's, and then checks what a checksum
//! cannot: that the index opens, and that every paper's record reads back. `index` runs
//! the same check before it reuses anything from the previous generation.

use super::format::{GRAPH_PARTS, PAPER_GRAPH};
use super::open::Index;
use super::store::{self, StoreError};
use super::write::hash_file;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// What `verify` checked.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub generation: String,
    pub format: u32,
    pub papers: usize,
    pub passages: usize,
    pub files: usize,
    pub bytes: u64,
    pub seconds: f64,
}

/// Checks the live generation of `root` in full; the first problem is the error.
pub fn verify(root: &Path) -> Result<VerifyReport, StoreError> {
    let start = Instant::now();
    let dir = store::current(root)?;
    let corrupt = |reason: String| StoreError::Corrupt {
        dir: root.to_path_buf(),
        reason,
    };
    let index = Index::open(root)?;
    let manifest = index.manifest();
    let mut bytes = 0;
    for (name, info) in &manifest.files {
        let (len, sha) = hash_file(&dir.join(name)).map_err(|e| corrupt(format!("{name}: {e}")))?;
        if len != info.bytes || sha != info.sha256 {
            return Err(corrupt(format!(
                "{name} does not match its checksum (truncated or changed)"
            )));
        }
        bytes += len;
    }
    index.prefetch_all();
    for i in 0..index.paper_count() {
        index.paper(i)?;
        let r = index.passages_of(i);
        if i + 1 < index.paper_count() && r.end != index.passages_of(i + 1).start {
            return Err(corrupt(format!(
                "paper {i}'s passage rows are out of order"
            )));
        }
    }
    for ci in 0..index.passage_count() {
        index.passage_text(ci)?;
    }
    // The graph loads (its checksum was checked above; hnsw_rs reads it here).
    if manifest
        .files
        .contains_key(&format!("{PAPER_GRAPH}.{}", GRAPH_PARTS[0]))
    {
        index.paper_graph()?;
    }
    Ok(VerifyReport {
        generation: dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        format: manifest.format,
        papers: index.paper_count(),
        passages: index.passage_count(),
        files: manifest.files.len(),
        bytes,
        seconds: start.elapsed().as_secs_f64(),
    })
}
