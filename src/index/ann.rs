//! The kernels of nearest-neighbour search over unit vectors: f32 and int8 dot products
//! (AVX2 where the CPU has it) and the exact scan.
//!
//! Small collections (the seed corpus has about a hundred papers) are answered by an exact
//! scan, which is both as fast as anything at that size and the ground truth the
//! approximate lists (`ivf`) are measured against.

/// Below this many rows, queries scan exactly unless the lists are asked for
/// (`search --hnsw`); see `search::EXACT_BELOW`.
pub const EXACT_BELOW: usize = 5_000;

/// Integer dot product, with AVX2 code when the CPU has it: sign-extend 16 bytes to 16-bit
/// lanes, then `vpmaddwd` multiplies and adds pairs into 32-bit sums.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the feature this function is compiled for was just detected.
            return unsafe { dot_i8_avx2(a, b) };
        }
    }
    dot_i8_scalar(a, b)
}

fn dot_i8_scalar(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let body = n / 32 * 32;
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let load = |p: &[i8], i: usize| {
        // SAFETY: i + 16 <= body <= len of both slices.
        unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(p.as_ptr().add(i) as *const __m128i)) }
    };
    let mut i = 0;
    while i < body {
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(load(a, i), load(b, i)));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(load(a, i + 16), load(b, i + 16)));
        i += 32;
    }
    let mut lanes = [0i32; 8];
    _mm256_storeu_si256(
        lanes.as_mut_ptr() as *mut __m256i,
        _mm256_add_epi32(acc0, acc1),
    );
    lanes.iter().sum::<i32>() + dot_i8_scalar(&a[body..n], &b[body..n])
}

/// Dot product, with AVX2+FMA code when the CPU has it (checked once, then cached by std):
/// the default x86-64 target only allows SSE2, and this loop is where scans and graph walks
/// spend their time.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features this function is compiled for were just detected.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_lanes::<false, 16>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<true, 32>(a, b)
}

/// `L` independent accumulators let the compiler vectorize without -ffast-math and keep
/// several FMA chains in flight (64 = eight AVX2 registers); `FMA` fuses multiply and add
/// where the caller was compiled with FMA (elsewhere `mul_add` would be a library call).
#[inline(always)]
fn dot_lanes<const FMA: bool, const L: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; L];
    let (ca, ra) = a.split_at(a.len() / L * L);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(L).zip(cb.chunks_exact(L)) {
        for i in 0..L {
            acc[i] = if FMA {
                x[i].mul_add(y[i], acc[i])
            } else {
                x[i] * y[i] + acc[i]
            };
        }
    }
    acc.iter().sum::<f32>() + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
}

/// A neighbour: row number and cosine similarity.
pub type Hit = (usize, f32);

/// The `k` rows of `vectors` (row-major, `dim` wide) most similar to `query`, best first.
pub fn exact(vectors: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<Hit> {
    let mut hits: Vec<Hit> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (i, dot(v, query)))
        .collect();
    let k = k.min(hits.len());
    if k == 0 {
        return Vec::new();
    }
    hits.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
    hits.truncate(k);
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_unit(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        let mut v: Vec<f32> = (0..n * dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        for row in v.chunks_exact_mut(dim) {
            crate::embed::pool::normalize(row);
        }
        v
    }

    #[test]
    fn int8_dot_matches_scalar_at_every_length() {
        for len in [0, 1, 15, 16, 31, 32, 33, 384, 385] {
            let a: Vec<i8> = (0..len).map(|i| (i * 37 % 255) as u8 as i8).collect();
            let b: Vec<i8> = (0..len).map(|i| (i * 91 % 253) as u8 as i8).collect();
            assert_eq!(dot_i8(&a, &b), dot_i8_scalar(&a, &b), "len {len}");
        }
        assert_eq!(dot_i8(&[-128; 64], &[-128; 64]), 64 * 128 * 128);
    }

    #[test]
    fn exact_finds_self_first_and_sorts() {
        let v = random_unit(50, 16, 1);
        let hits = exact(&v, 16, &v[16 * 7..16 * 8], 5);
        assert_eq!(hits[0].0, 7);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
    }
}
