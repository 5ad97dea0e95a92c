//! The command line as clap sees it, and the one place where it is checked and turned into
//! the library's settings (`Options` and a `Mode`), so that no mode re-reads a flag.

use super::printer;
use super::progress::Reporter;
use super::{Mode, Options};
use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use recommend::app::{self, Config};
use recommend::chunk::ChunkParams;
use recommend::embed::{self, DeviceKind, Pooling, Precision};
use recommend::eval::EvalConfig;
use recommend::index::{IndexSettings, PaperVector};
use recommend::query::{
    Filter, Fusion, PartialDate, Scoring, SearchRequest, Seeds, SimilarRequest,
};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "recommend",
    version,
    about = "Which papers are like this one? Semantic recommendations over Korean/English paper summaries."
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
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
    /// Compute device.
    #[arg(long, global = true, default_value = "cpu", ignore_case = true)]
    device: DeviceKind,
    /// Linear layers in f32 (exact) or int8 (faster; see BENCHMARKS.md) [default: f32, or
    /// the index's own for queries].
    #[arg(long, global = true, value_parser = precision)]
    precision: Option<Precision>,
    /// Pooling [default: mean, or the index's own for queries].
    #[arg(long, global = true, ignore_case = true)]
    pooling: Option<Pooling>,
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

#[derive(Args)]
struct BuildArgs {
    /// Files or directories to index (default: the bundled seed corpus).
    paths: Vec<PathBuf>,
    /// Max model ids per passage (title, prefix and specials included).
    #[arg(long, default_value_t = ChunkParams::default().max_tokens)]
    max_tokens: usize,
    /// Ids of sentences shared by consecutive passages.
    #[arg(long, default_value_t = ChunkParams::default().overlap_tokens)]
    overlap: usize,
    /// How paper vectors are made.
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
    /// Papers like the given ones (and unlike others), with the passages that made them
    /// similar.
    Similar {
        /// A seed paper; repeat for a reading list (`--id A --id B`).
        #[arg(long, required = true)]
        id: Vec<String>,
        /// A paper whose neighbours are not wanted; repeatable.
        #[arg(long)]
        not: Vec<String>,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// Paper-to-paper scoring.
        #[arg(long, default_value_t = Scoring::default(), ignore_case = true)]
        scoring: Scoring,
        /// How several seeds combine: each candidate's best seed, or the seeds merged.
        #[arg(long, default_value_t = Seeds::default(), ignore_case = true)]
        seeds: Seeds,
        #[command(flatten)]
        filter: FilterArgs,
        /// Rank every paper instead of the nearest ones from the paper lists (which an
        /// index of 5,000 papers or more uses by default).
        #[arg(long)]
        exact: bool,
    },
    /// Papers matching a free-text query in any language.
    Search {
        #[arg(required_unless_present = "vector")]
        query: Option<String>,
        /// Search with this query vector instead of embedding a text: a JSON array of
        /// numbers, or a line of `recommend embed --query` output.
        #[arg(long, conflicts_with = "query")]
        vector: Option<PathBuf>,
        #[arg(short, default_value_t = 10)]
        k: usize,
        #[command(flatten)]
        filter: FilterArgs,
        /// Scan every passage exactly (default below 5,000 passages).
        #[arg(long, conflicts_with = "hnsw")]
        exact: bool,
        /// Use the approximate-search lists even for a small index (default from 5,000
        /// passages).
        #[arg(long)]
        hnsw: bool,
    },
    /// Every paper: id, title, source, date.
    List,
    /// Check every file of the index against its checksum, and every record.
    Verify,
    /// Export the index for a vector database: JSON lines (one point per paper, or per
    /// passage), or straight into a Qdrant collection over its REST API.
    Export {
        /// Output format.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
        format: String,
        /// One point per passage instead of one per paper.
        #[arg(long)]
        passages: bool,
        /// Write to this file instead of standard output.
        #[arg(long, conflicts_with = "qdrant")]
        output: Option<PathBuf>,
        /// Push to the Qdrant server at this URL (e.g. http://localhost:6333).
        #[arg(long, requires = "collection")]
        qdrant: Option<String>,
        /// Qdrant collection to create (or fill, if it exists with the same dimension).
        #[arg(long, requires = "qdrant")]
        collection: Option<String>,
    },
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
        /// Write a synthetic index of this many papers into --index instead (for the scale
        /// benchmark, `cargo bench --bench scale`).
        #[arg(long)]
        synthetic: Option<usize>,
        /// Passages per synthetic paper.
        #[arg(long, default_value_t = 10, requires = "synthetic")]
        passages_per_paper: usize,
    },
    /// Quality on the seed corpus: cross-lingual retrieval, related papers, free-text search.
    Eval {
        /// Where the evaluated indexes and cached vectors are kept between runs
        /// [default: `eval/` inside the index directory].
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Compare scorings, fusion weights, seed strategies, paper vectors and noise.
        #[arg(long)]
        sweep: bool,
        /// Also compare poolings (the first run embeds the seed corpus once per pooling).
        #[arg(long)]
        sweep_pooling: bool,
        /// Max model ids per passage of the evaluated index.
        #[arg(long, default_value_t = ChunkParams::default().max_tokens)]
        max_tokens: usize,
        /// Overlap of the evaluated index's passages.
        #[arg(long, default_value_t = ChunkParams::default().overlap_tokens)]
        overlap: usize,
    },
    /// The collection as a local web page (and a JSON API) at http://ADDR/.
    Serve {
        /// Address to listen on; only this machine can connect unless it says otherwise.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: std::net::SocketAddr,
        /// MiB of `similar`/`search` answers kept for requests asked again (0: none).
        #[arg(long, default_value_t = recommend::serve::DEFAULT_CACHE_BYTES >> 20)]
        cache_mb: usize,
    },
}

/// Which papers `similar` and `search` may return.
#[derive(Args)]
struct FilterArgs {
    /// Only papers dated on or after this month or day (YYYY-MM or YYYY-MM-DD).
    #[arg(long)]
    since: Option<PartialDate>,
    /// Only papers dated on or before this month or day (YYYY-MM or YYYY-MM-DD).
    #[arg(long)]
    until: Option<PartialDate>,
    /// Only papers from this source: a file name (or part of it) or a feed title.
    #[arg(long)]
    source: Option<String>,
    /// Only papers with this tag.
    #[arg(long)]
    tag: Option<String>,
}

impl FilterArgs {
    fn filter(self) -> Filter {
        Filter {
            since: self.since,
            until: self.until,
            source: self.source,
            tag: self.tag,
        }
    }
}

/// `--precision`: a `Precision` name, and a pointer to int8 for the removed `quantized`.
fn precision(s: &str) -> Result<Precision, String> {
    match s.to_ascii_lowercase().as_str() {
        "quantized" | "q4" | "q4_0" => Err(
            "--precision quantized (candle's Q4_0 kernels) was replaced by int8, 6× faster".into(),
        ),
        _ => <Precision as clap::ValueEnum>::from_str(s, true)
            .map_err(|_| format!("unknown precision {s:?} (f32, int8)")),
    }
}

/// Parses the command line (clap exits on `--help` and on unknown flags) and checks it.
pub fn parse() -> Result<(Options, Mode)> {
    Cli::parse().check()
}

fn chunking(max_tokens: usize, overlap: usize) -> Result<ChunkParams> {
    if !(32..=embed::MAX_IDS).contains(&max_tokens) {
        bail!("--max-tokens must be between 32 and {}", embed::MAX_IDS);
    }
    Ok(ChunkParams {
        max_tokens,
        overlap_tokens: overlap.min(max_tokens / 2),
        ..Default::default()
    })
}

impl Cli {
    /// The checked settings: everything a mode needs, in the library's own types.
    pub fn check(self) -> Result<(Options, Mode)> {
        let g = self.global;
        if g.threads == Some(0) {
            bail!("--threads must be at least 1");
        }
        let config = Config {
            index: g.index,
            model: g.model,
            device: g.device,
            precision: g.precision,
            pooling: g.pooling,
            batch_tokens: g.batch_tokens,
            workers: g.threads.unwrap_or_else(app::num_threads),
        };
        let mode = match self.command {
            Command::Index(a) => {
                if !(0.0..=10.0).contains(&a.noise) {
                    bail!("--noise must be between 0 and 10, got {}", a.noise);
                }
                Mode::Index {
                    paths: a.paths,
                    settings: IndexSettings {
                        chunking: chunking(a.max_tokens, a.overlap)?,
                        paper_vector: a.paper_vector,
                        noise: a.noise,
                    },
                }
            }
            Command::Similar {
                id,
                not,
                k,
                scoring,
                seeds,
                filter,
                exact,
            } => Mode::Similar(SimilarRequest {
                ids: id,
                not,
                k,
                scoring,
                seeds,
                fusion: Fusion::default(),
                filter: filter.filter(),
                exact,
            }),
            Command::Search {
                query,
                vector,
                k,
                filter,
                exact,
                hnsw,
            } => Mode::Search {
                req: SearchRequest {
                    filter: filter.filter(),
                    ..SearchRequest::new(query.unwrap_or_default(), k)
                },
                vector,
                graph: match (exact, hnsw) {
                    (true, _) => Some(false),
                    (_, true) => Some(true),
                    _ => None,
                },
            },
            Command::List => Mode::List,
            Command::Verify => Mode::Verify,
            Command::Export {
                format: _,
                passages,
                output,
                qdrant,
                collection,
            } => Mode::Export {
                passages,
                output,
                qdrant: qdrant.zip(collection),
            },
            Command::Bench {
                synthetic: Some(papers),
                passages_per_paper,
                ..
            } => Mode::Synthetic {
                papers,
                passages_per_paper,
            },
            Command::Show { id } => Mode::Show { id },
            Command::Embed { file, query } => Mode::Embed {
                file: file.filter(|f| f.as_os_str() != "-"),
                query,
            },
            Command::Bench {
                paths,
                texts,
                queries,
                ..
            } => Mode::Bench(recommend::bench::BenchConfig {
                model: config.model.clone(),
                options: config.build_options(),
                threads: config.workers,
                paths: app::inputs(&paths),
                texts,
                queries,
            }),
            Command::Eval {
                cache,
                sweep,
                sweep_pooling,
                max_tokens,
                overlap,
            } => Mode::Eval(EvalConfig {
                cache: cache.unwrap_or_else(|| config.index.join("eval")),
                settings: IndexSettings {
                    chunking: chunking(max_tokens, overlap)?,
                    ..Default::default()
                },
                sweep: sweep || sweep_pooling,
                sweep_pooling,
                verbose: !g.quiet,
            }),
            Command::Serve { addr, cache_mb } => Mode::Serve { addr, cache_mb },
        };
        let options = Options {
            config,
            printer: printer::new(g.json, g.quiet),
            progress: Reporter::new(g.quiet),
            quiet: g.quiet,
        };
        Ok((options, mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
    use serde::Serialize;

    fn parse(args: &[&str]) -> Result<(Options, Mode)> {
        let argv = std::iter::once("recommend").chain(args.iter().copied());
        Cli::try_parse_from(argv)?.check()
    }

    /// Flag values are the names manifests and cache keys store (serde), so an index
    /// written with `--pooling cls` reads back as the flag `cls`.
    fn names_match_serde<T: ValueEnum + Serialize>() {
        for v in T::value_variants() {
            let flag = v.to_possible_value().unwrap();
            assert_eq!(serde_json::to_value(v).unwrap(), flag.get_name());
        }
    }

    #[test]
    fn option_values_are_the_stored_names() {
        names_match_serde::<Pooling>();
        names_match_serde::<Precision>();
        names_match_serde::<Scoring>();
        names_match_serde::<Seeds>();
        names_match_serde::<PaperVector>();
        assert_eq!(Pooling::Ditto.to_string(), "ditto");
        assert_eq!(Precision::Int8.to_string(), "int8");
    }

    #[test]
    fn aliases_and_case_are_accepted() {
        let (o, _) = parse(&["--precision", "I8", "--pooling", "CLS", "list"]).unwrap();
        assert_eq!(o.config.precision, Some(Precision::Int8));
        assert_eq!(o.config.pooling, Some(Pooling::Cls));
        let (o, _) = parse(&["--device", "gpu", "list"]).unwrap();
        assert_eq!(o.config.device, DeviceKind::Cuda);
        let (_, mode) = parse(&["similar", "--id", "CAD", "--scoring", "maxsim"]).unwrap();
        assert!(matches!(
            mode,
            Mode::Similar(SimilarRequest {
                scoring: Scoring::MaxSim,
                ..
            })
        ));
        let (o, _) = parse(&["list"]).unwrap();
        assert_eq!((o.config.precision, o.config.pooling), (None, None));
    }

    #[test]
    fn bad_values_are_refused_before_any_work() {
        let err = parse(&["--pooling", "max", "list"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("mean") && err.contains("ditto"), "{err}");
        let err = parse(&["--precision", "quantized", "list"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("replaced by int8"), "{err}");
        assert!(parse(&["index", "--noise", "11"]).is_err());
        assert!(parse(&["index", "--max-tokens", "8"]).is_err());
        assert!(parse(&["--threads", "0", "list"]).is_err());
        let (_, mode) = parse(&["index", "--max-tokens", "64", "--overlap", "60"]).unwrap();
        let Mode::Index { settings, .. } = mode else {
            panic!("not index")
        };
        assert_eq!(settings.chunking.overlap_tokens, 32);
    }
}
