//! Stage 4: papers and their passage vectors, persisted; rebuilt incrementally.
//!
//! One file per concern, so that a change of the on-disk format touches one place:
//! - `format`: the format version, the manifest, the names of a generation's files;
//! - `mapped`: the binary files (header, typed tables, records with offsets), memory-mapped;
//! - `open`: opening a generation; `Index` and its accessors (callers never see how papers,
//!   passages and vectors are stored);
//! - `columns`: the id table and the per-paper filter columns (date, sources, tags);
//! - `search`: nearest papers and passages (exact scans, or the IVF lists above a size);
//! - `build`: the incremental build and its embedding cache;
//! - `write`: writing a generation (`GenerationWriter` for files, `IndexWriter` for papers);
//! - `verify`: the full check behind `recommend verify` and `index`;
//! - `export`: points for a vector database (JSON lines, or Qdrant's REST API);
//! - `store`: the index directory (generations, atomic publish, the writer lock);
//! - `vectors`, `ann`, `ivf`, `csls`: vector helpers, nearest-neighbour kernels, the IVF
//!   lists, collection statistics;
//! - `synthetic`: generated indexes for the scale benchmark.
//!
//! Queries read the stored vectors only; they never parse the corpus again.

pub mod ann;
pub mod build;
pub mod columns;
pub mod csls;
pub mod export;
pub mod format;
pub mod ivf;
pub mod mapped;
pub mod open;
pub mod search;
pub mod store;
pub mod synthetic;
pub mod vectors;
pub mod verify;
pub mod write;

pub use build::{add_noise, build, hash_sources, paper_vector, BuildReport, Progress, Silent};
pub use format::{
    FileInfo, IndexSettings, Manifest, ModelInfo, PaperMeta, PaperText, PaperVector, StoredChunk,
    FORMAT_VERSION,
};
pub use open::{Index, Lists};
pub use search::Scan;
pub use store::StoreError;
pub use verify::{verify, VerifyReport};
pub use write::{GenerationWriter, IndexWriter, ManifestHead, PassageRow};

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
