//! The BERT encoder of multilingual-e5-small, written on candle's primitives: the CUDA path,
//! and on the CPU the reference that the kernels path (`cpu.rs`) is tested against
//! (`RECOMMEND_KERNELS=candle` runs it).
//!
//! Why not `candle_transformers::models::bert::BertModel`? It cannot flatten
//! `[batch, len, hidden]` into one GEMM per layer instead of one per sequence, nor hand back
//! the attention probabilities that Ditto pooling weights tokens by. The arithmetic is the
//! standard post-LayerNorm BERT and is checked against an independent reference
//! (`tests/embed.rs`, cosine ≥ 0.9999).

use candle_core::quantized::QTensor;
use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::LayerNorm;
use candle_transformers::models::bert::{Config, HiddenAct};
use std::sync::Arc;

/// Where the encoder's weights come from; `Weights` hides GGUF vs safetensors from the layers.
pub trait WeightSource {
    /// A dense F32 tensor (weight matrices dequantized, biases, LayerNorm parameters, small
    /// embedding tables).
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
    /// Rows of `ids` (`[batch, len]`) → `[batch, len, hidden]`.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
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
    /// `[out, in]`.
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn load(src: &mut dyn WeightSource, prefix: &str) -> Result<Self> {
        Ok(Self {
            weight: src.dense(&format!("{prefix}.weight"))?,
            bias: src.dense(&format!("{prefix}.bias"))?,
        })
    }

    /// `xs`: `[tokens, in]` → `[tokens, out]`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

fn layer_norm(src: &mut dyn WeightSource, prefix: &str, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        src.dense(&format!("{prefix}.weight"))?,
        src.dense(&format!("{prefix}.bias"))?,
        eps,
    ))
}

/// Query, key and value projections as one GEMM: `[tokens, hidden]` → `[tokens, 3 × hidden]`.
fn load_qkv(src: &mut dyn WeightSource, prefix: &str) -> Result<Linear> {
    let parts = [
        Linear::load(src, &format!("{prefix}.query"))?,
        Linear::load(src, &format!("{prefix}.key"))?,
        Linear::load(src, &format!("{prefix}.value"))?,
    ];
    Ok(Linear {
        weight: Tensor::cat(&parts.each_ref().map(|l| &l.weight), 0)?,
        bias: Tensor::cat(&parts.each_ref().map(|l| &l.bias), 0)?,
    })
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    ff_norm: LayerNorm,
}

/// Encoder output for one padded batch.
pub struct Encoded {
    /// Last hidden state of the real tokens, sequences one after another: `[tokens, hidden]`.
    pub hidden: Tensor,
    /// Length of the attention grid (the longest sequence).
    pub padded_len: usize,
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
    pub fn load(src: &mut dyn WeightSource, config: &Config, device: &Device) -> Result<Self> {
        let eps = config.layer_norm_eps;
        let word = src.table("embeddings.word_embeddings.weight")?;
        let position = src.dense("embeddings.position_embeddings.weight")?;
        let token_type = src.dense("embeddings.token_type_embeddings.weight")?;
        let emb_norm = layer_norm(src, "embeddings.LayerNorm", eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                qkv: load_qkv(src, &format!("{p}.attention.self"))?,
                attn_out: Linear::load(src, &format!("{p}.attention.output.dense"))?,
                attn_norm: layer_norm(src, &format!("{p}.attention.output.LayerNorm"), eps)?,
                ff_in: Linear::load(src, &format!("{p}.intermediate.dense"))?,
                ff_out: Linear::load(src, &format!("{p}.output.dense"))?,
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

    /// Runs the encoder on a batch of id sequences. Token type ids are all 0, as e5 was
    /// trained.
    ///
    /// Only attention needs the `[batch, len]` grid; every other layer runs on the real
    /// tokens packed one after another, so padding costs nothing in the GEMMs that take most
    /// of the time. Tokens move between the two layouts by one gather each way per layer.
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
        let total: usize = ids.iter().map(Vec::len).sum();
        let mut packed = Vec::with_capacity(total);
        let mut positions = Vec::with_capacity(total);
        // Packed row → grid slot, and grid slot → packed row (`total` = the zero row).
        let mut to_grid = Vec::with_capacity(total);
        let mut to_packed = Vec::with_capacity(batch * len);
        let mut bias = Vec::with_capacity(batch * len);
        for (b, row) in ids.iter().enumerate() {
            for (l, &id) in row.iter().enumerate() {
                to_grid.push((b * len + l) as u32);
                to_packed.push(packed.len() as u32);
                packed.push(id);
                positions.push(l as u32);
            }
            to_packed.extend(std::iter::repeat_n(total as u32, len - row.len()));
            bias.extend(std::iter::repeat_n(0f32, row.len()));
            bias.extend(std::iter::repeat_n(f32::MIN, len - row.len()));
        }
        let dev = &self.device;
        let packed = Tensor::from_vec(packed, (1, total), dev)?;
        let positions = Tensor::from_vec(positions, total, dev)?;
        let to_grid = Tensor::from_vec(to_grid, total, dev)?;
        let to_packed = Tensor::from_vec(to_packed, batch * len, dev)?;
        // Additive key mask, broadcast over heads and query positions: [batch, 1, 1, len].
        let mask_bias = Tensor::from_vec(bias, (batch, 1, 1, len), dev)?;

        let hidden_size = self.position.dim(1)?;
        let type0 = self.token_type.narrow(0, 0, 1)?;
        let x = self
            .word
            .lookup(&packed)?
            .squeeze(0)?
            .add(&self.position.index_select(&positions, 0)?)?
            .broadcast_add(&type0)?;
        let mut x = self.emb_norm.forward(&x)?;

        let head_dim = hidden_size / self.heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let zero_row = Tensor::zeros((1, 3 * hidden_size), DType::F32, dev)?;
        let mut diagonal = None;
        for (li, layer) in self.layers.iter().enumerate() {
            let qkv = Tensor::cat(&[layer.qkv.forward(&x)?, zero_row.clone()], 0)?
                .index_select(&to_packed, 0)?
                .reshape((batch, len, 3, self.heads, head_dim))?;
            let part = |i: usize| -> Result<Tensor> {
                qkv.narrow(2, i, 1)?
                    .squeeze(2)?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = (part(0)? * scale)?;
            let (k, v) = (part(1)?, part(2)?);
            let scores = q.matmul(&k.t()?)?.broadcast_add(&mask_bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            if want_diagonal && li == 0 {
                diagonal = Some(attention_diagonal(&probs, len)?);
            }
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((batch * len, hidden_size))?
                .index_select(&to_grid, 0)?;
            let attn = layer.attn_out.forward(&ctx)?;
            let x1 = layer.attn_norm.forward(&(attn + &x)?)?;
            let h = layer.ff_in.forward(&x1)?;
            let h = match self.act {
                HiddenAct::Gelu => super::gelu::gelu_erf(&h)?,
                HiddenAct::GeluApproximate => h.gelu()?,
                HiddenAct::Relu => h.relu()?,
            };
            let h = layer.ff_out.forward(&h)?;
            x = layer.ff_norm.forward(&(h + x1)?)?;
        }
        Ok(Encoded {
            hidden: x,
            padded_len: len,
            attention_diagonal: diagonal,
        })
    }
}

/// `probs[b, h, i, i]` averaged over heads → `[batch, len]`.
fn attention_diagonal(probs: &Tensor, len: usize) -> Result<Tensor> {
    let eye = Tensor::eye(len, DType::F32, probs.device())?;
    probs.broadcast_mul(&eye)?.sum(D::Minus1)?.mean(1)
}
