//! The BERT encoder of multilingual-e5-small, written on candle's primitives.
//!
//! Why not `candle_transformers::models::bert::BertModel`? Three things it cannot do that this
//! project measures: run the linear layers directly on the Q4_0 weights (`QMatMul`), flatten
//! `[batch, len, hidden]` into one GEMM per layer instead of one per sequence, and hand back
//! the attention probabilities that Ditto pooling weights tokens by. The arithmetic is the
//! standard post-LayerNorm BERT and is checked against an independent reference
//! (`tests/embed.rs`, cosine ≥ 0.9999).

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::LayerNorm;
use candle_transformers::models::bert::{Config, HiddenAct};
use std::sync::Arc;

/// Where the encoder's weights come from; `Weights` hides GGUF vs safetensors from the layers.
pub trait WeightSource {
    /// A weight matrix of a linear layer, kept quantized when `quantized` and the file allows.
    fn matrix(&mut self, name: &str, quantized: bool) -> Result<QMatMul>;
    /// A dense F32 tensor (biases, LayerNorm parameters, small embedding tables).
    fn dense(&mut self, name: &str) -> Result<Tensor>;
    /// The word-embedding table, which may stay quantized: rows are dequantized on lookup.
    fn table(&mut self, name: &str) -> Result<Table>;
}

/// A token-embedding table: dequantized rows on demand from a `QTensor`, or a dense tensor.
pub enum Table {
    Quantized(Arc<QTensor>),
    Dense(Tensor),
}

impl Table {
    fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            Table::Quantized(q) => q.embedding(ids),
            Table::Dense(t) => {
                let (b, l) = ids.dims2()?;
                t.index_select(&ids.flatten_all()?, 0)?
                    .reshape((b, l, t.dim(1)?))
            }
        }
    }
}

/// A linear layer applied as one GEMM over all tokens of the batch.
struct Linear {
    weight: QMatMul,
    bias: Tensor,
}

impl Linear {
    fn load(src: &mut dyn WeightSource, prefix: &str, quantized: bool) -> Result<Self> {
        Ok(Self {
            weight: src.matrix(&format!("{prefix}.weight"), quantized)?,
            bias: src.dense(&format!("{prefix}.bias"))?,
        })
    }

    /// `xs`: `[tokens, in]` → `[tokens, out]`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.weight.forward(xs)?.broadcast_add(&self.bias)
    }
}

fn layer_norm(src: &mut dyn WeightSource, prefix: &str, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        src.dense(&format!("{prefix}.weight"))?,
        src.dense(&format!("{prefix}.bias"))?,
        eps,
    ))
}

struct Layer {
    qkv: [Linear; 3],
    attn_out: Linear,
    attn_norm: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    ff_norm: LayerNorm,
}

/// Encoder output for one padded batch.
pub struct Encoded {
    /// Last hidden state, `[batch, len, hidden]`.
    pub hidden: Tensor,
    /// Diagonal of the first layer's attention probabilities averaged over heads, `[batch, len]`,
    /// when asked for (Ditto pooling).
    pub attention_diagonal: Option<Tensor>,
}

pub struct Bert {
    word: Table,
    position: Tensor,
    token_type: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    act: HiddenAct,
    device: Device,
}

impl Bert {
    pub fn load(
        src: &mut dyn WeightSource,
        config: &Config,
        quantized: bool,
        device: &Device,
    ) -> Result<Self> {
        let eps = config.layer_norm_eps;
        let word = src.table("embeddings.word_embeddings.weight")?;
        let position = src.dense("embeddings.position_embeddings.weight")?;
        let token_type = src.dense("embeddings.token_type_embeddings.weight")?;
        let emb_norm = layer_norm(src, "embeddings.LayerNorm", eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                qkv: [
                    Linear::load(src, &format!("{p}.attention.self.query"), quantized)?,
                    Linear::load(src, &format!("{p}.attention.self.key"), quantized)?,
                    Linear::load(src, &format!("{p}.attention.self.value"), quantized)?,
                ],
                attn_out: Linear::load(src, &format!("{p}.attention.output.dense"), quantized)?,
                attn_norm: layer_norm(src, &format!("{p}.attention.output.LayerNorm"), eps)?,
                ff_in: Linear::load(src, &format!("{p}.intermediate.dense"), quantized)?,
                ff_out: Linear::load(src, &format!("{p}.output.dense"), quantized)?,
                ff_norm: layer_norm(src, &format!("{p}.output.LayerNorm"), eps)?,
            });
        }
        if position.dim(1)? != config.hidden_size {
            candle_core::bail!(
                "position embeddings have width {}, config says hidden_size {}",
                position.dim(1)?,
                config.hidden_size
            );
        }
        Ok(Self {
            word,
            position,
            token_type,
            emb_norm,
            layers,
            heads: config.num_attention_heads,
            act: config.hidden_act,
            device: device.clone(),
        })
    }

    pub fn max_positions(&self) -> usize {
        self.position.dim(0).unwrap_or(0)
    }

    /// Runs the encoder on right-padded `ids` (`[batch, len]`, u32) with `mask` (1 = token,
    /// 0 = padding). Token type ids are all 0, as e5 was trained.
    pub fn forward(&self, ids: &[Vec<u32>], want_diagonal: bool) -> Result<Encoded> {
        let batch = ids.len();
        let len = ids.iter().map(Vec::len).max().unwrap_or(0);
        if batch == 0 || len == 0 {
            candle_core::bail!("empty batch");
        }
        if len > self.max_positions() {
            candle_core::bail!(
                "sequence of {len} ids exceeds the model's {} positions",
                self.max_positions()
            );
        }
        let mut flat = Vec::with_capacity(batch * len);
        let mut bias = Vec::with_capacity(batch * len);
        for row in ids {
            flat.extend_from_slice(row);
            flat.extend(std::iter::repeat_n(super::PAD_ID, len - row.len()));
            bias.extend(std::iter::repeat_n(0f32, row.len()));
            bias.extend(std::iter::repeat_n(f32::MIN, len - row.len()));
        }
        let ids = Tensor::from_vec(flat, (batch, len), &self.device)?;
        // Additive key mask, broadcast over heads and query positions: [batch, 1, 1, len].
        let mask_bias = Tensor::from_vec(bias, (batch, 1, 1, len), &self.device)?;

        let hidden_size = self.position.dim(1)?;
        let positions = self.position.narrow(0, 0, len)?;
        let type0 = self.token_type.narrow(0, 0, 1)?;
        let x = self
            .word
            .lookup(&ids)?
            .broadcast_add(&positions)?
            .broadcast_add(&type0)?;
        let mut x = self.emb_norm.forward(&x)?.reshape((batch * len, hidden_size))?;

        let head_dim = hidden_size / self.heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut diagonal = None;
        for (li, layer) in self.layers.iter().enumerate() {
            let split = |t: Tensor| -> Result<Tensor> {
                t.reshape((batch, len, self.heads, head_dim))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = split((layer.qkv[0].forward(&x)? * scale)?)?;
            let k = split(layer.qkv[1].forward(&x)?)?;
            let v = split(layer.qkv[2].forward(&x)?)?;
            let scores = q.matmul(&k.t()?)?.broadcast_add(&mask_bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            if want_diagonal && li == 0 {
                diagonal = Some(attention_diagonal(&probs, len)?);
            }
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((batch * len, hidden_size))?;
            let attn = layer.attn_out.forward(&ctx)?;
            let x1 = layer.attn_norm.forward(&(attn + &x)?)?;
            let h = layer.ff_in.forward(&x1)?;
            let h = match self.act {
                HiddenAct::Gelu => h.gelu_erf()?,
                HiddenAct::GeluApproximate => h.gelu()?,
                HiddenAct::Relu => h.relu()?,
            };
            let h = layer.ff_out.forward(&h)?;
            x = layer.ff_norm.forward(&(h + x1)?)?;
        }
        Ok(Encoded {
            hidden: x.reshape((batch, len, hidden_size))?,
            attention_diagonal: diagonal,
        })
    }
}

/// `probs[b, h, i, i]` averaged over heads → `[batch, len]`.
fn attention_diagonal(probs: &Tensor, len: usize) -> Result<Tensor> {
    let eye = Tensor::eye(len, DType::F32, probs.device())?;
    probs
        .broadcast_mul(&eye)?
        .sum(D::Minus1)?
        .mean(1)
}
