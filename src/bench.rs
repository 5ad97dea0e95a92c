//! `recommend bench`: the figures users choose an embedding tool by, measured on this machine.
//!
//! One run measures model load, embedding throughput (tokens/s, passages/s, padding
//! fraction), a cold index build and a warm re-index into a scratch directory, and the
//! in-process latency of `similar` and `search` (p50/p95). Process wall times of the CLI
//! (model load included) are what BENCHMARKS.md reports beside these.

use crate::embed::{self, EmbedOptions, EmbedStats, Embedder, Role};
use crate::index::{self, Index, IndexSettings};
use crate::query::{self, PaperSpace, SearchRequest, SimilarRequest};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct BenchConfig {
    pub model: Option<String>,
    pub options: EmbedOptions,
    pub threads: usize,
    pub paths: Vec<PathBuf>,
    /// Embed these lines instead of the passages of `paths` (index and queries skipped).
    pub texts: Option<PathBuf>,
    pub queries: usize,
}

#[derive(Debug, Serialize, Default)]
pub struct BenchReport {
    pub engine: String,
    pub model: String,
    pub device: String,
    /// The kernel path that ran the encoder (`avx2+fma`, `avx512+vnni`, `portable`, `candle`).
    pub kernels: String,
    pub precision: String,
    pub pooling: String,
    pub threads: usize,
    pub batch_tokens: usize,
    pub load_s: f64,
    pub texts: usize,
    pub tokens: usize,
    pub padding_fraction: f64,
    pub embed_s: f64,
    /// CPU time (user + system, all threads) spent while embedding (Linux only): on a busy
    /// machine `tokens / embed_cpu_s` still compares kernels where wall time cannot.
    pub embed_cpu_s: Option<f64>,
    pub texts_per_s: f64,
    pub tokens_per_s: f64,
    pub index_cold_s: Option<f64>,
    pub index_warm_s: Option<f64>,
    pub similar_p50_ms: Option<f64>,
    pub similar_p95_ms: Option<f64>,
    pub search_p50_ms: Option<f64>,
    pub search_p95_ms: Option<f64>,
    pub peak_rss_mb: Option<f64>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(0.0)
}

/// CPU time of this process so far, user + system, from `/proc/self/stat` (Linux only).
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports clock ticks of 1/100 s (USER_HZ) on every architecture it runs on.
    Some(ticks / 100.0)
}

/// Peak resident memory of this process, from the kernel's high-water mark (Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn fill_embedding(r: &mut BenchReport, s: &EmbedStats) {
    r.texts = s.texts;
    r.tokens = s.tokens;
    r.padding_fraction = if s.padded_tokens == 0 {
        0.0
    } else {
        1.0 - s.tokens as f64 / s.padded_tokens as f64
    };
    r.embed_s = secs(s.elapsed);
    r.texts_per_s = s.texts as f64 / r.embed_s.max(1e-9);
    r.tokens_per_s = s.tokens as f64 / r.embed_s.max(1e-9);
}

pub fn run(cfg: &BenchConfig) -> Result<BenchReport> {
    let files = embed::source::resolve(cfg.model.as_deref())?;
    let embedder = Embedder::load(&files, cfg.options)?;
    let mut r = BenchReport {
        engine: "recommend".into(),
        model: files.name.clone(),
        device: format!("{:?}", cfg.options.device).to_lowercase(),
        kernels: embedder.backend().to_string(),
        precision: cfg.options.precision.to_string(),
        pooling: cfg.options.pooling.to_string(),
        threads: cfg.threads,
        batch_tokens: cfg.options.batch_tokens,
        load_s: secs(embedder.load_time),
        ..Default::default()
    };

    if let Some(path) = &cfg.texts {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let ids = embedder.tokenize(&lines, Role::Passage)?;
        let cpu = process_cpu_s();
        let (_, stats) = embedder.embed_ids(&ids, &mut |_| {})?;
        r.embed_cpu_s = cpu.zip(process_cpu_s()).map(|(a, b)| b - a);
        fill_embedding(&mut r, &stats);
        r.peak_rss_mb = peak_rss_mb();
        return Ok(r);
    }

    // Cold build into a scratch directory: every passage is embedded once, which is also
    // the throughput measurement.
    let scratch = tempfile::tempdir()?;
    let build = || {
        index::build(
            scratch.path(),
            &cfg.paths,
            &files,
            cfg.options,
            IndexSettings::default(),
            &mut index::Silent,
        )
    };
    let cold = build()?;
    fill_embedding(&mut r, &cold.embed);
    r.index_cold_s = Some(secs(cold.elapsed));
    let warm = build()?;
    r.index_warm_s = Some(secs(warm.elapsed));

    let ix = Index::open(scratch.path())?;
    let n = ix.paper_count();
    let mut similar_ms = Vec::new();
    for i in 0..cfg.queries.max(1) {
        let t = Instant::now();
        // What a `similar` process does after reading the index: prepare scores, rank.
        let space = PaperSpace::new(&ix)?;
        let req = SimilarRequest::new(ix.paper_meta((i * 7919) % n)?.id, 10);
        let out = query::similar(&ix, &space, &req)?;
        std::hint::black_box(out);
        similar_ms.push(secs(t.elapsed()) * 1e3);
    }
    let space = PaperSpace::new(&ix)?;
    let mut search_ms = Vec::new();
    let queries = [
        "환각을 줄이는 디코딩 방법",
        "instruction tuning data generation",
        "검색 증강 생성에서 검색 결과를 언제 사용할지",
        "vision language pretraining",
    ];
    for i in 0..cfg.queries.max(1) {
        let t = Instant::now();
        let req = SearchRequest::new(queries[i % queries.len()], 10);
        let out = query::search(&ix, &space, &embedder, &req)?;
        std::hint::black_box(out);
        search_ms.push(secs(t.elapsed()) * 1e3);
    }
    r.similar_p50_ms = Some(percentile(&mut similar_ms, 0.5));
    r.similar_p95_ms = Some(percentile(&mut similar_ms, 0.95));
    r.search_p50_ms = Some(percentile(&mut search_ms, 0.5));
    r.search_p95_ms = Some(percentile(&mut search_ms, 0.95));
    r.peak_rss_mb = peak_rss_mb();
    Ok(r)
}

impl BenchReport {
    /// A human-readable summary.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "model {} on {} ({}, {} pooling), {} threads, batches of {} tokens",
            self.model, self.device, self.precision, self.pooling, self.threads, self.batch_tokens
        );
        let _ = writeln!(s, "kernels: {}", self.kernels);
        let _ = writeln!(s, "model load        {:>10.3} s", self.load_s);
        let _ = writeln!(
            s,
            "embedding         {:>10.2} s  {} passages, {} tokens, padding {:.1}%",
            self.embed_s,
            self.texts,
            self.tokens,
            self.padding_fraction * 100.0
        );
        let _ = writeln!(
            s,
            "throughput        {:>10.1} tokens/s  {:.2} passages/s",
            self.tokens_per_s, self.texts_per_s
        );
        if let Some(cpu) = self.embed_cpu_s.filter(|&c| c > 0.0) {
            let _ = writeln!(
                s,
                "cpu time          {:>10.2} s  {:.1} tokens per cpu-second",
                cpu,
                self.tokens as f64 / cpu
            );
        }
        let opt = |s: &mut String, name: &str, v: Option<f64>, unit: &str| {
            if let Some(v) = v {
                let _ = writeln!(s, "{name:<18}{v:>10.3} {unit}");
            }
        };
        opt(&mut s, "index cold", self.index_cold_s, "s");
        opt(&mut s, "index warm", self.index_warm_s, "s");
        opt(
            &mut s,
            "similar p50",
            self.similar_p50_ms,
            "ms (in process)",
        );
        opt(&mut s, "similar p95", self.similar_p95_ms, "ms");
        opt(
            &mut s,
            "search p50",
            self.search_p50_ms,
            "ms (in process, model loaded)",
        );
        opt(&mut s, "search p95", self.search_p95_ms, "ms");
        opt(&mut s, "peak memory", self.peak_rss_mb, "MiB");
        s
    }
}

/// What `recommend bench --synthetic N` wrote.
#[derive(Debug, Serialize)]
pub struct SyntheticReport {
    pub papers: usize,
    pub passages: usize,
    pub seconds: f64,
    pub disk_bytes: u64,
    pub peak_rss_mb: Option<f64>,
}

/// Writes a synthetic index of `papers` papers with `passages_per_paper` passages each into
/// `root` (see `index::synthetic`), recorded as made by `model` so that `search` with the
/// model runs on it.
pub fn synthetic(
    root: &std::path::Path,
    model: Option<&str>,
    papers: usize,
    passages_per_paper: usize,
) -> Result<SyntheticReport> {
    let files = embed::source::resolve(model)?;
    let info = index::ModelInfo {
        name: files.name.clone(),
        fingerprint: embed::source::fingerprint(&files)?,
        dim: embed::model_dim(&files)?,
        precision: embed::Precision::F32,
        pooling: embed::Pooling::Mean,
    };
    let start = Instant::now();
    let spec = index::synthetic::Spec {
        papers,
        passages_per_paper,
        dim: info.dim,
        seed: 42,
    };
    index::synthetic::write(root, spec, info)?;
    let seconds = secs(start.elapsed());
    let generation = index::store::current(root)?;
    let disk_bytes = std::fs::read_dir(&generation)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok(SyntheticReport {
        papers,
        passages: papers * passages_per_paper,
        seconds,
        disk_bytes,
        peak_rss_mb: peak_rss_mb(),
    })
}
