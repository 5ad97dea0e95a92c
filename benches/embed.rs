//! Tokenization, one embedding batch at a few lengths, and `similar` end to end, with the
//! real bundled model.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use recommend::embed::{self, EmbedOptions, Embedder, Role};
use recommend::index::{self, Index, IndexSettings};
use recommend::query::{self, PaperSpace, SimilarRequest};

fn bench(c: &mut Criterion) {
    let files = embed::source::resolve(None).unwrap();
    let embedder = Embedder::load(&files, EmbedOptions::default()).unwrap();
    let seed =
        std::fs::read_to_string(recommend::corpus::seed_dir().join("002_cf0c9b0a903b679b.txt"))
            .unwrap();
    let paragraphs: Vec<&str> = seed
        .lines()
        .filter(|l| l.trim().chars().count() >= 20)
        .collect();

    let mut g = c.benchmark_group("tokenize");
    g.throughput(Throughput::Elements(paragraphs.len() as u64));
    g.bench_function("digest_paragraphs", |b| {
        b.iter(|| embedder.tokenize(&paragraphs, Role::Passage).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("embed_batch");
    g.sample_size(10);
    let word = "retrieval 검색 ";
    for len in [32usize, 128, 512] {
        // 8 texts of about `len` ids each.
        let text = word.repeat(len / 4);
        let texts: Vec<&str> = vec![text.as_str(); 8];
        let ids = embedder.tokenize(&texts, Role::Passage).unwrap();
        let tokens: usize = ids.iter().map(Vec::len).sum();
        g.throughput(Throughput::Elements(tokens as u64));
        g.bench_with_input(BenchmarkId::new("8x", len), &ids, |b, ids| {
            b.iter(|| embedder.embed_ids(ids, &mut |_| {}).unwrap())
        });
    }
    g.finish();

    // `similar` end to end on a small index (the two weekly digests).
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    for f in ["002_cf0c9b0a903b679b.txt", "004_a031fcf09750a8af.txt"] {
        std::fs::copy(recommend::corpus::seed_dir().join(f), docs.join(f)).unwrap();
    }
    let root = dir.path().join("index");
    index::build(
        &root,
        &[docs],
        &files,
        EmbedOptions::default(),
        IndexSettings::default(),
        &mut index::Silent,
    )
    .unwrap();
    c.bench_function("similar_end_to_end", |b| {
        b.iter(|| {
            let ix = Index::open(&root).unwrap();
            let space = PaperSpace::new(&ix).unwrap();
            let req = SimilarRequest::new(ix.paper_meta(3).unwrap().id, 10);
            query::similar(&ix, &space, &req).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
