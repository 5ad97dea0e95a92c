//! The seed index and a server on it (and small JSON helpers), shared by the test binaries
//! and the load bench.
//!
//! The index lives in Cargo's per-target scratch directory and is built through the
//! library's incremental build: the first run embeds the seed corpus (a couple of minutes),
//! later runs and other test binaries find it up to date in well under a second.

#![allow(dead_code)]

use recommend::app::{self, Config};
use recommend::index::{Index, IndexSettings, Silent};
use recommend::serve::{self, Server, State};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The seed corpus indexed with the default settings (built or refreshed once per process).
pub fn seed_index() -> PathBuf {
    static DONE: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = &*done {
        return dir.clone();
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seed-index");
    build(&dir, &[]);
    *done = Some(dir.clone());
    dir
}

/// Indexes `paths` (the seed corpus when empty) into `dir` with the bundled model.
pub fn build(dir: &Path, paths: &[PathBuf]) {
    let config = config(dir);
    app::build(&config, paths, IndexSettings::default(), &mut Silent)
        .unwrap_or_else(|e| panic!("indexing into {}: {e}", dir.display()));
}

pub fn config(dir: &Path) -> Config {
    Config {
        index: dir.to_path_buf(),
        ..Config::default()
    }
}

/// A server on `dir`'s index, with the model for search, on an ephemeral loopback port.
pub fn start(dir: &Path, workers: usize) -> Server {
    start_with_cache(dir, workers, serve::DEFAULT_CACHE_BYTES)
}

/// `start`, keeping up to `cache_bytes` of answers (0: every request computed).
pub fn start_with_cache(dir: &Path, workers: usize, cache_bytes: usize) -> Server {
    let config = config(dir);
    let index = Index::open(dir).unwrap();
    let embedder = app::query_embedder(&index, &config).unwrap();
    let state = State::new(index, Some(embedder))
        .unwrap()
        .with_cache_bytes(cache_bytes);
    serve::start(state, "127.0.0.1:0".parse().unwrap(), workers).unwrap()
}

/// The ids of a `similar` or `search` JSON answer, best first.
pub fn ids(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}
