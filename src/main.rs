//! The `recommend` command line: parse, then one library call per mode, then print.
//! The flags are checked in `cli::args`, results printed by `cli::printer`; the work is
//! the library's (`recommend::app`, `query`, `bench`, `eval`), shared with the web server.

mod cli;

use anyhow::{Context, Result};
use cli::{Mode, Options};
use recommend::app::{self, PaperRow};
use recommend::embed::{self, Role};
use recommend::index::{self, Index};
use recommend::query::{self, PaperSpace};
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::args::parse().and_then(|(options, mode)| run(options, mode)) {
        Ok(()) => ExitCode::SUCCESS,
        // Whoever reads our output stopped (`recommend list | head -1`): not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io = match cause.downcast_ref::<app::AppError>() {
            Some(app::AppError::Io(io)) => Some(io),
            _ => cause.downcast_ref::<std::io::Error>(),
        };
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
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

fn run(mut o: Options, mode: Mode) -> Result<()> {
    // Rayon's pool (tokenization, graph building) gets every thread; candle's kernels run
    // one per batch, with `workers` batches at a time (see `embed::single_threaded_kernels`).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(o.config.workers)
        .build_global();
    embed::single_threaded_kernels();
    match mode {
        Mode::Index { paths, settings } => build_index(&mut o, &paths, settings)?,
        Mode::Similar(req) => similar(&mut o, &req)?,
        Mode::Search { req, graph, vector } => search(&mut o, req, graph, vector.as_deref())?,
        Mode::List => list(&mut o)?,
        Mode::Verify => o.printer.verify(&index::verify(&o.config.index)?)?,
        Mode::Export {
            passages,
            output,
            qdrant,
        } => export(&mut o, passages, output.as_deref(), qdrant)?,
        Mode::Synthetic {
            papers,
            passages_per_paper,
        } => {
            let model = o.config.model.clone();
            let r = recommend::bench::synthetic(
                &o.config.index,
                model.as_deref(),
                papers,
                passages_per_paper,
            )?;
            o.printer.synthetic(&r)?
        }
        Mode::Show { id } => show(&mut o, &id)?,
        Mode::Embed { file, query } => embed_lines(&mut o, file.as_deref(), query)?,
        Mode::Bench(config) => o.printer.bench(&recommend::bench::run(&config)?)?,
        Mode::Eval(config) => {
            let files = o.config.model_files()?;
            let options = o.config.build_options();
            let report = recommend::eval::run(&files, options, &config)?;
            o.printer.eval(&report)?
        }
        Mode::Serve { addr, cache_mb } => serve(&mut o, addr, cache_mb)?,
    }
    o.printer.flush()?;
    Ok(())
}

fn build_index(
    o: &mut Options,
    paths: &[std::path::PathBuf],
    settings: index::IndexSettings,
) -> Result<()> {
    let report = app::build(&o.config, paths, settings, &mut o.progress);
    o.progress.finish();
    let report = report?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    o.printer.index_report(&report)?;
    Ok(())
}

/// The index, built from the seed corpus first if there is none (its report on stderr).
fn open(o: &mut Options) -> Result<Index> {
    let opened = app::open_or_build(&o.config, &mut o.progress);
    o.progress.finish();
    let opened = opened?;
    if let Some(report) = &opened.built {
        cli::printer::new(false, o.quiet).index_report(report)?;
    }
    Ok(opened.index)
}

fn similar(o: &mut Options, req: &query::SimilarRequest) -> Result<()> {
    let ix = open(o)?;
    let space = PaperSpace::new(&ix)?;
    let out = query::similar(&ix, &space, req)?;
    o.printer.similar(&out)?;
    Ok(())
}

fn search(
    o: &mut Options,
    mut req: query::SearchRequest,
    graph: Option<bool>,
    vector: Option<&Path>,
) -> Result<()> {
    let ix = open(o)?;
    let space = PaperSpace::new(&ix)?;
    req.graph = graph.unwrap_or(ix.passage_count() >= index::ann::EXACT_BELOW);
    let out = match vector {
        Some(path) => {
            let v = read_vector(path, ix.dim())?;
            query::search_with_vector(&ix, &space, &req, &v)?
        }
        None => {
            let embedder = app::query_embedder_for(&ix, &o.config, &[req.text.as_str()])?;
            let out = query::search(&ix, &space, &embedder, &req)?;
            // Freeing the tokenizer's tables piece by piece took a fifth of a `search`
            // process (perf); the process ends here, and the OS takes the memory back whole.
            std::mem::forget(embedder);
            out
        }
    };
    o.printer.search(&out)?;
    Ok(())
}

/// A query vector from a file: a JSON array, or an object with an `embedding` array (a
/// line of `recommend embed` output); normalized like the model's own query vectors.
fn read_vector(path: &Path, dim: usize) -> Result<Vec<f32>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .with_context(|| format!("{}: not JSON", path.display()))?;
    let array = value.get("embedding").unwrap_or(&value);
    let mut v: Vec<f32> = serde_json::from_value(array.clone())
        .with_context(|| format!("{}: not an array of numbers", path.display()))?;
    if v.len() != dim {
        anyhow::bail!(
            "{}: the vector has {} values, the index holds {dim}-d vectors",
            path.display(),
            v.len()
        );
    }
    embed::pool::normalize(&mut v);
    Ok(v)
}

/// `export`: JSON lines to a file or standard output, or a push to a Qdrant server.
fn export(
    o: &mut Options,
    passages: bool,
    output: Option<&Path>,
    qdrant: Option<(String, String)>,
) -> Result<()> {
    let ix = Index::open(&o.config.index)?;
    let points = if passages {
        index::export::Points::Passages
    } else {
        index::export::Points::Papers
    };
    if let Some((url, collection)) = qdrant {
        let r = index::export::push(&ix, points, &url, &collection)?;
        return Ok(o.printer.pushed(&r)?);
    }
    let mut out: Box<dyn std::io::Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| p.display().to_string())?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = index::export::jsonl(&ix, points, &mut out)?;
    if !o.quiet {
        eprintln!("{n} points written");
    }
    Ok(())
}

fn list(o: &mut Options) -> Result<()> {
    let ix = open(o)?;
    ix.prefetch_metadata();
    let papers = (0..ix.paper_count())
        .map(|i| ix.paper_meta(i))
        .collect::<Result<Vec<_>, _>>()?;
    let rows: Vec<PaperRow> = papers.iter().map(PaperRow::of).collect();
    o.printer.list(&rows)?;
    Ok(())
}

fn show(o: &mut Options, id: &str) -> Result<()> {
    let ix = open(o)?;
    o.printer.show(&ix.paper(ix.find(id)?)?)?;
    Ok(())
}

fn embed_lines(o: &mut Options, file: Option<&std::path::Path>, query: bool) -> Result<()> {
    let files = o.config.model_files()?;
    let embedder = embed::Embedder::load(&files, o.config.build_options())?;
    let reader: Box<dyn BufRead> = match file {
        None => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| p.display().to_string())?,
        )),
    };
    let role = if query { Role::Query } else { Role::Passage };
    let printer = &mut o.printer;
    app::embed_lines(&embedder, reader, role, &mut |e| printer.embedded(&e))?;
    Ok(())
}

fn serve(o: &mut Options, addr: std::net::SocketAddr, cache_mb: usize) -> Result<()> {
    let ix = open(o)?;
    let embedder = app::query_embedder(&ix, &o.config)?;
    let papers = ix.paper_count();
    let state = recommend::serve::State::new(ix, Some(embedder))?.with_cache_bytes(cache_mb << 20);
    let server = recommend::serve::start(state, addr, recommend::serve::default_workers())?;
    eprintln!("serving {papers} papers on http://{}/", server.addr());
    server.wait();
    Ok(())
}
