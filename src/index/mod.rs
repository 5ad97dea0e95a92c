//! Stage 4: papers and their passage vectors, persisted; rebuilt incrementally.
//!
//! One file per concern, so that a change of the on-disk format touches one place:
//! - `format`: the format version, the manifest, the names of a generation's files;
//! - `open`: reading and verifying a generation; `Index` and its accessors (callers never
//!   see how papers, passages and vectors are stored);
//! - `build`: the incremental build and its embedding cache;
//! - `write`: writing a generation (`GenerationWriter::put` adds a named file);
//! - `store`: the index directory (generations, atomic publish, the writer lock);
//! - `vectors`, `ann`, `csls`: vector tables, nearest neighbours, collection statistics.
//!
//! Queries read the stored vectors only; they never parse the corpus again.

pub mod ann;
pub mod build;
pub mod csls;
pub mod format;
pub mod open;
pub mod store;
pub mod vectors;
pub mod write;

pub use build::{add_noise, build, hash_sources, paper_vectors, BuildReport, Progress, Silent};
pub use format::{
    FileInfo, IndexSettings, Manifest, ModelInfo, PaperMeta, PaperVector, StoredChunk,
    FORMAT_VERSION,
};
pub use open::Index;
pub use store::StoreError;
pub use write::GenerationWriter;

use crate::embed::EmbedError;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("no papers found in the inputs")]
    Empty,
}
