//! One small SIMD vocabulary, implemented for AVX-512, AVX2 + FMA and plain arrays.
//!
//! Every kernel in this crate is written once, generic over [`Simd`], and instantiated inside
//! a function compiled for one instruction set (`#[target_feature]`, see `dispatch.rs`). The
//! methods are `#[inline(always)]`, so inside such a function each becomes one or two
//! instructions; the same source therefore runs as AVX-512, AVX2 or portable code, and a path
//! that cannot be run on the build machine (AVX-512 on an AVX2 CPU) is still the code that the
//! other paths test, with other intrinsics underneath.

/// Vectors of `LANES` f32 (`F`) and of `LANES` i32 (`I`).
///
/// # Safety
/// Every method is `unsafe`: the implementations use instructions that only exist on CPUs with
/// the matching features, and pointers must be valid for `LANES` elements.
pub(crate) trait Simd: Copy {
    const LANES: usize;
    type F: Copy;
    type I: Copy;

    unsafe fn zero() -> Self::F;
    unsafe fn splat(x: f32) -> Self::F;
    /// Unaligned load of `LANES` floats.
    unsafe fn load(p: *const f32) -> Self::F;
    unsafe fn store(p: *mut f32, v: Self::F);
    unsafe fn add(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn sub(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn mul(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn div(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn min(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn max(a: Self::F, b: Self::F) -> Self::F;
    /// `a·b + c` (fused where the CPU has FMA).
    unsafe fn fmadd(a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// `c − a·b`.
    unsafe fn fnmadd(a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// Round to the nearest integer (ties to even); inputs are well inside ±2²².
    unsafe fn round(a: Self::F) -> Self::F;
    /// `2ⁿ` for integral `n` in `[-126, 127]`.
    unsafe fn pow2i(n: Self::F) -> Self::F;
    unsafe fn hsum(a: Self::F) -> f32;
    unsafe fn hmax(a: Self::F) -> f32;
    /// Stores the low byte of each lane's bit pattern (`LANES` bytes at `p`).
    unsafe fn store_low_bytes(p: *mut u8, v: Self::F);

    unsafe fn izero() -> Self::I;
    /// The 4 bytes at `p` repeated in every 32-bit lane.
    unsafe fn bcast4(p: *const u8) -> Self::I;
    /// Unaligned load of `4·LANES` signed bytes.
    unsafe fn iload(p: *const i8) -> Self::I;
    /// `acc[l] += Σₜ a.u8[4l+t] · b.i8[4l+t]`, exact as long as no pair of products exceeds
    /// `i16` (the packers keep weights within ±63 so that it never does).
    unsafe fn dot4(acc: Self::I, a: Self::I, b: Self::I) -> Self::I;
    unsafe fn i2f(a: Self::I) -> Self::F;
}

/// Rounding by the float adder: adding 1.5·2²³ leaves the integer part in the mantissa.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// Plain arrays of 8 lanes: LLVM vectorizes them to SSE2 on x86-64 and to NEON on aarch64.
#[derive(Clone, Copy)]
pub(crate) struct Portable;

type P8 = [f32; 8];

#[inline(always)]
fn map2(a: P8, b: P8, f: impl Fn(f32, f32) -> f32) -> P8 {
    let mut out = [0.0; 8];
    for l in 0..8 {
        out[l] = f(a[l], b[l]);
    }
    out
}

impl Simd for Portable {
    const LANES: usize = 8;
    type F = P8;
    type I = [i32; 8];

    #[inline(always)]
    unsafe fn zero() -> P8 {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> P8 {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> P8 {
        (p as *const P8).read_unaligned()
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: P8) {
        (p as *mut P8).write_unaligned(v)
    }
    #[inline(always)]
    unsafe fn add(a: P8, b: P8) -> P8 {
        map2(a, b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn sub(a: P8, b: P8) -> P8 {
        map2(a, b, |x, y| x - y)
    }
    #[inline(always)]
    unsafe fn mul(a: P8, b: P8) -> P8 {
        map2(a, b, |x, y| x * y)
    }
    #[inline(always)]
    unsafe fn div(a: P8, b: P8) -> P8 {
        map2(a, b, |x, y| x / y)
    }
    #[inline(always)]
    unsafe fn min(a: P8, b: P8) -> P8 {
        map2(a, b, |x, y| if x < y { x } else { y })
    }
    #[inline(always)]
    unsafe fn max(a: P8, b: P8) -> P8 {
        map2(a, b, |x, y| if x > y { x } else { y })
    }
    #[inline(always)]
    unsafe fn fmadd(a: P8, b: P8, c: P8) -> P8 {
        let mut out = [0.0; 8];
        for l in 0..8 {
            // aarch64 always has a fused multiply-add; on x86-64 without the FMA feature
            // `mul_add` would be a library call per element.
            #[cfg(target_arch = "aarch64")]
            {
                out[l] = a[l].mul_add(b[l], c[l]);
            }
            #[cfg(not(target_arch = "aarch64"))]
            {
                out[l] = a[l] * b[l] + c[l];
            }
        }
        out
    }
    #[inline(always)]
    unsafe fn fnmadd(a: P8, b: P8, c: P8) -> P8 {
        let mut out = [0.0; 8];
        for l in 0..8 {
            #[cfg(target_arch = "aarch64")]
            {
                out[l] = (-a[l]).mul_add(b[l], c[l]);
            }
            #[cfg(not(target_arch = "aarch64"))]
            {
                out[l] = c[l] - a[l] * b[l];
            }
        }
        out
    }
    #[inline(always)]
    unsafe fn round(a: P8) -> P8 {
        let mut out = [0.0; 8];
        for l in 0..8 {
            out[l] = (a[l] + ROUND_MAGIC) - ROUND_MAGIC;
        }
        out
    }
    #[inline(always)]
    unsafe fn pow2i(n: P8) -> P8 {
        let mut out = [0.0; 8];
        for l in 0..8 {
            out[l] = f32::from_bits(((n[l] as i32 + 127) << 23) as u32);
        }
        out
    }
    #[inline(always)]
    unsafe fn hsum(a: P8) -> f32 {
        ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
    }
    #[inline(always)]
    unsafe fn hmax(a: P8) -> f32 {
        a.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    }
    #[inline(always)]
    unsafe fn store_low_bytes(p: *mut u8, v: P8) {
        (p as *mut [u8; 8]).write_unaligned(v.map(|x| x.to_bits() as u8))
    }
    #[inline(always)]
    unsafe fn izero() -> [i32; 8] {
        [0; 8]
    }
    #[inline(always)]
    unsafe fn bcast4(p: *const u8) -> [i32; 8] {
        [(p as *const i32).read_unaligned(); 8]
    }
    #[inline(always)]
    unsafe fn iload(p: *const i8) -> [i32; 8] {
        (p as *const [i32; 8]).read_unaligned()
    }
    #[inline(always)]
    unsafe fn dot4(acc: [i32; 8], a: [i32; 8], b: [i32; 8]) -> [i32; 8] {
        let mut out = acc;
        for l in 0..8 {
            let (x, y) = (a[l].to_le_bytes(), b[l].to_le_bytes());
            for t in 0..4 {
                out[l] += x[t] as i32 * (y[t] as i8) as i32;
            }
        }
        out
    }
    #[inline(always)]
    unsafe fn i2f(a: [i32; 8]) -> P8 {
        a.map(|x| x as f32)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512, Avx512Vnni};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    /// AVX2 + FMA (Haswell, Zen 1 and later).
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2;

    impl Simd for Avx2 {
        const LANES: usize = 8;
        type F = __m256;
        type I = __m256i;

        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            _mm256_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            _mm256_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn div(a: __m256, b: __m256) -> __m256 {
            _mm256_div_ps(a, b)
        }
        #[inline(always)]
        unsafe fn min(a: __m256, b: __m256) -> __m256 {
            _mm256_min_ps(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            _mm256_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn fnmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fnmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn round(a: __m256) -> __m256 {
            _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a)
        }
        #[inline(always)]
        unsafe fn pow2i(n: __m256) -> __m256 {
            let e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(e))
        }
        #[inline(always)]
        unsafe fn hsum(a: __m256) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
        }
        #[inline(always)]
        unsafe fn hmax(a: __m256) -> f32 {
            let s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps::<1>(s, s)))
        }
        #[inline(always)]
        unsafe fn store_low_bytes(p: *mut u8, v: __m256) {
            // Byte 0 of each dword to the front of its 128-bit half, then both halves'
            // first dwords side by side.
            let pick = _mm256_setr_epi8(
                0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, //
                0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            );
            let b = _mm256_shuffle_epi8(_mm256_castps_si256(v), pick);
            let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
            _mm_storel_epi64(p as *mut __m128i, _mm256_castsi256_si128(b));
        }
        #[inline(always)]
        unsafe fn izero() -> __m256i {
            _mm256_setzero_si256()
        }
        #[inline(always)]
        unsafe fn bcast4(p: *const u8) -> __m256i {
            _mm256_set1_epi32((p as *const i32).read_unaligned())
        }
        #[inline(always)]
        unsafe fn iload(p: *const i8) -> __m256i {
            _mm256_loadu_si256(p as *const __m256i)
        }
        #[inline(always)]
        unsafe fn dot4(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
            // u8×i8 pairs summed to i16 (no saturation with 7-bit weights), then pairs of
            // those to i32.
            let pairs = _mm256_maddubs_epi16(a, b);
            _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
        }
        #[inline(always)]
        unsafe fn i2f(a: __m256i) -> __m256 {
            _mm256_cvtepi32_ps(a)
        }
    }

    /// The f32 half of the two AVX-512 flavours.
    macro_rules! avx512_f32 {
        () => {
            const LANES: usize = 16;
            type F = __m512;
            type I = __m512i;

            #[inline(always)]
            unsafe fn zero() -> __m512 {
                _mm512_setzero_ps()
            }
            #[inline(always)]
            unsafe fn splat(x: f32) -> __m512 {
                _mm512_set1_ps(x)
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> __m512 {
                _mm512_loadu_ps(p)
            }
            #[inline(always)]
            unsafe fn store(p: *mut f32, v: __m512) {
                _mm512_storeu_ps(p, v)
            }
            #[inline(always)]
            unsafe fn add(a: __m512, b: __m512) -> __m512 {
                _mm512_add_ps(a, b)
            }
            #[inline(always)]
            unsafe fn sub(a: __m512, b: __m512) -> __m512 {
                _mm512_sub_ps(a, b)
            }
            #[inline(always)]
            unsafe fn mul(a: __m512, b: __m512) -> __m512 {
                _mm512_mul_ps(a, b)
            }
            #[inline(always)]
            unsafe fn div(a: __m512, b: __m512) -> __m512 {
                _mm512_div_ps(a, b)
            }
            #[inline(always)]
            unsafe fn min(a: __m512, b: __m512) -> __m512 {
                _mm512_min_ps(a, b)
            }
            #[inline(always)]
            unsafe fn max(a: __m512, b: __m512) -> __m512 {
                _mm512_max_ps(a, b)
            }
            #[inline(always)]
            unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
                _mm512_fmadd_ps(a, b, c)
            }
            #[inline(always)]
            unsafe fn fnmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
                _mm512_fnmadd_ps(a, b, c)
            }
            #[inline(always)]
            unsafe fn round(a: __m512) -> __m512 {
                _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a)
            }
            #[inline(always)]
            unsafe fn pow2i(n: __m512) -> __m512 {
                let e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
                _mm512_castsi512_ps(_mm512_slli_epi32::<23>(e))
            }
            #[inline(always)]
            unsafe fn hsum(a: __m512) -> f32 {
                _mm512_reduce_add_ps(a)
            }
            #[inline(always)]
            unsafe fn hmax(a: __m512) -> f32 {
                _mm512_reduce_max_ps(a)
            }
            #[inline(always)]
            unsafe fn store_low_bytes(p: *mut u8, v: __m512) {
                _mm_storeu_si128(
                    p as *mut __m128i,
                    _mm512_cvtepi32_epi8(_mm512_castps_si512(v)),
                )
            }
            #[inline(always)]
            unsafe fn izero() -> __m512i {
                _mm512_setzero_si512()
            }
            #[inline(always)]
            unsafe fn bcast4(p: *const u8) -> __m512i {
                _mm512_set1_epi32((p as *const i32).read_unaligned())
            }
            #[inline(always)]
            unsafe fn iload(p: *const i8) -> __m512i {
                _mm512_loadu_si512(p as *const _)
            }
            #[inline(always)]
            unsafe fn i2f(a: __m512i) -> __m512 {
                _mm512_cvtepi32_ps(a)
            }
        };
    }

    /// AVX-512 F + BW (Skylake-SP and later, Zen 4): the int8 products as on AVX2, twice as
    /// wide.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512;

    impl Simd for Avx512 {
        avx512_f32!();

        #[inline(always)]
        unsafe fn dot4(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
            let pairs = _mm512_maddubs_epi16(a, b);
            _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)))
        }
    }

    /// AVX-512 with VNNI (Cascade Lake, Ice Lake, Zen 4 and later): one `vpdpbusd` per 64
    /// products.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512Vnni;

    impl Simd for Avx512Vnni {
        avx512_f32!();

        #[inline(always)]
        unsafe fn dot4(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
            _mm512_dpbusd_epi32(acc, a, b)
        }
    }
}
