//! The HTML pages. Every string from the corpus goes through `maud`, which escapes it: a
//! feed item whose title is `<script>…` shows that text and runs nothing. Links out are
//! kept only for http(s) URLs, so a `javascript:` link in a feed is shown, not followed.

use super::api::{self, DEFAULT_K};
use super::params::Params;
use super::{Failure, Reply, State};
use crate::index::PaperMeta;
use crate::query::{Search, Similar, SimilarHit};
use maud::{html, Markup, DOCTYPE};

fn layout(title: &str, q: &str, body: Markup, script: Option<&str>) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · recommend" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header.top {
                    a.brand href="/" { "recommend" }
                    nav {
                        a href="/" { "Papers" }
                        a href="/map" { "Map" }
                    }
                    form.search action="/" method="get" role="search" {
                        input type="search" name="q" value=(q) maxlength="500"
                            placeholder="Search in Korean or English" aria-label="Search";
                    }
                }
                main { (body) }
                @if let Some(src) = script {
                    script src=(src) {}
                }
            }
        }
    }
    .into_string()
}

/// A short name for a source file: its file name.
pub fn source_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// `url` when it is an http(s) link, for an `href`.
fn safe_link(url: &str) -> Option<&str> {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url.trim())
}

/// The host of an http(s) link, its label (`arxiv.org ↗` says more than `link`).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

fn error_page(f: &Failure) -> Reply {
    let title = if f.status == 404 {
        "Not found"
    } else {
        "Bad request"
    };
    let body = html! {
        section.error {
            h1 { (f.message) }
            @if let Some(s) = &f.suggestion {
                // An unknown paper suggests a paper; a bad filter a source or tag name.
                @if f.status == 404 {
                    p { "Did you mean " a href={ "/paper/" (s) } { (s) } "?" }
                } @else {
                    p { "Did you mean “" (s) "”?" }
                }
            }
            p { a href="/" { "All papers" } }
        }
    };
    Reply::html(f.status, layout(title, "", body, None))
}

pub fn not_found(path: &str) -> Reply {
    error_page(&Failure::not_found(format!("Nothing at {path}")))
}

/// `/`: the papers (or the search results for `q`), narrowed by the filters of `similar`
/// and `search` (`since`, `until`, `source`, `tag`) and sorted by date.
pub fn home(state: &State, p: &Params) -> Reply {
    match home_body(state, p) {
        Ok((title, q, body)) => Reply::html(200, layout(&title, &q, body, None)),
        Err(f) => error_page(&f),
    }
}

fn home_body(state: &State, p: &Params) -> Result<(String, String, Markup), Failure> {
    let q = p.one("q")?.unwrap_or("").to_string();
    let order = p.choice::<Order>("sort")?.unwrap_or_default();
    let filter = api::filter_of(p)?;
    filter.check(&state.papers)?;
    let results = if q.is_empty() {
        None
    } else {
        Some(api::search_of(state, p)?)
    };
    let mut papers: Vec<&PaperMeta> = state.papers.iter().filter(|m| filter.allows(m)).collect();
    // Newest first (or oldest); papers without a date after the dated ones either way.
    papers.sort_by(|a, b| match (&a.date, &b.date) {
        (Some(x), Some(y)) if order == Order::Oldest => x.cmp(y),
        (Some(x), Some(y)) => y.cmp(x),
        (x, y) => y.is_some().cmp(&x.is_some()),
    });
    let body = html! {
        (filter_form(state, p, &q, order))
        @if let Some(found) = &results {
            h1 { "Papers for “" (q) "”" }
            (search_results(found))
        } @else {
            h1 { (papers.len()) " papers" @if !filter.is_empty() { " of " (state.papers.len()) } }
            (paper_table(papers, &with_param(p, "sort", order.other().name()), order))
        }
    };
    let title = if q.is_empty() {
        "Papers".to_string()
    } else {
        q.clone()
    };
    Ok((title, q, body))
}

/// The order of the home page's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
enum Order {
    #[default]
    Newest,
    Oldest,
}

impl Order {
    fn other(self) -> Self {
        match self {
            Order::Newest => Order::Oldest,
            Order::Oldest => Order::Newest,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Order::Newest => "newest",
            Order::Oldest => "oldest",
        }
    }
}

/// This page's query string with `key` set to `value` (the other parameters kept).
fn with_param(p: &Params, key: &str, value: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in p.pairs().filter(|(k, _)| *k != key) {
        out.append_pair(k, v);
    }
    out.append_pair(key, value);
    format!("/?{}", out.finish())
}

/// Date range, source and tag (the collection's own sources and tags to choose from), and
/// the order; a search keeps them.
fn filter_form(state: &State, p: &Params, q: &str, order: Order) -> Markup {
    let value = |key: &str| p.one(key).ok().flatten().unwrap_or("").to_string();
    let mut sources: Vec<&str> = state
        .papers
        .iter()
        .flat_map(|m| m.sources.iter().map(|s| source_name(s)))
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let mut tags: Vec<&str> = state
        .papers
        .iter()
        .flat_map(|m| m.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable_by_key(|t| t.to_lowercase());
    tags.dedup_by_key(|t| t.to_lowercase());
    let (source, tag) = (value("source"), value("tag"));
    html! {
        form.filters #filters action="/" method="get" {
            @if !q.is_empty() { input type="hidden" name="q" value=(q); }
            label { "From" input type="text" name="since" value=(value("since"))
                placeholder="YYYY-MM" size="10" pattern="\\d{4}-\\d{2}(-\\d{2})?"; }
            label { "To" input type="text" name="until" value=(value("until"))
                placeholder="YYYY-MM" size="10" pattern="\\d{4}-\\d{2}(-\\d{2})?"; }
            label { "Source"
                select name="source" {
                    option value="" { "any" }
                    @for s in &sources { option value=(s) selected[*s == source] { (s) } }
                }
            }
            label { "Tag"
                select name="tag" {
                    option value="" { "any" }
                    @for t in &tags { option value=(t) selected[t.eq_ignore_ascii_case(&tag)] { (t) } }
                }
            }
            label { "Sort by date"
                select name="sort" {
                    option value="newest" selected[order == Order::Newest] { "newest first" }
                    option value="oldest" selected[order == Order::Oldest] { "oldest first" }
                }
            }
            button type="submit" { "Apply" }
            a.clear href="/" { "clear" }
        }
    }
}

fn search_results(found: &Search) -> Markup {
    html! {
        ol.results #results {
            @for r in &found.results {
                li.hit data-id=(r.id) {
                    div.row {
                        span.score { (format!("{:.3}", r.score)) }
                        a.title href={ "/paper/" (r.id) } { (r.title) }
                        span.id { (r.id) }
                    }
                    p.passage { (clip(&r.passage, 400)) }
                }
            }
        }
    }
}

fn paper_table(papers: Vec<&PaperMeta>, resort: &str, order: Order) -> Markup {
    html! {
        table.papers #papers {
            thead { tr {
                th { a.sort href=(resort) title="Sort by date" {
                    "Date " (if order == Order::Newest { "↓" } else { "↑" })
                } }
                th { "Title" } th { "Source" } th { "Tags" }
            } }
            tbody {
                @for p in papers {
                    tr data-id=(p.id) {
                        td.date { (p.date.as_deref().unwrap_or("")) }
                        td {
                            a href={ "/paper/" (p.id) } { (p.title) }
                            @if let Some(ko) = &p.title_ko { div.ko { (ko) } }
                        }
                        td.source { (p.sources.first().map(|s| source_name(s)).unwrap_or("")) }
                        td.tags { @for t in &p.tags { span.tag { (t) } } }
                    }
                }
            }
        }
    }
}

/// `/paper/{id}`: the paper, its text, and the papers like it.
pub fn paper(state: &State, id: &str, _p: &Params) -> Reply {
    let paper = match state.index.find(id).map_err(Failure::from) {
        Ok(i) => match state.index.paper(i) {
            Ok(p) => p,
            Err(e) => return error_page(&e.into()),
        },
        Err(f) => return error_page(&f),
    };
    let params = Params::parse(&format!("id={}", encode(&paper.id))).expect("one parameter");
    let like = match api::similar_of(state, &params) {
        Ok(s) => s,
        Err(f) => return error_page(&f),
    };
    let body = html! {
        article.paper {
            h1 { (paper.title) }
            @if let Some(ko) = &paper.title_ko { p.ko { (ko) } }
            p.meta {
                span.id { (paper.id) }
                @if let Some(d) = &paper.date { " · " span.date { (d) } }
                @if let Some(v) = &paper.venue { " · " (v) }
                @for s in &paper.sources { " · " span.source { (source_name(s)) } }
                @for u in &paper.urls {
                    @if let Some(link) = safe_link(u) {
                        " · " a.out href=(link) rel="noopener noreferrer nofollow" { (host(link)) " ↗" }
                    } @else {
                        " · " span.url { (u) }
                    }
                }
                " · " a href={ "/map?id=" (encode(&paper.id)) } { "on the map" }
            }
            @if !paper.tags.is_empty() {
                p.tags { @for t in &paper.tags { span.tag { (t) } } }
            }
            div.columns {
                section.text {
                    @for s in &paper.sections {
                        @if let Some(h) = &s.heading { h2 { (h) } }
                        @for para in s.text.split("\n\n").filter(|t| !t.trim().is_empty()) {
                            p { (para) }
                        }
                    }
                }
                aside.like {
                    h2 { "Papers like this" }
                    div #like data-seed=(paper.id) {
                        (similar_list(&like, &[paper.id.as_str()], &[]))
                    }
                }
            }
        }
    };
    Reply::html(
        200,
        layout(&paper.title, "", body, Some("/assets/paper.js")),
    )
}

/// `/similar?id=…&not=…`: the "papers like" list alone, for the paper page's +/− controls.
pub fn similar_fragment(state: &State, p: &Params) -> Reply {
    let seeds = p.all("id").unwrap_or_default();
    let not = p.all("not").unwrap_or_default();
    match api::similar_of(state, p) {
        Ok(s) => Reply::html(200, similar_list(&s, &seeds, &not).into_string()),
        Err(f) => f.into(),
    }
}

/// The ranked list with its "why" passages and a +/− control per result.
fn similar_list(s: &Similar, seeds: &[&str], not: &[&str]) -> Markup {
    html! {
        div.seeds {
            "Like " @for (i, id) in seeds.iter().enumerate() {
                @if i > 0 { ", " }
                span.seed data-id=(id) { (id) }
            }
            @if !not.is_empty() {
                " · not " @for (i, id) in not.iter().enumerate() {
                    @if i > 0 { ", " }
                    span.not data-id=(id) { (id) }
                }
            }
        }
        ol.similar #similar data-k=(DEFAULT_K) {
            @for r in &s.results { (similar_hit(r)) }
        }
    }
}

fn similar_hit(r: &SimilarHit) -> Markup {
    html! {
        li.hit data-id=(r.id) {
            div.row {
                span.score { (format!("{:.3}", r.score)) }
                a.title href={ "/paper/" (r.id) } { (r.title) }
                span.vote {
                    button.more type="button" data-id=(r.id) title="More like this" { "+" }
                    button.less type="button" data-id=(r.id) title="Less like this" { "−" }
                }
            }
            div.why {
                p.this { span.label { "this" } (highlighted(&r.why.query_passage, &r.why.match_passage)) }
                p.that { span.label { "that" } (highlighted(&r.why.match_passage, &r.why.query_passage)) }
            }
        }
    }
}

/// `text` with the words it shares with `other` in `<mark>`.
fn highlighted(text: &str, other: &str) -> Markup {
    let shared = words(other);
    let text = clip(text, 320);
    html! {
        @for (piece, is_word) in pieces(&text) {
            @if is_word && shared.contains(&piece.to_lowercase()) {
                mark { (piece) }
            } @else {
                (piece)
            }
        }
    }
}

/// Words that carry meaning: 3+ letters (2+ for Hangul and other non-Latin scripts), not
/// an English function word.
fn words(text: &str) -> std::collections::HashSet<String> {
    pieces(text)
        .filter(|(p, is_word)| *is_word && meaningful(p))
        .map(|(p, _)| p.to_lowercase())
        .collect()
}

fn meaningful(word: &str) -> bool {
    const STOP: &[&str] = &[
        "the", "and", "for", "with", "that", "this", "are", "was", "were", "from", "which",
        "their", "they", "them", "have", "has", "had", "not", "but", "can", "its", "our", "into",
        "than", "then", "also", "such", "these", "those", "using", "used", "use", "based", "more",
        "most", "how", "what", "when", "where", "while", "all", "any", "each", "other", "only",
        "both", "between", "over", "about", "there", "been", "will", "would", "could", "should",
        "may", "one", "two", "paper", "model", "models",
    ];
    let n = word.chars().count();
    let latin = word.is_ascii();
    (if latin { n >= 3 } else { n >= 2 }) && !STOP.contains(&word.to_lowercase().as_str())
}

/// `text` cut into alternating runs of word and non-word characters.
fn pieces(text: &str) -> impl Iterator<Item = (&str, bool)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let word = first.is_alphanumeric();
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_alphanumeric() != word)
            .map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some((piece, word))
    })
}

/// `/map`: every paper as a point (drawn by `map.js` from `/api/map`).
pub fn map(state: &State, p: &Params) -> Reply {
    let selected = match p.one("id") {
        Ok(Some(id)) => match state.index.find(id) {
            Ok(i) => state.papers[i].id.as_str(),
            Err(e) => return error_page(&Failure::from(e)),
        },
        Ok(None) => "",
        Err(f) => return error_page(&f),
    };
    let body = html! {
        section.mapview {
            div.maphead {
                h1 { "Map of " (state.papers.len()) " papers" }
                label { "Colour by "
                    select #colour {
                        option value="source" { "source" }
                        option value="tag" { "tag" }
                    }
                }
                span #hovered {}
            }
            div #legend {}
            div #mapbox data-selected=(selected) {
                noscript { "The map is drawn by a script; the paper list is on the home page." }
            }
        }
    };
    Reply::html(200, layout("Map", "", body, Some("/assets/map.js")))
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_words_are_marked_and_markup_is_text() {
        let html = highlighted(
            "Retrieval <b>augmented</b> generation 검색 증강",
            "augmented retrieval and 검색",
        )
        .into_string();
        assert_eq!(
            html,
            "<mark>Retrieval</mark> &lt;b&gt;<mark>augmented</mark>&lt;/b&gt; generation <mark>검색</mark> 증강"
        );
    }

    #[test]
    fn only_web_links_are_followed() {
        assert_eq!(safe_link("https://x.org/a"), Some("https://x.org/a"));
        assert_eq!(safe_link(" JavaScript:alert(1)"), None);
        assert_eq!(safe_link("data:text/html,<script>"), None);
        assert_eq!(source_name("corpus/seeds/feed.xml"), "feed.xml");
        assert_eq!(host("https://arxiv.org/abs/2305.14739"), "arxiv.org");
        assert_eq!(host("http://x.org?a=1"), "x.org");
    }
}
