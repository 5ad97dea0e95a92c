//! Stage 3: text → L2-normalized sentence vectors, with multilingual-e5-small.
//!
//! e5 has conventions that decide whether its vectors are any good (see `prepare`): NFC text,
//! a `passage: ` or `query: ` prefix, at most 512 ids, masked mean pooling. Throughput comes
//! from batching by a token budget over length-sorted texts, one batch per worker thread, and
//! on the CPU from the kernels of `recommend-kernels` (`cpu.rs`), chosen per CPU at run time;
//! candle loads the weights, runs CUDA, and is the reference the kernels are tested against.

pub mod bert;
pub mod cpu;
mod gelu;
pub mod pool;
mod scoped;
pub mod source;
mod weights;

pub use pool::Pooling;
pub use recommend_kernels::Isa;
pub use source::{ModelFiles, WeightsFile};

use candle_core::Device;
use candle_transformers::models::bert::{Config, HiddenAct};
use recommend_kernels::Kernels;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokenizers::{Tokenizer, TruncationParams};
use unicode_normalization::UnicodeNormalization;

/// Padding id of the XLM-R vocabulary.
pub const PAD_ID: u32 = 1;
/// Positions of the model, `<s>` and `</s>` included.
pub const MAX_IDS: usize = 512;
/// Tokens per batch (rows × padded length) when nothing else is asked for; chosen with
/// `recommend bench --batch-tokens`.
pub const DEFAULT_BATCH_TOKENS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{}: {message}", path.display())]
    Model { path: PathBuf, message: String },
    #[error("cannot fetch model \"{id}\" from the Hugging Face hub ({reason}); pass --model DIR with a local copy (config.json, tokenizer.json, model.safetensors or model.gguf), or leave --model out to use the bundled model")]
    Hub { id: String, reason: String },
    #[error("this build has no CUDA support: rebuild with `--features cuda`, or use --device cpu")]
    NoCuda,
    #[error("text {index} is empty: nothing to embed")]
    EmptyText { index: usize },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{0}")]
    Kernels(#[from] recommend_kernels::KernelError),
    #[error(
        "--precision int8 runs on the CPU kernels only: use --precision f32 with --device cuda"
    )]
    Int8NeedsCpu,
}

/// Whether a text is indexed (`passage: `) or asked (`query: `); e5 was trained with both
/// prefixes and its vectors are measurably worse without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Passage,
    Query,
}

impl Role {
    pub fn prefix(self) -> &'static str {
        match self {
            Role::Passage => "passage: ",
            Role::Query => "query: ",
        }
    }
}

/// Compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceKind {
    #[default]
    Cpu,
    #[value(alias = "gpu")]
    Cuda,
}

/// How the linear layers run: f32 on the dequantized weights (exact to the reference), or
/// int8 (activations quantized per token, weights per output channel; attention, softmax
/// and LayerNorm stay f32). Recorded in the index manifest and part of the embedding-cache
/// key: the serialized names (and the flag values, the same) must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    #[value(alias = "i8")]
    Int8,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        })
    }
}

/// What runs the encoder: the kernels of one instruction-set path (CPU), or candle (CUDA; on
/// the CPU only as the reference, `RECOMMEND_KERNELS=candle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Kernels(Isa),
    Candle,
}

impl Backend {
    /// The CPU backend picked by `RECOMMEND_KERNELS` (`auto`, `avx512+vnni`, `avx512`,
    /// `avx2`, `portable`, `candle`), by default the best kernel path of this CPU.
    pub fn from_env() -> Result<Self, EmbedError> {
        match std::env::var(recommend_kernels::ENV) {
            Ok(v) if v.trim().eq_ignore_ascii_case("candle") => Ok(Backend::Candle),
            _ => Ok(Backend::Kernels(Isa::from_env()?)),
        }
    }

    /// What runs the encoder on `device` unless told otherwise: on the CPU, [`Self::from_env`];
    /// on CUDA, candle.
    pub fn for_device(device: DeviceKind) -> Result<Self, EmbedError> {
        match device {
            DeviceKind::Cpu => Self::from_env(),
            DeviceKind::Cuda => Ok(Backend::Candle),
        }
    }

    /// `avx2+fma`, `portable`, … or `candle`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Kernels(isa) => isa.name(),
            Backend::Candle => "candle",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that changes the vectors or the speed of an `Embedder`.
#[derive(Debug, Clone, Copy)]
pub struct EmbedOptions {
    pub device: DeviceKind,
    pub precision: Precision,
    pub pooling: Pooling,
    pub batch_tokens: usize,
    /// Batches embedded at once, each on its own thread.
    pub workers: usize,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        Self {
            device: DeviceKind::Cpu,
            precision: Precision::F32,
            pooling: Pooling::Mean,
            batch_tokens: DEFAULT_BATCH_TOKENS,
            workers: 1,
        }
    }
}

/// What one `embed` call cost, for progress lines and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbedStats {
    pub texts: usize,
    /// Real tokens, specials included.
    pub tokens: usize,
    /// Tokens computed including padding.
    pub padded_tokens: usize,
    pub batches: usize,
    pub elapsed: Duration,
}

enum Model {
    Kernels(cpu::Encoder),
    Candle(bert::Bert),
}

pub struct Embedder {
    model: Model,
    /// Workspaces of the kernels path, one taken by each running batch and put back after.
    workspaces: std::sync::Mutex<Vec<cpu::Workspace>>,
    tokenizer: Tokenizer,
    /// The prepared texts a tokenizer built for them alone may see (`load_for`).
    scope: Option<std::collections::HashSet<String>>,
    options: EmbedOptions,
    files: ModelFiles,
    dim: usize,
    /// Time spent in `load`.
    pub load_time: Duration,
}

impl Embedder {
    /// Loads the model; on the CPU with the backend `RECOMMEND_KERNELS` names (by default the
    /// best kernel path of this CPU).
    pub fn load(files: &ModelFiles, options: EmbedOptions) -> Result<Self, EmbedError> {
        Self::load_scoped(files, options, Backend::for_device(options.device)?, None)
    }

    /// Loads the model to embed `texts` in `role` and nothing else: with a unigram tokenizer
    /// such as the bundled one, built from the pieces those texts can contain (`scoped.rs`),
    /// which takes most of a one-query process's start-up away. Other texts are refused.
    pub fn load_for<S: AsRef<str>>(
        files: &ModelFiles,
        options: EmbedOptions,
        texts: &[S],
        role: Role,
    ) -> Result<Self, EmbedError> {
        let prepared = texts
            .iter()
            .map(|t| Self::prepare(t.as_ref(), role))
            .collect();
        Self::load_scoped(
            files,
            options,
            Backend::for_device(options.device)?,
            Some(prepared),
        )
    }

    /// Loads the model for an explicit backend (tests compare the paths this way).
    pub fn load_with(
        files: &ModelFiles,
        options: EmbedOptions,
        backend: Backend,
    ) -> Result<Self, EmbedError> {
        Self::load_scoped(files, options, backend, None)
    }

    fn load_scoped(
        files: &ModelFiles,
        options: EmbedOptions,
        backend: Backend,
        scope: Option<Vec<String>>,
    ) -> Result<Self, EmbedError> {
        let start = Instant::now();
        let device = match options.device {
            DeviceKind::Cpu => Device::Cpu,
            DeviceKind::Cuda if !candle_core::utils::cuda_is_available() => {
                return Err(EmbedError::NoCuda)
            }
            DeviceKind::Cuda => Device::new_cuda(0)?,
        };
        let config = load_config(files)?;
        // The kernels implement the erf GELU of BERT/e5; other activations go to candle.
        let backend = match backend {
            Backend::Kernels(isa) if device.is_cpu() && config.hidden_act == HiddenAct::Gelu => {
                Backend::Kernels(Kernels::new(isa)?.isa())
            }
            _ => Backend::Candle,
        };
        if backend == Backend::Candle && options.precision == Precision::Int8 {
            return Err(EmbedError::Int8NeedsCpu);
        }
        let path = files.weights.paths()[0].to_path_buf();
        let load = |src: &mut dyn bert::WeightSource| -> candle_core::Result<Model> {
            Ok(match backend {
                Backend::Kernels(isa) => Model::Kernels(cpu::Encoder::load(
                    src,
                    &config,
                    options.precision,
                    Kernels::new(isa).map_err(candle_core::Error::wrap)?,
                )?),
                Backend::Candle => Model::Candle(bert::Bert::load(src, &config, &device)?),
            })
        };
        // The tokenizer (a 250k-piece unigram model: its trie is most of a query process's
        // start-up) loads on a second thread while the weights are read and packed.
        let (model, tokenizer) = std::thread::scope(|s| {
            let tokenizer = s.spawn(|| match &scope {
                Some(texts) => load_tokenizer_for(files, texts),
                None => load_tokenizer(files),
            });
            let model = match &files.weights {
                WeightsFile::Gguf(p) => {
                    weights::Gguf::open(p, &device).and_then(|mut src| load(&mut src))
                }
                WeightsFile::Safetensors(ps) => {
                    weights::Safetensors::open(ps, &device).and_then(|mut src| load(&mut src))
                }
            }
            .map_err(|e| EmbedError::Model {
                path,
                message: e.to_string(),
            });
            let tokenizer = tokenizer
                .join()
                .expect("the tokenizer thread does not panic");
            (model, tokenizer)
        });
        let (model, tokenizer) = (model?, tokenizer?);
        Ok(Self {
            model,
            workspaces: Default::default(),
            tokenizer,
            scope: scope.map(|texts| texts.into_iter().collect()),
            options,
            files: files.clone(),
            dim: config.hidden_size,
            load_time: start.elapsed(),
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn options(&self) -> EmbedOptions {
        self.options
    }

    /// What runs the encoder (`recommend bench` prints it).
    pub fn backend(&self) -> Backend {
        match &self.model {
            Model::Kernels(e) => Backend::Kernels(e.kernels().isa()),
            Model::Candle(_) => Backend::Candle,
        }
    }

    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// The text exactly as the model sees it: trimmed, NFC (NFD Hangul would become jamo
    /// pieces the vocabulary barely knows), prefixed by role.
    pub fn prepare(text: &str, role: Role) -> String {
        let mut s = String::with_capacity(text.len() + 9);
        s.push_str(role.prefix());
        s.extend(text.trim().nfc());
        s
    }

    /// Token ids of prepared texts, `<s>`/`</s>` included, cut at 512.
    pub fn tokenize<S: AsRef<str>>(
        &self,
        texts: &[S],
        role: Role,
    ) -> Result<Vec<Vec<u32>>, EmbedError> {
        let prepared = texts
            .iter()
            .enumerate()
            .map(|(index, t)| {
                if t.as_ref().trim().is_empty() {
                    Err(EmbedError::EmptyText { index })
                } else {
                    Ok(Self::prepare(t.as_ref(), role))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(scope) = &self.scope {
            if let Some(index) = prepared.iter().position(|t| !scope.contains(t)) {
                return Err(EmbedError::Tokenizer(format!(
                    "text {index} is not one this embedder was loaded for (Embedder::load_for)"
                )));
            }
        }
        let encodings = self
            .tokenizer
            .encode_batch(prepared, true)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Embeds texts; vectors come back in input order.
    pub fn embed<S: AsRef<str>>(
        &self,
        texts: &[S],
        role: Role,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let ids = self.tokenize(texts, role)?;
        Ok(self.embed_ids(&ids, &mut |_| {})?.0)
    }

    /// Embeds tokenized texts in token-budget batches over length-sorted rows, calling
    /// `progress` after each batch with the stats so far.
    ///
    /// With `workers > 1`, that many batches run at once, each on its own thread; see
    /// [`single_threaded_kernels`] for why this beats parallelism inside each operation.
    pub fn embed_ids(
        &self,
        ids: &[Vec<u32>],
        progress: &mut dyn FnMut(&EmbedStats),
    ) -> Result<(Vec<Vec<f32>>, EmbedStats), EmbedError> {
        let start = Instant::now();
        let mut stats = EmbedStats::default();
        let mut out = vec![Vec::new(); ids.len()];
        let plan = batches(ids, self.options.batch_tokens);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let workers = self.options.workers.clamp(1, plan.len().max(1));
        std::thread::scope(|scope| -> Result<(), EmbedError> {
            let (tx, rx) = std::sync::mpsc::channel();
            for _ in 0..workers {
                let tx = tx.clone();
                let (plan, next) = (&plan, &next);
                scope.spawn(move || loop {
                    let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(batch) = plan.get(b) else { break };
                    let result = self.embed_batch(ids, batch);
                    let failed = result.is_err();
                    if tx.send((b, result)).is_err() || failed {
                        break;
                    }
                });
            }
            drop(tx);
            for (b, result) in rx {
                let vectors = result?;
                let batch = &plan[b];
                let len = batch.iter().map(|&i| ids[i].len()).max().unwrap_or(0);
                stats.texts += batch.len();
                stats.tokens += batch.iter().map(|&i| ids[i].len()).sum::<usize>();
                stats.padded_tokens += batch.len() * len;
                stats.batches += 1;
                stats.elapsed = start.elapsed();
                for (&i, v) in batch.iter().zip(vectors) {
                    out[i] = v;
                }
                progress(&stats);
            }
            Ok(())
        })?;
        Ok((out, stats))
    }

    /// One forward pass and pooling for the rows `batch` of `ids`.
    fn embed_batch(&self, ids: &[Vec<u32>], batch: &[usize]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let rows: Vec<Vec<u32>> = batch.iter().map(|&i| ids[i].clone()).collect();
        let want_diag = self.options.pooling == Pooling::Ditto;
        let pool_rows = |hidden: &[f32], diag: Option<&[f32]>, grid: usize| {
            let mut offset = 0;
            let mut out = Vec::with_capacity(rows.len());
            for (r, row) in rows.iter().enumerate() {
                let n = row.len();
                let h = &hidden[offset * self.dim..(offset + n) * self.dim];
                // Diagonals come per packed token (kernels) or per grid slot (candle).
                let start = if grid == 0 { offset } else { r * grid };
                let w = diag.map(|d| &d[start..start + n]);
                out.push(pool::pool(self.options.pooling, h, self.dim, n, w));
                offset += n;
            }
            out
        };
        match &self.model {
            Model::Kernels(encoder) => {
                let mut ws = self.take_workspace();
                let out = encoder
                    .forward(&rows, &mut ws, want_diag)
                    .map(|o| pool_rows(o.hidden, o.diagonal, 0));
                self.workspaces
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(ws);
                Ok(out?)
            }
            Model::Candle(bert) => {
                let enc = bert.forward(&rows, want_diag)?;
                let hidden = enc.hidden.flatten_all()?.to_vec1::<f32>()?;
                let diag = match enc.attention_diagonal {
                    Some(d) => Some(d.flatten_all()?.to_vec1::<f32>()?),
                    None => None,
                };
                Ok(pool_rows(&hidden, diag.as_deref(), enc.padded_len))
            }
        }
    }

    fn take_workspace(&self) -> cpu::Workspace {
        let mut pool = self.workspaces.lock().unwrap_or_else(|e| e.into_inner());
        pool.pop().unwrap_or_default()
    }
}

/// Makes candle's CPU kernels single-threaded, so that `EmbedOptions::workers` batches can
/// run side by side instead. Call once at program start, before any other thread exists
/// (it sets environment variables that candle reads), and after building rayon's global
/// pool if other work (tokenization, graph building) should keep using every core.
///
/// Why: on 2 cores, splitting each GEMM and each element-wise op across threads costs a
/// barrier per operation, and the element-wise ops are too small to pay for it; measured on
/// the seed paragraphs, two single-threaded batches at once ran about 1.4× faster than one
/// batch on two threads (`recommend bench --texts`, see BENCHMARKS.md).
pub fn single_threaded_kernels() {
    // SAFETY-relevant: only sound while the process has a single thread, as documented.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
}

/// The model's BERT configuration.
pub fn load_config(files: &ModelFiles) -> Result<Config, EmbedError> {
    let err = |message: String| EmbedError::Model {
        path: files.config.clone(),
        message,
    };
    let text = std::fs::read_to_string(&files.config).map_err(|e| err(e.to_string()))?;
    let config: Config =
        serde_json::from_str(&text).map_err(|e| err(format!("not a BERT config: {e}")))?;
    if config.max_position_embeddings < MAX_IDS
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
    {
        return Err(err(
            "unsupported config: needs 512 positions and whole attention heads".into(),
        ));
    }
    Ok(config)
}

/// Width of the model's vectors, read from its config alone.
pub fn model_dim(files: &ModelFiles) -> Result<usize, EmbedError> {
    Ok(load_config(files)?.hidden_size)
}

/// The tokenizer alone, set up as the embedder uses it (no padding, cut at 512 ids): the
/// chunker needs token counts without paying for the model.
pub fn load_tokenizer(files: &ModelFiles) -> Result<Tokenizer, EmbedError> {
    let tokenizer = Tokenizer::from_file(&files.tokenizer).map_err(|e| EmbedError::Model {
        path: files.tokenizer.clone(),
        message: format!("not a tokenizer.json: {e}"),
    })?;
    set_up(tokenizer)
}

/// A tokenizer that handles `texts` (prepared) exactly as [`load_tokenizer`]'s does, built
/// without the vocabulary's pieces they cannot contain where that can be shown; else the
/// full one.
fn load_tokenizer_for(files: &ModelFiles, texts: &[String]) -> Result<Tokenizer, EmbedError> {
    let scoped = std::fs::read(&files.tokenizer)
        .ok()
        .and_then(|json| scoped::for_texts(&json, texts).ok().flatten());
    match scoped {
        Some(tokenizer) => set_up(tokenizer),
        // Unreadable or not provably equivalent: the full loader, with its error messages.
        None => load_tokenizer(files),
    }
}

fn set_up(mut tokenizer: Tokenizer) -> Result<Tokenizer, EmbedError> {
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_IDS,
            ..Default::default()
        }))
        .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// Groups row indices into batches: longest first, each batch as many rows as fit
/// `budget` tokens at the batch's padded length (always at least one row).
pub fn batches(ids: &[Vec<u32>], budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut width = 0;
    for i in order {
        let len = ids[i].len().max(1);
        if current.is_empty() {
            width = len;
        } else if (current.len() + 1) * width > budget {
            out.push(std::mem::take(&mut current));
            width = len;
        }
        current.push(i);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_budget_and_cover_every_row() {
        let ids: Vec<Vec<u32>> = [5, 100, 7, 50, 50, 3, 512, 20]
            .iter()
            .map(|&n| vec![0; n])
            .collect();
        let b = batches(&ids, 200);
        let mut seen: Vec<usize> = b.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..ids.len()).collect::<Vec<_>>());
        for batch in &b {
            let width = batch.iter().map(|&i| ids[i].len()).max().unwrap();
            assert!(batch.len() == 1 || batch.len() * width <= 200, "{batch:?}");
        }
        // The 512-id row does not fit the budget and goes alone.
        assert!(b.iter().any(|batch| batch == &vec![6]));
    }

    #[test]
    fn prepare_trims_normalizes_and_prefixes() {
        // "한" in NFD (three jamo) must come out as the one precomposed syllable.
        let nfd = "  \u{1112}\u{1161}\u{11AB}  ";
        assert_eq!(Embedder::prepare(nfd, Role::Query), "query: 한");
        assert_eq!(Embedder::prepare("x", Role::Passage), "passage: x");
    }
}
