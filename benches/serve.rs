//! Load on `recommend serve`: N concurrent keep-alive clients on loopback for a fixed time
//! against `/api/similar` and `/api/search`, over the seed index with the real model.
//! Prints requests/s, p50, p99, max and errors per route.
//!
//! `cargo bench --bench serve -- [--clients 32] [--search-clients 8] [--seconds 10]`
//!
//! Bounded in time and in count (at most `MAX_REQUESTS` per route), and only ever aimed at
//! the server it starts itself on 127.0.0.1. Under `cargo test --all-targets` (no `--bench`
//! flag) it runs one second with two clients per route, to check it works.
//! The server and the clients share the machine's cores: the figures are for both at once.

#[path = "../tests/common/mod.rs"]
mod common;

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const MAX_REQUESTS: usize = 2_000_000;

struct Run {
    route: &'static str,
    clients: usize,
    seconds: f64,
    requests: usize,
    errors: usize,
    latencies_ms: Vec<f64>,
}

impl Run {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * p).round() as usize;
        self.latencies_ms[i]
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            self.route,
            self.clients,
            self.seconds,
            self.requests as f64 / self.seconds,
            self.percentile(0.50),
            self.percentile(0.99),
            self.latencies_ms.last().copied().unwrap_or(f64::NAN),
            self.errors
        )
    }
}

/// `clients` threads, each asking `paths` in turn from its own offset until `duration` ends.
fn load(
    addr: SocketAddr,
    route: &'static str,
    paths: &[String],
    clients: usize,
    duration: Duration,
) -> Run {
    let start = Instant::now();
    let deadline = start + duration;
    let per_client = MAX_REQUESTS / clients.max(1);
    let results: Vec<(Vec<f64>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(10))
                        .build();
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    let mut first_error = None;
                    let mut i = c * 7;
                    while Instant::now() < deadline && latencies.len() + errors < per_client {
                        let url = format!("http://{addr}{}", paths[i % paths.len()]);
                        i += 1;
                        let t = Instant::now();
                        let answer = match agent.get(&url).call() {
                            Ok(r) => r.into_string().map_err(|e| e.to_string()).and_then(|body| {
                                (body.starts_with("{\"") && body.ends_with('}'))
                                    .then_some(())
                                    .ok_or_else(|| format!("not JSON: {body:.80}"))
                            }),
                            Err(e) => Err(e.to_string()),
                        };
                        match answer {
                            Ok(()) => latencies.push(t.elapsed().as_secs_f64() * 1e3),
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    if let Some(e) = first_error {
                        eprintln!("{route}: client {c}: {errors} errors, the first: {e}");
                    }
                    (latencies, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut latencies_ms: Vec<f64> = results.iter().flat_map(|r| r.0.clone()).collect();
    latencies_ms.sort_by(f64::total_cmp);
    let errors = results.iter().map(|r| r.1).sum();
    Run {
        route,
        clients,
        seconds,
        requests: latencies_ms.len(),
        errors,
        latencies_ms,
    }
}

#[derive(Deserialize)]
struct Queries {
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Query {
    query: String,
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (clients, search_clients, seconds) = if bench {
        (
            arg("--clients", 32),
            arg("--search-clients", 8),
            arg("--seconds", 10),
        )
    } else {
        (2, 2, 1)
    };
    let dir = common::seed_index();
    let server = common::start(&dir, recommend::serve::default_workers());
    let addr = server.addr();

    let papers: Vec<serde_json::Value> = ureq::get(&format!("http://{addr}/api/papers"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let similar: Vec<String> = papers
        .iter()
        .map(|p| format!("/api/similar?k=10&id={}", encode(p["id"].as_str().unwrap())))
        .collect();
    let queries: Queries = serde_json::from_slice(
        &std::fs::read(recommend::eval::data_dir().join("queries.json")).unwrap(),
    )
    .unwrap();
    let search: Vec<String> = queries
        .queries
        .iter()
        .map(|q| format!("/api/search?k=10&q={}", encode(&q.query)))
        .collect();

    let duration = Duration::from_secs(seconds as u64);
    // A short warm-up so that lazily prepared state is not in the figures.
    load(addr, "warm-up", &similar, 2, Duration::from_millis(300));
    load(addr, "warm-up", &search, 2, Duration::from_millis(300));
    let runs = [
        load(addr, "/api/similar", &similar, clients, duration),
        load(addr, "/api/search", &search, search_clients, duration),
    ];
    if bench {
        // The same query without HTTP, one thread: what a request costs the library.
        let ix = recommend::index::Index::open(&dir).unwrap();
        let space = recommend::query::PaperSpace::new(&ix).unwrap();
        let ids: Vec<&str> = papers.iter().map(|p| p["id"].as_str().unwrap()).collect();
        let start = Instant::now();
        let mut calls = 0;
        while start.elapsed() < Duration::from_secs(2) {
            for id in &ids {
                let req = recommend::query::SimilarRequest::new(*id, 10);
                recommend::query::similar(&ix, &space, &req).unwrap();
                calls += 1;
            }
        }
        println!(
            "query::similar in-process, one thread: {:.0} µs per call ({calls} calls)",
            start.elapsed().as_secs_f64() * 1e6 / calls as f64
        );
    }
    println!("| route | clients | s | req/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in &runs {
        println!("{}", r.row());
    }
    server.stop();
    for r in &runs {
        assert_eq!(r.errors, 0, "{} had errors", r.route);
        assert!(r.requests > 0, "{} answered nothing", r.route);
    }
}
