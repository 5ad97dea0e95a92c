//! Matrix products `C = A·Wᵀ (+ bias)(+ C)(→ GELU)(→ LayerNorm)` for the linear layers, in
//! f32 and in int8, with the weights packed once at load time.
//!
//! The layout follows BLIS/GotoBLAS: the weight matrix (`n` outputs × `k` inputs) is cut into
//! panels of `NR` outputs, each stored `k × NR` so that the microkernel reads it as one stream;
//! the activations are read in place, `MR` rows at a time (broadcast one element per row). The
//! microkernel keeps an `MR × NR` tile of C in registers and applies the epilogue before it
//! stores, so bias, the residual add and GELU never make another pass over memory; a block of
//! `MC` rows is finished across all `n` columns before the next, so LayerNorm runs on rows
//! that are still in cache.
//!
//! int8: activations are quantized per row to u8 with a zero point (asymmetric, the full
//! 0..255 range), weights per output channel to 7 bits (±63). AVX2's `vpmaddubsw` adds two
//! u8×i8 products in i16 and saturates past 32,767; with 7-bit weights the largest pair is
//! 2·255·63 = 32,130, so it never does, and every path (AVX2, AVX-512 BW, VNNI, portable)
//! computes the same integers. `Σ (q−zp)·w = Σ q·w − zp·Σw`: the zero point costs one
//! multiply-add per output with the column sums stored beside the weights.

use crate::math::{gelu, gelu_scalar};
use crate::simd::Simd;

/// Row slivers per block: a block of `MC_SLIVERS·MR` rows of A is finished across all
/// columns before the next (it stays in L2; LayerNorm then runs on rows in cache).
const MC_SLIVERS: usize = 12;
/// Depth per block: a `KC × NR` weight sliver stays in L1 while the block's rows pass.
pub(crate) const KC: usize = 384;
/// Widest microkernel tile (AVX-512: 2 × 16 lanes).
const MAX_NR: usize = 32;

/// LayerNorm parameters for the epilogue.
#[derive(Clone, Copy, Debug)]
pub struct LayerNorm<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub eps: f32,
}

/// What happens to `A·Wᵀ` on its way to C: the layer's bias is always added.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// Add to what C already holds (the residual connection) instead of overwriting it.
    pub accumulate: bool,
    /// GELU (erf form) after the bias.
    pub gelu: bool,
    /// LayerNorm over each finished row (after the residual).
    pub layer_norm: Option<LayerNorm<'a>>,
}

/// f32 weights of one linear layer, packed for one kernel path.
#[derive(Clone, Debug)]
pub struct PackedF32 {
    pub(crate) n: usize,
    pub(crate) k: usize,
    pub(crate) nr: usize,
    /// Panels of `nr` outputs, each `k × nr`; outputs past `n` are zero.
    pub(crate) data: Vec<f32>,
    /// `n` rounded up to `nr`, zero past `n`.
    pub(crate) bias: Vec<f32>,
}

impl PackedF32 {
    /// `w`: `n × k` row-major (PyTorch's `out × in`), `bias`: `n` or none.
    pub(crate) fn new(nr: usize, w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Self {
        assert_eq!(w.len(), n * k, "weight matrix is not {n} × {k}");
        let panels = n.div_ceil(nr);
        let mut data = vec![0f32; panels * k * nr];
        for (o, row) in w.chunks_exact(k).enumerate() {
            let (p, j) = (o / nr, o % nr);
            let panel = &mut data[p * k * nr..(p + 1) * k * nr];
            for (kk, &x) in row.iter().enumerate() {
                panel[kk * nr + j] = x;
            }
        }
        Self {
            n,
            k,
            nr,
            data,
            bias: padded_bias(bias, n, panels * nr),
        }
    }

    /// Outputs (columns of C).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inputs (columns of A).
    pub fn k(&self) -> usize {
        self.k
    }
}

fn padded_bias(bias: Option<&[f32]>, n: usize, padded: usize) -> Vec<f32> {
    let mut out = vec![0f32; padded];
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "bias has {} values for {n} outputs", b.len());
        out[..n].copy_from_slice(b);
    }
    out
}

/// Largest |weight| after quantization: two u8×i8 products must fit an i16 (see module doc).
pub const WEIGHT_MAX: i32 = 63;

/// int8 weights of one linear layer: 7-bit per output channel, packed for one kernel path.
#[derive(Clone, Debug)]
pub struct PackedI8 {
    pub(crate) n: usize,
    pub(crate) k: usize,
    /// `k` rounded up to 4 (one 32-bit lane holds 4 consecutive inputs).
    pub(crate) k4: usize,
    pub(crate) nr: usize,
    /// Panels of `nr` outputs, each `k4/4 × nr × 4` bytes.
    pub(crate) data: Vec<i8>,
    /// Per output: the float one quantization step stands for; zero past `n`.
    pub(crate) scale: Vec<f32>,
    /// Per output: Σ of its quantized weights (for the activations' zero point).
    pub(crate) colsum: Vec<f32>,
    pub(crate) bias: Vec<f32>,
}

impl PackedI8 {
    pub(crate) fn new(nr: usize, w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Self {
        assert_eq!(w.len(), n * k, "weight matrix is not {n} × {k}");
        let k4 = k.div_ceil(4) * 4;
        let panels = n.div_ceil(nr);
        let padded = panels * nr;
        let mut data = vec![0i8; panels * k4 * nr];
        let mut scale = vec![0f32; padded];
        let mut colsum = vec![0f32; padded];
        for (o, row) in w.chunks_exact(k).enumerate() {
            let amax = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let s = if amax > 0.0 {
                amax / WEIGHT_MAX as f32
            } else {
                1.0
            };
            scale[o] = s;
            let (p, j) = (o / nr, o % nr);
            let panel = &mut data[p * k4 * nr..(p + 1) * k4 * nr];
            let mut sum = 0i32;
            for (kk, &x) in row.iter().enumerate() {
                let q = (x / s).round().clamp(-WEIGHT_MAX as f32, WEIGHT_MAX as f32) as i8;
                sum += q as i32;
                panel[(kk / 4) * nr * 4 + j * 4 + kk % 4] = q;
            }
            colsum[o] = sum as f32;
        }
        Self {
            n,
            k,
            k4,
            nr,
            data,
            scale,
            colsum,
            bias: padded_bias(bias, n, padded),
        }
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// The weights as the kernels see them, dequantized (`n × k`), for tests and error
    /// measurements.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.k];
        for o in 0..self.n {
            let (p, j) = (o / self.nr, o % self.nr);
            let panel = &self.data[p * self.k4 * self.nr..];
            for kk in 0..self.k {
                let q = panel[(kk / 4) * self.nr * 4 + j * 4 + kk % 4];
                out[o * self.k + kk] = q as f32 * self.scale[o];
            }
        }
        out
    }
}

/// Activations quantized per row: `x ≈ scale·(q − zero)`, `q` in 0..=255.
#[derive(Clone, Debug, Default)]
pub struct QuantRows {
    pub(crate) data: Vec<u8>,
    /// Bytes per row: `k` rounded up to 4.
    pub(crate) stride: usize,
    pub(crate) rows: usize,
    pub(crate) k: usize,
    pub(crate) scale: Vec<f32>,
    pub(crate) zero: Vec<f32>,
}

impl QuantRows {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn reset(&mut self, rows: usize, k: usize) {
        self.rows = rows;
        self.k = k;
        self.stride = k.div_ceil(4) * 4;
        // Grow only: the buffers are reused across layers and batches.
        if self.data.len() < rows * self.stride {
            self.data.resize(rows * self.stride, 0);
        }
        if self.scale.len() < rows {
            self.scale.resize(rows, 0.0);
            self.zero.resize(rows, 0.0);
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row `r` dequantized, for tests.
    pub fn dequantize_row(&self, r: usize) -> Vec<f32> {
        let row = &self.data[r * self.stride..r * self.stride + self.k];
        row.iter()
            .map(|&q| self.scale[r] * (q as f32 - self.zero[r]))
            .collect()
    }
}

/// Quantizes `m` rows of `k` floats (row stride `ldx`) into `out`.
#[inline(always)]
pub(crate) unsafe fn quantize_rows<S: Simd>(
    m: usize,
    x: &[f32],
    ldx: usize,
    k: usize,
    out: &mut QuantRows,
) {
    out.reset(m, k);
    let l = S::LANES;
    for r in 0..m {
        let row = &x[r * ldx..r * ldx + k];
        // Range including 0, so that the zero point is an integer in 0..=255.
        let (mut lo, mut hi) = (S::zero(), S::zero());
        let mut chunks = row.chunks_exact(l);
        for c in &mut chunks {
            let v = S::load(c.as_ptr());
            lo = S::min(lo, v);
            hi = S::max(hi, v);
        }
        let mut lo = -S::hmax(S::sub(S::zero(), lo));
        let mut hi = S::hmax(hi);
        for &v in chunks.remainder() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let zero = (-lo / scale).round().clamp(0.0, 255.0);
        let inv = 1.0 / scale;
        out.scale[r] = scale;
        out.zero[r] = zero;
        let q = &mut out.data[r * out.stride..(r + 1) * out.stride];
        // Round by the float adder: adding 1.5·2²³ puts the integer in the low mantissa bits,
        // whose low byte is the quantized value.
        let (iv, zv) = (S::splat(inv), S::splat(zero));
        let (lo_v, hi_v, magic) = (S::zero(), S::splat(255.0), S::splat(12_582_912.0));
        let whole = k / l * l;
        for j in (0..whole).step_by(l) {
            // Not fused: every path (and the scalar tail) must round the same way, so that
            // every path computes the same integers.
            let y = S::add(S::mul(S::load(row.as_ptr().add(j)), iv), zv);
            let y = S::min(S::max(y, lo_v), hi_v);
            S::store_low_bytes(q.as_mut_ptr().add(j), S::add(y, magic));
        }
        for j in whole..k {
            let y = (row[j] * inv + zero).clamp(0.0, 255.0);
            q[j] = (y + 12_582_912.0).to_bits() as u8;
        }
        q[k..].fill(0);
    }
}

/// f32 microkernel: `C[mr × nr] (+)= A[mr × k]·B[k × NR]`, A read in place (row stride
/// `lda`), B one packed panel. Rows past `mr` repeat the last row and are not stored.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn ukernel_f32<S: Simd, const MR: usize, const NV: usize>(
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    mr: usize,
    nr: usize,
    bias: *const f32,
    accumulate: bool,
    act_gelu: bool,
) {
    let l = S::LANES;
    let mut acc = [[S::zero(); NV]; MR];
    let mut ap = [a; MR];
    for (i, p) in ap.iter_mut().enumerate() {
        *p = a.add(i.min(mr - 1) * lda);
    }
    let mut bp = b;
    for kk in 0..k {
        let mut bv = [S::zero(); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            *x = S::load(bp.add(v * l));
        }
        for i in 0..MR {
            let av = S::splat(*ap[i].add(kk));
            for v in 0..NV {
                acc[i][v] = S::fmadd(av, bv[v], acc[i][v]);
            }
        }
        bp = bp.add(NV * l);
    }
    store_tile::<S, MR, NV>(&acc, c, ldc, mr, nr, bias, accumulate, act_gelu);
}

/// Bias, residual, GELU and the store of one tile; partial tiles go through a scalar path.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn store_tile<S: Simd, const MR: usize, const NV: usize>(
    acc: &[[S::F; NV]; MR],
    c: *mut f32,
    ldc: usize,
    mr: usize,
    nr: usize,
    bias: *const f32,
    accumulate: bool,
    act_gelu: bool,
) {
    let l = S::LANES;
    if mr == MR && nr == NV * l {
        for (i, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                let p = c.add(i * ldc + v * l);
                let mut x = x;
                if !bias.is_null() {
                    x = S::add(x, S::load(bias.add(v * l)));
                }
                if accumulate {
                    x = S::add(x, S::load(p));
                }
                if act_gelu {
                    x = gelu::<S>(x);
                }
                S::store(p, x);
            }
        }
        return;
    }
    let mut tile = [[0f32; MAX_NR]; MR];
    for (i, row) in acc.iter().enumerate() {
        for (v, &x) in row.iter().enumerate() {
            S::store(tile[i].as_mut_ptr().add(v * l), x);
        }
    }
    for (i, t) in tile.iter().enumerate().take(mr) {
        for (j, &t) in t.iter().enumerate().take(nr) {
            let p = c.add(i * ldc + j);
            let mut x = t;
            if !bias.is_null() {
                x += *bias.add(j);
            }
            if accumulate {
                x += *p;
            }
            if act_gelu {
                x = gelu_scalar(x);
            }
            *p = x;
        }
    }
}

/// `C = A·Wᵀ` with the epilogue; A is `m × w.k` (row stride `lda`), C `m × w.n` (row stride
/// `ldc`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm<S: Simd, const MR: usize, const NV: usize>(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &PackedF32,
    c: &mut [f32],
    ldc: usize,
    ep: &Epilogue,
) {
    let nr = NV * S::LANES;
    debug_assert_eq!(w.nr, nr);
    let (n, k) = (w.n, w.k);
    let panels = n.div_ceil(nr);
    let (ap, cp) = (a.as_ptr(), c.as_mut_ptr());
    let mc_block = MR * MC_SLIVERS;
    for i0 in (0..m).step_by(mc_block) {
        let mc = mc_block.min(m - i0);
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            let (first, last) = (p0 == 0, p0 + kc == k);
            for jp in 0..panels {
                let j0 = jp * nr;
                let b = w.data.as_ptr().add(jp * k * nr + p0 * nr);
                let bias = if last {
                    w.bias.as_ptr().add(j0)
                } else {
                    std::ptr::null()
                };
                for ir in (0..mc).step_by(MR) {
                    let i = i0 + ir;
                    ukernel_f32::<S, MR, NV>(
                        kc,
                        ap.add(i * lda + p0),
                        lda,
                        b,
                        cp.add(i * ldc + j0),
                        ldc,
                        MR.min(m - i),
                        nr.min(n - j0),
                        bias,
                        ep.accumulate || !first,
                        last && ep.gelu,
                    );
                }
            }
            p0 += kc;
        }
        if let Some(ln) = &ep.layer_norm {
            crate::norm::layer_norm_rows::<S>(&mut c[i0 * ldc..], mc, n, ldc, ln);
        }
    }
}

/// int8 microkernel: `C[mr × nr] (+)= dequant(Aq[mr × k4]·Bq[k4 × NR])`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn ukernel_i8<S: Simd, const MR: usize, const NV: usize>(
    k4: usize,
    a: *const u8,
    lda: usize,
    a_scale: *const f32,
    a_zero: *const f32,
    w: &PackedI8,
    j0: usize,
    b: *const i8,
    c: *mut f32,
    ldc: usize,
    mr: usize,
    nr: usize,
    accumulate: bool,
    act_gelu: bool,
) {
    let l = S::LANES;
    let mut acc = [[S::izero(); NV]; MR];
    let mut ap = [a; MR];
    for (i, p) in ap.iter_mut().enumerate() {
        *p = a.add(i.min(mr - 1) * lda);
    }
    let mut bp = b;
    for g in (0..k4).step_by(4) {
        let mut bv = [S::izero(); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            *x = S::iload(bp.add(v * l * 4));
        }
        for i in 0..MR {
            let av = S::bcast4(ap[i].add(g));
            for v in 0..NV {
                acc[i][v] = S::dot4(acc[i][v], av, bv[v]);
            }
        }
        bp = bp.add(NV * l * 4);
    }
    // Dequantize: (acc − zero_i·colsum_j)·scale_i·wscale_j + bias_j.
    let mut out = [[S::zero(); NV]; MR];
    for (i, row) in out.iter_mut().enumerate() {
        let r = i.min(mr - 1);
        let (sa, za) = (S::splat(*a_scale.add(r)), S::splat(*a_zero.add(r)));
        for (v, o) in row.iter_mut().enumerate() {
            let j = j0 + v * l;
            let x = S::fnmadd(za, S::load(w.colsum.as_ptr().add(j)), S::i2f(acc[i][v]));
            let s = S::mul(sa, S::load(w.scale.as_ptr().add(j)));
            *o = S::fmadd(x, s, S::load(w.bias.as_ptr().add(j)));
        }
    }
    store_tile::<S, MR, NV>(&out, c, ldc, mr, nr, std::ptr::null(), accumulate, act_gelu);
}

/// `C = dequant(Aq·Wqᵀ)` with the epilogue (bias included by the microkernel).
#[inline(always)]
pub(crate) unsafe fn qgemm<S: Simd, const MR: usize, const NV: usize>(
    a: &QuantRows,
    w: &PackedI8,
    c: &mut [f32],
    ldc: usize,
    ep: &Epilogue,
) {
    let nr = NV * S::LANES;
    debug_assert_eq!(w.nr, nr);
    let (m, n, k4) = (a.rows, w.n, w.k4);
    let panels = n.div_ceil(nr);
    let cp = c.as_mut_ptr();
    let mc_block = MR * MC_SLIVERS;
    for i0 in (0..m).step_by(mc_block) {
        let mc = mc_block.min(m - i0);
        for jp in 0..panels {
            let j0 = jp * nr;
            let b = w.data.as_ptr().add(jp * k4 * nr);
            for ir in (0..mc).step_by(MR) {
                let i = i0 + ir;
                ukernel_i8::<S, MR, NV>(
                    k4,
                    a.data.as_ptr().add(i * a.stride),
                    a.stride,
                    a.scale.as_ptr().add(i),
                    a.zero.as_ptr().add(i),
                    w,
                    j0,
                    b,
                    cp.add(i * ldc + j0),
                    ldc,
                    MR.min(m - i),
                    nr.min(n - j0),
                    ep.accumulate,
                    ep.gelu,
                );
            }
        }
        if let Some(ln) = &ep.layer_norm {
            crate::norm::layer_norm_rows::<S>(&mut c[i0 * ldc..], mc, n, ldc, ln);
        }
    }
}
