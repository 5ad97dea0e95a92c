//! `recommend serve`: the collection as a local web page, on the same library calls as the
//! CLI.
//!
//! One process opens the index once and loads the model once (for search), then answers:
//! pages at `/`, `/paper/{id}` and `/map`, and a JSON API under `/api/` whose shapes are
//! the CLI's `--json` ones. The HTTP layer is axum on tokio (minimal features): every
//! request goes to one fallback that hands it to tokio's blocking pool, where
//! `routes::handle` turns a method and a URL into a `Reply` and knows nothing of sockets.
//! (tiny_http was tried first: its connection thread pool left some keep-alive connections
//! unserved for seconds under 32 concurrent clients; see BENCHMARKS.md.)
//!
//! The index is read-only for the server's life, so `similar` and `search` answers are
//! kept, serialized, by request (`cache`): a request asked again costs a lookup and a send.
//!
//! Safe by default, because feed items carry arbitrary HTML and the page is opened in a
//! browser:
//! - it listens on loopback unless told otherwise, and only reads (GET/HEAD; the index is
//!   never written);
//! - every corpus string reaches the page through `maud`, which escapes it, and the page's
//!   scripts insert text with `textContent`; a Content-Security-Policy allows no inline
//!   script as a second line of defence; links out are kept only when they are http(s);
//! - no part of a request names a file: assets are compiled into the binary and looked up
//!   in a fixed table;
//! - URLs, parameter counts and query lengths are bounded; a bad parameter is a `400` with a
//!   JSON error, an unknown id a `404` with the "did you mean" suggestion;
//! - a handler that fails or panics answers `500` and the server keeps serving.

mod api;
mod assets;
mod batch;
mod cache;
mod gate;
mod pages;
mod params;
mod routes;
mod state;

pub use batch::BatchStats;
pub use cache::DEFAULT_CACHE_BYTES;
pub use state::{State, StateError};

use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The longest request target (path and query) served; longer is a `414`.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// The longest search query or parameter value, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

/// An answer: status, content type and body; routes build these, the server sends them.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// `Cache-Control` for compiled-in assets (they change only with the binary).
    pub cacheable: bool,
    /// `X-Cache: hit` or `miss` for answers the server's cache could hold (see `cache`).
    pub x_cache: Option<&'static str>,
}

impl Reply {
    pub fn html(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            cacheable: false,
            x_cache: None,
        }
    }

    pub fn json(value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::json_bytes(body),
            Err(e) => Failure::internal(e.to_string()).into(),
        }
    }

    /// A `200` of JSON already serialized.
    pub fn json_bytes(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body,
            cacheable: false,
            x_cache: None,
        }
    }
}

/// A request that cannot be answered: the status and what to tell the client (as JSON:
/// `{"error": …, "suggestion": …}`).
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    #[serde(skip)]
    pub status: u16,
    #[serde(rename = "error")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Failure {
    pub fn bad(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            message: message.into(),
            suggestion: None,
        }
    }
}

impl From<crate::corpus::ids::UnknownId> for Failure {
    fn from(e: crate::corpus::ids::UnknownId) -> Self {
        Self {
            status: 404,
            message: e.to_string(),
            suggestion: e.suggestion,
        }
    }
}

impl From<crate::query::FilterError> for Failure {
    fn from(e: crate::query::FilterError) -> Self {
        use crate::query::FilterError::*;
        let suggestion = match &e {
            UnknownSource { suggestion, .. } | UnknownTag { suggestion, .. } => suggestion.clone(),
            _ => None,
        };
        Self {
            suggestion,
            ..Failure::bad(e.to_string())
        }
    }
}

impl From<crate::query::QueryError> for Failure {
    fn from(e: crate::query::QueryError) -> Self {
        use crate::query::QueryError::*;
        match e {
            UnknownId(e) => e.into(),
            Filter(e) => e.into(),
            e @ (NoSeed | SeedAndNot(_)) => Failure::bad(e.to_string()),
            e => Failure::internal(e.to_string()),
        }
    }
}

impl From<crate::index::StoreError> for Failure {
    fn from(e: crate::index::StoreError) -> Self {
        Failure::internal(e.to_string())
    }
}

impl From<Failure> for Reply {
    fn from(f: Failure) -> Self {
        Reply {
            status: f.status,
            ..Reply::json(&f)
        }
    }
}

/// A running server.
pub struct Server {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
    /// What `start` serves (none for a test's bare handler).
    state: Option<Arc<State>>,
}

impl Server {
    /// Where it listens (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The state it serves: its cache and batching figures, for the load bench.
    pub fn state(&self) -> Option<&State> {
        self.state.as_deref()
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops taking requests, lets those under way finish, and waits.
    pub fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Threads that take connections and requests (the work of a request runs on tokio's
/// blocking pool, so that a search waiting for the embedder holds no connection up).
pub fn default_workers() -> usize {
    crate::app::num_threads().max(2)
}

/// Starts serving `state` on `addr` with `workers` runtime threads.
pub fn start(state: State, addr: SocketAddr, workers: usize) -> Result<Server, ServeError> {
    let state = Arc::new(state);
    let served = Arc::clone(&state);
    let server = start_with(addr, workers, move |method: &str, url: &str| {
        routes::handle(&served, method, url)
    })?;
    Ok(Server {
        state: Some(state),
        ..server
    })
}

/// The server around any `handle` (the routes, or a test's handler).
fn start_with<H>(addr: SocketAddr, workers: usize, handle: H) -> Result<Server, ServeError>
where
    H: Fn(&str, &str) -> Reply + Send + Sync + 'static,
{
    let bind = |reason: String| ServeError::Bind {
        addr: addr.to_string(),
        reason,
    };
    // Bound here, before any thread starts, so that a taken port is an error of `start`.
    let listener = std::net::TcpListener::bind(addr).map_err(|e| bind(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| bind(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| bind(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .thread_name("serve")
        .enable_io()
        .build()
        .map_err(|e| bind(e.to_string()))?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(listener).map_err(|e| bind(e.to_string()))?
    };
    let handle = Arc::new(handle);
    let app =
        axum::Router::new().fallback(move |method, uri| answer(Arc::clone(&handle), method, uri));
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("serve".into())
        .spawn(move || {
            runtime.block_on(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        })
        .map_err(|e| bind(e.to_string()))?;
    Ok(Server {
        shutdown: Some(shutdown),
        thread: Some(thread),
        addr,
        state: None,
    })
}

/// Answers one request on the blocking pool; a panic in a handler becomes a `500`, and the
/// server goes on.
async fn answer<H>(
    handle: Arc<H>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response
where
    H: Fn(&str, &str) -> Reply + Send + Sync + 'static,
{
    let url = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    let reply = tokio::task::spawn_blocking(move || handle(method.as_str(), &url))
        .await
        .unwrap_or_else(|_| Failure::internal("the request failed inside the server").into());
    // (hyper sends no body for HEAD itself.)
    let mut response = axum::response::Response::new(axum::body::Body::from(reply.body));
    *response.status_mut() = axum::http::StatusCode::from_u16(reply.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in self::headers(reply.content_type, reply.cacheable) {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    if let Some(x) = reply.x_cache {
        headers.insert("X-Cache", axum::http::HeaderValue::from_static(x));
    }
    response
}

/// The headers of every reply: its type, and a policy that lets the page run only its own
/// compiled-in script and style (no inline script, no other origin).
fn headers(content_type: &'static str, cacheable: bool) -> Vec<(&'static str, &'static str)> {
    let mut h = vec![
        ("Content-Type", content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    ];
    h.push((
        "Cache-Control",
        if cacheable {
            "public, max-age=3600"
        } else {
            "no-store"
        },
    ));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler that panics on `/boom` is a `500` with a JSON error, and the server goes
    /// on answering, on every worker, however many times it panicked.
    #[test]
    fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
        let server = start_with("127.0.0.1:0".parse().unwrap(), 2, |_: &str, url: &str| {
            if url.starts_with("/boom") {
                panic!("a handler failed (this panic is the test's)");
            }
            Reply::json(&["fine"])
        })
        .unwrap();
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(10))
            .build();
        let url = |path: &str| format!("http://{}{path}", server.addr());
        for round in 0..8 {
            match agent.get(&url(&format!("/boom/{round}"))).call() {
                Err(ureq::Error::Status(500, r)) => {
                    assert_eq!(r.header("content-type"), Some("application/json"));
                    let body = r.into_string().unwrap();
                    assert!(body.starts_with("{\"error\":"), "{body}");
                }
                other => panic!("expected a 500, got {other:?}"),
            }
            let ok = agent.get(&url("/fine")).call().unwrap();
            assert_eq!(ok.status(), 200);
            assert_eq!(ok.into_string().unwrap(), "[\"fine\"]");
        }
        server.stop();
    }
}
