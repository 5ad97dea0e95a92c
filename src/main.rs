//! The `recommend` command line: parse, dispatch to the library's stages, print.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use recommend::chunk::ChunkParams;
use recommend::corpus;
use recommend::embed::{
    self, DeviceKind, EmbedOptions, EmbedStats, Embedder, Pooling, Precision, Role,
};
use recommend::index::{self, Index, IndexSettings, PaperVector, StoreError};
use recommend::query::{self, PaperSpace, Scoring};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "recommend",
    version,
    about = "Which papers are like this one? Semantic recommendations over Korean/English paper summaries."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Global {
    /// Index directory.
    #[arg(
        long,
        global = true,
        env = "RECOMMEND_INDEX",
        default_value = ".recommend"
    )]
    index: PathBuf,
    /// Model: a local directory (config.json, tokenizer.json, model.safetensors|model.gguf),
    /// a Hugging Face hub id, or nothing for the bundled multilingual-e5-small.
    #[arg(long, global = true, env = "RECOMMEND_MODEL")]
    model: Option<String>,
    /// Compute device: cpu, or cuda in a build with `--features cuda`.
    #[arg(long, global = true, default_value = "cpu")]
    device: DeviceKind,
    /// Linear layers in f32 (exact) or on the quantized weights.
    #[arg(long, global = true, default_value = "f32")]
    precision: Precision,
    /// Pooling: mean, cls, ditto.
    #[arg(long, global = true, default_value = "mean")]
    pooling: Pooling,
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Tokens per embedding batch (rows × padded length).
    #[arg(long, global = true, default_value_t = embed::DEFAULT_BATCH_TOKENS)]
    batch_tokens: usize,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress output.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Args, Clone)]
struct BuildArgs {
    /// Files or directories to index (default: the bundled seed corpus).
    paths: Vec<PathBuf>,
    /// Max model ids per passage (title, prefix and specials included).
    #[arg(long, default_value_t = ChunkParams::default().max_tokens)]
    max_tokens: usize,
    /// Ids of sentences shared by consecutive passages.
    #[arg(long, default_value_t = ChunkParams::default().overlap_tokens)]
    overlap: usize,
    /// How paper vectors are made: mean, title-weighted.
    #[arg(long, default_value = "mean")]
    paper_vector: PaperVector,
    /// Gaussian noise (standard deviation) added to stored vectors, against inversion.
    #[arg(long, default_value_t = 0.0)]
    noise: f32,
}

#[derive(Subcommand)]
enum Command {
    /// Read, chunk, embed and index papers (only what changed since the last run).
    Index(BuildArgs),
    /// Papers like the given one, with the passages that made them similar.
    Similar {
        #[arg(long)]
        id: String,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// Paper-to-paper scoring: cosine, centered, csls, max-sim.
        #[arg(long, default_value = "csls")]
        scoring: Scoring,
    },
    /// Papers matching a free-text query in any language.
    Search {
        query: String,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// Scan every passage exactly (default below 5,000 passages).
        #[arg(long, conflicts_with = "hnsw")]
        exact: bool,
        /// Use the HNSW graph even for a small index.
        #[arg(long)]
        hnsw: bool,
    },
    /// Every paper: id, title, source, date.
    List,
    /// One paper's metadata and text.
    Show {
        #[arg(long)]
        id: String,
    },
    /// Embed texts: one per line in (FILE or stdin), one JSON object per line out.
    Embed {
        /// Input file; `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// Embed as queries (`query: ` prefix) instead of passages.
        #[arg(long)]
        query: bool,
    },
    /// Measure model load, embedding throughput, index build and query latency.
    Bench {
        /// Files or directories whose passages are embedded (default: seed corpus).
        paths: Vec<PathBuf>,
        /// Embed these texts instead, one per line (for side-by-side runs with peers).
        #[arg(long)]
        texts: Option<PathBuf>,
        /// Query repetitions for latency percentiles.
        #[arg(long, default_value_t = 50)]
        queries: usize,
    },
    /// Quality on the seed corpus: cross-lingual retrieval, related papers, free-text search.
    Eval {
        /// Compare pooling, paper vectors, scoring and noise settings (slow: re-embeds).
        #[arg(long)]
        sweep: bool,
        /// Max model ids per passage of the evaluated index.
        #[arg(long, default_value_t = ChunkParams::default().max_tokens)]
        max_tokens: usize,
        /// Overlap of the evaluated index's passages.
        #[arg(long, default_value_t = ChunkParams::default().overlap_tokens)]
        overlap: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, without repeating a cause its parent already says.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !out.contains(&s) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&s);
        }
    }
    out
}

fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    // Rayon's pool (tokenization, graph building) gets every thread; candle's kernels run
    // one per batch, with `threads` batches at a time (see `embed::single_threaded_kernels`).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(g.threads.unwrap_or_else(num_threads))
        .build_global();
    embed::single_threaded_kernels();
    match &cli.command {
        Command::Index(args) => {
            let report = build_index(g, args)?;
            if !g.quiet || g.json {
                print_report(g, &report)?;
            }
        }
        Command::Similar { id, k, scoring } => {
            let ix = open_or_build(g)?;
            let space = PaperSpace::new(&ix, *scoring);
            let out = query::similar(&ix, &space, id, *k)?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("Papers like {} — {}\n", out.query.id, out.query.title);
                for (n, r) in out.results.iter().enumerate() {
                    println!("{:>2}. {:<14} {:.3}  {}", n + 1, r.id, r.score, r.title);
                    println!("      this: {}", clip(&r.why.query_passage, 150));
                    println!("      that: {}", clip(&r.why.match_passage, 150));
                }
            }
        }
        Command::Search {
            query,
            k,
            exact,
            hnsw,
        } => {
            let ix = open_or_build(g)?;
            let files = embed::source::resolve(g.model.as_deref())?;
            check_model(&ix, &files)?;
            let embedder = Embedder::load(&files, embed_options(g))?;
            let use_graph = *hnsw || (!exact && ix.passage_count() >= index::ann::EXACT_BELOW);
            let out = query::search(&ix, &embedder, query, *k, use_graph)?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for (n, r) in out.results.iter().enumerate() {
                    println!("{:>2}. {:<14} {:.3}  {}", n + 1, r.id, r.score, r.title);
                    println!("      {}", clip(&r.passage, 160));
                }
            }
        }
        Command::List => {
            let ix = open_or_build(g)?;
            let papers = (0..ix.paper_count())
                .map(|i| ix.paper_meta(i))
                .collect::<Result<Vec<_>, _>>()?;
            if g.json {
                let rows: Vec<_> = papers
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "id": p.id, "title": p.title, "title_ko": p.title_ko,
                            "source": p.sources.first(), "sources": p.sources,
                            "url": p.url, "date": p.date, "venue": p.venue,
                            "tags": p.tags, "title_only": p.title_only,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for p in &papers {
                    let source = p.sources.first().map(|s| file_name(s)).unwrap_or_default();
                    println!(
                        "{:<16} {:<10} {:<26} {}",
                        p.id,
                        p.date.as_deref().unwrap_or("-"),
                        clip(&source, 26),
                        p.title
                    );
                }
            }
        }
        Command::Show { id } => {
            let ix = open_or_build(g)?;
            let p = ix.paper(ix.find(id)?)?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                println!("{} — {}", p.id, p.title);
                if let Some(ko) = &p.title_ko {
                    println!("  {ko}");
                }
                for (k, v) in [
                    ("date", p.date.clone()),
                    ("venue", p.venue.clone()),
                    ("tags", Some(p.tags.join(", ")).filter(|s| !s.is_empty())),
                    ("source", Some(p.sources.join(", "))),
                    ("url", Some(p.urls.join(" ")).filter(|s| !s.is_empty())),
                ] {
                    if let Some(v) = v {
                        println!("{k:>7}: {v}");
                    }
                }
                for s in &p.sections {
                    println!();
                    if let Some(h) = &s.heading {
                        println!("## {h}");
                    }
                    println!("{}", s.text);
                }
            }
        }
        Command::Embed { file, query } => embed_lines(g, file.as_deref(), *query)?,
        Command::Bench {
            paths,
            texts,
            queries,
        } => {
            let report = recommend::bench::run(&recommend::bench::BenchConfig {
                model: g.model.clone(),
                options: embed_options(g),
                threads: g.threads.unwrap_or_else(num_threads),
                paths: inputs(paths),
                texts: texts.clone(),
                queries: *queries,
            })?;
            if g.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.table());
            }
        }
        Command::Eval {
            sweep,
            max_tokens,
            overlap,
        } => {
            let files = embed::source::resolve(g.model.as_deref())?;
            let settings = IndexSettings {
                chunking: ChunkParams {
                    max_tokens: *max_tokens,
                    overlap_tokens: *overlap,
                    ..Default::default()
                },
                ..Default::default()
            };
            let report =
                recommend::eval::run(&files, embed_options(g), settings, *sweep, !g.quiet)?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.table());
            }
        }
    }
    Ok(())
}

fn num_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn embed_options(g: &Global) -> EmbedOptions {
    EmbedOptions {
        device: g.device,
        precision: g.precision,
        pooling: g.pooling,
        batch_tokens: g.batch_tokens,
        workers: g.threads.unwrap_or_else(num_threads),
    }
}

fn inputs(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![corpus::seed_dir()]
    } else {
        paths.to_vec()
    }
}

fn build_index(g: &Global, args: &BuildArgs) -> Result<index::BuildReport> {
    if !(0.0..=10.0).contains(&args.noise) {
        bail!("--noise must be between 0 and 10, got {}", args.noise);
    }
    if args.max_tokens < 32 || args.max_tokens > embed::MAX_IDS {
        bail!("--max-tokens must be between 32 and {}", embed::MAX_IDS);
    }
    let files = embed::source::resolve(g.model.as_deref())?;
    let settings = IndexSettings {
        chunking: ChunkParams {
            max_tokens: args.max_tokens,
            overlap_tokens: args.overlap.min(args.max_tokens / 2),
            ..Default::default()
        },
        paper_vector: args.paper_vector,
        noise: args.noise,
    };
    let mut progress = Reporter::new(g.quiet);
    let report = index::build(
        &g.index,
        &inputs(&args.paths),
        &files,
        embed_options(g),
        settings,
        &mut progress,
    )?;
    progress.finish();
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(report)
}

fn print_report(g: &Global, r: &index::BuildReport) -> Result<()> {
    if g.json {
        println!(
            "{}",
            serde_json::json!({
                "papers": r.papers, "chunks": r.chunks, "embedded": r.embedded,
                "reused": r.reused, "up_to_date": r.up_to_date,
                "warnings": r.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                "model_load_s": r.model_load.as_secs_f64(), "embed_s": r.embed.elapsed.as_secs_f64(),
                "tokens": r.embed.tokens, "elapsed_s": r.elapsed.as_secs_f64(),
            })
        );
    } else if r.up_to_date {
        eprintln!(
            "index is up to date: {} papers, {} passages ({:.2} s)",
            r.papers,
            r.chunks,
            r.elapsed.as_secs_f64()
        );
    } else {
        eprintln!(
            "indexed {} papers, {} passages: {} embedded, {} reused ({:.1} s)",
            r.papers,
            r.chunks,
            r.embedded,
            r.reused,
            r.elapsed.as_secs_f64()
        );
    }
    Ok(())
}

/// Opens the index, building it from the seed corpus first when there is none, so that
/// `recommend similar --id CAD` works on a fresh clone.
fn open_or_build(g: &Global) -> Result<Index> {
    match Index::open(&g.index) {
        Ok(ix) => Ok(ix),
        Err(StoreError::Missing(_)) => {
            if !g.quiet {
                eprintln!(
                    "no index in {} yet: indexing the bundled seed corpus first",
                    g.index.display()
                );
            }
            let args = BuildArgs {
                paths: vec![],
                max_tokens: ChunkParams::default().max_tokens,
                overlap: ChunkParams::default().overlap_tokens,
                paper_vector: PaperVector::default(),
                noise: 0.0,
            };
            let report = build_index(g, &args)?;
            if !g.quiet {
                print_report(
                    &Global {
                        json: false,
                        ..g.clone()
                    },
                    &report,
                )?;
            }
            Ok(Index::open(&g.index)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// A query must be embedded by the model that embedded the index.
fn check_model(ix: &Index, files: &embed::ModelFiles) -> Result<()> {
    let fp = embed::source::fingerprint(files)?;
    if fp != ix.manifest().model.fingerprint {
        bail!(
            "the index in {} was built with model {}, not {}: run `recommend index` with this model",
            ix.dir().parent().unwrap_or(ix.dir()).display(),
            ix.manifest().model.name,
            files.name
        );
    }
    Ok(())
}

fn embed_lines(g: &Global, file: Option<&Path>, query: bool) -> Result<()> {
    let files = embed::source::resolve(g.model.as_deref())?;
    let embedder = Embedder::load(&files, embed_options(g))?;
    let reader: Box<dyn BufRead> = match file {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p == Path::new("-") => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| p.display().to_string())?,
        )),
    };
    let role = if query { Role::Query } else { Role::Passage };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut batch: Vec<String> = Vec::new();
    let flush = |batch: &mut Vec<String>, out: &mut dyn Write| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let vectors = embedder.embed(batch, role)?;
        for (text, v) in batch.iter().zip(vectors) {
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({"text": text, "embedding": v}),
            )?;
            out.write_all(b"\n")?;
        }
        batch.clear();
        Ok(())
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not UTF-8 text", n + 1))?;
        // Blank lines have nothing to embed; skipping keeps one output line per text.
        if line.trim().is_empty() {
            continue;
        }
        batch.push(line);
        if batch.len() == 256 {
            flush(&mut batch, &mut out)?;
        }
    }
    flush(&mut batch, &mut out)?;
    out.flush()?;
    Ok(())
}

fn clip(s: &str, max: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn file_name(s: &str) -> String {
    Path::new(s)
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| s.to_string())
}

/// Index progress: a bar on a terminal, a few plain lines otherwise.
struct Reporter {
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
    tokens_total: usize,
    last_line: std::time::Instant,
}

impl Reporter {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bar: None,
            tokens_total: 0,
            last_line: std::time::Instant::now(),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl index::Progress for Reporter {
    fn message(&mut self, msg: &str) {
        if !self.quiet || msg.starts_with("warning") {
            eprintln!("{msg}");
        }
    }

    fn start_embedding(&mut self, chunks: usize, tokens: usize) {
        self.tokens_total = tokens;
        if self.quiet {
            return;
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(tokens as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "embedding {bar:30} {msg} {percent}% eta {eta}",
                )
                .expect("valid template"),
            );
            self.bar = Some(bar);
        } else {
            eprintln!("embedding {chunks} passages ({tokens} tokens)");
        }
    }

    fn embedded(&mut self, s: &EmbedStats) {
        let rate = s.tokens as f64 / s.elapsed.as_secs_f64().max(1e-9);
        if let Some(bar) = &self.bar {
            bar.set_position(s.tokens as u64);
            bar.set_message(format!("{} passages, {:.0} tokens/s", s.texts, rate));
        } else if !self.quiet && self.last_line.elapsed().as_secs() >= 10 {
            self.last_line = std::time::Instant::now();
            eprintln!(
                "  {} passages, {}/{} tokens, {:.0} tokens/s",
                s.texts, s.tokens, self.tokens_total, rate
            );
        }
    }
}
