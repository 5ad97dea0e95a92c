//! The embedder against an independent reference, on the real bundled model.

use recommend::embed::{
    self, Backend, EmbedError, EmbedOptions, Embedder, Isa, Pooling, Precision, Role,
};
use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Deserialize)]
struct Row {
    text: String,
    prefix: String,
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn reference() -> Vec<Row> {
    let text = include_str!("data/reference.jsonl");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn bundled() -> embed::ModelFiles {
    embed::source::resolve(None).expect("bundled model resolves")
}

fn embedder() -> &'static Embedder {
    static E: OnceLock<Embedder> = OnceLock::new();
    E.get_or_init(|| {
        Embedder::load(&bundled(), EmbedOptions::default()).expect("bundled model loads")
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn role(prefix: &str) -> Role {
    match prefix {
        "query: " => Role::Query,
        "passage: " => Role::Passage,
        other => panic!("unexpected prefix {other:?}"),
    }
}

#[test]
fn tokenizer_matches_reference_ids() {
    let e = embedder();
    let rows = reference();
    assert!(rows.len() >= 40);
    let mut compared = 0;
    for row in &rows {
        let ids = e
            .tokenize(&[row.text.as_str()], role(&row.prefix))
            .unwrap()
            .remove(0);
        if row.ids.len() >= embed::MAX_IDS {
            // Cut at 512: the reference cut may differ in where `</s>` goes; compare the head.
            assert_eq!(ids.len(), embed::MAX_IDS);
            assert_eq!(
                ids[..500],
                row.ids[..500],
                "{}",
                &row.text[..40.min(row.text.len())]
            );
            continue;
        }
        assert_eq!(ids, row.ids, "text: {}", row.text);
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} rows compared");
}

/// An embedder loaded for a few texts (what a `search` process loads) tokenizes and embeds
/// them as the full one does, against the reference, and refuses any other text.
#[test]
fn embedder_loaded_for_its_texts_matches_reference_and_refuses_others() {
    let rows = reference();
    for prefix in ["query: ", "passage: "] {
        let group: Vec<&Row> = rows
            .iter()
            .filter(|r| r.prefix == prefix && r.ids.len() < embed::MAX_IDS)
            .collect();
        let texts: Vec<&str> = group.iter().map(|r| r.text.as_str()).collect();
        let e = Embedder::load_for(&bundled(), EmbedOptions::default(), &texts, role(prefix))
            .expect("bundled model loads");
        let ids = e.tokenize(&texts, role(prefix)).unwrap();
        let vectors = e.embed(&texts, role(prefix)).unwrap();
        for ((row, ids), v) in group.iter().zip(&ids).zip(&vectors) {
            assert_eq!(*ids, row.ids, "text: {}", row.text);
            let c = cosine(v, &row.embedding);
            assert!(c >= 0.9999, "cosine {c} for {:?}", row.text);
        }
        let err = e
            .embed(&["a text it was not loaded for"], role(prefix))
            .unwrap_err();
        assert!(
            matches!(err, EmbedError::Tokenizer(_)) && err.to_string().contains("loaded for"),
            "{err}"
        );
    }
}

#[test]
fn embeddings_match_reference() {
    let e = embedder();
    let rows = reference();
    let mut worst = 1.0f32;
    for prefix in ["passage: ", "query: "] {
        let group: Vec<&Row> = rows.iter().filter(|r| r.prefix == prefix).collect();
        let texts: Vec<&str> = group.iter().map(|r| r.text.as_str()).collect();
        let vectors = e.embed(&texts, role(prefix)).unwrap();
        for (row, v) in group.iter().zip(&vectors) {
            assert_eq!(v.len(), 384);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
            let c = cosine(v, &row.embedding);
            worst = worst.min(c);
            assert!(c >= 0.9999, "cosine {c} for {:?}", row.text);
        }
    }
    eprintln!("worst cosine to reference (f32): {worst}");
}

fn passages() -> (Vec<String>, Vec<Vec<f32>>) {
    reference()
        .into_iter()
        .filter(|r| r.prefix == "passage: ")
        .map(|r| (r.text, r.embedding))
        .unzip()
}

fn load(backend: Backend, precision: Precision, pooling: Pooling) -> Embedder {
    let options = EmbedOptions {
        precision,
        pooling,
        workers: 2,
        ..Default::default()
    };
    Embedder::load_with(&bundled(), options, backend).unwrap()
}

/// Every kernel path this CPU runs (AVX-512 ones only on a CPU that has them), and candle,
/// against the independent reference.
#[test]
fn every_kernel_path_matches_reference() {
    let rows = reference();
    let mut backends: Vec<Backend> = Isa::supported().into_iter().map(Backend::Kernels).collect();
    backends.push(Backend::Candle);
    for backend in backends {
        let e = load(backend, Precision::F32, Pooling::Mean);
        assert_eq!(e.backend(), backend);
        let mut worst = 1.0f32;
        for prefix in ["passage: ", "query: "] {
            let group: Vec<&Row> = rows.iter().filter(|r| r.prefix == prefix).collect();
            let texts: Vec<&str> = group.iter().map(|r| r.text.as_str()).collect();
            let vectors = e.embed(&texts, role(prefix)).unwrap();
            for (row, v) in group.iter().zip(&vectors) {
                let c = cosine(v, &row.embedding);
                worst = worst.min(c);
                assert!(c >= 0.9999, "{backend}: cosine {c} for {:?}", row.text);
            }
        }
        eprintln!("{backend}: worst cosine to reference (f32) {worst}");
    }
}

/// Ditto pooling needs the first layer's attention diagonal: the kernels' (per packed token)
/// and candle's (per padded grid slot) must give the same vectors.
#[test]
fn kernels_match_candle_with_ditto_pooling() {
    let (texts, _) = passages();
    let candle = load(Backend::Candle, Precision::F32, Pooling::Ditto).embed(&texts, Role::Passage);
    let kernels = load(
        Backend::Kernels(Isa::detect()),
        Precision::F32,
        Pooling::Ditto,
    )
    .embed(&texts, Role::Passage);
    for (a, b) in candle.unwrap().iter().zip(&kernels.unwrap()) {
        assert!(cosine(a, b) >= 0.99999, "ditto: cosine {}", cosine(a, b));
    }
}

/// int8 stays within the bound that decides whether it may be the default (cosine ≥ 0.995 to
/// f32 on every text) on every path. The paths' integer products are exact, but their f32
/// epilogues round differently (FMA or not) and the next layer's quantization can amplify
/// that, so paths agree closely, not bit for bit.
#[test]
fn int8_stays_close_to_f32_on_every_path() {
    let (texts, refs) = passages();
    let mut first: Option<Vec<Vec<f32>>> = None;
    for isa in Isa::supported() {
        let vectors = load(Backend::Kernels(isa), Precision::Int8, Pooling::Mean)
            .embed(&texts, Role::Passage)
            .unwrap();
        let cosines: Vec<f32> = vectors
            .iter()
            .zip(&refs)
            .map(|(v, r)| cosine(v, r))
            .collect();
        let worst = cosines.iter().cloned().fold(1.0, f32::min);
        let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
        eprintln!("int8 on {isa}: mean cosine to reference {mean}, worst {worst}");
        assert!(worst >= 0.995, "int8 on {isa}: worst cosine {worst}");
        match &first {
            None => first = Some(vectors),
            Some(f) => {
                for (a, b) in f.iter().zip(&vectors) {
                    assert!(
                        cosine(a, b) >= 0.999,
                        "int8 paths disagree: {}",
                        cosine(a, b)
                    );
                }
            }
        }
    }
}

#[test]
fn int8_on_cuda_and_unknown_kernel_paths_are_clear_errors() {
    let err = Embedder::load_with(
        &bundled(),
        EmbedOptions {
            precision: Precision::Int8,
            ..Default::default()
        },
        Backend::Candle,
    )
    .err()
    .expect("int8 needs the kernels");
    assert!(err.to_string().contains("int8"), "{err}");
    // (`--precision quantized` naming int8 instead is checked with the CLI's flags.)
    let int8 = <Precision as clap::ValueEnum>::from_str("int8", true).unwrap();
    assert_eq!(int8, Precision::Int8);
    // Serialized names are part of index manifests and cache keys.
    assert_eq!(serde_json::to_string(&Precision::F32).unwrap(), "\"f32\"");
    assert_eq!(serde_json::to_string(&Precision::Int8).unwrap(), "\"int8\"");
}

#[test]
fn batch_invariance() {
    let e = embedder();
    let texts = [
        "짧은 문장.",
        "Retrieval-augmented generation reduces hallucination by grounding answers in retrieved passages, but only when the retriever finds relevant evidence.",
        "Toolformer",
        "대규모 언어 모델이 외부 도구를 호출하는 방법을 스스로 학습하도록 하는 자기 지도 학습 방법을 제안한다. 모델은 API 호출을 삽입하고, 그 결과가 다음 토큰 예측에 도움이 되는지로 걸러진다.",
        "A much longer English passage that goes on for a while. ".repeat(20).leak() as &str,
    ];
    let together = e.embed(&texts, Role::Passage).unwrap();
    for (t, v) in texts.iter().zip(&together) {
        let alone = e.embed(&[*t], Role::Passage).unwrap().remove(0);
        let c = cosine(&alone, v);
        assert!(c >= 0.99999, "batch changed {t:?}: cosine {c}");
    }
}

#[test]
fn cross_lingual_translation_is_closer_than_unrelated() {
    let e = embedder();
    let v = e
        .embed(
            &[
                "이 논문은 검색된 문서를 활용해 언어 모델의 환각을 줄이는 방법을 제안한다.",
                "This paper proposes a method that reduces hallucinations of language models by using retrieved documents.",
                "The recipe calls for two cups of flour and a pinch of salt.",
            ],
            Role::Passage,
        )
        .unwrap();
    let ko_en = cosine(&v[0], &v[1]);
    assert!(ko_en > cosine(&v[0], &v[2]), "ko-en {ko_en}");
    assert!(ko_en > cosine(&v[1], &v[2]), "ko-en {ko_en}");
}

#[test]
fn bad_text_input_is_an_error_or_defined() {
    let e = embedder();
    assert!(matches!(
        e.embed(&[""], Role::Passage),
        Err(EmbedError::EmptyText { index: 0 })
    ));
    assert!(matches!(
        e.embed(&["ok", "  \n\t "], Role::Query),
        Err(EmbedError::EmptyText { index: 1 })
    ));
    // 100,000 characters: cut at 512 ids, still one unit vector.
    let long = "가나다라마바사 abc ".repeat(8_000);
    let ids = e.tokenize(&[long.as_str()], Role::Passage).unwrap();
    assert_eq!(ids[0].len(), embed::MAX_IDS);
    let v = e.embed(&[long.as_str()], Role::Passage).unwrap();
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn other_poolings_give_unit_vectors_that_differ_from_mean() {
    let texts = ["Self-RAG: learning to retrieve, generate and critique through self-reflection."];
    let mean = embedder().embed(&texts, Role::Passage).unwrap().remove(0);
    for pooling in [Pooling::Cls, Pooling::Ditto] {
        let e = Embedder::load(
            &bundled(),
            EmbedOptions {
                pooling,
                ..Default::default()
            },
        )
        .unwrap();
        let v = e.embed(&texts, Role::Passage).unwrap().remove(0);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        let c = cosine(&v, &mean);
        assert!(c < 0.9999 && c > 0.5, "{pooling}: cosine to mean {c}");
    }
}

#[test]
fn bad_model_sources_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = embed::source::resolve(Some(dir.path().to_str().unwrap())).unwrap_err();
    assert!(err.to_string().contains("config.json is missing"), "{err}");

    // A directory with a truncated GGUF file.
    let src = embed::source::bundled_dir();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let gguf = std::fs::read(src.join("model.gguf")).unwrap();
    std::fs::write(dir.path().join("model.gguf"), &gguf[..gguf.len() / 3]).unwrap();
    let files = embed::source::resolve(Some(dir.path().to_str().unwrap())).unwrap();
    let err = Embedder::load(&files, EmbedOptions::default())
        .err()
        .expect("truncated GGUF fails");
    assert!(err.to_string().contains("truncated"), "{err}");

    // Not a GGUF file at all.
    std::fs::write(dir.path().join("model.gguf"), b"definitely not gguf").unwrap();
    let err = Embedder::load(&files, EmbedOptions::default())
        .err()
        .expect("garbage fails");
    assert!(err.to_string().contains("model.gguf"), "{err}");

    // A name that is neither a directory nor a hub id.
    let err = embed::source::resolve(Some("no/such/model/here")).unwrap_err();
    assert!(err.to_string().contains("not a hub model id"), "{err}");
}

#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let err = Embedder::load(
        &bundled(),
        EmbedOptions {
            device: embed::DeviceKind::Cuda,
            ..Default::default()
        },
    )
    .err()
    .expect("no cuda in this build");
    assert!(matches!(err, EmbedError::NoCuda), "{err}");
}

#[test]
fn safetensors_directory_gives_the_same_vectors_as_gguf() {
    use candle_core::quantized::gguf_file;
    let src = embed::source::bundled_dir();
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    // Dequantize every GGUF tensor into an F32 safetensors file (what a hub checkpoint looks
    // like), which the loader mmaps.
    let mut file = std::fs::File::open(src.join("model.gguf")).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut tensors = std::collections::HashMap::new();
    for name in content.tensor_infos.keys() {
        let t = content
            .tensor(&mut file, name, &candle_core::Device::Cpu)
            .unwrap()
            .dequantize(&candle_core::Device::Cpu)
            .unwrap();
        tensors.insert(name.clone(), t);
    }
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    drop(tensors);
    let files = embed::source::resolve(Some(dir.path().to_str().unwrap())).unwrap();
    assert!(matches!(files.weights, embed::WeightsFile::Safetensors(_)));
    let st = Embedder::load(&files, EmbedOptions::default()).unwrap();
    let texts = [
        "검색 증강 생성",
        "context-aware decoding reduces hallucination",
    ];
    let a = st.embed(&texts, Role::Query).unwrap();
    let b = embedder().embed(&texts, Role::Query).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!(cosine(x, y) > 0.999999, "{}", cosine(x, y));
    }
}

#[test]
fn unreachable_hub_is_one_clear_line() {
    // No network here (and none in CI): the hub error must say so and name local options.
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("HF_HOME", cache.path());
    match embed::source::resolve(Some("intfloat/multilingual-e5-small")) {
        Ok(files) => eprintln!("hub reachable; fetched {}", files.name),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("Hugging Face hub") && msg.contains("--model DIR"),
                "{msg}"
            );
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
    }
}
