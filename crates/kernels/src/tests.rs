//! Every kernel against a plain scalar reference, on every path this CPU runs (AVX-512 paths
//! run only on a CPU that has AVX-512; the test prints which paths it covered).

use super::*;

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

fn paths() -> Vec<Kernels> {
    let isas = Isa::supported();
    eprintln!(
        "kernel paths tested: {}",
        isas.iter().map(|i| i.name()).collect::<Vec<_>>().join(", ")
    );
    isas.into_iter().map(|i| Kernels::new(i).unwrap()).collect()
}

/// `C = A·Wᵀ + bias (+ C0)`, f64 accumulation.
#[allow(clippy::too_many_arguments)]
fn reference_gemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    w: &[f32],
    bias: &[f32],
    c0: Option<&[f32]>,
    ldc: usize,
) -> Vec<f32> {
    let mut out = c0.map(|c| c.to_vec()).unwrap_or_else(|| vec![0.0; m * ldc]);
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k)
                .map(|kk| a[i * lda + kk] as f64 * w[j * k + kk] as f64)
                .sum();
            let base = if c0.is_some() {
                out[i * ldc + j] as f64
            } else {
                0.0
            };
            out[i * ldc + j] = (dot + bias[j] as f64 + base) as f32;
        }
    }
    out
}

fn reference_layer_norm(x: &mut [f32], rows: usize, n: usize, ld: usize, g: &[f32], b: &[f32]) {
    for r in 0..rows {
        let row = &mut x[r * ld..r * ld + n];
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let rstd = 1.0 / (var + 1e-12).sqrt();
        for (j, v) in row.iter_mut().enumerate() {
            *v = ((*v as f64 - mean) * rstd * g[j] as f64 + b[j] as f64) as f32;
        }
    }
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let mut worst = (0.0f32, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs() / (1.0 + w.abs());
        assert!(err.is_finite(), "{what}: non-finite at {i}: {g} vs {w}");
        if err > worst.0 {
            worst = (err, i);
        }
    }
    assert!(
        worst.0 <= tol,
        "{what}: error {} at {} ({} vs {})",
        worst.0,
        worst.1,
        got[worst.1],
        want[worst.1]
    );
}

const SHAPES: [(usize, usize, usize); 9] = [
    (1, 16, 1),
    (5, 16, 3),
    (7, 24, 32),
    (13, 40, 385),
    (100, 384, 384),
    (73, 48, 1536),
    (6, 1152, 64),
    (9, 33, 800),
    (150, 64, 5),
];

#[test]
fn sgemm_matches_reference_on_every_path() {
    let mut rng = Rng(7);
    for kern in paths() {
        for &(m, n, k) in &SHAPES {
            let (lda, ldc) = (k + 3, n + 5);
            let a = rng.vec(m * lda, 1.0);
            let w = rng.vec(n * k, 0.5);
            let bias = rng.vec(n, 0.1);
            let packed = kern.pack_f32(&w, n, k, Some(&bias));
            let c0 = rng.vec(m * ldc, 1.0);
            let tol = 2e-6 * (k as f32).sqrt() + 1e-6;

            let mut c = c0.clone();
            kern.sgemm(m, &a, lda, &packed, &mut c, ldc, &Epilogue::default());
            let mut want = reference_gemm(m, n, k, &a, lda, &w, &bias, None, ldc);
            // Columns past n are untouched.
            for i in 0..m {
                want[i * ldc + n..(i + 1) * ldc].copy_from_slice(&c0[i * ldc + n..(i + 1) * ldc]);
            }
            assert_close(&c, &want, tol, &format!("{} plain {m}x{n}x{k}", kern.isa()));

            let mut c = c0.clone();
            let ep = Epilogue {
                accumulate: true,
                ..Default::default()
            };
            kern.sgemm(m, &a, lda, &packed, &mut c, ldc, &ep);
            let want = reference_gemm(m, n, k, &a, lda, &w, &bias, Some(&c0), ldc);
            assert_close(
                &c,
                &want,
                tol,
                &format!("{} residual {m}x{n}x{k}", kern.isa()),
            );

            let mut c = c0.clone();
            let ep = Epilogue {
                gelu: true,
                ..Default::default()
            };
            kern.sgemm(m, &a, lda, &packed, &mut c, ldc, &ep);
            let mut want = reference_gemm(m, n, k, &a, lda, &w, &bias, None, ldc);
            for i in 0..m {
                for j in 0..ldc {
                    want[i * ldc + j] = if j < n {
                        let x = want[i * ldc + j] as f64;
                        (0.5 * x * (1.0 + libm_erf(x / std::f64::consts::SQRT_2))) as f32
                    } else {
                        c0[i * ldc + j]
                    };
                }
            }
            assert_close(
                &c,
                &want,
                tol + 2e-6,
                &format!("{} gelu {m}x{n}x{k}", kern.isa()),
            );

            let (g, b) = (rng.vec(n, 1.0), rng.vec(n, 0.2));
            let mut c = c0.clone();
            let ep = Epilogue {
                accumulate: true,
                layer_norm: Some(LayerNorm {
                    gamma: &g,
                    beta: &b,
                    eps: 1e-12,
                }),
                ..Default::default()
            };
            kern.sgemm(m, &a, lda, &packed, &mut c, ldc, &ep);
            let mut want = reference_gemm(m, n, k, &a, lda, &w, &bias, Some(&c0), ldc);
            reference_layer_norm(&mut want, m, n, ldc, &g, &b);
            let tol_ln = if n == 1 { 1.0 } else { 1e-4 };
            assert_close(&c, &want, tol_ln, &format!("{} ln {m}x{n}x{k}", kern.isa()));
        }
    }
}

#[test]
fn quantized_rows_round_trip_within_half_a_step() {
    let mut rng = Rng(11);
    for kern in paths() {
        for &(m, k, shift) in &[(3usize, 5usize, 0.0f32), (10, 384, 0.3), (4, 1537, -2.0)] {
            let mut x = rng.vec(m * k, 3.0);
            x.iter_mut().for_each(|v| *v += shift);
            x[k / 2] = 0.0;
            let mut q = QuantRows::new();
            kern.quantize_rows(m, &x, k, k, &mut q);
            // 0 is represented exactly (padding and ReLU-like zeros stay zero).
            assert_eq!(q.dequantize_row(0)[k / 2], 0.0);
            for r in 0..m {
                let back = q.dequantize_row(r);
                for (a, b) in back.iter().zip(&x[r * k..(r + 1) * k]) {
                    assert!(
                        (a - b).abs() <= q.scale[r] * 0.5001,
                        "{}: {a} vs {b}, step {}",
                        kern.isa(),
                        q.scale[r]
                    );
                }
                assert!(q.zero[r].fract() == 0.0 && (0.0..=255.0).contains(&q.zero[r]));
            }
        }
    }
}

#[test]
fn packed_int8_weights_stay_within_seven_bits_and_half_a_step() {
    let mut rng = Rng(5);
    let (n, k) = (40, 70);
    let w = rng.vec(n * k, 0.3);
    for kern in paths() {
        let p = kern.pack_i8(&w, n, k, None);
        assert!(p.data.iter().all(|&q| (q as i32).abs() <= WEIGHT_MAX));
        let back = p.dequantize();
        for o in 0..n {
            for kk in 0..k {
                let (a, b) = (back[o * k + kk], w[o * k + kk]);
                assert!((a - b).abs() <= p.scale[o] * 0.5001, "{a} vs {b}");
            }
        }
    }
}

#[test]
fn qgemm_is_exact_integer_arithmetic_on_every_path() {
    let mut first: Option<Vec<Vec<f32>>> = None;
    for kern in paths() {
        // The same data on every path.
        let mut rng = Rng(3);
        let mut results = Vec::new();
        for &(m, n, k) in &SHAPES {
            let ldc = n + 2;
            let a = rng.vec(m * k, 2.0);
            let w = rng.vec(n * k, 0.5);
            let bias = rng.vec(n, 0.1);
            let packed = kern.pack_i8(&w, n, k, Some(&bias));
            let mut q = QuantRows::new();
            kern.quantize_rows(m, &a, k, k, &mut q);
            // The reference multiplies exactly what the kernel sees: dequantized rows and
            // weights, in f64.
            let wq = packed.dequantize();
            let aq: Vec<f32> = (0..m).flat_map(|r| q.dequantize_row(r)).collect();
            let c0 = rng.vec(m * ldc, 1.0);
            for ep in [
                Epilogue::default(),
                Epilogue {
                    accumulate: true,
                    ..Default::default()
                },
                Epilogue {
                    gelu: true,
                    ..Default::default()
                },
            ] {
                let mut c = c0.clone();
                kern.qgemm(&q, &packed, &mut c, ldc, &ep);
                let mut want = reference_gemm(
                    m,
                    n,
                    k,
                    &aq,
                    k,
                    &wq,
                    &bias,
                    ep.accumulate.then_some(&c0[..]),
                    ldc,
                );
                for i in 0..m {
                    for j in 0..ldc {
                        if j >= n {
                            want[i * ldc + j] = c0[i * ldc + j];
                        } else if ep.gelu {
                            want[i * ldc + j] = gelu_scalar(want[i * ldc + j]);
                        }
                    }
                }
                assert_close(&c, &want, 1e-5, &format!("{} int8 {m}x{n}x{k}", kern.isa()));
                // And close to the f32 product (what int8 approximates).
                if !ep.gelu && !ep.accumulate {
                    let exact = reference_gemm(m, n, k, &a, k, &w, &bias, None, ldc);
                    let (mut err, mut norm) = (0f64, 0f64);
                    for i in 0..m {
                        for j in 0..n {
                            err += ((c[i * ldc + j] - exact[i * ldc + j]) as f64).powi(2);
                            norm += (exact[i * ldc + j] as f64).powi(2);
                        }
                    }
                    assert!(
                        (err / norm).sqrt() < 0.03,
                        "{} int8 relative error {}",
                        kern.isa(),
                        (err / norm).sqrt()
                    );
                }
                results.push(c);
            }
        }
        // Integer products are exact: all paths agree to rounding of the epilogue.
        match &first {
            None => first = Some(results),
            Some(f) => {
                for (x, y) in f.iter().zip(&results) {
                    assert_close(y, x, 1e-6, &format!("{} vs first path", kern.isa()));
                }
            }
        }
    }
}

#[test]
fn attention_matches_reference_on_every_path() {
    let mut rng = Rng(9);
    for kern in paths() {
        for &(len, heads, dh) in &[
            (1usize, 2usize, 32usize),
            (7, 3, 32),
            (50, 12, 32),
            (130, 2, 24),
        ] {
            let hidden = heads * dh;
            let ldq = 3 * hidden + 4;
            let ldc = hidden + 3;
            let qkv = rng.vec(len * ldq, 1.5);
            let mut ctx = vec![f32::NAN; len * ldc];
            let mut diag = vec![0.5f32; len];
            let mut scratch = AttentionScratch::default();
            kern.attention(
                &qkv,
                ldq,
                len,
                Heads {
                    heads,
                    head_dim: dh,
                },
                &mut ctx,
                ldc,
                &mut scratch,
                Some(&mut diag),
            );
            let mut want_diag = vec![0.5f64; len];
            for h in 0..heads {
                for i in 0..len {
                    let scores: Vec<f64> = (0..len)
                        .map(|j| {
                            (0..dh)
                                .map(|d| {
                                    qkv[i * ldq + h * dh + d] as f64
                                        * qkv[j * ldq + hidden + h * dh + d] as f64
                                })
                                .sum()
                        })
                        .collect();
                    let mx = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - mx).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    want_diag[i] += e[i] / sum / heads as f64;
                    for d in 0..dh {
                        let o: f64 = (0..len)
                            .map(|j| e[j] / sum * qkv[j * ldq + 2 * hidden + h * dh + d] as f64)
                            .sum();
                        let got = ctx[i * ldc + h * dh + d];
                        assert!(
                            (got as f64 - o).abs() < 2e-5,
                            "{} len {len} head {h} row {i} dim {d}: {got} vs {o}",
                            kern.isa()
                        );
                    }
                }
            }
            for (g, w) in diag.iter().zip(&want_diag) {
                assert!(
                    (*g as f64 - w).abs() < 1e-5,
                    "{}: diag {g} vs {w}",
                    kern.isa()
                );
            }
            // Scratch is reused: a shorter sequence after a longer one.
            let mut ctx2 = vec![0f32; ldc];
            kern.attention(
                &qkv,
                ldq,
                1,
                Heads {
                    heads,
                    head_dim: dh,
                },
                &mut ctx2,
                ldc,
                &mut scratch,
                None,
            );
            for h in 0..heads {
                for d in 0..dh {
                    let v = qkv[2 * hidden + h * dh + d];
                    assert!(
                        (ctx2[h * dh + d] - v).abs() < 1e-6,
                        "one token attends to itself"
                    );
                }
            }
        }
    }
}

#[test]
fn layer_norm_matches_reference_on_every_path() {
    let mut rng = Rng(13);
    for kern in paths() {
        for &(rows, n) in &[(1usize, 384usize), (5, 7), (3, 1000)] {
            let ld = n + 1;
            let mut x = rng.vec(rows * ld, 4.0);
            x.iter_mut().step_by(3).for_each(|v| *v += 10.0);
            let (g, b) = (rng.vec(n, 1.0), rng.vec(n, 1.0));
            let mut want = x.clone();
            reference_layer_norm(&mut want, rows, n, ld, &g, &b);
            kern.layer_norm(
                &mut x,
                rows,
                n,
                ld,
                &LayerNorm {
                    gamma: &g,
                    beta: &b,
                    eps: 1e-12,
                },
            );
            assert_close(
                &x,
                &want,
                2e-5,
                &format!("{} layer_norm {rows}x{n}", kern.isa()),
            );
        }
    }
}

/// erf in f64 by its Taylor series (|x| < 3) and the asymptotic tail beyond; precise to
/// ~1e-12 where used.
fn libm_erf(x: f64) -> f64 {
    if x.abs() > 5.0 {
        return x.signum();
    }
    let mut sum = 0f64;
    let mut term = x;
    let mut n = 0;
    while term.abs() > 1e-17 * sum.abs().max(1e-300) || n < 5 {
        sum += term / (2 * n + 1) as f64;
        n += 1;
        term *= -x * x / n as f64;
        if n > 200 {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[test]
fn exp_and_gelu_are_accurate_on_every_path() {
    let xs: Vec<f32> = (-87_000..=88_000).map(|i| i as f32 / 1000.0).collect();
    let gx: Vec<f32> = (-8_000..=8_000).map(|i| i as f32 / 1000.0).collect();
    for kern in paths() {
        let mut e = xs.clone();
        kern.exp(&mut e);
        for (&x, &y) in xs.iter().zip(&e) {
            let want = (x as f64).exp();
            assert!(
                ((y as f64 - want) / want).abs() < 3e-7,
                "{}: exp({x}) = {y}, want {want}",
                kern.isa()
            );
        }
        let mut g = gx.clone();
        kern.gelu(&mut g);
        for (&x, &y) in gx.iter().zip(&g) {
            let xf = x as f64;
            let want = 0.5 * xf * (1.0 + libm_erf(xf / std::f64::consts::SQRT_2));
            assert!(
                (y as f64 - want).abs() < 2e-6,
                "{}: gelu({x}) = {y}, want {want}",
                kern.isa()
            );
        }
    }
}

#[test]
fn kernel_paths_parse_and_refuse_what_the_cpu_lacks() {
    for isa in Isa::ALL {
        assert_eq!(isa.name().parse::<Isa>().unwrap(), isa);
    }
    assert_eq!("AVX2".parse::<Isa>().unwrap(), Isa::Avx2);
    let err = "sse9".parse::<Isa>().unwrap_err().to_string();
    assert!(
        err.contains("RECOMMEND_KERNELS") && err.contains("avx2"),
        "{err}"
    );
    assert!(Isa::supported().contains(&Isa::Portable));
    assert_eq!(Isa::detect(), Isa::supported()[0]);
    for isa in Isa::ALL {
        assert_eq!(Kernels::new(isa).is_ok(), isa.is_supported());
        if !isa.is_supported() {
            let msg = Kernels::new(isa).unwrap_err().to_string();
            assert!(msg.contains("lacks") && msg.contains("portable"), "{msg}");
        }
    }
}

#[test]
#[should_panic(expected = "another kernel path")]
fn weights_packed_for_another_path_are_refused() {
    // Portable packs 16-wide panels; pretend they came from a 32-wide path.
    let kern = Kernels::new(Isa::Portable).unwrap();
    let mut p = kern.pack_f32(&[0.0; 32], 2, 16, None);
    p.nr = 32;
    kern.sgemm(
        1,
        &[0.0; 16],
        16,
        &p,
        &mut [0.0; 2],
        2,
        &Epilogue::default(),
    );
}
