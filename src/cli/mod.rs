//! The command-line front end: `args` parses and checks the flags into the library's
//! settings once, `printer` turns results into text or JSON, `progress` draws index
//! progress. The modes in `main.rs` only call the library (`recommend::app`, `query`, …)
//! between the two, as the web server does.

pub mod args;
pub mod printer;
pub mod progress;

use recommend::app::Config;
use recommend::index::IndexSettings;
use recommend::query::{SearchRequest, SimilarRequest};
use std::path::PathBuf;

/// Settings every mode shares.
pub struct Options {
    pub config: Config,
    pub printer: Box<dyn printer::Printer>,
    pub progress: progress::Reporter,
    pub quiet: bool,
}

/// What to do, with its checked arguments.
pub enum Mode {
    Index {
        paths: Vec<PathBuf>,
        settings: IndexSettings,
    },
    Similar(SimilarRequest),
    Search {
        /// `req.graph` is decided by `graph` once the index is open.
        req: SearchRequest,
        /// `Some(true)`: the HNSW graph, `Some(false)`: exact scan, `None`: by index size.
        graph: Option<bool>,
        /// A query vector to search with instead of embedding `req.text`.
        vector: Option<PathBuf>,
    },
    List,
    Verify,
    Export {
        passages: bool,
        output: Option<PathBuf>,
        /// Qdrant URL and collection.
        qdrant: Option<(String, String)>,
    },
    /// `bench --synthetic N`: write a synthetic index for the scale benchmark.
    Synthetic {
        papers: usize,
        passages_per_paper: usize,
    },
    Show {
        id: String,
    },
    Embed {
        /// `None` for standard input.
        file: Option<PathBuf>,
        query: bool,
    },
    Bench(recommend::bench::BenchConfig),
    Eval(recommend::eval::EvalConfig),
    Serve {
        addr: std::net::SocketAddr,
        /// MiB of answers the server keeps (`serve::cache`).
        cache_mb: usize,
    },
}
