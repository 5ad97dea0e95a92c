//! Self-attention of one sequence, every head, on the same microkernel as the linear layers.
//!
//! Per head: Kᵀ and V are packed into microkernel panels (`len × head_dim` copies, against
//! `len² × head_dim` multiply-adds), then for each block of queries the scores `Q·Kᵀ` go to a
//! small buffer that stays in L2, softmax runs in place on it (exp vectorized, max and scale
//! fused), and `P·V` writes the head's slice of the context rows, scaled by `1/Σ` afterwards
//! (`head_dim` multiplies per row instead of `len`). Sequences are attended one at a time at
//! their own length, so padding costs nothing and there is no mask.

use crate::gemm::ukernel_f32;
use crate::math::exp;
use crate::simd::Simd;

/// Buffers for [`attention`], grown on first use and reused.
#[derive(Clone, Debug, Default)]
pub struct AttentionScratch {
    kp: Vec<f32>,
    vp: Vec<f32>,
    s: Vec<f32>,
    inv: Vec<f32>,
}

/// Shape of the fused QKV rows that attention reads.
#[derive(Clone, Copy, Debug)]
pub struct Heads {
    pub heads: usize,
    pub head_dim: usize,
}

/// Softmax of `row` in place, unnormalized: returns `Σ exp(x − max)`.
#[inline(always)]
unsafe fn softmax_row<S: Simd>(row: &mut [f32]) -> f32 {
    let l = S::LANES;
    let mut mx = S::splat(f32::NEG_INFINITY);
    let mut chunks = row.chunks_exact(l);
    for c in &mut chunks {
        mx = S::max(mx, S::load(c.as_ptr()));
    }
    let m = chunks
        .remainder()
        .iter()
        .fold(S::hmax(mx), |m, &x| m.max(x));
    let mv = S::splat(m);
    let mut sum = S::zero();
    let mut chunks = row.chunks_exact_mut(l);
    for c in &mut chunks {
        let e = exp::<S>(S::sub(S::load(c.as_ptr()), mv));
        sum = S::add(sum, e);
        S::store(c.as_mut_ptr(), e);
    }
    let mut total = S::hsum(sum);
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [m; 16];
        buf[..tail.len()].copy_from_slice(tail);
        S::store(
            buf.as_mut_ptr(),
            exp::<S>(S::sub(S::load(buf.as_ptr()), mv)),
        );
        tail.copy_from_slice(&buf[..tail.len()]);
        total += tail.iter().sum::<f32>();
    }
    total
}

/// Attention of one sequence of `len` tokens.
///
/// `qkv`: `len` rows of `[q | k | v]`, each part `heads·head_dim` wide, row stride `ldq`,
/// queries already multiplied by `1/√head_dim`. `ctx`: `len` output rows (stride `ldc`), heads
/// side by side. `diag`: when given, `diag[i] += P[i][i] / heads` for every head (the first
/// layer's attention diagonal that Ditto pooling weights tokens by).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn attention<S: Simd, const MR: usize, const NV: usize>(
    qkv: &[f32],
    ldq: usize,
    len: usize,
    shape: Heads,
    ctx: &mut [f32],
    ldc: usize,
    scratch: &mut AttentionScratch,
    mut diag: Option<&mut [f32]>,
) {
    let nr = NV * S::LANES;
    let Heads {
        heads,
        head_dim: dh,
    } = shape;
    let hidden = heads * dh;
    let lpad = len.div_ceil(nr) * nr;
    let kpanels = lpad / nr;
    let dpanels = dh.div_ceil(nr);
    let qb_max = MR * 8;
    let grow = |v: &mut Vec<f32>, n: usize| {
        if v.len() < n {
            v.resize(n, 0.0);
        }
    };
    grow(&mut scratch.kp, kpanels * dh * nr);
    grow(&mut scratch.vp, dpanels * lpad * nr);
    grow(&mut scratch.s, qb_max * lpad);
    grow(&mut scratch.inv, qb_max);
    let (kp, vp, s) = (&mut scratch.kp, &mut scratch.vp, &mut scratch.s);
    let inv = &mut scratch.inv;
    let inv_heads = 1.0 / heads as f32;
    for h in 0..heads {
        let (qo, ko, vo) = (h * dh, hidden + h * dh, 2 * hidden + h * dh);
        // Kᵀ panels: for each of the head's dims, `nr` keys side by side; keys past `len`
        // are zero, so their scores are 0 and are never read.
        kp[..kpanels * dh * nr].fill(0.0);
        for j in 0..len {
            let krow = &qkv[j * ldq + ko..j * ldq + ko + dh];
            let panel = &mut kp[(j / nr) * dh * nr..];
            for (d, &x) in krow.iter().enumerate() {
                panel[d * nr + j % nr] = x;
            }
        }
        // V panels: `nr` dims of each key; rows past `len` (and dims past `dh`) zero.
        vp[..dpanels * lpad * nr].fill(0.0);
        for c in 0..dpanels {
            let width = nr.min(dh - c * nr);
            for j in 0..len {
                let src = &qkv[j * ldq + vo + c * nr..j * ldq + vo + c * nr + width];
                vp[c * lpad * nr + j * nr..c * lpad * nr + j * nr + width].copy_from_slice(src);
            }
        }
        for q0 in (0..len).step_by(qb_max) {
            let qb = qb_max.min(len - q0);
            for p in 0..kpanels {
                for ir in (0..qb).step_by(MR) {
                    ukernel_f32::<S, MR, NV>(
                        dh,
                        qkv.as_ptr().add((q0 + ir) * ldq + qo),
                        ldq,
                        kp.as_ptr().add(p * dh * nr),
                        s.as_mut_ptr().add(ir * lpad + p * nr),
                        lpad,
                        MR.min(qb - ir),
                        nr,
                        std::ptr::null(),
                        false,
                        false,
                    );
                }
            }
            for i in 0..qb {
                let row = &mut s[i * lpad..(i + 1) * lpad];
                let sum = softmax_row::<S>(&mut row[..len]);
                row[len..].fill(0.0);
                inv[i] = 1.0 / sum;
                if let Some(d) = diag.as_deref_mut() {
                    d[q0 + i] += row[q0 + i] * inv[i] * inv_heads;
                }
            }
            for c in 0..dpanels {
                for ir in (0..qb).step_by(MR) {
                    ukernel_f32::<S, MR, NV>(
                        lpad,
                        s.as_ptr().add(ir * lpad),
                        lpad,
                        vp.as_ptr().add(c * lpad * nr),
                        ctx.as_mut_ptr().add((q0 + ir) * ldc + qo + c * nr),
                        ldc,
                        MR.min(qb - ir),
                        nr.min(dh - c * nr),
                        std::ptr::null(),
                        false,
                        false,
                    );
                }
            }
            for (i, &iv) in inv[..qb].iter().enumerate() {
                let row = (q0 + i) * ldc + qo;
                ctx[row..row + dh].iter_mut().for_each(|x| *x *= iv);
            }
        }
    }
}
