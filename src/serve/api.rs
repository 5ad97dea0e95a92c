//! The JSON API: the CLI's `--json` shapes, computed by the same library calls.

use super::params::Params;
use super::{Failure, Reply, State};
use crate::app::PaperRow;
use crate::index::ann;
use crate::query::{
    self, Filter, PartialDate, Scoring, Search, SearchRequest, Seeds, Similar, SimilarRequest,
};
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

/// The filter of a request's parameters (`since`, `until`, `source`, `tag`).
pub fn filter_of(p: &Params) -> Result<Filter, Failure> {
    let date = |key: &str| -> Result<Option<PartialDate>, Failure> {
        p.one(key)?
            .map(|v| {
                v.parse::<PartialDate>()
                    .map_err(|e| Failure::bad(format!("`{key}`: {e}")))
            })
            .transpose()
    };
    Ok(Filter {
        since: date("since")?,
        until: date("until")?,
        source: p.one("source")?.map(str::to_string),
        tag: p.one("tag")?.map(str::to_string),
    })
}

/// The `similar` request of a request's parameters: `id` (repeatable), `not` (repeatable),
/// `k`, `scoring`, `seeds` and the filter.
fn similar_request(p: &Params) -> Result<SimilarRequest, Failure> {
    let ids: Vec<String> = p.all("id")?.into_iter().map(str::to_string).collect();
    if ids.is_empty() {
        return Err(Failure::bad("`id` is required: /api/similar?id=CAD"));
    }
    Ok(SimilarRequest {
        ids,
        not: p.all("not")?.into_iter().map(str::to_string).collect(),
        k: p.k(DEFAULT_K)?,
        scoring: p.choice::<Scoring>("scoring")?.unwrap_or_default(),
        seeds: p.choice::<Seeds>("seeds")?.unwrap_or_default(),
        filter: filter_of(p)?,
        ..SimilarRequest::new("", DEFAULT_K)
    })
}

/// `similar` for a request's parameters; the ranking is `query::similar`'s.
pub fn similar_of(state: &State, p: &Params) -> Result<Similar, Failure> {
    let req = similar_request(p)?;
    Ok(state
        .compute
        .run(|| query::similar(&state.index, &state.space, &req))?)
}

/// The cache key of a `similar` request: the request with every id replaced by its paper's
/// own id, repeats dropped (as `query::similar` resolves them; the order of the seeds stays,
/// the answer names the first). `None` when an id is unknown: that answer is an error,
/// never kept.
fn similar_key(state: &State, req: &SimilarRequest) -> Option<String> {
    let canonical = |ids: &[String]| -> Option<Vec<String>> {
        let mut rows: Vec<usize> = Vec::with_capacity(ids.len());
        for id in ids {
            let row = state.index.find(id).ok()?;
            if !rows.contains(&row) {
                rows.push(row);
            }
        }
        Some(
            rows.into_iter()
                .map(|r| state.papers[r].id.clone())
                .collect(),
        )
    };
    let key = SimilarRequest {
        ids: canonical(&req.ids)?,
        not: canonical(&req.not)?,
        ..req.clone()
    };
    Some(format!("similar {}", serde_json::to_string(&key).ok()?))
}

pub fn similar(state: &State, p: &Params) -> Reply {
    let req = match similar_request(p) {
        Ok(r) => r,
        Err(f) => return f.into(),
    };
    let key = state
        .answers
        .enabled()
        .then(|| similar_key(state, &req))
        .flatten();
    cached(state, key, || {
        Ok(state
            .compute
            .run(|| query::similar(&state.index, &state.space, &req))?)
    })
}

/// The `search` request of a request's parameters (`q`, `k` and the filter).
fn search_request(state: &State, p: &Params) -> Result<SearchRequest, Failure> {
    let q = p
        .one("q")?
        .ok_or_else(|| Failure::bad("`q` is required: /api/search?q=retrieval"))?;
    Ok(SearchRequest {
        k: p.k(DEFAULT_K)?,
        filter: filter_of(p)?,
        graph: state.index.passage_count() >= ann::EXACT_BELOW,
        ..SearchRequest::new(q, DEFAULT_K)
    })
}

/// `search` for a request's parameters; the query text is embedded with whatever other
/// searches are waiting (see `batch`).
pub fn search_of(state: &State, p: &Params) -> Result<Search, Failure> {
    run_search(state, &search_request(state, p)?)
}

fn run_search(state: &State, req: &SearchRequest) -> Result<Search, Failure> {
    // Check the filter before the (costly) embedding: a bad one answers at once.
    req.filter.check(&state.papers)?;
    let searcher = state.searcher().ok_or_else(|| Failure {
        status: 503,
        message: "this server was started without a model: search is off".into(),
        suggestion: None,
    })?;
    let vector = searcher.embed(&req.text)?;
    Ok(state
        .compute
        .run(|| query::search_with_vector(&state.index, &state.space, req, &vector))?)
}

pub fn search(state: &State, p: &Params) -> Reply {
    let req = match search_request(state, p) {
        Ok(r) => r,
        Err(f) => return f.into(),
    };
    // The text as given (case and inner spacing reach the model), with every parameter.
    let key = state
        .answers
        .enabled()
        .then(|| serde_json::to_string(&req).ok())
        .flatten()
        .map(|k| format!("search {k}"));
    cached(state, key, || run_search(state, &req))
}

/// The kept answer of `key`, or `compute`'s, serialized and kept when it succeeded.
fn cached<T: Serialize>(
    state: &State,
    key: Option<String>,
    compute: impl FnOnce() -> Result<T, Failure>,
) -> Reply {
    let Some(key) = key else {
        return compute().map_or_else(Reply::from, |v| Reply::json(&v));
    };
    if let Some(body) = state.answers.get(&key) {
        return Reply {
            x_cache: Some("hit"),
            ..Reply::json_bytes(body.to_vec())
        };
    }
    match compute() {
        Ok(v) => {
            let mut reply = Reply::json(&v);
            if reply.status == 200 {
                state.answers.put(key, reply.body.as_slice().into());
                reply.x_cache = Some("miss");
            }
            reply
        }
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
