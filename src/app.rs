//! What a front end does with the library, in one place: open the index (building it from
//! the seed corpus on first use), build with progress, load the query embedder the index
//! demands, embed lines of text.
//!
//! The CLI (`src/main.rs`, `src/cli/`) and the web server (`serve`) both call these
//! functions, so neither holds its own version of a rule. The rule that matters most: an
//! index decides how queries are embedded. Its manifest records the model, pooling and
//! precision its passages were embedded with; a query embedded any other way lands in a
//! different space and answers with silently wrong neighbours. So the embedder for queries
//! is made from the manifest, and a flag that asks for something else is refused here, where
//! neither front end can skip the check.

use crate::corpus;
use crate::embed::{
    self, DeviceKind, EmbedError, EmbedOptions, Embedder, ModelFiles, Pooling, Precision, Role,
};
use crate::index::{
    self, BuildReport, Index, IndexError, IndexSettings, PaperMeta, Progress, StoreError,
};
use serde::Serialize;
use std::io::BufRead;
use std::path::PathBuf;

/// Errors of the front-end operations: the stages' own errors, and a query that would be
/// embedded differently from the index.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("the index in {} was built with model {index}, not {asked}: run `recommend index` with this model", dir.display())]
    Model {
        dir: PathBuf,
        index: String,
        asked: String,
    },
    #[error("the index in {} was embedded with {setting} {index}, so queries are too: leave out --{setting} {asked}, or re-index with `recommend index --{setting} {asked}`", dir.display())]
    Setting {
        dir: PathBuf,
        setting: &'static str,
        index: String,
        asked: String,
    },
    #[error("line {line}: not UTF-8 text")]
    Line { line: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Where the index lives and how to embed, as a front end was asked. `precision` and
/// `pooling` are `None` unless asked for explicitly: a new index then gets the defaults,
/// an existing one keeps its own.
#[derive(Debug, Clone)]
pub struct Config {
    pub index: PathBuf,
    /// A local model directory, a hub id, or `None` for the bundled model.
    pub model: Option<String>,
    pub device: DeviceKind,
    pub precision: Option<Precision>,
    pub pooling: Option<Pooling>,
    pub batch_tokens: usize,
    /// Batches embedded at once, each on its own thread.
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            index: PathBuf::from(".recommend"),
            model: None,
            device: DeviceKind::Cpu,
            precision: None,
            pooling: None,
            batch_tokens: embed::DEFAULT_BATCH_TOKENS,
            workers: num_threads(),
        }
    }
}

impl Config {
    /// The model files `model` names.
    pub fn model_files(&self) -> Result<ModelFiles, EmbedError> {
        embed::source::resolve(self.model.as_deref())
    }

    /// Options for embedding passages of a new index: what was asked, defaults elsewhere.
    pub fn build_options(&self) -> EmbedOptions {
        EmbedOptions {
            device: self.device,
            precision: self.precision.unwrap_or_default(),
            pooling: self.pooling.unwrap_or_default(),
            batch_tokens: self.batch_tokens,
            workers: self.workers,
        }
    }

    /// Options for embedding queries against an index with this manifest: its pooling and
    /// precision, or an error where an explicit setting asks for another.
    pub fn query_options(&self, manifest: &index::Manifest) -> Result<EmbedOptions, AppError> {
        let m = &manifest.model;
        let refuse = |setting, index: String, asked: String| AppError::Setting {
            dir: self.index.clone(),
            setting,
            index,
            asked,
        };
        if let Some(p) = self.pooling.filter(|&p| p != m.pooling) {
            return Err(refuse("pooling", m.pooling.to_string(), p.to_string()));
        }
        if let Some(p) = self.precision.filter(|&p| p != m.precision) {
            return Err(refuse("precision", m.precision.to_string(), p.to_string()));
        }
        Ok(EmbedOptions {
            precision: m.precision,
            pooling: m.pooling,
            ..self.build_options()
        })
    }
}

/// All cores of this machine.
pub fn num_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The inputs to index: the given paths, or the bundled seed corpus when none are given.
pub fn inputs(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![corpus::seed_dir()]
    } else {
        paths.to_vec()
    }
}

/// Builds (or refreshes) the index of `config` from `paths` (the seed corpus if empty).
pub fn build(
    config: &Config,
    paths: &[PathBuf],
    settings: IndexSettings,
    progress: &mut dyn Progress,
) -> Result<BuildReport, AppError> {
    let files = config.model_files()?;
    Ok(index::build(
        &config.index,
        &inputs(paths),
        &files,
        config.build_options(),
        settings,
        progress,
    )?)
}

/// An opened index, and the report of the build that made it if there was none before.
pub struct Opened {
    pub index: Index,
    pub built: Option<BuildReport>,
}

/// Opens the index of `config`, building it from the seed corpus first when there is none
/// (so that `recommend similar --id CAD` works on a fresh clone). An explicit pooling or
/// precision that the index was not embedded with is refused.
pub fn open_or_build(config: &Config, progress: &mut dyn Progress) -> Result<Opened, AppError> {
    let (index, built) = match Index::open(&config.index) {
        Ok(ix) => (ix, None),
        Err(StoreError::Missing(_)) => {
            progress.message(&format!(
                "no index in {} yet: indexing the bundled seed corpus first",
                config.index.display()
            ));
            let report = build(config, &[], IndexSettings::default(), progress)?;
            (Index::open(&config.index)?, Some(report))
        }
        Err(e) => return Err(e.into()),
    };
    config.query_options(index.manifest())?;
    Ok(Opened { index, built })
}

/// The embedder for queries against `ix`: the model that embedded the index (checked by
/// fingerprint), with the index's pooling and precision.
pub fn query_embedder(ix: &Index, config: &Config) -> Result<Embedder, AppError> {
    let (files, options) = query_model(ix, config)?;
    Ok(Embedder::load(&files, options)?)
}

/// [`query_embedder`] for the given queries only (`Embedder::load_for`): what a process that
/// answers one `search` loads.
pub fn query_embedder_for(
    ix: &Index,
    config: &Config,
    queries: &[&str],
) -> Result<Embedder, AppError> {
    let (files, options) = query_model(ix, config)?;
    Ok(Embedder::load_for(
        &files,
        options,
        queries,
        embed::Role::Query,
    )?)
}

fn query_model(ix: &Index, config: &Config) -> Result<(ModelFiles, EmbedOptions), AppError> {
    let options = config.query_options(ix.manifest())?;
    let files = config.model_files()?;
    let fp = embed::source::fingerprint(&files)?;
    if fp != ix.manifest().model.fingerprint {
        return Err(AppError::Model {
            dir: config.index.clone(),
            index: ix.manifest().model.name.clone(),
            asked: files.name,
        });
    }
    Ok((files, options))
}

/// One embedded line of `embed`'s output.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddedText {
    pub text: String,
    pub embedding: Vec<f32>,
}

/// Lines of text handed to the embedder in groups this large.
const EMBED_GROUP: usize = 256;

/// Embeds every non-blank line of `reader` as `role`, handing each to `out` in input order.
/// Blank lines are skipped (nothing to embed), so there is one output per text.
pub fn embed_lines(
    embedder: &Embedder,
    reader: impl BufRead,
    role: Role,
    out: &mut dyn FnMut(EmbeddedText) -> std::io::Result<()>,
) -> Result<(), AppError> {
    let mut group: Vec<String> = Vec::new();
    let mut flush = |group: &mut Vec<String>| -> Result<(), AppError> {
        if group.is_empty() {
            return Ok(());
        }
        let vectors = embedder.embed(&group[..], role)?;
        for (text, embedding) in group.drain(..).zip(vectors) {
            out(EmbeddedText { text, embedding })?;
        }
        Ok(())
    };
    for (n, line) in reader.lines().enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(AppError::Line { line: n + 1 })
            }
            Err(e) => return Err(e.into()),
        };
        if line.trim().is_empty() {
            continue;
        }
        group.push(line);
        if group.len() == EMBED_GROUP {
            flush(&mut group)?;
        }
    }
    flush(&mut group)
}

/// One row of `list`: a paper's metadata without its text.
#[derive(Debug, Clone, Serialize)]
pub struct PaperRow<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub title_ko: Option<&'a str>,
    pub source: Option<&'a str>,
    pub sources: &'a [String],
    pub url: Option<&'a str>,
    pub date: Option<&'a str>,
    pub venue: Option<&'a str>,
    pub tags: &'a [String],
    pub title_only: bool,
}

impl<'a> PaperRow<'a> {
    pub fn of(p: &'a PaperMeta) -> Self {
        Self {
            id: &p.id,
            title: &p.title,
            title_ko: p.title_ko.as_deref(),
            source: p.sources.first().map(String::as_str),
            sources: &p.sources,
            url: p.url.as_deref(),
            date: p.date.as_deref(),
            venue: p.venue.as_deref(),
            tags: &p.tags,
            title_only: p.title_only,
        }
    }
}
