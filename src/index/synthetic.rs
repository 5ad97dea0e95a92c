//! Synthetic indexes for the scale benchmark, written through the library's own writer.
//!
//! Embedding a million papers on this machine would take days, and the benchmark measures
//! the index, not the model, so the vectors are generated: unit vectors near a
//! 24-dimensional linear subspace of the 384-dimensional space, plus isotropic noise at a
//! fifth of the signal (sentence embeddings have an intrinsic dimension of this order;
//! uniformly random 384-d vectors have no neighbourhoods at all and would say nothing about
//! a real collection). Each paper has a latent position; its passages scatter around it,
//! and its paper vector is made from them as `index` makes it. Titles, dates, sources,
//! tags and passage texts are generated too, at realistic sizes, so the disk size and the
//! reads a query does are those of a real collection.

use super::format::{IndexSettings, ModelInfo};
use super::store::{Lock, StoreError};
use super::write::{IndexWriter, ManifestHead, PassageRow};
use crate::corpus::{Paper, Section};
use crate::embed::pool::normalize;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use std::path::Path;

const LATENT: usize = 24;
/// Spread of a paper's passages around its latent position (the papers' spread is 1).
const PASSAGE_SPREAD: f32 = 0.5;
const WORDS: &[&str] = &[
    "model",
    "language",
    "retrieval",
    "attention",
    "training",
    "data",
    "vision",
    "graph",
    "reasoning",
    "benchmark",
    "token",
    "decoding",
    "alignment",
    "reward",
    "policy",
    "embedding",
    "sparse",
    "dense",
    "transformer",
    "diffusion",
    "agent",
    "tool",
    "memory",
    "context",
    "instruction",
    "evaluation",
    "robust",
    "efficient",
    "scaling",
    "pretraining",
    "fine-tuning",
    "hallucination",
    "multilingual",
    "speech",
    "code",
    "knowledge",
    "search",
    "latent",
    "contrastive",
    "distillation",
    "quantization",
    "inference",
    "optimizer",
];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub papers: usize,
    pub passages_per_paper: usize,
    pub dim: usize,
    pub seed: u64,
}

/// The synthetic paper with row `i` (IDs `P0000000`, … so a benchmark can name any).
pub fn paper_id(i: usize) -> String {
    format!("P{i:07}")
}

fn words(rng: &mut impl rand::Rng, n: usize) -> String {
    let mut s = String::new();
    for k in 0..n {
        if k > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

/// Generates papers in parallel blocks and streams them into a new generation of the
/// index in `root`.
pub fn write(root: &Path, spec: Spec, model: ModelInfo) -> Result<(), StoreError> {
    let _lock = Lock::acquire(root)?;
    let dim = spec.dim;
    let per = spec.passages_per_paper;
    let normal = Normal::new(0.0f32, 1.0).expect("unit normal");
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let basis: Vec<f32> = (0..dim * LATENT).map(|_| normal.sample(&mut rng)).collect();
    let mut writer = IndexWriter::new(
        root,
        dim,
        spec.papers,
        spec.papers * per,
        IndexSettings::default().paper_vector,
    )?;
    const BLOCK: usize = 4096;
    for start in (0..spec.papers).step_by(BLOCK) {
        let end = (start + BLOCK).min(spec.papers);
        let block: Vec<(Paper, Vec<String>, Vec<f32>)> = (start..end)
            .into_par_iter()
            .map(|i| {
                let mut rng =
                    rand::rngs::StdRng::seed_from_u64(spec.seed ^ ((i as u64 + 1) * 0x9e37_79b9));
                let z: Vec<f32> = (0..LATENT).map(|_| normal.sample(&mut rng)).collect();
                let mut vectors = Vec::with_capacity(per * dim);
                let mut texts = Vec::with_capacity(per);
                for _ in 0..per {
                    let zp: Vec<f32> = z
                        .iter()
                        .map(|x| x + PASSAGE_SPREAD * normal.sample(&mut rng))
                        .collect();
                    let mut v: Vec<f32> = basis
                        .chunks_exact(LATENT)
                        .map(|row| {
                            row.iter().zip(&zp).map(|(a, b)| a * b).sum::<f32>()
                                + normal.sample(&mut rng)
                        })
                        .collect();
                    normalize(&mut v);
                    vectors.extend(v);
                    texts.push(words(&mut rng, 40));
                }
                let mut paper = Paper::new(
                    format!("Synthetic paper {i}: {}", words(&mut rng, 6)),
                    format!("feed-{:02}.xml", i % 50),
                );
                paper.id = paper_id(i);
                paper.date = Some(format!(
                    "{}-{:02}-{:02}",
                    2015 + i % 11,
                    1 + i % 12,
                    1 + i % 28
                ));
                paper.urls = vec![format!("https://example.org/papers/{i}")];
                paper.tags = (0..i % 4)
                    .map(|t| format!("tag{}", (i * 7 + t * 13) % 200))
                    .collect();
                paper.sections = vec![Section::new(Some("Abstract".into()), texts.join(" "))];
                (paper, texts, vectors)
            })
            .collect();
        for (paper, texts, vectors) in &block {
            let rows: Vec<PassageRow> = texts
                .iter()
                .map(|t| PassageRow {
                    text: t,
                    key: [0; 32],
                    lang: None,
                })
                .collect();
            writer.add_paper(paper, &rows, vectors)?;
        }
    }
    writer.finish(ManifestHead {
        model,
        settings: IndexSettings::default(),
        sources: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Index, Scan};

    fn model(dim: usize) -> ModelInfo {
        ModelInfo {
            name: "synthetic".into(),
            fingerprint: "none".into(),
            dim,
            precision: crate::embed::Precision::F32,
            pooling: crate::embed::Pooling::Mean,
        }
    }

    #[test]
    fn a_written_index_reads_back_through_every_accessor() {
        let root = tempfile::tempdir().unwrap();
        let spec = Spec {
            papers: 600,
            passages_per_paper: 3,
            dim: 32,
            seed: 5,
        };
        write(root.path(), spec, model(32)).unwrap();
        let ix = Index::open(root.path()).unwrap();
        assert_eq!(
            (ix.paper_count(), ix.passage_count(), ix.dim()),
            (600, 1800, 32)
        );
        let meta = ix.paper_meta(17).unwrap();
        assert_eq!(meta.id, paper_id(17));
        assert_eq!(ix.find(&paper_id(17).to_lowercase()).unwrap(), 17);
        let err = ix.find("P000001x").unwrap_err();
        assert!(err.suggestion.is_some(), "{err}");
        assert_eq!(ix.passages_of(17), 51..54);
        assert_eq!(ix.paper_of_passage(53), 17);
        assert_eq!(ix.paper_of_passage(54), 18);
        let paper = ix.paper(17).unwrap();
        assert!(paper.sections[0]
            .text
            .contains(&ix.passage_text(52).unwrap()));
        assert_eq!(ix.paper_date(17), Some(20210618));
        let tags: Vec<u32> = ix.paper_tag_ids(17);
        let names: std::collections::HashMap<u32, &str> = ix.tag_names().collect();
        let tag_names: Vec<&str> = tags.iter().map(|t| names[t]).collect();
        assert_eq!(tag_names, meta.tags);
        assert!(
            (crate::index::ann::dot(ix.paper_vector(3), ix.paper_vector(3)) - 1.0).abs() < 1e-5
        );
        crate::index::verify(root.path()).unwrap();
    }

    /// Recall@10 of the approximate first stages (papers and passages) against exact
    /// scans, over every 97th paper of `ix` (written with 2 passages per paper).
    fn approximate_recall(ix: &Index) -> f64 {
        let center = ix.center();
        let (mut found, mut total) = (0, 0);
        for q in (0..ix.paper_count()).step_by(97) {
            let qv = center.centered(ix.paper_vector(q));
            let exact = ix.nearest_papers(&qv, 10, Scan::Exact, &|_| true).unwrap();
            let approx = ix
                .nearest_papers(&qv, 10, Scan::Approximate, &|_| true)
                .unwrap();
            assert_eq!(exact[0].0, q);
            total += exact.len();
            found += approx.iter().filter(|h| exact.contains(h)).count();
            let pq = ix.passage_vector(q * 2 + 1);
            let exact = ix.nearest_passages(&pq, 10, Scan::Exact).unwrap();
            let approx = ix.nearest_passages(&pq, 10, Scan::Approximate).unwrap();
            total += exact.len();
            found += approx.iter().filter(|h| exact.contains(h)).count();
        }
        found as f64 / total as f64
    }

    /// An index of `EXACT_BELOW` papers (2 passages each): the smallest with paper lists.
    fn smallest_with_lists() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let spec = Spec {
            papers: crate::index::ann::EXACT_BELOW,
            passages_per_paper: 2,
            dim: 32,
            seed: 9,
        };
        write(root.path(), spec, model(32)).unwrap();
        root
    }

    #[test]
    fn the_paper_and_passage_lists_find_what_a_scan_finds() {
        // From `EXACT_BELOW` papers on, the writer builds IVF lists over the papers.
        let root = smallest_with_lists();
        let ix = Index::open(root.path()).unwrap();
        let files = &ix.manifest().files;
        assert!(files.contains_key("papers.ivf.codes") && !files.contains_key("papers.hnsw.graph"));
        let recall = approximate_recall(&ix);
        assert!(recall >= 0.95, "{recall}");
        // A filter is applied before the cut, not after.
        let qv = ix.center().centered(ix.paper_vector(0));
        let even = ix
            .nearest_papers(&qv, 10, Scan::Approximate, &|r| r % 2 == 0)
            .unwrap();
        assert_eq!(even.len(), 10);
        assert!(even.iter().all(|h| h.0 % 2 == 0));
        crate::index::verify(root.path()).unwrap();

        // A list file changed in place fails `verify`; a truncated one fails at open.
        let gen = crate::index::store::current(root.path()).unwrap();
        let codes = gen.join("papers.ivf.codes");
        let mut bytes = std::fs::read(&codes).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&codes, &bytes).unwrap();
        let err = crate::index::verify(root.path()).unwrap_err().to_string();
        assert!(err.contains("papers.ivf.codes does not match"), "{err}");
        std::fs::write(&codes, &bytes[..mid]).unwrap();
        let err = Index::open(root.path()).err().unwrap().to_string();
        assert!(err.contains("papers.ivf.codes"), "{err}");
    }

    /// Indexes written before the paper lists hold an hnsw_rs graph over the papers: it is
    /// still walked (after its checksum is checked), and a damaged one is refused.
    #[test]
    fn an_older_index_with_a_paper_graph_still_finds_what_a_scan_finds() {
        use crate::index::{ann, csls, format::PAPER_GRAPH, format::PAPER_IVF, ivf};
        let root = smallest_with_lists();
        // Rewrite the generation as such an index: the graph instead of the paper lists.
        let gen = crate::index::store::current(root.path()).unwrap();
        let ix = Index::open(root.path()).unwrap();
        let rows = csls::CenteredRows {
            vectors: ix.paper_vectors(),
            center: ix.center(),
        };
        ann::Graph::build_rows(&rows, ann::Params::default())
            .dump(&gen, PAPER_GRAPH)
            .unwrap();
        drop(ix);
        let manifest_path = gen.join("manifest.json");
        let mut manifest: crate::index::Manifest =
            serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
        for name in ivf::file_names(PAPER_IVF) {
            manifest.files.remove(&name);
            std::fs::remove_file(gen.join(&name)).unwrap();
        }
        for ext in crate::index::format::GRAPH_PARTS {
            let name = format!("{PAPER_GRAPH}.{ext}");
            let (bytes, sha256) = crate::index::write::hash_file(&gen.join(&name)).unwrap();
            manifest
                .files
                .insert(name, crate::index::FileInfo { bytes, sha256 });
        }
        std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let ix = Index::open(root.path()).unwrap();
        assert!(ix.lists(crate::index::Lists::Papers).is_err());
        let recall = approximate_recall(&ix);
        assert!(recall >= 0.95, "{recall}");
        crate::index::verify(root.path()).unwrap();

        // A graph file changed in place fails `verify` and the lazy load; a truncated one
        // fails at open.
        let data = gen.join("papers.hnsw.data");
        let mut bytes = std::fs::read(&data).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&data, &bytes).unwrap();
        let err = crate::index::verify(root.path()).unwrap_err().to_string();
        assert!(err.contains("papers.hnsw.data does not match"), "{err}");
        let ix = Index::open(root.path()).unwrap();
        let qv = ix.center().centered(ix.paper_vector(0));
        let err = ix
            .nearest_papers(&qv, 10, Scan::Approximate, &|_| true)
            .unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        std::fs::write(&data, &bytes[..mid]).unwrap();
        let err = Index::open(root.path()).err().unwrap().to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}
