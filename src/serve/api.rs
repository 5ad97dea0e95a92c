//! The JSON API: the CLI's `--json` shapes, computed by the same library calls.

use super::params::Params;
use super::{Failure, Reply, State};
use crate::app::PaperRow;
use crate::index::ann;
use crate::query::{self, Scoring, Search, Similar};
use serde::Serialize;

/// Results when a request does not say `k`.
pub const DEFAULT_K: usize = 10;

/// `/api/papers`: every paper, as `list --json` prints it.
pub fn papers(state: &State) -> Reply {
    let rows: Vec<PaperRow> = state.papers.iter().map(PaperRow::of).collect();
    Reply::json(&rows)
}

/// `/api/papers/{id}`: one paper with its text, as `show --json` prints it.
pub fn paper(state: &State, id: &str) -> Reply {
    let paper = state
        .index
        .find(id)
        .map_err(Failure::from)
        .and_then(|i| Ok(state.index.paper(i)?));
    match paper {
        Ok(p) => Reply::json(&p),
        Err(f) => f.into(),
    }
}

/// `similar` for a request's parameters (`id`, `k`, `scoring`).
pub fn similar_of(state: &State, p: &Params) -> Result<Similar, Failure> {
    let k = p.k(DEFAULT_K)?;
    let scoring = p.choice::<Scoring>("scoring")?.unwrap_or_default();
    let id = p
        .one("id")?
        .ok_or_else(|| Failure::bad("`id` is required: /api/similar?id=CAD"))?;
    Ok(query::similar(&state.index, state.space(scoring), id, k)?)
}

pub fn similar(state: &State, p: &Params) -> Reply {
    match similar_of(state, p) {
        Ok(s) => Reply::json(&s),
        Err(f) => f.into(),
    }
}

/// `search` for a request's parameters (`q`, `k`).
pub fn search_of(state: &State, p: &Params) -> Result<Search, Failure> {
    let k = p.k(DEFAULT_K)?;
    let q = p
        .one("q")?
        .ok_or_else(|| Failure::bad("`q` is required: /api/search?q=retrieval"))?;
    let searcher = state.searcher().ok_or_else(|| Failure {
        status: 503,
        message: "this server was started without a model: search is off".into(),
        suggestion: None,
    })?;
    let vector = searcher.embed(q)?;
    let use_graph = state.index.passage_count() >= ann::EXACT_BELOW;
    Ok(query::search_vector(&state.index, &vector, k, use_graph)?)
}

pub fn search(state: &State, p: &Params) -> Reply {
    match search_of(state, p) {
        Ok(s) => Reply::json(&s),
        Err(f) => f.into(),
    }
}

/// One paper on the map.
#[derive(Serialize)]
pub struct MapPoint<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub x: f32,
    pub y: f32,
    pub source: Option<&'a str>,
    pub tags: &'a [String],
}

#[derive(Serialize)]
pub struct Map<'a> {
    pub points: Vec<MapPoint<'a>>,
}

/// `/api/map`: every paper's stored 2-D position.
pub fn map(state: &State) -> Reply {
    let points = state
        .papers
        .iter()
        .zip(&state.map)
        .map(|(p, xy)| MapPoint {
            id: &p.id,
            title: &p.title,
            x: xy[0],
            y: xy[1],
            source: p.sources.first().map(|s| super::pages::source_name(s)),
            tags: &p.tags,
        })
        .collect();
    Reply::json(&Map { points })
}
