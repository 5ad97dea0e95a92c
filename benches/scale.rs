//! Scale benchmark: synthetic indexes of 10k, 100k and 1M papers (10 passages each),
//! written through the library's own writer (`recommend bench --synthetic N`), then queried
//! by separate `recommend` processes as a user would.
//!
//! Per size: build time and peak memory of the writing process, disk size, index open time,
//! `similar` and `search` process wall time p50/p95 and peak memory (search both with a
//! fixed query vector and with the model; `similar` also warm, after the files it reads
//! were read once, where they fit in memory), and recall@10 of the approximate first stages
//! against exact scans (for `similar`, its whole answer against `similar --exact`).
//! `cargo bench --bench scale` runs 10k, 100k and 1M (about 40 GB of
//! disk at 1M: `SCALE_DIR` puts the indexes elsewhere, `SCALE_SIZES=10000,100000` picks
//! sizes, `SCALE_KEEP=1` keeps the indexes and reuses them on the next run, `SCALE_RECALL=Q`
//! sets the recall queries (three times `SCALE_RUNS`, at least 60, by default), `SCALE_COLD=1`
//! adds `similar` with the page cache emptied before each run, as root); the results go
//! to stdout as a Markdown table and to `SCALE_DIR/scale.json`. Under `cargo test` it runs
//! one 5,000-paper index (2 passages each, `SCALE_PASSAGES`) with few repetitions, to check
//! that the benchmark works.

use recommend::index::{self, synthetic, Index, Scan};
use recommend::query::{self, PaperSpace, SimilarRequest};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Debug, Default, Serialize)]
struct Row {
    papers: usize,
    passages: usize,
    build_s: f64,
    build_peak_mb: f64,
    disk_gb: f64,
    open_ms: f64,
    similar_p50_ms: f64,
    similar_p95_ms: f64,
    similar_peak_mb: f64,
    /// `similar` with the page cache emptied before each run (`SCALE_COLD=1`, as root):
    /// what a query costs where the index is not in memory. 0 where not measured.
    similar_cold_p50_ms: f64,
    similar_cold_p95_ms: f64,
    similar_cold_peak_mb: f64,
    /// `similar` with its pages in the page cache (`warm_state` says how): what a query
    /// costs beyond its reads.
    similar_warm_p50_ms: f64,
    similar_warm_p95_ms: f64,
    similar_warm_peak_mb: f64,
    /// "files": fresh seeds after the files `similar` reads were read once front to back
    /// (`similar_files`), as on a machine that has answered many queries; "seed": where
    /// those files do not fit in the memory available, each fresh seed run twice and the
    /// second run timed.
    warm_state: String,
    /// Gigabytes the files `similar` reads hold.
    similar_files_gb: f64,
    search_vector_p50_ms: f64,
    search_vector_p95_ms: f64,
    search_vector_peak_mb: f64,
    search_model_p50_ms: f64,
    search_model_p95_ms: f64,
    search_model_peak_mb: f64,
    /// In process: one first stage of `similar` (the paper lists' `FIRST_STAGE`
    /// candidates, re-scored exactly) plus the ten result rows' metadata.
    first_stage_p50_ms: f64,
    /// Top 10 of `similar` (default, from the paper lists) against `similar --exact`.
    similar_recall10: f64,
    search_recall10: f64,
    first_stage_candidates: usize,
    paper_probes: usize,
    paper_lists: usize,
    passage_probes: usize,
    passage_lists: usize,
}

/// Wall time and peak resident memory of one child process.
struct Run {
    wall_ms: f64,
    peak_mb: f64,
    stdout: Vec<u8>,
}

/// `recommend ARGS` as a separate process, started by the launcher (see [`Launcher`]).
fn run(args: &[&str]) -> Run {
    let (status, run, stderr) = Launcher::get().run(args);
    assert!(
        status == 0,
        "{args:?}: {}",
        String::from_utf8_lossy(&stderr)
    );
    run
}

/// A small process of this bench's own (the bench binary started again with
/// `SCALE_LAUNCHER=1`, before the bench holds anything) that starts every measured
/// `recommend` process and reports its wall time and peak memory.
///
/// Why not start them here: a child's peak RSS as `wait4` reports it is at least the peak
/// RSS of the process it was started from. Linux keeps the larger of the two across
/// `exec` (`setmax_mm_hiwater_rss` of the old address space, which `posix_spawn` shares
/// with this process), so once this process had read a few hundred megabytes (a recall
/// pass's exact scans), every later child "peaked" at that much: the 100,000-paper
/// `similar` and `search` showed 197 MB each, against 49–54 MB measured with
/// `/usr/bin/time`. The launcher stays a few megabytes all along.
struct Launcher {
    /// Held so the launcher is not reaped early; it ends when this process does (its
    /// requests pipe closes).
    _child: std::process::Child,
    requests: std::process::ChildStdin,
    replies: std::io::BufReader<std::process::ChildStdout>,
}

static LAUNCHER: std::sync::OnceLock<std::sync::Mutex<Launcher>> = std::sync::OnceLock::new();

impl Launcher {
    /// Starts the launcher; called first thing in `main`.
    fn start() {
        let mut child = Command::new(std::env::current_exe().expect("bench binary"))
            .env("SCALE_LAUNCHER", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("launcher starts");
        let launcher = Launcher {
            requests: child.stdin.take().expect("piped"),
            replies: std::io::BufReader::new(child.stdout.take().expect("piped")),
            _child: child,
        };
        assert!(LAUNCHER.set(std::sync::Mutex::new(launcher)).is_ok());
    }

    fn get() -> std::sync::MutexGuard<'static, Launcher> {
        LAUNCHER
            .get()
            .expect("Launcher::start")
            .lock()
            .expect("launcher")
    }

    /// One request (the arguments, tab-separated, on a line) and its reply: a line
    /// `exit-code wall-ms peak-mb stdout-bytes stderr-bytes`, then those bytes.
    fn run(&mut self, args: &[&str]) -> (i32, Run, Vec<u8>) {
        use std::io::{BufRead, Read, Write};
        assert!(args.iter().all(|a| !a.contains(['\t', '\n'])), "{args:?}");
        writeln!(self.requests, "{}", args.join("\t")).expect("launcher request");
        self.requests.flush().expect("launcher request");
        let mut line = String::new();
        self.replies.read_line(&mut line).expect("launcher reply");
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 5, "launcher reply {line:?}");
        let mut bytes = |n: &str| {
            let mut b = vec![0u8; n.parse().expect("length")];
            self.replies.read_exact(&mut b).expect("launcher reply");
            b
        };
        let (stdout, stderr) = (bytes(f[3]), bytes(f[4]));
        let run = Run {
            wall_ms: f[1].parse().expect("wall"),
            peak_mb: f[2].parse().expect("peak"),
            stdout,
        };
        (f[0].parse().expect("exit code"), run, stderr)
    }

    /// The launcher's side: runs each requested `recommend` and replies.
    fn serve() {
        use std::io::{BufRead, Write};
        let mut out = std::io::stdout().lock();
        for line in std::io::stdin().lock().lines() {
            let line = line.expect("request");
            let args: Vec<&str> = line.split('\t').collect();
            let start = Instant::now();
            let child = Command::new(env!("CARGO_BIN_EXE_recommend"))
                .args(&args)
                .env_remove("RECOMMEND_MODEL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("recommend starts");
            let pid = child.id() as libc::pid_t;
            let (output, peak_mb) = child.wait_with_output_and_usage(pid);
            let wall_ms = start.elapsed().as_secs_f64() * 1e3;
            writeln!(
                out,
                "{} {wall_ms} {peak_mb} {} {}",
                output.status.code().unwrap_or(-1),
                output.stdout.len(),
                output.stderr.len()
            )
            .expect("reply");
            out.write_all(&output.stdout).expect("reply");
            out.write_all(&output.stderr).expect("reply");
            out.flush().expect("reply");
        }
    }
}

trait WaitWithUsage {
    fn wait_with_output_and_usage(self, pid: libc::pid_t) -> (std::process::Output, f64);
}

impl WaitWithUsage for std::process::Child {
    /// Reads the child's output, then reaps it with `wait4` for its peak RSS.
    fn wait_with_output_and_usage(mut self, pid: libc::pid_t) -> (std::process::Output, f64) {
        use std::io::Read;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut out_pipe = self.stdout.take().expect("piped");
        let mut err_pipe = self.stderr.take().expect("piped");
        let err_thread = std::thread::spawn(move || {
            let _ = err_pipe.read_to_end(&mut stderr);
            stderr
        });
        let _ = out_pipe.read_to_end(&mut stdout);
        let stderr = err_thread.join().expect("stderr reader");
        let mut status = 0;
        // SAFETY: plain libc call on our own child, with valid out-pointers.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(rc, pid, "wait4");
        use std::os::unix::process::ExitStatusExt;
        let output = std::process::Output {
            status: std::process::ExitStatus::from_raw(status),
            stdout,
            stderr,
        };
        (output, usage.ru_maxrss as f64 / 1024.0)
    }
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(0.0)
}

/// p50, p95 of wall time and the largest peak memory over `runs`.
fn summarize(runs: &[Run]) -> (f64, f64, f64) {
    let mut wall: Vec<f64> = runs.iter().map(|r| r.wall_ms).collect();
    let peak = runs.iter().map(|r| r.peak_mb).fold(0.0, f64::max);
    (
        percentile(&mut wall, 0.5),
        percentile(&mut wall, 0.95),
        peak,
    )
}

/// Empties the page cache (Linux, as root), then reads the `recommend` binary back in:
/// the cold runs measure the index's reads, not the program's own.
fn drop_page_cache() {
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "1")
        .expect("SCALE_COLD=1 empties the page cache: run as root on Linux");
    let _ = std::fs::read(env!("CARGO_BIN_EXE_recommend"));
}

/// The files of the index `dir` that `similar` reads from: all but the passage lists and
/// embedding-cache keys (`search` and `index` read those) and the papers' full texts
/// (`show`).
fn similar_files(dir: &Path) -> Vec<PathBuf> {
    let current = std::fs::read_to_string(dir.join("CURRENT")).expect("CURRENT");
    walk(&dir.join(current.trim()))
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !(name.starts_with("passages.ivf.")
                || name == "passages.keys"
                || name.starts_with("papers.text"))
        })
        .collect()
}

/// Memory the system could give the page cache now (`MemAvailable`), in bytes.
fn memory_available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Reads `files` once, front to back, into the page cache, if they fit in four fifths of
/// the memory available; whether they did.
fn warm(files: &[PathBuf]) -> bool {
    use std::io::Read;
    let bytes: u64 = files
        .iter()
        .map(|p| p.metadata().map_or(0, |m| m.len()))
        .sum();
    if bytes > memory_available() / 5 * 4 {
        return false;
    }
    let mut buf = vec![0u8; 8 << 20];
    for p in files {
        let mut f = std::fs::File::open(p).expect("index file");
        while f.read(&mut buf).expect("read") > 0 {}
    }
    true
}

fn dir_bytes(dir: &Path) -> u64 {
    walk(dir)
        .iter()
        .map(|p| p.metadata().map_or(0, |m| m.len()))
        .sum()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Recall@10 of the approximate first stages against exact scans, over `queries` papers.
fn recall(ix: &Index, queries: usize) -> (f64, f64) {
    let n = ix.paper_count();
    let space = PaperSpace::new(ix).expect("paper space");
    let (mut sim_found, mut sim_total, mut search_found, mut search_total) = (0, 0, 0, 0);
    for s in 0..queries {
        let q = (s * 7919 + 13) % n;
        let top = |exact: bool| -> Vec<String> {
            let req = SimilarRequest {
                exact,
                ..SimilarRequest::new(synthetic::paper_id(q), 10)
            };
            let found = query::similar(ix, &space, &req).expect("similar");
            found.results.into_iter().map(|r| r.id).collect()
        };
        let (exact, approx) = (top(true), top(false));
        sim_total += exact.len();
        sim_found += approx.iter().filter(|j| exact.contains(j)).count();
        // A query vector near a passage, not equal to it: the passage plus noise.
        let mut v = ix.passage_vector(ix.passages_of(q).start).to_vec();
        for (i, x) in v.iter_mut().enumerate() {
            *x += 0.03 * (((i * 31 + s * 17) % 13) as f32 - 6.0) / 6.0;
        }
        recommend::embed::pool::normalize(&mut v);
        let exact = ix.nearest_passages(&v, 10, Scan::Exact).expect("scan");
        let approx = ix
            .nearest_passages(&v, 10, Scan::Approximate)
            .expect("lists");
        search_total += exact.len();
        search_found += approx
            .iter()
            .filter(|h| exact.iter().any(|e| e.0 == h.0))
            .count();
    }
    (
        sim_found as f64 / sim_total.max(1) as f64,
        search_found as f64 / search_total.max(1) as f64,
    )
}

fn measure(root: &Path, n: usize, per: usize, repeats: usize, keep: bool) -> Row {
    let dir = root.join(format!("{n}"));
    let dir_s = dir.to_str().expect("UTF-8 path").to_string();
    let mut row = Row {
        papers: n,
        passages: n * per,
        ..Default::default()
    };
    if !(keep && dir.join("CURRENT").exists()) {
        let _ = std::fs::remove_dir_all(&dir);
        let papers = n.to_string();
        let per = per.to_string();
        let build = run(&[
            "--index",
            &dir_s,
            "--json",
            "--quiet",
            "bench",
            "--synthetic",
            &papers,
            "--passages-per-paper",
            &per,
        ]);
        row.build_s = build.wall_ms / 1e3;
        row.build_peak_mb = build.peak_mb;
        eprintln!(
            "{n}: built in {:.1} s, peak {:.0} MB",
            row.build_s, row.build_peak_mb
        );
    }
    row.disk_gb = dir_bytes(&dir) as f64 / 1e9;

    let mut open = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let ix = Index::open(&dir).expect("opens");
        open.push(t.elapsed().as_secs_f64() * 1e3);
        drop(ix);
    }
    row.open_ms = percentile(&mut open, 0.5);
    let ix = Index::open(&dir).expect("opens");
    // Separate processes, as a user runs them (first, while this process holds little);
    // the first of each kind warms the page cache.
    let similar: Vec<Run> = (0..=repeats)
        .map(|i| {
            let id = synthetic::paper_id((i * 104_729 + 7) % n);
            run(&["--index", &dir_s, "similar", "--id", &id, "--json"])
        })
        .skip(1)
        .collect();
    for r in &similar {
        let out: serde_json::Value = serde_json::from_slice(&r.stdout).expect("JSON");
        assert_eq!(out["results"].as_array().map(Vec::len), Some(10), "{out}");
    }
    (row.similar_p50_ms, row.similar_p95_ms, row.similar_peak_mb) = summarize(&similar);
    if std::env::var("SCALE_COLD").is_ok_and(|v| v == "1") {
        let cold: Vec<Run> = (0..repeats.max(1))
            .map(|i| {
                let id = synthetic::paper_id((i * 15_485_863 + 3) % n);
                drop_page_cache();
                run(&["--index", &dir_s, "similar", "--id", &id, "--json"])
            })
            .collect();
        (
            row.similar_cold_p50_ms,
            row.similar_cold_p95_ms,
            row.similar_cold_peak_mb,
        ) = summarize(&cold);
    }

    // Warm: the files `similar` reads, read through once, then fresh seeds.
    let files = similar_files(&dir);
    row.similar_files_gb = files
        .iter()
        .map(|p| p.metadata().map_or(0, |m| m.len()))
        .sum::<u64>() as f64
        / 1e9;
    let fits = warm(&files);
    row.warm_state = if fits { "files" } else { "seed" }.into();
    let runs: Vec<Run> = (0..repeats.max(1))
        .map(|i| {
            let id = synthetic::paper_id((i * 7_368_787 + 5) % n);
            let args = ["--index", &dir_s, "similar", "--id", &id, "--json"];
            if !fits {
                run(&args);
            }
            run(&args)
        })
        .collect();
    (
        row.similar_warm_p50_ms,
        row.similar_warm_p95_ms,
        row.similar_warm_peak_mb,
    ) = summarize(&runs);

    let vector_file = dir.join("query-vector.json");
    let searches: Vec<Run> = (0..=repeats)
        .map(|i| {
            let q = (i * 7_919 + 3) % n;
            let v = ix.passage_vector(ix.passages_of(q).start);
            std::fs::write(&vector_file, serde_json::to_vec(&*v).expect("JSON")).expect("write");
            let path = vector_file.to_str().expect("UTF-8 path");
            run(&["--index", &dir_s, "search", "--vector", path, "--json"])
        })
        .skip(1)
        .collect();
    let _ = std::fs::remove_file(&vector_file);
    (
        row.search_vector_p50_ms,
        row.search_vector_p95_ms,
        row.search_vector_peak_mb,
    ) = summarize(&searches);

    let model_runs = (repeats / 3).max(1);
    let texts = [
        "retrieval augmented generation for question answering",
        "환각을 줄이는 디코딩 방법",
        "efficient attention for long documents",
    ];
    let searches: Vec<Run> = (0..=model_runs)
        .map(|i| {
            run(&[
                "--index",
                &dir_s,
                "search",
                texts[i % texts.len()],
                "--json",
            ])
        })
        .skip(1)
        .collect();
    (
        row.search_model_p50_ms,
        row.search_model_p95_ms,
        row.search_model_peak_mb,
    ) = summarize(&searches);

    // In process, after the processes: a child's peak RSS (from `wait4`) also counts what
    // it shared with this process when forked, so nothing large is read before.
    row.first_stage_candidates = query::FIRST_STAGE;
    let center = ix.center();
    let mut stage: Vec<f64> = (0..50)
        .map(|i| {
            let q = (i * 7_919 + 11) % n;
            let t = Instant::now();
            let qc = center.centered(ix.paper_vector(q));
            let hits = ix
                .nearest_papers(&qc, query::FIRST_STAGE, Scan::Approximate, &|_| true)
                .expect("paper lists");
            for h in hits.iter().take(10) {
                std::hint::black_box(ix.paper_meta(h.0).expect("meta"));
            }
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    row.first_stage_p50_ms = percentile(&mut stage, 0.5);
    let lists = ix.lists(index::Lists::Passages).expect("passage lists");
    (row.passage_lists, row.passage_probes) = (lists.lists(), lists.default_probes());
    let lists = ix.lists(index::Lists::Papers).expect("paper lists");
    (row.paper_lists, row.paper_probes) = (lists.lists(), lists.default_probes());

    // What the processes measured, before recall: at a million papers each exact answer
    // reads every passage vector (15 GB), so recall takes longest by far.
    eprintln!("{n}: {}", serde_json::to_string(&row).expect("JSON"));
    let recall_queries = std::env::var("SCALE_RECALL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(repeats.max(20) * 3);
    (row.similar_recall10, row.search_recall10) = recall(&ix, recall_queries);
    drop(ix);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    row
}

fn main() {
    if std::env::var("SCALE_LAUNCHER").is_ok_and(|v| v == "1") {
        return Launcher::serve();
    }
    Launcher::start();
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = std::env::var("SCALE_SIZES")
        .unwrap_or_else(|_| {
            if bench {
                "10000,100000,1000000".into()
            } else {
                // The smallest index with paper lists (see `ann::EXACT_BELOW`).
                "5000".into()
            }
        })
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let scratch = tempfile::tempdir().expect("temp dir");
    let root = std::env::var("SCALE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| scratch.path().to_path_buf());
    std::fs::create_dir_all(&root).expect("SCALE_DIR");
    let keep = std::env::var("SCALE_KEEP").is_ok_and(|v| v == "1");
    let repeats = std::env::var("SCALE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 30 } else { 3 });
    let per = std::env::var("SCALE_PASSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 10 } else { 2 });
    let mut rows = Vec::new();
    for n in sizes {
        let row = measure(&root, n, per, repeats, keep);
        eprintln!("{}", serde_json::to_string(&row).expect("JSON"));
        rows.push(row);
    }
    println!(
        "| papers | passages | build | build peak | disk | open | similar p50 / p95 | similar peak | similar cold p50 / p95 | similar cold peak | similar warm p50 / p95 | similar warm peak | warm | similar's files | search (vector) p50 / p95 | search (vector) peak | search (model) p50 / p95 | search (model) peak | first stage p50 | paper lists / probes | similar recall@10 | search recall@10 |"
    );
    println!(
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &rows {
        println!(
            "| {} | {} | {:.1} s | {:.0} MB | {:.2} GB | {:.2} ms | {:.0} / {:.0} ms | {:.0} MB | {:.0} / {:.0} ms | {:.0} MB | {:.0} / {:.0} ms | {:.0} MB | {} | {:.1} GB | {:.0} / {:.0} ms | {:.0} MB | {:.0} / {:.0} ms | {:.0} MB | {:.2} ms | {} / {} | {:.3} | {:.3} |",
            r.papers,
            r.passages,
            r.build_s,
            r.build_peak_mb,
            r.disk_gb,
            r.open_ms,
            r.similar_p50_ms,
            r.similar_p95_ms,
            r.similar_peak_mb,
            r.similar_cold_p50_ms,
            r.similar_cold_p95_ms,
            r.similar_cold_peak_mb,
            r.similar_warm_p50_ms,
            r.similar_warm_p95_ms,
            r.similar_warm_peak_mb,
            r.warm_state,
            r.similar_files_gb,
            r.search_vector_p50_ms,
            r.search_vector_p95_ms,
            r.search_vector_peak_mb,
            r.search_model_p50_ms,
            r.search_model_p95_ms,
            r.search_model_peak_mb,
            r.first_stage_p50_ms,
            r.paper_lists,
            r.paper_probes,
            r.similar_recall10,
            r.search_recall10
        );
    }
    let json = serde_json::to_string_pretty(&rows).expect("JSON");
    let _ = std::fs::write(root.join("scale.json"), json);
    for r in &rows {
        assert!(r.similar_recall10 > 0.9 && r.search_recall10 > 0.9, "{r:?}");
    }
}
