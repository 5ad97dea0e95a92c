//! End to end: the `recommend` binary on the seed corpus with the real bundled model.
//!
//! One cold index of the seed corpus is built once and shared (read-only) by the tests;
//! tests that damage or change an index work on their own copy.

mod common;

use assert_cmd::Command;
use common::ids;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The shared, read-only index of the seed corpus.
fn seed_index() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep().join("index");
        let out = recommend(&dir).args(["index", "--quiet"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn recommend(index: &Path) -> Command {
    let mut cmd = Command::cargo_bin("recommend").unwrap();
    cmd.arg("--index").arg(index).env_remove("RECOMMEND_MODEL");
    cmd
}

fn json(index: &Path, args: &[&str]) -> Value {
    succeeded(recommend(index).args(args).arg("--json")).0
}

/// Runs `cmd`, which must succeed, and parses its JSON output: the JSON and stderr.
fn succeeded(cmd: &mut Command) -> (Value, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{cmd:?}: {stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A private copy of the seed index, and the path of its live generation in the copy.
fn copy_of_seed_index() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(seed_index(), dir.path());
    let current = std::fs::read_to_string(dir.path().join("CURRENT")).unwrap();
    let gen = dir.path().join(current.trim());
    (dir, gen)
}

/// Runs `args` and checks it fails with one line telling the user to re-run `index`.
fn refused_with_reindex_advice(index: &Path, args: &[&str]) {
    let out = recommend(index).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.starts_with("error: ")
            && err.contains("recommend index")
            && err.trim().lines().count() == 1,
        "{args:?}: {err}"
    );
}

#[test]
fn similar_to_cad_finds_rag_and_hallucination_papers_never_itself() {
    let out = json(seed_index(), &["similar", "--id", "cad", "-k", "10"]);
    assert_eq!(out["query"]["id"], "CAD");
    assert_eq!(
        out["query"]["title"],
        "Trusting Your Evidence: Hallucinate Less with Context-aware Decoding"
    );
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    let got = ids(&out);
    assert!(
        !got.iter().any(|id| id.eq_ignore_ascii_case("CAD")),
        "{got:?}"
    );
    // Scores are sorted and every result explains itself with two passages.
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    for r in results {
        assert!(!r["why"]["query_passage"].as_str().unwrap().is_empty());
        assert!(!r["why"]["match_passage"].as_str().unwrap().is_empty());
    }
    // Retrieval augmentation or hallucination, by the results' own titles.
    let topical = results
        .iter()
        .filter(|r| {
            let t = r["title"].as_str().unwrap().to_lowercase();
            ["retriev", "hallucinat", "rag", "context", "evidence"]
                .iter()
                .any(|w| t.contains(w))
        })
        .count();
    assert!(
        topical >= 3,
        "only {topical} RAG/hallucination papers in {got:?}"
    );
}

#[test]
fn korean_query_finds_the_matching_paper() {
    let out = json(
        seed_index(),
        &[
            "search",
            "언어 모델이 외부 도구 API를 언제 호출할지 스스로 배우는 방법",
            "-k",
            "3",
        ],
    );
    let got = ids(&out);
    assert!(got.iter().any(|id| id == "Toolformer"), "{got:?}");
    for r in out["results"].as_array().unwrap() {
        assert!(!r["passage"].as_str().unwrap().is_empty());
    }
}

#[test]
fn english_query_finds_a_korean_summary() {
    let out = json(
        seed_index(),
        &[
            "search",
            "benchmark for measuring hallucination of large language models",
            "-k",
            "3",
        ],
    );
    assert!(
        ids(&out).iter().any(|id| id == "HaluEval"),
        "{:?}",
        ids(&out)
    );
}

#[test]
fn unknown_id_suggests_the_closest() {
    let out = recommend(seed_index())
        .args(["similar", "--id", "CDA"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "error: no paper with id \"CDA\"; did you mean CAD?"
    );
}

#[test]
fn list_and_show() {
    let list = json(seed_index(), &["list"]);
    let rows = list.as_array().unwrap();
    assert!(rows.len() >= 85, "{} papers", rows.len());
    for key in ["id", "title", "source", "url", "date", "tags"] {
        assert!(rows[0].get(key).is_some(), "list --json lacks {key}");
    }
    let cad = rows.iter().find(|r| r["id"] == "CAD").unwrap();
    assert!(cad["url"].as_str().unwrap().ends_with("CAD.html"));
    let show = json(seed_index(), &["show", "--id", "selfrag"]);
    assert_eq!(show["id"], "SelfRAG");
    assert!(!show["sections"].as_array().unwrap().is_empty());
}

#[test]
fn reindexing_unchanged_input_embeds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(seed_index(), dir.path());
    let out = json(dir.path(), &["index"]);
    assert_eq!(out["embedded"], 0, "{out}");
    assert_eq!(out["up_to_date"], true);
}

/// A private copy of `tests/data/NAME` (three Markdown notes in `docs/` and the index an
/// older build wrote for them in `index/`) and the path of that index's generation.
fn copy_of_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    copy_dir(&fixture, dir.path());
    let current = std::fs::read_to_string(dir.path().join("index/CURRENT")).unwrap();
    let gen = dir.path().join("index").join(current.trim());
    (dir, gen)
}

/// The format-2 fixture: JSON files and hnsw_rs graphs.
fn copy_of_format2_fixture() -> (tempfile::TempDir, PathBuf) {
    copy_of_fixture("format2")
}

/// `recommend index docs --json` in `dir` (the fixtures' layout): the report and stderr.
fn index_docs(dir: &Path) -> (Value, String) {
    succeeded(
        recommend(&dir.join("index"))
            .current_dir(dir)
            .args(["index", "docs", "--json"]),
    )
}

/// The same papers in the same order with the same "why" passages, and scores equal up to
/// float rounding (hubness stored or recomputed, vectors read from JSON or a mapped table).
fn same_results(a: &Value, b: &Value) {
    close_results(a, b, 1e-5);
}

/// [`same_results`] with scores within `tolerance`: an index rewritten in format 4 holds
/// its passage vectors in half precision, which moves a fused score by about 1e-4.
fn close_results(a: &Value, b: &Value, tolerance: f64) {
    assert_eq!(ids(a), ids(b));
    let rows = |v: &Value| v["results"].as_array().unwrap().clone();
    for (x, y) in rows(a).iter().zip(&rows(b)) {
        let (sx, sy) = (x["score"].as_f64().unwrap(), y["score"].as_f64().unwrap());
        assert!((sx - sy).abs() < tolerance, "{sx} vs {sy}");
        assert_eq!(x["why"], y["why"]);
    }
}

/// Rewrites the index of `dir/index` from `dir/docs` and checks that it embedded nothing
/// and is now of the current format; the new generation's directory.
fn upgraded_without_reembedding(dir: &Path, old_gen: &Path) -> PathBuf {
    let index = dir.join("index");
    let (up, _) = index_docs(dir);
    assert_eq!(up["embedded"], 0, "{up}");
    assert_eq!(up["up_to_date"], false, "{up}");
    let current = std::fs::read_to_string(index.join("CURRENT")).unwrap();
    let gen = index.join(current.trim());
    assert_ne!(gen, old_gen);
    assert_eq!(manifest_of(&gen)["format"], 4);
    assert!(gen.join("passages.f16").exists() && !gen.join("passages.f32").exists());
    gen
}

fn manifest_of(gen: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(gen.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn previous_format_indexes_still_answer_and_upgrade_without_reembedding() {
    let (dir, gen) = copy_of_format2_fixture();
    let index = dir.path().join("index");
    let old = json(&index, &["similar", "--id", "SpeculativeDecoding"]);
    assert_eq!(ids(&old).len(), 2, "{old}");
    // Format 1: the same without stored hubness, which `similar` then computes itself.
    let (dir1, gen1) = copy_of_format2_fixture();
    let mut manifest = manifest_of(&gen1);
    manifest["format"] = 1.into();
    manifest["files"]
        .as_object_mut()
        .unwrap()
        .remove("hubness.f32")
        .unwrap();
    std::fs::write(gen1.join("manifest.json"), manifest.to_string()).unwrap();
    std::fs::remove_file(gen1.join("hubness.f32")).unwrap();
    let v1 = json(
        &dir1.path().join("index"),
        &["similar", "--id", "SpeculativeDecoding"],
    );
    same_results(&v1, &old);
    // Neither has the approximate-search lists: asking for them gets the usual advice.
    refused_with_reindex_advice(&index, &["search", "retrieval", "--hnsw"]);
    // `index` rewrites it in the current format from the stored vectors.
    upgraded_without_reembedding(dir.path(), &gen);
    let new = json(&index, &["similar", "--id", "SpeculativeDecoding"]);
    close_results(&new, &old, 1e-3);
    let search = json(&index, &["search", "retrieval", "--hnsw", "-k", "1"]);
    assert_eq!(ids(&search), ["RetrievalAugmented"]);
    json(&index, &["verify"]);
}

#[test]
fn format_3_indexes_answer_as_they_are_and_upgrade_to_half_precision_without_reembedding() {
    // The same three notes, and the index a format-3 build wrote for them (mapped tables,
    // passage vectors in single precision).
    let (dir, gen) = copy_of_fixture("format3");
    let index = dir.path().join("index");
    assert_eq!(manifest_of(&gen)["format"], 3);
    let report = json(&index, &["verify"]);
    assert_eq!(report["format"], 3, "{report}");
    let old = json(&index, &["similar", "--id", "SpeculativeDecoding"]);
    assert_eq!(ids(&old).len(), 2, "{old}");
    let old_search = json(&index, &["search", "retrieval"]);
    assert_eq!(ids(&old_search)[0], "RetrievalAugmented");
    let new_gen = upgraded_without_reembedding(dir.path(), &gen);
    // Half the bytes of the single-precision table (plus its header).
    let bytes = |p: PathBuf| std::fs::metadata(p).unwrap().len();
    assert_eq!(
        bytes(new_gen.join("passages.f16")) - 64,
        (bytes(gen.join("passages.f32")) - 64) / 2
    );
    let new = json(&index, &["similar", "--id", "SpeculativeDecoding"]);
    close_results(&new, &old, 1e-3);
    let new_search = json(&index, &["search", "retrieval"]);
    close_results(&new_search, &old_search, 1e-3);
    json(&index, &["verify"]);
    // Written again from its own stored (already rounded) vectors, the index comes out
    // the same to the byte: everything the writer derives is made from the rounded
    // values, so an upgraded index is the index a fresh build of those vectors writes.
    let mut manifest = manifest_of(&new_gen);
    manifest["format"] = 3.into();
    std::fs::write(new_gen.join("manifest.json"), manifest.to_string()).unwrap();
    let again = upgraded_without_reembedding(dir.path(), &new_gen);
    let sums = |gen: &Path| manifest_of(gen)["files"].clone();
    for file in [
        "passages.f16",
        "passages.lang-means",
        "papers.f32",
        "papers.hubness",
        "papers.center",
        "papers.center-norms",
        "map.f32",
    ] {
        assert!(sums(&again)[file]["sha256"].is_string(), "{file}");
        assert_eq!(
            sums(&again)[file]["sha256"],
            sums(&new_gen)[file]["sha256"],
            "{file}"
        );
    }
}

#[test]
fn verify_reads_every_byte_and_index_reuses_nothing_from_a_damaged_generation() {
    let (dir, _) = copy_of_format2_fixture();
    let index = dir.path().join("index");
    let run_index = || index_docs(dir.path());
    run_index();
    let report = json(&index, &["verify"]);
    assert_eq!(report["format"], 4, "{report}");
    assert_eq!(report["papers"], 3);
    assert!(report["files"].as_u64().unwrap() > 20, "{report}");
    // One changed byte in the middle of a vector table: same length, same header, so only
    // the checksum can tell.
    let current = std::fs::read_to_string(index.join("CURRENT")).unwrap();
    let path = index.join(current.trim()).join("passages.f16");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let out = recommend(&index).args(["verify"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("passages.f16"),
        "{err}"
    );
    refused_with_reindex_advice(&index, &["verify"]);
    // `index` notices, says so, and embeds everything again instead of reusing the damage.
    let (report, stderr) = run_index();
    assert!(
        stderr.contains("warning") && stderr.contains("passages.f16"),
        "{stderr}"
    );
    assert_eq!(report["embedded"], 3, "{report}");
    json(&index, &["verify"]);
}

#[test]
fn changed_and_removed_files_reembed_only_their_passages() {
    // A small collection of its own: two digests.
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    let seeds = recommend::corpus::seed_dir();
    for f in ["002_cf0c9b0a903b679b.txt", "003_498fcb06ee946e4f.txt"] {
        std::fs::copy(seeds.join(f), docs.join(f)).unwrap();
    }
    let index = work.path().join("index");
    let docs_arg = docs.to_str().unwrap();
    let first = json(&index, &["index", docs_arg]);
    let total = first["chunks"].as_u64().unwrap();
    assert_eq!(first["embedded"].as_u64().unwrap(), total);
    assert_eq!(first["papers"], 18);

    // A new Markdown note: only its passages are embedded.
    std::fs::write(
        docs.join("note.md"),
        "# Speculative Decoding Notes\n\nA small draft model proposes tokens that the large model verifies in parallel.\n",
    )
    .unwrap();
    let second = json(&index, &["index", docs_arg]);
    assert_eq!(second["papers"], 19);
    assert_eq!(second["embedded"], 1, "{second}");

    // Removing a file drops its papers and embeds nothing.
    std::fs::remove_file(docs.join("003_498fcb06ee946e4f.txt")).unwrap();
    let third = json(&index, &["index", docs_arg]);
    assert_eq!(third["papers"], 11);
    assert_eq!(third["embedded"], 0, "{third}");
    let list = json(&index, &["list"]);
    assert!(!list.as_array().unwrap().iter().any(|p| p["id"] == "FLAN"));
    // IDs survive the changes.
    assert!(list.as_array().unwrap().iter().any(|p| p["id"] == "NLLB"));
}

#[test]
fn corrupt_or_missing_index_is_a_clear_error() {
    let (dir, gen) = copy_of_seed_index();
    for victim in [
        "passages.f16",
        "passages.ivf.lists",
        "passages.text",
        "lexical.postings",
        "lexical.terms.idx",
        "papers.meta",
        "papers.meta.idx",
        "papers.hubness",
        "papers.ids",
    ] {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let path = copy.path().join(gen.file_name().unwrap()).join(victim);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let args: &[&str] = if victim.contains("ivf") {
            &["search", "retrieval", "--hnsw"]
        } else {
            &["similar", "--id", "CAD"]
        };
        refused_with_reindex_advice(copy.path(), args);
        refused_with_reindex_advice(copy.path(), &["verify"]);
    }
    // A foreign file of the right length: its header gives it away at open.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    let path = copy
        .path()
        .join(gen.file_name().unwrap())
        .join("papers.f32");
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    std::fs::write(&path, vec![0u8; len]).unwrap();
    refused_with_reindex_advice(copy.path(), &["similar", "--id", "CAD"]);
    // A foreign manifest.
    std::fs::write(gen.join("manifest.json"), b"{\"hello\": 1}").unwrap();
    refused_with_reindex_advice(dir.path(), &["similar", "--id", "CAD"]);
    // Lost CURRENT pointer → the index counts as missing, and `index` rebuilds cleanly.
    let missing = tempfile::tempdir().unwrap();
    let out = recommend(missing.path())
        .args(["search", "x"])
        .env("RECOMMEND_MODEL", "/nonexistent/model")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model"), "{err}");
}

/// Indexes written before the lexical statistics became mapped tables hold them in one
/// file, `lexical.bin`: such an index answers exactly as the tables do.
#[test]
fn lexical_statistics_in_the_older_one_file_form_give_the_same_answers() {
    use recommend::query::lexical::{LexicalStats, TABLES};
    let (dir, gen) = copy_of_seed_index();
    let before = json(dir.path(), &["similar", "--id", "CAD"]);
    let bytes = {
        let index = recommend::index::Index::open(dir.path()).unwrap();
        LexicalStats::open(&index).unwrap().to_bytes()
    };
    let mut manifest = manifest_of(&gen);
    let files = manifest["files"].as_object_mut().unwrap();
    for table in TABLES {
        for name in [table.to_string(), format!("{table}.idx")] {
            if files.remove(&name).is_some() {
                std::fs::remove_file(gen.join(&name)).unwrap();
            }
        }
    }
    files.insert(
        "lexical.bin".into(),
        serde_json::json!({"bytes": bytes.len(), "sha256": recommend::index::store::sha256_hex(&bytes)}),
    );
    std::fs::write(gen.join("lexical.bin"), &bytes).unwrap();
    std::fs::write(gen.join("manifest.json"), manifest.to_string()).unwrap();
    let after = json(dir.path(), &["similar", "--id", "CAD"]);
    assert_eq!(before, after);
    // And the old file, damaged, is refused like any other.
    std::fs::write(gen.join("lexical.bin"), &bytes[..bytes.len() / 2]).unwrap();
    refused_with_reindex_advice(dir.path(), &["similar", "--id", "CAD"]);
}

#[test]
fn search_with_the_graph_agrees_with_exact_scan() {
    let exact = json(
        seed_index(),
        &["search", "instruction tuning data", "-k", "5", "--exact"],
    );
    let graph = json(
        seed_index(),
        &["search", "instruction tuning data", "-k", "5", "--hnsw"],
    );
    assert_eq!(ids(&exact), ids(&graph));
}

#[test]
fn embed_command_writes_json_lines() {
    let out = recommend(seed_index())
        .args(["embed", "--query", "-"])
        .write_stdin("환각 줄이기\n\nreduce hallucination\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["text"], "환각 줄이기");
    assert_eq!(lines[1]["embedding"].as_array().unwrap().len(), 384);
}

#[test]
fn cuda_request_without_feature_is_one_line() {
    if cfg!(feature = "cuda") {
        return;
    }
    let out = recommend(seed_index())
        .args(["search", "x", "--device", "cuda"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no CUDA support") && err.trim().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_second_writer_is_refused_while_the_lock_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let _held = recommend::index::store::Lock::acquire(dir.path()).unwrap();
    let out = recommend(dir.path()).args(["index"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another `recommend index`"), "{err}");
    assert!(!dir.path().join("CURRENT").exists());
}

#[test]
fn bad_files_warn_and_the_rest_is_indexed() {
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(
        docs.join("broken.xml"),
        "<?xml version=\"1.0\"?><rss><channel><item><title>Half",
    )
    .unwrap();
    std::fs::write(docs.join("empty.md"), "").unwrap();
    std::fs::write(docs.join("blob.bin"), [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    std::fs::write(
        docs.join("good.md"),
        "# Speculative Decoding\n\nA draft model proposes tokens; the target model verifies them.\n",
    )
    .unwrap();
    let report = json(
        &work.path().join("index"),
        &["index", docs.to_str().unwrap()],
    );
    assert_eq!(report["papers"], 1, "{report}");
    let warnings = report["warnings"].as_array().unwrap();
    for name in ["broken.xml", "empty.md", "blob.bin"] {
        assert!(
            warnings.iter().any(|w| w.as_str().unwrap().contains(name)),
            "no warning for {name}: {warnings:?}"
        );
    }
}

/// Why a passage is not fit to explain a match, by a rule of its own (deliberately not the
/// one `corpus::boilerplate` marks with): three or more capitalized names glued to
/// affiliation marks, an e-mail address, a greeting or sign-off phrase, or a text that is
/// mostly links.
fn unfit_why_passage(text: &str) -> Option<&'static str> {
    let marked_names = text
        .split([',', '&'])
        .filter(|item| {
            let item = item.trim();
            let name_end = item.trim_end_matches(|c: char| {
                c.is_ascii_digit() || "♠♡♢♣♦†‡§∗*".contains(c) || c.is_whitespace()
            });
            let words: Vec<&str> = name_end.split_whitespace().collect();
            name_end.len() < item.len()
                && (2..=4).contains(&words.len())
                && words
                    .iter()
                    .all(|w| w.chars().next().is_some_and(char::is_uppercase))
        })
        .count();
    if marked_names >= 3 {
        return Some("author list");
    }
    let email = text.split_whitespace().any(|w| {
        let w = w.trim_end_matches(|c: char| c.is_ascii_punctuation());
        w.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.ends_with('.')
        })
    });
    if email {
        return Some("e-mail address");
    }
    for phrase in [
        "안녕하세요",
        "읽어주셔서 감사",
        "감사합니다",
        "Thanks for reading",
        "Hi everyone",
    ] {
        if text.contains(phrase) {
            return Some("greeting");
        }
    }
    let link_chars: usize = text
        .split_whitespace()
        .filter(|w| w.contains("http://") || w.contains("https://") || w.starts_with("www."))
        .map(str::len)
        .sum();
    let chars: usize = text.split_whitespace().map(str::len).sum();
    if chars > 0 && link_chars * 2 >= chars {
        return Some("link list");
    }
    None
}

#[test]
fn unfit_passage_rule_catches_what_it_should() {
    assert_eq!(
        unfit_why_passage("Hexiang Tan♠♡, Fei Sun♠†, Wanli Yang♠♢, Qi Cao♠ ♠ CAS Key Laboratory"),
        Some("author list")
    );
    assert_eq!(
        unfit_why_passage("1 University of Maryland. Correspondence to: J. K. jk@umd.edu."),
        Some("e-mail address")
    );
    assert_eq!(
        unfit_why_passage("안녕하세요, KDST팀 이원준입니다. 진행하였던 논문 세미나 내용"),
        Some("greeting")
    );
    assert_eq!(
        unfit_why_passage("github: https://github.com/a/b https://arxiv.org/abs/2401.00001"),
        Some("link list")
    );
    assert_eq!(
        unfit_why_passage(
            "CAD 는 context 를 사용할 때와 사용하지 않을 때의 차이를 키운다 (Shi et al., 2023)."
        ),
        None
    );
}

/// No "why" passage of any seed paper's results is an author line, a greeting or a list of
/// links: those are marked as boilerplate and never embedded, so they can never be picked.
#[test]
fn no_why_passage_is_boilerplate() {
    let list = json(seed_index(), &["list"]);
    let mut bad = Vec::new();
    for row in list.as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let out = json(seed_index(), &["similar", "--id", id, "-k", "10"]);
        for r in out["results"].as_array().unwrap() {
            for key in ["query_passage", "match_passage"] {
                let text = r["why"][key].as_str().unwrap();
                if let Some(why) = unfit_why_passage(text) {
                    bad.push(format!("{id} → {} ({key}, {why}): {text:.120}", r["id"]));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} unfit passages:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Every paper of the seed index, by id: (date, source file names, tags).
fn paper_meta(index: &Path) -> std::collections::HashMap<String, (Option<String>, Vec<String>)> {
    json(index, &["list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let sources = p["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (
                p["id"].as_str().unwrap().to_string(),
                (p["date"].as_str().map(str::to_string), sources),
            )
        })
        .collect()
}

#[test]
fn a_filter_that_excludes_the_best_match_changes_the_answer() {
    let index = seed_index();
    let meta = paper_meta(index);
    let plain = ids(&json(index, &["similar", "--id", "CAD", "-k", "5"]));
    let best = &plain[0];
    let (date, sources) = &meta[best];
    let date = date.as_deref().expect("CAD's best match is dated");
    // Only papers up to the month before the best match's: it cannot be among them.
    let before = {
        let y: i32 = date[..4].parse().unwrap();
        let m: i32 = date[5..7].parse().unwrap();
        let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        format!("{y}-{m:02}")
    };
    let filtered = ids(&json(
        index,
        &["similar", "--id", "CAD", "-k", "5", "--until", &before],
    ));
    assert!(!filtered.is_empty());
    assert_ne!(filtered[0], *best, "{filtered:?}");
    assert!(!filtered.contains(best), "{filtered:?}");
    for id in &filtered {
        let d = meta[id]
            .0
            .as_deref()
            .unwrap_or_else(|| panic!("{id} has no date"));
        assert!(d[..7] <= before[..], "{id} dated {d}, after {before}");
    }
    // By source: only papers of the digest file, which the best match is not from.
    let digest = "002_cf0c9b0a903b679b.txt";
    assert!(!sources.iter().any(|s| s.ends_with(digest)));
    let from_digest = ids(&json(
        index,
        &["similar", "--id", "CAD", "-k", "5", "--source", "002_cf0c"],
    ));
    assert_eq!(from_digest.len(), 5);
    for id in &from_digest {
        assert!(
            meta[id].1.iter().any(|s| s.ends_with(digest)),
            "{id} is not from {digest}"
        );
    }
    // Search takes the same filter.
    let found = ids(&json(
        index,
        &[
            "search",
            "hallucination benchmark",
            "-k",
            "3",
            "--source",
            "002",
        ],
    ));
    assert_eq!(found.len(), 3);
    assert!(!found.contains(&"HaluEval".to_string()), "{found:?}");
    for id in &found {
        assert!(meta[id].1.iter().any(|s| s.ends_with(digest)), "{id}");
    }
}

#[test]
fn not_pushes_a_paper_down() {
    let index = seed_index();
    let all = |extra: &[&str]| {
        let mut args = vec!["similar", "--id", "CAD", "-k", "100"];
        args.extend_from_slice(extra);
        ids(&json(index, &args))
    };
    let plain = all(&[]);
    let second = plain[1].clone();
    // The paper most like CAD's second match: avoiding it should push that match down.
    let neighbour = ids(&json(index, &["similar", "--id", &second, "-k", "3"]))
        .into_iter()
        .find(|id| id != "CAD")
        .unwrap();
    let avoided = all(&["--not", &neighbour]);
    let rank = |list: &[String]| list.iter().position(|id| *id == second).unwrap();
    assert!(!avoided.contains(&neighbour), "{avoided:?}");
    assert!(
        rank(&avoided) > rank(&plain),
        "{second} at {} without and {} with --not {neighbour}",
        rank(&plain),
        rank(&avoided)
    );
    let out = json(index, &["similar", "--id", "CAD", "--not", &neighbour]);
    assert_eq!(out["not"][0]["id"].as_str().unwrap(), neighbour);
}

#[test]
fn two_seeds_find_the_neighbours_of_both() {
    let index = seed_index();
    let top = |id: &str| ids(&json(index, &["similar", "--id", id, "-k", "2"]));
    let (cad, ultra) = (top("CAD"), top("UltraChat"));
    for strategy in ["best-score", "rocchio"] {
        let out = json(
            index,
            &[
                "similar",
                "--id",
                "CAD",
                "--id",
                "UltraChat",
                "-k",
                "10",
                "--seeds",
                strategy,
            ],
        );
        assert_eq!(out["also"][0]["id"], "UltraChat");
        let got = ids(&out);
        assert!(!got.iter().any(|id| id == "CAD" || id == "UltraChat"));
        assert!(
            got.contains(&cad[0]) && got.contains(&ultra[0]),
            "{strategy}: {got:?} lacks {} or {}",
            cad[0],
            ultra[0]
        );
        for r in out["results"].as_array().unwrap() {
            let seed = r["why"]["seed"].as_str().unwrap();
            assert!(seed == "CAD" || seed == "UltraChat", "{seed}");
        }
    }
}

#[test]
fn bad_filters_are_one_line_errors() {
    for (args, expected) in [
        (
            vec!["similar", "--id", "CAD", "--tag", "Retreival"],
            "error: no paper has the tag \"Retreival\"; did you mean \"Retrieval\"?",
        ),
        (
            vec!["search", "x", "--since", "2024-02", "--until", "2024-01"],
            "error: --since 2024-02 is after --until 2024-01: no date can pass",
        ),
        (
            vec!["similar", "--id", "CAD", "--not", "cad"],
            "error: CAD is both a seed and a paper to avoid",
        ),
    ] {
        let out = recommend(seed_index()).args(&args).output().unwrap();
        assert!(!out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), expected);
    }
    let out = recommend(seed_index())
        .args(["similar", "--id", "CAD", "--since", "2024-13"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad date \"2024-13\": the month must be 01 to 12"),
        "{err}"
    );
}

#[test]
fn a_closed_stdout_ends_the_program_quietly_with_success() {
    // `recommend list | head -1`: the reader is gone before the first line is written.
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["similar", "--id", "CAD"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_recommend"))
            .arg("--index")
            .arg(seed_index())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

#[test]
fn the_index_decides_how_queries_are_embedded() {
    // A pooling the index was not embedded with is refused in one line...
    let out = recommend(seed_index())
        .args(["search", "retrieval", "--pooling", "cls"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.trim().lines().count() == 1
            && err.contains("pooling mean")
            && err.contains("--pooling cls"),
        "{err}"
    );
    let out = recommend(seed_index())
        .args(["search", "retrieval", "--precision", "int8"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // ...the index's own is accepted...
    let asked = json(
        seed_index(),
        &["search", "retrieval", "--pooling", "mean", "-k", "5"],
    );
    let plain = json(seed_index(), &["search", "retrieval", "-k", "5"]);
    assert_eq!(asked, plain);
    // ...and an index that says `cls` gets cls-pooled queries without being asked.
    let (dir, gen) = copy_of_seed_index();
    let manifest_path = gen.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["model"]["pooling"] = "cls".into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let cls = json(dir.path(), &["search", "retrieval", "-k", "5"]);
    let score = |v: &Value| v["results"][0]["score"].as_f64().unwrap();
    assert!(
        (score(&cls) - score(&plain)).abs() > 1e-4,
        "{cls} vs {plain}"
    );
}

#[test]
fn export_writes_one_point_per_paper_or_passage_with_stable_ids() {
    let papers: Vec<Value> = export_lines(&["export", "--format", "jsonl"]);
    let list = json(seed_index(), &["list"]);
    assert_eq!(papers.len(), list.as_array().unwrap().len());
    let dim = papers[0]["vector"].as_array().unwrap().len();
    assert_eq!(dim, 384);
    let cad = papers.iter().find(|p| p["payload"]["id"] == "CAD").unwrap();
    assert!(cad["payload"]["title"].as_str().unwrap().len() > 5, "{cad}");
    // IDs are UUIDs made from the paper ID: the same on every export.
    let again = export_lines(&["export"]);
    assert_eq!(papers[0]["id"], again[0]["id"]);
    assert_eq!(cad["id"].as_str().unwrap().len(), 36);
    let passages = export_lines(&["export", "--passages"]);
    let chunks = json(seed_index(), &["list"]).as_array().unwrap().len();
    assert!(passages.len() > chunks, "{} passages", passages.len());
    assert!(
        passages[0]["payload"]["text"].as_str().is_some(),
        "{}",
        passages[0]
    );
}

fn export_lines(args: &[&str]) -> Vec<Value> {
    let out = recommend(seed_index()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Qdrant's own engine (qdrant-edge-py, in process) loaded with `export`'s points must give
/// `similar --scoring cosine`'s top 10 for every seed paper. `.ci/run` installs it into a
/// throwaway virtual environment and names its Python in QDRANT_EDGE_PYTHON.
#[test]
fn qdrant_edge_agrees_with_similar_cosine_on_every_seed_paper() {
    let Ok(python) = std::env::var("QDRANT_EDGE_PYTHON") else {
        eprintln!(
            "skipped: QDRANT_EDGE_PYTHON is not set (.ci/run sets it when PyPI is reachable)"
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qdrant_agreement.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_recommend"))
        .arg(seed_index())
        .env_remove("RECOMMEND_MODEL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("agrees"), "{stdout}");
}

/// `export --qdrant` against a stand-in for Qdrant's REST API (no server can be installed
/// here): the collection is created with the manifest's dimension and cosine distance, then
/// every paper is upserted in batches.
#[test]
fn export_to_qdrant_creates_the_collection_and_upserts_every_paper() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String, Value)>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap().to_string(),
                    parts.next().unwrap().to_string(),
                );
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, answer) = if method == "GET" {
                    ("404 Not Found", r#"{"status":{"error":"Not found"}}"#)
                } else {
                    ("200 OK", r#"{"result":true,"status":"ok"}"#)
                };
                log.lock().unwrap().push((method, path, body));
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                );
                stream.write_all(reply.as_bytes()).unwrap();
            }
        }
    });
    let (report, _) = succeeded(recommend(seed_index()).args([
        "export",
        "--qdrant",
        &url,
        "--collection",
        "papers",
        "--json",
    ]));
    let papers = json(seed_index(), &["list"]).as_array().unwrap().len();
    assert_eq!(report["points"], papers);
    assert_eq!(report["created"], true);
    let seen = seen.lock().unwrap();
    assert_eq!(
        (seen[0].0.as_str(), seen[0].1.as_str()),
        ("GET", "/collections/papers")
    );
    assert_eq!(seen[1].0, "PUT");
    assert_eq!(seen[1].2["vectors"]["size"], 384);
    assert_eq!(seen[1].2["vectors"]["distance"], "Cosine");
    let upserted: usize = seen[2..]
        .iter()
        .filter(|r| r.1.starts_with("/collections/papers/points"))
        .map(|r| r.2["points"].as_array().unwrap().len())
        .sum();
    assert_eq!(upserted, papers);
}
