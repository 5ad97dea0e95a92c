//! exp, erf and GELU on vectors (for softmax and the feed-forward epilogue) and the same
//! formulas on scalars (for tails and tests).
//!
//! Why home-made: libm's `expf`/`erff` are scalar calls; in the encoder that was 6.5 % (exp)
//! and 12 % (erf) of all time. These are the branch-free Cephes/Eigen approximations, within a
//! few ulps in the ranges the encoder uses.

use crate::simd::Simd;

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const EXP_P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];
const ERF_P: [f32; 7] = [
    -2.726_142_3e-10,
    2.770_681_4e-8,
    -2.101_024e-6,
    -5.692_506_4e-5,
    -7.349_906_3e-4,
    -2.954_6e-3,
    -1.609_603_3e-2,
];
const ERF_Q: [f32; 5] = [
    -1.456_607_2e-5,
    -2.133_740_6e-4,
    -1.682_827e-3,
    -7.373_329e-3,
    -1.426_474e-2,
];

/// e^x, for x in [-87, 88] (clamped outside: softmax only feeds x ≤ 0).
#[inline(always)]
pub(crate) unsafe fn exp<S: Simd>(x: S::F) -> S::F {
    let x = S::max(S::min(x, S::splat(88.0)), S::splat(-87.0));
    let n = S::round(S::mul(x, S::splat(LOG2E)));
    let r = S::fnmadd(n, S::splat(LN2_HI), x);
    let r = S::fnmadd(n, S::splat(LN2_LO), r);
    let mut p = S::splat(EXP_P[0]);
    for &c in &EXP_P[1..] {
        p = S::fmadd(p, r, S::splat(c));
    }
    let y = S::add(S::fmadd(p, S::mul(r, r), r), S::splat(1.0));
    S::mul(y, S::pow2i(n))
}

/// erf(x): `x·P(x²)/Q(x²)` on [-4, 4], ±1 to f32 precision outside (the Eigen/XLA form).
#[inline(always)]
pub(crate) unsafe fn erf<S: Simd>(x: S::F) -> S::F {
    let x = S::max(S::min(x, S::splat(4.0)), S::splat(-4.0));
    let x2 = S::mul(x, x);
    let mut p = S::splat(ERF_P[0]);
    for &c in &ERF_P[1..] {
        p = S::fmadd(p, x2, S::splat(c));
    }
    let mut q = S::splat(ERF_Q[0]);
    for &c in &ERF_Q[1..] {
        q = S::fmadd(q, x2, S::splat(c));
    }
    S::div(S::mul(x, p), q)
}

/// GELU, exact (erf) form: `0.5·x·(1 + erf(x/√2))`.
#[inline(always)]
pub(crate) unsafe fn gelu<S: Simd>(x: S::F) -> S::F {
    let e = erf::<S>(S::mul(x, S::splat(std::f32::consts::FRAC_1_SQRT_2)));
    S::mul(S::mul(S::splat(0.5), x), S::add(S::splat(1.0), e))
}

/// Scalar erf with the same approximation as [`erf`].
pub fn erf_scalar(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = ERF_P[1..].iter().fold(ERF_P[0], |p, &c| p * x2 + c);
    let q = ERF_Q[1..].iter().fold(ERF_Q[0], |q, &c| q * x2 + c);
    x * p / q
}

/// Scalar GELU with the same approximation as [`gelu`].
pub fn gelu_scalar(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_scalar(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Applies `f` to every element of `x`, whole vectors first, then the tail through a padded
/// vector.
#[inline(always)]
pub(crate) unsafe fn map_in_place<S: Simd>(x: &mut [f32], f: impl Fn(S::F) -> S::F) {
    let l = S::LANES;
    let mut chunks = x.chunks_exact_mut(l);
    for c in &mut chunks {
        S::store(c.as_mut_ptr(), f(S::load(c.as_ptr())));
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [0f32; 16];
        buf[..tail.len()].copy_from_slice(tail);
        S::store(buf.as_mut_ptr(), f(S::load(buf.as_ptr())));
        tail.copy_from_slice(&buf[..tail.len()]);
    }
}
