//! Load on `recommend serve`: concurrent keep-alive clients on loopback against
//! `/api/similar` and `/api/search`, over the seed index with the real model.
//!
//! `cargo bench --bench serve -- [--clients 32] [--search-clients 8] [--seconds 10]`
//!
//! The requests are spread over every seed paper (alone, with a second seed, with a paper
//! to avoid, with `k` 5/10/20, a date, source and tag filter) and every query of
//! `tests/data/queries.json` (with `k` 5/10 and a date filter). Three passes per route:
//! - **no cache**: a server that keeps nothing (`--cache-mb 0`), `--seconds` long: every
//!   answer computed (every search embedded), what a stream of all-new requests costs;
//! - **cold**: a server with its answer cache, each distinct request asked once, shared
//!   out among the clients: every answer computed once and kept (a search whose text was
//!   asked before with another `k` or filter reuses the kept query vector);
//! - **steady**: the same requests again for `--seconds` on that server: answers from the
//!   cache.
//!
//! Prints requests/s, p50, p99, max, errors and cache hits per pass, the embedding batches
//! of the search passes, and the load average before each pass. Bounded in time and in
//! count (at most `MAX_REQUESTS` per pass), and only ever aimed at the servers it starts
//! itself on 127.0.0.1. Under `cargo test --all-targets` (no `--bench` flag) it asks a few
//! requests per route with two clients for one second, to check it works. The servers and
//! the clients share the machine's cores: the figures are for both at once.

#[path = "../tests/common/mod.rs"]
mod common;

use recommend::serve::{BatchStats, Server};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MAX_REQUESTS: usize = 2_000_000;

struct Run {
    route: &'static str,
    cache: &'static str,
    pass: &'static str,
    clients: usize,
    seconds: f64,
    requests: usize,
    errors: usize,
    hits: usize,
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
            "| {} | {} | {} | {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} |",
            self.route,
            self.cache,
            self.pass,
            self.clients,
            self.requests,
            self.seconds,
            self.requests as f64 / self.seconds,
            self.percentile(0.50),
            self.percentile(0.99),
            self.latencies_ms.last().copied().unwrap_or(f64::NAN),
            self.errors,
            self.hits,
        )
    }
}

/// How long a pass runs and which requests it asks.
#[derive(Clone, Copy)]
enum Pass {
    /// Every client cycles over the paths from its own offset until the time is up.
    For(Duration),
    /// Each path asked once, handed out in order to whichever client is free.
    EachOnce,
}

/// `clients` threads asking `paths` as `pass` says.
fn load(
    addr: SocketAddr,
    (route, cache, pass_name): (&'static str, &'static str, &'static str),
    paths: &[String],
    clients: usize,
    pass: Pass,
) -> Run {
    println!("{}", load_average());
    let start = Instant::now();
    let per_client = MAX_REQUESTS / clients.max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<(Vec<f64>, usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let next = &next;
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(10))
                        .build();
                    let mut latencies = Vec::new();
                    let (mut errors, mut hits) = (0, 0);
                    let mut first_error = None;
                    let mut i = c * 7;
                    loop {
                        let path = match pass {
                            Pass::For(d) => {
                                if start.elapsed() >= d || latencies.len() + errors >= per_client {
                                    break;
                                }
                                i += 1;
                                &paths[(i - 1) % paths.len()]
                            }
                            Pass::EachOnce => match paths.get(next.fetch_add(1, Ordering::Relaxed))
                            {
                                Some(p) => p,
                                None => break,
                            },
                        };
                        let url = format!("http://{addr}{path}");
                        let t = Instant::now();
                        let answer = match agent.get(&url).call() {
                            Ok(r) => {
                                let hit = r.header("x-cache") == Some("hit");
                                r.into_string().map_err(|e| e.to_string()).and_then(|body| {
                                    (body.starts_with("{\"") && body.ends_with('}'))
                                        .then_some(hit)
                                        .ok_or_else(|| format!("not JSON: {body:.80}"))
                                })
                            }
                            Err(e) => Err(format!("{path}: {e}")),
                        };
                        match answer {
                            Ok(hit) => {
                                latencies.push(t.elapsed().as_secs_f64() * 1e3);
                                hits += usize::from(hit);
                            }
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    if let Some(e) = first_error {
                        eprintln!("{route}: client {c}: {errors} errors, the first: {e}");
                    }
                    (latencies, errors, hits)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut latencies_ms: Vec<f64> = results.iter().flat_map(|r| r.0.clone()).collect();
    latencies_ms.sort_by(f64::total_cmp);
    Run {
        route,
        cache,
        pass: pass_name,
        clients,
        seconds,
        requests: latencies_ms.len(),
        errors: results.iter().map(|r| r.1).sum(),
        hits: results.iter().map(|r| r.2).sum(),
        latencies_ms,
    }
}

/// The machine's load average, as `uptime` shows it (empty where /proc has none).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average: {}", f.join(", "))
        })
        .unwrap_or_default()
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

/// The server's embedding batches since `before`: forward passes, queries, the largest.
fn batches(server: &Server, before: BatchStats) -> String {
    let now = server.state().unwrap().searcher().unwrap().stats();
    let (n, q) = (now.batches - before.batches, now.queries - before.queries);
    format!(
        "{n} forward passes for {q} queries ({:.1} a pass; the largest so far {})",
        q as f64 / n.max(1) as f64,
        now.largest
    )
}

fn search_stats(server: &Server) -> BatchStats {
    server.state().unwrap().searcher().unwrap().stats()
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
    let duration = Duration::from_secs(seconds as u64);
    let dir = common::seed_index();
    let workers = recommend::serve::default_workers();

    let papers: Vec<serde_json::Value> = {
        let server = common::start_with_cache(&dir, workers, 0);
        let rows = ureq::get(&format!("http://{}/api/papers", server.addr()))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        server.stop();
        rows
    };
    let ids: Vec<&str> = papers.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let mut similar: Vec<String> = Vec::new();
    let variants: [&dyn Fn(usize) -> Option<String>; 8] = [
        &|_| Some("k=10".into()),
        &|_| Some("k=5".into()),
        &|_| Some("k=20".into()),
        &|_| Some("k=10&since=2024-01".into()),
        &|i| {
            let source = papers[i]["source"].as_str()?;
            Some(format!("k=10&source={}", encode(source)))
        },
        &|i| {
            let tag = papers[i]["tags"].as_array()?.first()?.as_str()?;
            Some(format!("k=10&tag={}", encode(tag)))
        },
        &|i| Some(format!("k=10&id={}", encode(ids[(i + 1) % ids.len()]))),
        &|i| Some(format!("k=10&not={}", encode(ids[(i + 2) % ids.len()]))),
    ];
    for variant in variants {
        for (i, id) in ids.iter().enumerate() {
            if let Some(rest) = variant(i) {
                similar.push(format!("/api/similar?id={}&{rest}", encode(id)));
            }
        }
    }
    let queries: Queries = serde_json::from_slice(
        &std::fs::read(recommend::eval::data_dir().join("queries.json")).unwrap(),
    )
    .unwrap();
    let mut search: Vec<String> = Vec::new();
    for rest in ["k=10", "k=5", "k=10&since=2024-01"] {
        for q in &queries.queries {
            search.push(format!("/api/search?q={}&{rest}", encode(&q.query)));
        }
    }
    if !bench {
        similar.truncate(6);
        search.truncate(4);
    }
    println!(
        "{} distinct similar requests, {} distinct search requests ({} texts)",
        similar.len(),
        search.len(),
        queries.queries.len().min(search.len())
    );
    let routes = [
        ("/api/similar", &similar[..], clients),
        ("/api/search", &search[..], search_clients),
    ];
    let mut runs = Vec::new();
    let mut notes = Vec::new();

    if bench {
        // Every request computed: a server that keeps nothing.
        let server = common::start_with_cache(&dir, workers, 0);
        let addr = server.addr();
        let none = |route| (route, "none", "no cache");
        // Warm-up on requests of the same kind (nothing is kept).
        for (_, paths, _) in routes {
            load(
                addr,
                none("warm-up"),
                paths,
                2,
                Pass::For(Duration::from_millis(300)),
            );
        }
        for (route, paths, n) in routes {
            let before = search_stats(&server);
            runs.push(load(addr, none(route), paths, n, Pass::For(duration)));
            if route == "/api/search" {
                notes.push(format!("search, no cache: {}", batches(&server, before)));
            }
        }
        server.stop();
    }

    let server = common::start(&dir, workers);
    let addr = server.addr();
    let on = |route, pass| (route, "on", pass);
    // Warm-up on requests outside the measured set (`k=3`, texts of its own), so that the
    // cold pass finds none of its answers or query vectors kept.
    let warm_similar: Vec<String> = similar
        .iter()
        .take(20)
        .map(|p| p.replace("k=10", "k=3"))
        .collect();
    let warm_search: Vec<String> = (0..20)
        .map(|i| format!("/api/search?q=warm+up+{i}&k=3"))
        .collect();
    load(addr, on("warm-up", ""), &warm_similar, 2, Pass::EachOnce);
    load(addr, on("warm-up", ""), &warm_search, 2, Pass::EachOnce);
    for (route, paths, n) in routes {
        let before = search_stats(&server);
        runs.push(load(addr, on(route, "cold"), paths, n, Pass::EachOnce));
        if route == "/api/search" {
            notes.push(format!("search, cold: {}", batches(&server, before)));
        }
        runs.push(load(
            addr,
            on(route, "steady"),
            paths,
            n,
            Pass::For(duration),
        ));
    }
    let (entries, bytes) = server.state().unwrap().answers.usage();
    notes.push(format!(
        "answer cache: {entries} answers, {:.1} MiB",
        bytes as f64 / (1 << 20) as f64
    ));

    if bench {
        // The same query without HTTP, one thread: what a request costs the library.
        let ix = recommend::index::Index::open(&dir).unwrap();
        let space = recommend::query::PaperSpace::new(&ix)
            .unwrap()
            .keep_passages(&ix, recommend::query::KEEP_PASSAGES_BYTES);
        let start = Instant::now();
        let mut calls = 0;
        while start.elapsed() < Duration::from_secs(2) {
            for id in &ids {
                let req = recommend::query::SimilarRequest::new(*id, 10);
                recommend::query::similar(&ix, &space, &req).unwrap();
                calls += 1;
            }
        }
        notes.push(format!(
            "query::similar in-process, one thread: {:.0} µs per call ({calls} calls)",
            start.elapsed().as_secs_f64() * 1e6 / calls as f64
        ));
    }
    println!("| route | cache | pass | clients | requests | s | req/s | p50 ms | p99 ms | max ms | errors | hits |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        println!("{}", r.row());
    }
    for n in &notes {
        println!("{n}");
    }
    server.stop();
    for r in &runs {
        assert_eq!(r.errors, 0, "{} {} had errors", r.route, r.pass);
        assert!(r.requests > 0, "{} {} answered nothing", r.route, r.pass);
        match r.pass {
            // Each distinct request once: every one computed.
            "cold" => assert_eq!(r.hits, 0, "{} cold: answers were kept before", r.route),
            "steady" => assert_eq!(r.hits, r.requests, "{} steady: not all kept", r.route),
            _ => assert_eq!(r.hits, 0, "{}: a server without cache hit", r.route),
        }
    }
}
