//! `recommend export`: the index's vectors and metadata for a vector database.
//!
//! A collection that outgrows one machine moves to a server engine; Qdrant is the one this
//! targets (sharding, replication, and a native `recommend` query with positive and negative
//! examples, as `similar --id A --id B --not C`). Points are one per paper (or per passage
//! with `passages`), with an ID that stays the same across re-indexing (a UUID made from the
//! paper's ID, which `index` keeps stable), the stored vector, and the metadata as payload.
//! `jsonl` writes them as JSON lines; `push` creates a Qdrant collection (cosine distance,
//! the index's dimension) and upserts them in batches over Qdrant's REST API.

use super::open::Index;
use super::store::StoreError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;

/// Points per upsert request.
pub const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("Qdrant at {url}: {message}")]
    Qdrant { url: String, message: String },
}

/// A UUID (RFC 9562 version 8, "custom") from the sha256 of `name`: the same name always
/// gives the same point ID.
pub fn stable_uuid(name: &str) -> String {
    let h = Sha256::digest(name.as_bytes());
    let mut b: [u8; 16] = h[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A paper's payload.
#[derive(Debug, Clone, Serialize)]
pub struct PaperPayload {
    pub id: String,
    pub title: String,
    pub title_ko: Option<String>,
    pub date: Option<String>,
    /// The first source (as `list` shows it) and all of them.
    pub source: Option<String>,
    pub sources: Vec<String>,
    pub url: Option<String>,
    pub tags: Vec<String>,
}

/// A passage's payload.
#[derive(Debug, Clone, Serialize)]
pub struct PassagePayload {
    /// The paper's ID.
    pub paper: String,
    /// Position within the paper, from 0.
    pub ordinal: usize,
    pub text: String,
}

/// One point, as Qdrant's upsert takes it and as `jsonl` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct Point<'a, P: Serialize> {
    pub id: String,
    pub vector: &'a [f32],
    pub payload: P,
}

/// Which points to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Points {
    Papers,
    Passages,
}

/// Calls `emit` with every point, as JSON, in index order.
fn each_point(
    index: &Index,
    points: Points,
    emit: &mut dyn FnMut(serde_json::Value) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    index.prefetch_all();
    for i in 0..index.paper_count() {
        let m = index.paper_meta(i)?;
        match points {
            Points::Papers => {
                let point = Point {
                    id: stable_uuid(&format!("paper:{}", m.id)),
                    vector: index.paper_vector(i),
                    payload: PaperPayload {
                        source: m.sources.first().cloned(),
                        id: m.id,
                        title: m.title,
                        title_ko: m.title_ko,
                        date: m.date,
                        sources: m.sources,
                        url: m.url,
                        tags: m.tags,
                    },
                };
                emit(serde_json::to_value(point).expect("points serialize"))?;
            }
            Points::Passages => {
                for (ordinal, ci) in index.passages_of(i).enumerate() {
                    let point = Point {
                        id: stable_uuid(&format!("passage:{}:{ordinal}", m.id)),
                        vector: &index.passage_vector(ci),
                        payload: PassagePayload {
                            paper: m.id.clone(),
                            ordinal,
                            text: index.passage_text(ci)?,
                        },
                    };
                    emit(serde_json::to_value(point).expect("points serialize"))?;
                }
            }
        }
    }
    Ok(())
}

/// Writes every point as one JSON line; returns how many.
pub fn jsonl(index: &Index, points: Points, out: &mut dyn Write) -> Result<usize, ExportError> {
    let mut n = 0;
    each_point(index, points, &mut |p| {
        serde_json::to_writer(&mut *out, &p).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        n += 1;
        Ok(())
    })?;
    out.flush()?;
    Ok(n)
}

/// Qdrant's create-collection body.
#[derive(Serialize)]
struct CreateCollection {
    vectors: VectorParams,
}

#[derive(Serialize)]
struct VectorParams {
    size: usize,
    distance: &'static str,
}

/// Qdrant's upsert body.
#[derive(Serialize)]
struct Upsert<'a> {
    points: &'a [serde_json::Value],
}

fn to_value(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).expect("request bodies serialize")
}

/// What `push` did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    pub url: String,
    pub collection: String,
    pub created: bool,
    pub points: usize,
    pub batches: usize,
}

/// Creates collection `collection` on the Qdrant server at `url` (cosine distance, the
/// index's dimension; an existing collection of that dimension is reused) and upserts every
/// point in batches of `BATCH`.
pub fn push(
    index: &Index,
    points: Points,
    url: &str,
    collection: &str,
) -> Result<PushReport, ExportError> {
    let base = url.trim_end_matches('/');
    let fail = |message: String| ExportError::Qdrant {
        url: base.to_string(),
        message,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(60))
        .build();
    let collection_url = format!("{base}/collections/{collection}");
    let call = |method: &str, url: &str, body: Option<&serde_json::Value>| {
        let req = agent.request(method, url);
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match res {
            Ok(r) => Ok(Some(r.into_json::<serde_json::Value>().map_err(|e| {
                fail(format!("{method} {url}: unreadable answer: {e}"))
            })?)),
            Err(ureq::Error::Status(404, _)) if method == "GET" => Ok(None),
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                Err(fail(format!(
                    "{method} {url}: HTTP {code}: {}",
                    text.trim()
                )))
            }
            Err(e) => Err(fail(format!("{method} {url}: {e}"))),
        }
    };
    let dim = index.dim();
    let created = match call("GET", &collection_url, None)? {
        Some(info) => {
            let size = info["result"]["config"]["params"]["vectors"]["size"].as_u64();
            if size != Some(dim as u64) {
                return Err(fail(format!(
                    "collection {collection} exists with vectors of size {size:?}, not {dim}: \
                     choose another --collection"
                )));
            }
            false
        }
        None => {
            let body = CreateCollection {
                vectors: VectorParams {
                    size: dim,
                    distance: "Cosine",
                },
            };
            call("PUT", &collection_url, Some(&to_value(&body)))?;
            true
        }
    };
    let upsert = format!("{collection_url}/points?wait=true");
    let mut batch = Vec::with_capacity(BATCH);
    let (mut total, mut batches) = (0, 0);
    let mut send = |batch: &mut Vec<serde_json::Value>| -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let body = Upsert { points: batch };
        call("PUT", &upsert, Some(&to_value(&body)))?;
        total += batch.len();
        batches += 1;
        batch.clear();
        Ok(())
    };
    each_point(index, points, &mut |p| {
        batch.push(p);
        if batch.len() == BATCH {
            send(&mut batch)?;
        }
        Ok(())
    })?;
    send(&mut batch)?;
    Ok(PushReport {
        url: base.to_string(),
        collection: collection.to_string(),
        created,
        points: total,
        batches,
    })
}
