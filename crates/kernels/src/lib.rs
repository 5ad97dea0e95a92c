//! CPU kernels of `recommend`'s encoder, chosen per CPU at run time.
//!
//! What is here: packed f32 and int8 matrix products for the linear layers with bias,
//! residual, GELU and LayerNorm fused into the epilogue ([`Kernels::sgemm`],
//! [`Kernels::qgemm`]), per-row int8 quantization of activations, LayerNorm, and the
//! attention of one sequence ([`Kernels::attention`]).
//!
//! Why a crate of its own: the main crate is built at `opt-level = 1` in tests, and these loops
//! are only fast at `opt-level = 3`; as a workspace member this crate gets its own profile
//! setting (see the root `Cargo.toml`) while the rest keeps fast test builds.
//!
//! How paths are chosen: every kernel is written once, generic over a small SIMD trait
//! (`simd.rs`), and compiled three or four times inside `#[target_feature]` functions:
//! AVX-512 (with or without VNNI for int8), AVX2 + FMA, and a portable path without
//! intrinsics that LLVM vectorizes for the baseline of the target (SSE2 on x86-64, NEON on
//! aarch64). [`Isa::detect`] picks the best path the CPU has; `RECOMMEND_KERNELS` forces a
//! lower one ([`Isa::from_env`]). The build never assumes the build machine's CPU.

mod attention;
mod gemm;
mod math;
mod norm;
mod simd;

pub use attention::{AttentionScratch, Heads};
pub use gemm::{Epilogue, LayerNorm, PackedF32, PackedI8, QuantRows, WEIGHT_MAX};
pub use math::{erf_scalar, gelu_scalar};

use std::fmt;
use std::str::FromStr;

/// The environment variable that forces a kernel path.
pub const ENV: &str = "RECOMMEND_KERNELS";

/// An instruction-set path of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// No intrinsics: SSE2 on x86-64, NEON on aarch64, whatever LLVM finds elsewhere.
    Portable,
    /// AVX2 + FMA; int8 through `vpmaddubsw`/`vpmaddwd`.
    Avx2,
    /// AVX-512 F + BW; int8 through the 512-bit `vpmaddubsw`/`vpmaddwd`.
    Avx512,
    /// AVX-512 F + BW + VNNI; int8 through `vpdpbusd`.
    Avx512Vnni,
}

impl Isa {
    pub const ALL: [Isa; 4] = [Isa::Avx512Vnni, Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// The name printed by `recommend bench` and accepted by `RECOMMEND_KERNELS`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2+fma",
            Isa::Avx512 => "avx512",
            Isa::Avx512Vnni => "avx512+vnni",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Isa::Portable => true,
                Isa::Avx2 => has!("avx2") && has!("fma"),
                Isa::Avx512 => has!("avx512f") && has!("avx512bw"),
                Isa::Avx512Vnni => has!("avx512f") && has!("avx512bw") && has!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Portable
        }
    }

    /// Every path this CPU can run, best first.
    pub fn supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// The best path this CPU can run.
    pub fn detect() -> Isa {
        Isa::supported()[0]
    }

    /// `RECOMMEND_KERNELS` if set (and not `auto`), else [`Isa::detect`]. Asking for a path
    /// the CPU lacks is an error, not a silent fallback.
    pub fn from_env() -> Result<Isa, KernelError> {
        match std::env::var(ENV) {
            Ok(v) if !v.trim().is_empty() && v.trim() != "auto" => {
                let isa: Isa = v.parse()?;
                if isa.is_supported() {
                    Ok(isa)
                } else {
                    Err(KernelError::Unsupported(isa))
                }
            }
            _ => Ok(Isa::detect()),
        }
    }

    /// Width of an f32 weight panel for this path.
    fn nr(self) -> usize {
        match self {
            Isa::Avx512 | Isa::Avx512Vnni => 32,
            Isa::Avx2 | Isa::Portable => 16,
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Isa, KernelError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "portable" | "generic" | "scalar" => Ok(Isa::Portable),
            "avx2" | "avx2+fma" => Ok(Isa::Avx2),
            "avx512" | "avx512bw" => Ok(Isa::Avx512),
            "avx512+vnni" | "avx512vnni" | "vnni" => Ok(Isa::Avx512Vnni),
            _ => Err(KernelError::Unknown(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    Unknown(String),
    Unsupported(Isa),
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::Unknown(s) => write!(
                f,
                "unknown kernel path {s:?} in {ENV} (auto, avx512+vnni, avx512, avx2, portable)"
            ),
            KernelError::Unsupported(isa) => write!(
                f,
                "{ENV}={isa} but this CPU lacks it; this CPU runs: {}",
                Isa::supported()
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::error::Error for KernelError {}

/// Per-path entry points: each compiles the generic kernels inside a function with the
/// path's target features. `$mr`/`$nv`: f32 microkernel rows and vectors per row (tile
/// `mr × nv·lanes`), `$qmr`: int8 microkernel rows, chosen so accumulators and operands fit
/// the register file (16 vector registers on AVX2, 32 on AVX-512).
macro_rules! entries {
    ($name:ident, $S:ty, $mr:literal, $nv:literal, $qmr:literal $(, $feat:literal)?) => {
        mod $name {
            #![allow(clippy::too_many_arguments)]
            use super::*;
            #[allow(unused_imports)]
            use crate::simd::*;

            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn sgemm(
                m: usize, a: &[f32], lda: usize, w: &PackedF32, c: &mut [f32], ldc: usize,
                ep: &Epilogue,
            ) {
                gemm::sgemm::<$S, $mr, $nv>(m, a, lda, w, c, ldc, ep)
            }

            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn qgemm(
                a: &QuantRows, w: &PackedI8, c: &mut [f32], ldc: usize, ep: &Epilogue,
            ) {
                gemm::qgemm::<$S, $qmr, $nv>(a, w, c, ldc, ep)
            }

            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn quantize_rows(
                m: usize, x: &[f32], ldx: usize, k: usize, out: &mut QuantRows,
            ) {
                gemm::quantize_rows::<$S>(m, x, ldx, k, out)
            }

            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn layer_norm(
                x: &mut [f32], rows: usize, n: usize, ld: usize, ln: &LayerNorm,
            ) {
                norm::layer_norm_rows::<$S>(x, rows, n, ld, ln)
            }

            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn attention(
                qkv: &[f32], ldq: usize, len: usize, shape: Heads, ctx: &mut [f32],
                ldc: usize, scratch: &mut AttentionScratch, diag: Option<&mut [f32]>,
            ) {
                attention::attention::<$S, $mr, $nv>(qkv, ldq, len, shape, ctx, ldc, scratch, diag)
            }

            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn gelu(x: &mut [f32]) {
                math::map_in_place::<$S>(x, |v| math::gelu::<$S>(v))
            }

            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn exp(x: &mut [f32]) {
                math::map_in_place::<$S>(x, |v| math::exp::<$S>(v))
            }
        }
    };
}

entries!(portable, Portable, 4, 2, 4);
#[cfg(target_arch = "x86_64")]
entries!(avx2, Avx2, 6, 2, 4, "avx2,fma");
#[cfg(target_arch = "x86_64")]
entries!(avx512, Avx512, 8, 2, 8, "avx512f,avx512bw");
#[cfg(target_arch = "x86_64")]
entries!(
    avx512vnni,
    Avx512Vnni,
    8,
    2,
    8,
    "avx512f,avx512bw,avx512vnni"
);

/// Calls the entry point of the handle's path. Sound because a `Kernels` only exists for a
/// path the CPU supports (checked in [`Kernels::new`]).
macro_rules! dispatch {
    ($self:ident, $f:ident($($arg:expr),*)) => {
        match $self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => unsafe { avx512vnni::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::$f($($arg),*) },
            _ => unsafe { portable::$f($($arg),*) },
        }
    };
}

/// A kernel path this CPU can run; every operation goes through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernels {
    isa: Isa,
}

fn check_rows(what: &str, len: usize, rows: usize, ld: usize, cols: usize) {
    assert!(
        cols <= ld || rows <= 1,
        "{what}: {cols} columns exceed row stride {ld}"
    );
    if rows > 0 {
        let need = (rows - 1) * ld + cols;
        assert!(
            len >= need,
            "{what}: {len} values, {rows} rows of stride {ld} need {need}"
        );
    }
}

impl Kernels {
    /// The handle for `isa`, or an error when this CPU cannot run it.
    pub fn new(isa: Isa) -> Result<Self, KernelError> {
        if isa.is_supported() {
            Ok(Self { isa })
        } else {
            Err(KernelError::Unsupported(isa))
        }
    }

    /// The best path of this CPU.
    pub fn best() -> Self {
        Self { isa: Isa::detect() }
    }

    /// `RECOMMEND_KERNELS` or the best path.
    pub fn from_env() -> Result<Self, KernelError> {
        Self::new(Isa::from_env()?)
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Packs f32 weights (`n × k` row-major, out × in) and their bias for [`Kernels::sgemm`].
    pub fn pack_f32(&self, w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> PackedF32 {
        PackedF32::new(self.isa.nr(), w, n, k, bias)
    }

    /// Quantizes weights to 7 bits per output channel and packs them for [`Kernels::qgemm`].
    pub fn pack_i8(&self, w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> PackedI8 {
        // int8 tiles are 4 rows × (2 vectors of i32 lanes).
        let nr = match self.isa {
            Isa::Avx512 | Isa::Avx512Vnni => 32,
            Isa::Avx2 | Isa::Portable => 16,
        };
        PackedI8::new(nr, w, n, k, bias)
    }

    /// `C[m × n] = A[m × k]·Wᵀ + bias`, then the epilogue. Row strides `lda`, `ldc`.
    #[allow(clippy::too_many_arguments)]
    pub fn sgemm(
        &self,
        m: usize,
        a: &[f32],
        lda: usize,
        w: &PackedF32,
        c: &mut [f32],
        ldc: usize,
        ep: &Epilogue,
    ) {
        assert_eq!(
            w.nr,
            self.isa.nr(),
            "weights packed for another kernel path"
        );
        check_rows("sgemm A", a.len(), m, lda, w.k);
        check_rows("sgemm C", c.len(), m, ldc, w.n);
        check_epilogue(ep, w.n);
        if m == 0 {
            return;
        }
        dispatch!(self, sgemm(m, a, lda, w, c, ldc, ep))
    }

    /// Quantizes `m` rows of `k` values (row stride `ldx`) for [`Kernels::qgemm`].
    pub fn quantize_rows(&self, m: usize, x: &[f32], ldx: usize, k: usize, out: &mut QuantRows) {
        check_rows("quantize_rows", x.len(), m, ldx, k);
        dispatch!(self, quantize_rows(m, x, ldx, k, out))
    }

    /// `C[m × n] = dequant(Aq·Wqᵀ) + bias`, then the epilogue; `m` = `a.rows()`.
    pub fn qgemm(&self, a: &QuantRows, w: &PackedI8, c: &mut [f32], ldc: usize, ep: &Epilogue) {
        let nr = match self.isa {
            Isa::Avx512 | Isa::Avx512Vnni => 32,
            Isa::Avx2 | Isa::Portable => 16,
        };
        assert_eq!(w.nr, nr, "weights packed for another kernel path");
        assert_eq!(
            a.k, w.k,
            "activations have {} columns, weights {}",
            a.k, w.k
        );
        check_rows("qgemm C", c.len(), a.rows, ldc, w.n);
        check_epilogue(ep, w.n);
        if a.rows == 0 {
            return;
        }
        dispatch!(self, qgemm(a, w, c, ldc, ep))
    }

    /// LayerNorm in place over `rows` rows of `n` values (row stride `ld`).
    pub fn layer_norm(&self, x: &mut [f32], rows: usize, n: usize, ld: usize, ln: &LayerNorm) {
        check_rows("layer_norm", x.len(), rows, ld, n);
        assert!(
            ln.gamma.len() >= n && ln.beta.len() >= n,
            "layer_norm: short parameters"
        );
        dispatch!(self, layer_norm(x, rows, n, ld, ln))
    }

    /// Self-attention of one sequence (see `attention.rs`): `qkv` holds `len` rows of
    /// `[q | k | v]` with row stride `ldq` and pre-scaled queries; the context goes to `ctx`
    /// (row stride `ldc`).
    #[allow(clippy::too_many_arguments)]
    pub fn attention(
        &self,
        qkv: &[f32],
        ldq: usize,
        len: usize,
        shape: Heads,
        ctx: &mut [f32],
        ldc: usize,
        scratch: &mut AttentionScratch,
        diag: Option<&mut [f32]>,
    ) {
        let hidden = shape.heads * shape.head_dim;
        check_rows("attention qkv", qkv.len(), len, ldq, 3 * hidden);
        check_rows("attention ctx", ctx.len(), len, ldc, hidden);
        if let Some(d) = &diag {
            assert!(
                d.len() >= len,
                "attention: diagonal shorter than the sequence"
            );
        }
        if len == 0 {
            return;
        }
        dispatch!(
            self,
            attention(qkv, ldq, len, shape, ctx, ldc, scratch, diag)
        )
    }

    /// GELU (erf form) in place.
    pub fn gelu(&self, x: &mut [f32]) {
        dispatch!(self, gelu(x))
    }

    /// e^x in place (x in [-87, 88]).
    pub fn exp(&self, x: &mut [f32]) {
        dispatch!(self, exp(x))
    }
}

fn check_epilogue(ep: &Epilogue, n: usize) {
    if let Some(ln) = &ep.layer_norm {
        assert!(
            ln.gamma.len() >= n && ln.beta.len() >= n,
            "epilogue: LayerNorm parameters shorter than {n}"
        );
    }
}

#[cfg(test)]
mod tests;
