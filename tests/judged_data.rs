//! The judged data of `recommend eval` against the seed corpus, without the model.
//!
//! `tests/data/related.json` (graded related papers) and `tests/data/queries.json` (search
//! queries) name papers by ID and full title. An ID that no longer resolves is silently
//! skipped by the eval (it only warns), which would quietly shrink or skew the quality
//! figures; this test fails instead, and checks the shape the eval and its per-kind report
//! rely on: grades 1 or 2, no paper judging itself, `kind` matching the query's seed file,
//! and enough queries from the digests and blog posts.

use recommend::corpus::{self, ids, Paper};
use recommend::eval;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

#[derive(Deserialize)]
struct Related {
    description: String,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Query {
    id: String,
    title: String,
    file: String,
    kind: String,
    related: Vec<Judgement>,
}

#[derive(Deserialize)]
struct Judgement {
    id: String,
    title: String,
    grade: u8,
    why: String,
}

#[derive(Deserialize)]
struct Searches {
    queries: Vec<Search>,
}

#[derive(Deserialize)]
struct Search {
    query: String,
    expect: String,
    title: String,
    #[serde(default)]
    also: Vec<String>,
}

fn papers() -> Vec<Paper> {
    let c = corpus::load(&[corpus::seed_dir()], &ids::PreviousIds::new());
    assert!(c.warnings.is_empty(), "seed warnings: {:?}", c.warnings);
    c.papers
}

fn read<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = eval::data_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Finds a paper by ID, else by title: the same rule as `eval::resolve`, on the corpus
/// instead of an index (so that no model is needed).
fn resolve<'a>(papers: &'a [Paper], id: &str, title: &str) -> Option<&'a Paper> {
    ids::find(papers, id).ok().or_else(|| {
        let key = ids::title_key(title);
        papers
            .iter()
            .find(|p| !key.is_empty() && ids::title_key(&p.title) == key)
    })
}

/// The paper an entry names, by ID or title as the eval resolves it; and when both are
/// given, they must name the same paper (a stale ID or a mistyped title fails here).
fn paper<'a>(papers: &'a [Paper], id: &str, title: &str, what: &str) -> &'a Paper {
    let p = resolve(papers, id, title)
        .unwrap_or_else(|| panic!("{what}: {id} / {title:?} is not a seed paper"));
    let by_title = resolve(papers, "", title);
    assert!(
        by_title.is_some_and(|t| t.id == p.id),
        "{what}: id {id} is {} ({:?}) but the title {title:?} is {:?}",
        p.id,
        p.title,
        by_title.map(|t| &t.id)
    );
    p
}

/// Seed-file prefix ("000".."004") of a paper.
fn file_of(p: &Paper) -> String {
    let name = Path::new(&p.sources[0])
        .file_name()
        .unwrap()
        .to_string_lossy();
    name[..3].to_string()
}

fn kind_of_file(file: &str) -> &'static str {
    match file {
        "001" => "feed",
        "002" | "004" => "digest",
        "000" | "003" => "blog",
        other => panic!("unknown seed file {other}"),
    }
}

#[test]
fn related_json_resolves_and_is_well_formed() {
    let papers = papers();
    let related: Related = read("related.json");
    assert!(!related.description.trim().is_empty());
    let mut seen_queries = HashSet::new();
    for q in &related.queries {
        let qp = paper(&papers, &q.id, &q.title, "query");
        assert!(seen_queries.insert(qp.id.clone()), "query {} twice", q.id);
        assert_eq!(q.file, file_of(qp), "query {}: file", q.id);
        assert_eq!(q.kind, kind_of_file(&q.file), "query {}: kind", q.id);
        assert!(!qp.title_only, "query {} is a title-only paper", q.id);
        assert!(!q.related.is_empty(), "query {} has no related paper", q.id);
        let mut seen = HashSet::new();
        for r in &q.related {
            let what = format!("{} -> {}", q.id, r.id);
            let rp = paper(&papers, &r.id, &r.title, &what);
            assert_ne!(rp.id, qp.id, "{what}: a paper judges itself");
            assert!(seen.insert(rp.id.clone()), "{what}: judged twice");
            assert!(r.grade == 1 || r.grade == 2, "{what}: grade {}", r.grade);
            assert!(!r.why.trim().is_empty(), "{what}: no why");
        }
    }
    let n = related.queries.len();
    let digest_blog = related.queries.iter().filter(|q| q.kind != "feed").count();
    assert!(n >= 55, "{n} query papers, want at least 55");
    assert!(
        digest_blog >= 22,
        "{digest_blog} digest/blog query papers, want at least 22"
    );
}

#[test]
fn queries_json_resolves() {
    let papers = papers();
    let searches: Searches = read("queries.json");
    assert!(!searches.queries.is_empty());
    for s in &searches.queries {
        assert!(!s.query.trim().is_empty());
        let what = format!("search {:?}", s.query);
        let expect = paper(&papers, &s.expect, &s.title, &what);
        for a in &s.also {
            // The eval looks alternates up by ID only.
            let alt = ids::find(&papers, a).unwrap_or_else(|e| panic!("{what}: also {a}: {e}"));
            assert_ne!(alt.id, expect.id, "{what}: also repeats expect");
        }
    }
}
