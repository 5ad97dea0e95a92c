use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use recommend::index::{ann, ivf, GenerationWriter};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let latent: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(24);
    let dim = 384;
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let basis: Vec<f32> = (0..dim * latent).map(|_| normal.sample(&mut rng)).collect();
    let mut v = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let z: Vec<f32> = (0..latent).map(|_| normal.sample(&mut rng)).collect();
        let mut r: Vec<f32> = basis
            .chunks_exact(latent)
            .map(|row| {
                row.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>() + normal.sample(&mut rng)
            })
            .collect();
        recommend::embed::pool::normalize(&mut r);
        v.extend(r);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut gen = GenerationWriter::new(dir.path()).unwrap();
    let t = Instant::now();
    ivf::write(&mut gen, "x", &ivf::Plain { vectors: &v, dim }).unwrap();
    println!("build {:.1}s", t.elapsed().as_secs_f64());
    let c = |r: String| recommend::index::StoreError::Corrupt {
        dir: "x".into(),
        reason: r,
    };
    let lists = ivf::Ivf::open(gen.dir(), gen.file_infos(), "x", n, dim, None, &c).unwrap();
    println!("calibrated probes {}", lists.default_probes());
    println!("lists {}", lists.lists());
    for probes in [16, 32, 64, 96, 128, 192] {
        let (mut found, mut total) = (0, 0);
        let t = Instant::now();
        for q in (0..n).step_by(n / 200) {
            let qv = &v[q * dim..(q + 1) * dim];
            let exact = ann::exact(&v, dim, qv, 10);
            let c = lists.candidates(qv, probes, 200);
            let mut hits: Vec<(usize, f32)> = c
                .iter()
                .map(|&(r, _)| (r, ann::dot(qv, &v[r * dim..(r + 1) * dim])))
                .collect();
            hits.sort_by(|a, b| b.1.total_cmp(&a.1));
            hits.truncate(10);
            total += 10;
            found += hits
                .iter()
                .filter(|h| exact.iter().any(|e| e.0 == h.0))
                .count();
        }
        println!(
            "probes {probes}: recall {:.3}  {:.2} ms/q",
            found as f64 / total as f64,
            t.elapsed().as_secs_f64() * 1e3 / 200.0
        );
    }
}
