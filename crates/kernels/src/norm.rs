//! LayerNorm in place over rows (two passes over a row that is already in L1).

use crate::gemm::LayerNorm;
use crate::simd::Simd;

#[inline(always)]
unsafe fn row_sum<S: Simd>(row: &[f32], f: impl Fn(S::F) -> S::F, g: impl Fn(f32) -> f32) -> f32 {
    let l = S::LANES;
    let (mut s0, mut s1) = (S::zero(), S::zero());
    let mut pairs = row.chunks_exact(2 * l);
    for c in &mut pairs {
        s0 = S::add(s0, f(S::load(c.as_ptr())));
        s1 = S::add(s1, f(S::load(c.as_ptr().add(l))));
    }
    let mut rest = pairs.remainder().chunks_exact(l);
    for c in &mut rest {
        s0 = S::add(s0, f(S::load(c.as_ptr())));
    }
    S::hsum(S::add(s0, s1)) + rest.remainder().iter().map(|&x| g(x)).sum::<f32>()
}

/// `x ← (x − mean)/√(var + eps)·gamma + beta` for `rows` rows of `n` (row stride `ld`).
#[inline(always)]
pub(crate) unsafe fn layer_norm_rows<S: Simd>(
    x: &mut [f32],
    rows: usize,
    n: usize,
    ld: usize,
    ln: &LayerNorm,
) {
    let l = S::LANES;
    let (gamma, beta) = (&ln.gamma[..n], &ln.beta[..n]);
    for r in 0..rows {
        let row = &mut x[r * ld..r * ld + n];
        let mean = row_sum::<S>(row, |v| v, |v| v) / n as f32;
        let mv = S::splat(mean);
        let var = row_sum::<S>(
            row,
            |v| {
                let d = S::sub(v, mv);
                S::mul(d, d)
            },
            |v| (v - mean) * (v - mean),
        ) / n as f32;
        let rstd = 1.0 / (var + ln.eps).sqrt();
        let rv = S::splat(rstd);
        let whole = n / l * l;
        for j in (0..whole).step_by(l) {
            let p = row.as_mut_ptr().add(j);
            let y = S::mul(S::sub(S::load(p), mv), rv);
            let y = S::fmadd(
                y,
                S::load(gamma.as_ptr().add(j)),
                S::load(beta.as_ptr().add(j)),
            );
            S::store(p, y);
        }
        for j in whole..n {
            row[j] = (row[j] - mean) * rstd * gamma[j] + beta[j];
        }
    }
}
