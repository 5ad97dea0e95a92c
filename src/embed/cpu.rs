//! The encoder's CPU forward pass on plain `f32` buffers and the `recommend-kernels` crate.
//!
//! Why not candle on the CPU: profiled on a 2-core AVX2 machine, candle's GEMM was only half
//! of the time; the rest was element-wise ops each making a pass over memory, scalar `exp`,
//! allocation, zeroing and page faults of a fresh tensor per op. Here one [`Workspace`] per
//! worker holds every activation buffer and is reused across layers and batches; bias,
//! residual, GELU and LayerNorm run in the GEMM epilogue on tiles still in registers or cache;
//! attention runs per sequence at its own length (no padding, no mask). candle still loads
//! the weights (GGUF or safetensors), runs CUDA, and is the reference this path is tested
//! against (`tests/embed.rs`).
//!
//! Numerics: the same post-LayerNorm BERT as `bert.rs`. The query weights are pre-multiplied
//! by `1/√head_dim`. With [`Precision::Int8`] the four linear layers run on int8 (activations
//! per row, weights per output channel, see the kernels crate); embeddings, attention,
//! softmax and LayerNorm stay f32.

use super::bert::{Table, WeightSource};
use super::Precision;
use candle_core::{Device, Result, Tensor};
use candle_transformers::models::bert::Config;
use recommend_kernels::{
    AttentionScratch, Epilogue, Heads, Kernels, LayerNorm, PackedF32, PackedI8, QuantRows,
};

/// A linear layer's weights in the form its precision runs on.
enum Linear {
    F32(PackedF32),
    Int8(PackedI8),
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    fn params(&self, eps: f32) -> LayerNorm<'_> {
        LayerNorm {
            gamma: &self.gamma,
            beta: &self.beta,
            eps,
        }
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    ff_in: Linear,
    ff_out: Linear,
    ff_norm: Norm,
}

/// Activation buffers of one worker, grown to the largest batch seen and reused.
#[derive(Default)]
pub struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    ff: Vec<f32>,
    quant: QuantRows,
    attention: AttentionScratch,
    diagonal: Vec<f32>,
}

/// `v[..n]`, growing `v` if needed; what it held is left as is (every user overwrites).
fn take(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

pub struct Encoder {
    kernels: Kernels,
    word: Table,
    position: Vec<f32>,
    type0: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    ff: usize,
    eps: f32,
    max_positions: usize,
}

/// What a forward pass hands back, borrowed from the workspace.
pub struct Output<'a> {
    /// Last hidden state of every token, sequences one after another: `tokens × hidden`.
    pub hidden: &'a [f32],
    /// Per token, the first layer's attention to itself averaged over heads (Ditto).
    pub diagonal: Option<&'a [f32]>,
}

fn vec1(t: Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

impl Encoder {
    /// Reads the weights (dequantized to f32) and packs them for `kernels`.
    pub fn load(
        src: &mut dyn WeightSource,
        config: &Config,
        precision: Precision,
        kernels: Kernels,
    ) -> Result<Self> {
        let (hidden, heads, ff) = (
            config.hidden_size,
            config.num_attention_heads,
            config.intermediate_size,
        );
        let head_dim = hidden / heads;
        let norm = |src: &mut dyn WeightSource, prefix: &str| -> Result<Norm> {
            Ok(Norm {
                gamma: vec1(src.dense(&format!("{prefix}.weight"))?)?,
                beta: vec1(src.dense(&format!("{prefix}.bias"))?)?,
            })
        };
        let dense = |src: &mut dyn WeightSource, name: &str, n: usize, k: usize| {
            let w = vec1(src.dense(name)?)?;
            if w.len() != n * k {
                candle_core::bail!("{name} has {} values, expected {n} × {k}", w.len());
            }
            Ok(w)
        };
        let linear = |w: &[f32], b: &[f32], n: usize, k: usize| match precision {
            Precision::Int8 => Linear::Int8(kernels.pack_i8(w, n, k, Some(b))),
            Precision::F32 => Linear::F32(kernels.pack_f32(w, n, k, Some(b))),
        };
        let word = src.table("embeddings.word_embeddings.weight")?;
        let position = vec1(src.dense("embeddings.position_embeddings.weight")?)?;
        let type0 = vec1(src.dense("embeddings.token_type_embeddings.weight")?)?;
        if position.len() % hidden != 0 || type0.len() < hidden {
            candle_core::bail!("position or token type embeddings are not {hidden} wide");
        }
        let emb_norm = norm(src, "embeddings.LayerNorm")?;
        let scale = 1.0 / (head_dim as f32).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            // Queries, keys and values as one GEMM; queries pre-scaled for attention.
            let (mut w, mut b) = (Vec::with_capacity(3 * hidden * hidden), Vec::new());
            for part in ["query", "key", "value"] {
                let name = format!("{p}.attention.self.{part}");
                let mut wp = dense(src, &format!("{name}.weight"), hidden, hidden)?;
                let mut bp = vec1(src.dense(&format!("{name}.bias"))?)?;
                if part == "query" {
                    wp.iter_mut().chain(bp.iter_mut()).for_each(|x| *x *= scale);
                }
                w.extend(wp);
                b.extend(bp);
            }
            let out = format!("{p}.attention.output.dense");
            let ff_in = format!("{p}.intermediate.dense");
            let ff_out = format!("{p}.output.dense");
            layers.push(Layer {
                qkv: linear(&w, &b, 3 * hidden, hidden),
                attn_out: linear(
                    &dense(src, &format!("{out}.weight"), hidden, hidden)?,
                    &vec1(src.dense(&format!("{out}.bias"))?)?,
                    hidden,
                    hidden,
                ),
                attn_norm: norm(src, &format!("{p}.attention.output.LayerNorm"))?,
                ff_in: linear(
                    &dense(src, &format!("{ff_in}.weight"), ff, hidden)?,
                    &vec1(src.dense(&format!("{ff_in}.bias"))?)?,
                    ff,
                    hidden,
                ),
                ff_out: linear(
                    &dense(src, &format!("{ff_out}.weight"), hidden, ff)?,
                    &vec1(src.dense(&format!("{ff_out}.bias"))?)?,
                    hidden,
                    ff,
                ),
                ff_norm: norm(src, &format!("{p}.output.LayerNorm"))?,
            });
        }
        Ok(Self {
            kernels,
            word,
            max_positions: position.len() / hidden,
            position,
            type0: type0[..hidden].to_vec(),
            emb_norm,
            layers,
            hidden,
            heads,
            ff,
            eps: config.layer_norm_eps as f32,
        })
    }

    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// `x·Wᵀ + b` with the epilogue, in the layer's precision.
    #[allow(clippy::too_many_arguments)]
    fn linear(
        &self,
        lin: &Linear,
        m: usize,
        a: &[f32],
        lda: usize,
        c: &mut [f32],
        ldc: usize,
        ep: &Epilogue,
        quant: &mut QuantRows,
    ) {
        match lin {
            Linear::F32(w) => self.kernels.sgemm(m, a, lda, w, c, ldc, ep),
            Linear::Int8(w) => {
                self.kernels.quantize_rows(m, a, lda, w.k(), quant);
                self.kernels.qgemm(quant, w, c, ldc, ep);
            }
        }
    }

    /// Runs the encoder on a batch of id sequences (token type 0, as e5 was trained).
    pub fn forward<'w>(
        &self,
        ids: &[Vec<u32>],
        ws: &'w mut Workspace,
        want_diagonal: bool,
    ) -> Result<Output<'w>> {
        let h = self.hidden;
        let total: usize = ids.iter().map(Vec::len).sum();
        if ids.is_empty() || ids.iter().any(Vec::is_empty) {
            candle_core::bail!("empty batch or sequence");
        }
        if let Some(long) = ids.iter().find(|r| r.len() > self.max_positions) {
            candle_core::bail!(
                "sequence of {} ids exceeds the model's {} positions",
                long.len(),
                self.max_positions
            );
        }
        let Workspace {
            x,
            qkv,
            ctx,
            ff,
            quant,
            attention,
            diagonal,
        } = &mut *ws;
        let x = take(x, total * h);
        let qkv = take(qkv, total * 3 * h);
        let ctx = take(ctx, total * h);
        let ffb = take(ff, total * self.ff);
        let mut diag = if want_diagonal {
            let d = take(diagonal, total);
            d.fill(0.0);
            Some(d)
        } else {
            None
        };

        // Embeddings: word + position + token type 0, then LayerNorm.
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let words = Tensor::from_vec(flat, (1, total), &Device::Cpu)?;
        let words = vec1(self.word.lookup(&words)?)?;
        let mut t = 0;
        for row in ids {
            for p in 0..row.len() {
                let (dst, w) = (&mut x[t * h..(t + 1) * h], &words[t * h..(t + 1) * h]);
                let pos = &self.position[p * h..(p + 1) * h];
                for (((d, &w), &p), &ty) in dst.iter_mut().zip(w).zip(pos).zip(&self.type0) {
                    *d = w + p + ty;
                }
                t += 1;
            }
        }
        let k = self.kernels;
        k.layer_norm(x, total, h, h, &self.emb_norm.params(self.eps));

        let shape = Heads {
            heads: self.heads,
            head_dim: h / self.heads,
        };
        for (li, layer) in self.layers.iter().enumerate() {
            self.linear(
                &layer.qkv,
                total,
                x,
                h,
                qkv,
                3 * h,
                &Epilogue::default(),
                quant,
            );
            let mut start = 0;
            for row in ids {
                let n = row.len();
                let d = match (&mut diag, li) {
                    (Some(d), 0) => Some(&mut d[start..start + n]),
                    _ => None,
                };
                k.attention(
                    &qkv[start * 3 * h..],
                    3 * h,
                    n,
                    shape,
                    &mut ctx[start * h..],
                    h,
                    attention,
                    d,
                );
                start += n;
            }
            // x ← LN(x + ctx·Woᵀ + b)
            self.linear(
                &layer.attn_out,
                total,
                ctx,
                h,
                x,
                h,
                &Epilogue {
                    accumulate: true,
                    layer_norm: Some(layer.attn_norm.params(self.eps)),
                    ..Default::default()
                },
                quant,
            );
            // ff ← GELU(x·W1ᵀ + b1); x ← LN(x + ff·W2ᵀ + b2)
            self.linear(
                &layer.ff_in,
                total,
                x,
                h,
                ffb,
                self.ff,
                &Epilogue {
                    gelu: true,
                    ..Default::default()
                },
                quant,
            );
            self.linear(
                &layer.ff_out,
                total,
                ffb,
                self.ff,
                x,
                h,
                &Epilogue {
                    accumulate: true,
                    layer_norm: Some(layer.ff_norm.params(self.eps)),
                    ..Default::default()
                },
                quant,
            );
        }
        let ws: &'w Workspace = ws;
        Ok(Output {
            hidden: &ws.x[..total * h],
            diagonal: want_diagonal.then(|| &ws.diagonal[..total]),
        })
    }
}
