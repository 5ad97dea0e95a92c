//! Stage 3: text → L2-normalized sentence vectors, with multilingual-e5-small on candle.
//!
//! e5 has conventions that decide whether its vectors are any good (see `prepare`): NFC text,
//! a `passage: ` or `query: ` prefix, at most 512 ids, right padding with id 1, masked mean
//! pooling. Throughput comes from batching by a token budget over length-sorted texts, so
//! that a batch of short texts is wide and a batch of long ones is narrow and little padding
//! is computed.

pub mod bert;
mod gelu;
pub mod pool;
pub mod source;
mod weights;

pub use pool::Pooling;
pub use source::{ModelFiles, WeightsFile};

use candle_core::Device;
use candle_transformers::models::bert::Config;
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

/// How the linear layers run: dequantized F32 (exact to the reference), or straight on the
/// 4-bit weights with candle's quantized kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    #[value(alias = "q4", alias = "q4_0")]
    Quantized,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Quantized => "quantized",
        })
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

pub struct Embedder {
    model: bert::Bert,
    tokenizer: Tokenizer,
    options: EmbedOptions,
    files: ModelFiles,
    dim: usize,
    /// Time spent in `load`.
    pub load_time: Duration,
}

impl Embedder {
    pub fn load(files: &ModelFiles, options: EmbedOptions) -> Result<Self, EmbedError> {
        let start = Instant::now();
        let device = match options.device {
            DeviceKind::Cpu => Device::Cpu,
            DeviceKind::Cuda if !candle_core::utils::cuda_is_available() => {
                return Err(EmbedError::NoCuda)
            }
            DeviceKind::Cuda => Device::new_cuda(0)?,
        };
        let model_err = |path: &PathBuf, message: String| EmbedError::Model {
            path: path.clone(),
            message,
        };
        let config = load_config(files)?;
        let quantized = options.precision == Precision::Quantized;
        let model = match &files.weights {
            WeightsFile::Gguf(p) => {
                let mut src =
                    weights::Gguf::open(p, &device).map_err(|e| model_err(p, e.to_string()))?;
                bert::Bert::load(&mut src, &config, quantized, &device)
                    .map_err(|e| model_err(p, e.to_string()))?
            }
            WeightsFile::Safetensors(ps) => {
                let mut src = weights::Safetensors::open(ps, &device)
                    .map_err(|e| model_err(&ps[0], e.to_string()))?;
                bert::Bert::load(&mut src, &config, quantized, &device)
                    .map_err(|e| model_err(&ps[0], e.to_string()))?
            }
        };
        let tokenizer = load_tokenizer(files)?;
        Ok(Self {
            model,
            tokenizer,
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
        let len = rows.iter().map(Vec::len).max().unwrap_or(0);
        let want_diag = self.options.pooling == Pooling::Ditto;
        let enc = self.model.forward(&rows, want_diag)?;
        let hidden = enc.hidden.flatten_all()?.to_vec1::<f32>()?;
        let diag = match enc.attention_diagonal {
            Some(d) => Some(d.flatten_all()?.to_vec1::<f32>()?),
            None => None,
        };
        let mut offset = 0;
        let mut out = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter().enumerate() {
            let n = row.len();
            let h = &hidden[offset * self.dim..(offset + n) * self.dim];
            let w = diag.as_ref().map(|d| &d[r * len..r * len + n]);
            out.push(pool::pool(self.options.pooling, h, self.dim, n, w));
            offset += n;
        }
        Ok(out)
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
    let mut tokenizer = Tokenizer::from_file(&files.tokenizer).map_err(|e| EmbedError::Model {
        path: files.tokenizer.clone(),
        message: format!("not a tokenizer.json: {e}"),
    })?;
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
