//! `recommend`: which papers are like this one?
//!
//! The pipeline runs one way, one module per stage:
//! `corpus` (files → papers) → `chunk` (papers → model-sized passages) → `embed` (passages →
//! vectors) → `index` (vectors → HNSW graphs on disk) → `query` (similar / search).
//! `bench` and `eval` measure the pipeline's speed and quality; `app` holds what the two
//! front ends (the CLI and the web server) do with it, so that neither holds its own copy.

pub mod app;
pub mod bench;
pub mod chunk;
pub mod corpus;
pub mod embed;
pub mod eval;
pub mod index;
pub mod layout;
pub mod query;
pub mod serve;
