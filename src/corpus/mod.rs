//! Stage 1: files → papers.
//!
//! Every input file is sniffed by content (not by name) and handed to the parser for its
//! kind. Parsers only produce `Paper`s without final IDs; `ids` assigns the short, human,
//! unique IDs once all files are read, so that adding a file never renames a paper that an
//! earlier index already knows (see `ids::assign`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// One paper summary, as every later stage sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    /// Short, human, unique ID (`CAD`, `SelfRAG`, `NLLB`); looked up case-insensitively.
    pub id: String,
    /// English title where one exists, else the only title.
    pub title: String,
    /// Korean title where the source gives both.
    pub title_ko: Option<String>,
    /// Files this paper was read from (more than one after a merge), as given on the command line.
    pub sources: Vec<String>,
    /// Title of the feed it came from (an RSS channel or Atom feed), for `--source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// Links: the post URL first, then paper/code links.
    pub urls: Vec<String>,
    /// ISO date `YYYY-MM-DD` where known.
    pub date: Option<String>,
    /// Venue from a title prefix such as `[EMNLP2023]`.
    pub venue: Option<String>,
    pub tags: Vec<String>,
    /// The summary text, in reading order.
    pub sections: Vec<Section>,
    /// True when only a title is known (e.g. a paper named in an acceptance notice).
    pub title_only: bool,
    /// The kind of file the paper was read from (of its first source, after a merge).
    /// Indexes written before this field existed read as `Unknown`.
    #[serde(default)]
    pub source_kind: SourceKind,
}

/// A titled run of text inside a summary (an abstract, an introduction, a blog section).
///
/// Boilerplate (author lines, greetings, link lists, …; see `boilerplate`) is kept in its own
/// sections, in reading order, so that `show` and the web page still have the whole text
/// while the chunker embeds only `Content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub heading: Option<String>,
    pub text: String,
    /// What the text is; papers stored before boilerplate was marked read as `Content`.
    #[serde(default)]
    pub kind: SectionKind,
}

impl Section {
    /// A content section (parsers make these; `boilerplate::mark` splits them later).
    pub fn new(heading: Option<String>, text: impl Into<String>) -> Section {
        Section {
            heading,
            text: text.into(),
            kind: SectionKind::Content,
        }
    }
}

/// What a section's text is: the summary itself, or one kind of boilerplate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Text about the paper: embedded, and a candidate "why" passage.
    #[default]
    Content,
    /// Author lists, affiliations, e-mail addresses, "equal contribution" footnotes.
    Authors,
    /// Greetings, self-introductions and sign-offs of a blog post.
    Greeting,
    /// Link lists and link labels (`[pdf] [github]`, `논문 링크: …`).
    Links,
    /// Reference-list entries.
    References,
    /// Remarks that point to the paper instead of saying something (`※ 자세한 내용은 논문 참조`).
    Pointer,
}

impl SectionKind {
    /// True for every kind but `Content`: not embedded, never a "why" passage.
    pub fn is_boilerplate(self) -> bool {
        self != SectionKind::Content
    }
}

/// A problem with one input that did not stop the others from being read.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

pub mod blog;
pub mod boilerplate;
pub mod digest;
pub mod html;
pub mod ids;
pub mod jsonl;
pub mod markdown;
pub mod rss;
pub mod text;
mod util;
pub use util::is_hangul;

use std::collections::HashMap;
use std::path::Path;

/// Everything read from the inputs: papers in a deterministic order (file path order, then
/// order within the file), with final IDs, and the problems met on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    pub papers: Vec<Paper>,
    pub warnings: Vec<Warning>,
}

impl Paper {
    /// A paper with only a title and its source; parsers fill in the rest. `id` is left empty
    /// or set to a *hint* (a URL slug, an explicit id, a proposed method name) that
    /// `ids::assign` turns into the final ID.
    pub fn new(title: impl Into<String>, source: impl Into<String>) -> Paper {
        Paper {
            id: String::new(),
            title: title.into(),
            title_ko: None,
            sources: vec![source.into()],
            feed: None,
            urls: Vec::new(),
            date: None,
            venue: None,
            tags: Vec::new(),
            sections: Vec::new(),
            title_only: false,
            source_kind: SourceKind::Unknown,
        }
    }

    /// All section texts joined, headings included.
    pub fn text(&self) -> String {
        self.joined(|_| true)
    }

    /// The text that describes the paper: content sections with their headings, without
    /// boilerplate.
    pub fn content_text(&self) -> String {
        self.joined(|s| !s.kind.is_boilerplate())
    }

    /// The sections `keep` accepts, each heading on its own line before its text.
    fn joined(&self, keep: impl Fn(&Section) -> bool) -> String {
        let mut out = String::new();
        for s in self.sections.iter().filter(|s| keep(s)) {
            if let Some(h) = &s.heading {
                out.push_str(h);
                out.push('\n');
            }
            out.push_str(&s.text);
            out.push('\n');
        }
        out
    }

    fn text_len(&self) -> usize {
        self.sections.iter().map(|s| s.text.len()).sum()
    }
}

impl Warning {
    pub(crate) fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Warning {
        Warning {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// The default collection: the seed files shipped in the repository.
pub fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/seeds")
}

/// The kinds of input this stage understands, recognised by content. Every paper records
/// the kind it was read from (`Paper::source_kind`), so that evaluation can report figures
/// per kind and queries can filter on it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// RSS 2.0 or Atom.
    Feed,
    /// One JSON object per line.
    #[serde(rename = "jsonl")]
    JsonLines,
    /// Weekly "top papers" digests with Korean and English blocks.
    Digest,
    /// Blog page dumps (full posts or listings).
    Blog,
    Markdown,
    /// Any other text file.
    Text,
    /// Read from an index written before the kind was recorded; `sniff` never returns it.
    #[default]
    Unknown,
}

impl SourceKind {
    pub const ALL: [SourceKind; 6] = [
        SourceKind::Feed,
        SourceKind::JsonLines,
        SourceKind::Digest,
        SourceKind::Blog,
        SourceKind::Markdown,
        SourceKind::Text,
    ];

    /// The name used in JSON, on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::JsonLines => "jsonl",
            SourceKind::Digest => "digest",
            SourceKind::Blog => "blog",
            SourceKind::Markdown => "markdown",
            SourceKind::Text => "text",
            SourceKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        SourceKind::ALL
            .into_iter()
            .find(|k| k.name() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown source kind {s:?} ({})", names.join(", "))
            })
    }
}

/// Decide the kind of a text by looking at its content (never its name).
pub fn sniff(text: &str) -> SourceKind {
    let head: &str = {
        let mut end = text.len().min(4096);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    };
    let start = head.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with("<?xml") || start.starts_with("<rss") || start.starts_with("<feed") {
        return SourceKind::Feed;
    }
    if start.starts_with('<') && (head.contains("<rss") || head.contains("<feed")) {
        return SourceKind::Feed;
    }
    if start.starts_with('{') {
        return SourceKind::JsonLines;
    }
    if start.starts_with("---\n") || start.starts_with("---\r\n") || start.starts_with("# ") {
        return SourceKind::Markdown;
    }
    if digest::detect(text) {
        return SourceKind::Digest;
    }
    if blog::detect(text) {
        return SourceKind::Blog;
    }
    if markdown::detect(head) {
        return SourceKind::Markdown;
    }
    SourceKind::Text
}

/// Parse one text of a known kind. `source` is the path as given; `path` is used in warnings.
pub fn parse_text(
    text: &str,
    source: &str,
    path: &Path,
    warnings: &mut Vec<Warning>,
) -> Vec<Paper> {
    let kind = sniff(text);
    let mut papers = match kind {
        SourceKind::Feed => rss::parse(text, source, path, warnings),
        SourceKind::JsonLines => jsonl::parse(text, source, path, warnings),
        SourceKind::Digest => digest::parse(text, source),
        SourceKind::Blog => blog::parse(text, source),
        SourceKind::Markdown => markdown::parse(text, source),
        SourceKind::Text | SourceKind::Unknown => text::parse(text, source),
    };
    for p in &mut papers {
        p.source_kind = kind;
    }
    papers
}

/// Read files and directories (recursively, hidden entries skipped, paths sorted), parse each
/// file by its content, clean and merge the papers and give them their final IDs (honouring
/// `previous_ids`). Problems become warnings; nothing here panics on bad input.
pub fn load(paths: &[PathBuf], previous_ids: &ids::PreviousIds) -> Corpus {
    let mut warnings = Vec::new();
    let files = collect_files(paths, &mut warnings);
    let mut papers = Vec::new();
    for file in &files {
        let Some(text) = read_text(file, &mut warnings) else {
            continue;
        };
        let source = file.to_string_lossy().into_owned();
        let before = warnings.len();
        let parsed = parse_text(&text, &source, file, &mut warnings);
        let mut n = 0;
        for mut p in parsed {
            if finish(&mut p) {
                papers.push(p);
                n += 1;
            }
        }
        if n == 0 && warnings.len() == before {
            warnings.push(Warning::new(file, None, "no paper found in this file"));
        }
    }
    let mut papers = merge(papers);
    ids::assign(&mut papers, previous_ids);
    Corpus { papers, warnings }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

fn collect_files(paths: &[PathBuf], warnings: &mut Vec<Warning>) -> Vec<PathBuf> {
    let seeds = seed_dir().canonicalize().ok();
    let mut files = Vec::new();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(Warning::new(path, None, format!("cannot read: {e}")));
                continue;
            }
        };
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        let is_seed_dir = seeds.is_some() && path.canonicalize().ok() == seeds;
        let walker = walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        for entry in walker {
            match entry {
                Ok(e) => {
                    if !e.file_type().is_file() {
                        continue;
                    }
                    if is_seed_dir && e.depth() == 1 && e.file_name() == "README.md" {
                        continue;
                    }
                    files.push(e.into_path());
                }
                Err(e) => {
                    let p = e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| path.clone());
                    let msg = match e.io_error() {
                        Some(io) => format!("cannot read directory entry: {io}"),
                        None => format!("cannot read: {e}"),
                    };
                    warnings.push(Warning::new(&p, None, msg));
                }
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

/// Read a file as text. Empty and binary files are skipped with a warning; invalid UTF-8 is
/// decoded lossily (U+FFFD) with a warning.
fn read_text(path: &Path, warnings: &mut Vec<Warning>) -> Option<String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            warnings.push(Warning::new(path, None, format!("cannot read: {e}")));
            return None;
        }
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        warnings.push(Warning::new(path, None, "empty file skipped"));
        return None;
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let line = bytes[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
        warnings.push(Warning::new(
            path,
            Some(line),
            "binary file skipped (contains NUL bytes)",
        ));
        return None;
    }
    match String::from_utf8(bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            let pos = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line = bytes[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
            warnings.push(Warning::new(
                path,
                Some(line),
                format!("invalid UTF-8 at byte {pos}; decoded lossily (bad bytes shown as U+FFFD)"),
            ));
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

/// Text hygiene for one parsed paper: NFC, collapsed whitespace, no empty sections, no
/// duplicate urls/tags. Returns false when the paper has no usable title.
fn finish(p: &mut Paper) -> bool {
    p.id = util::clean_inline(&p.id);
    p.title = util::clean_inline(&p.title);
    p.title_ko = p
        .title_ko
        .as_deref()
        .map(util::clean_inline)
        .filter(|t| !t.is_empty());
    p.date = p
        .date
        .as_deref()
        .map(util::clean_inline)
        .filter(|t| !t.is_empty());
    p.venue = p
        .venue
        .as_deref()
        .map(util::clean_inline)
        .filter(|t| !t.is_empty());
    let tags = std::mem::take(&mut p.tags);
    for t in tags {
        let t = util::clean_inline(&t);
        if !t.is_empty() && !p.tags.contains(&t) {
            p.tags.push(t);
        }
    }
    let urls = std::mem::take(&mut p.urls);
    for u in urls {
        let u = u.trim().to_string();
        if !u.is_empty() && !p.urls.contains(&u) {
            p.urls.push(u);
        }
    }
    let sections = std::mem::take(&mut p.sections);
    for s in sections {
        let text = util::clean_block(&s.text);
        let heading = s
            .heading
            .as_deref()
            .map(util::clean_inline)
            .filter(|h| !h.is_empty());
        if !text.is_empty() {
            p.sections.push(Section {
                heading,
                text,
                kind: s.kind,
            });
        }
    }
    boilerplate::mark(p);
    if p.title.is_empty() {
        match p.title_ko.clone() {
            Some(ko) => p.title = ko,
            None => return false,
        }
    }
    if p.sections.is_empty() {
        p.title_only = true;
    }
    true
}

/// Identity keys of a paper for merging: its title key, and links to the paper itself
/// (normalized arXiv ids, the post URL).
fn link_keys(p: &Paper) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(first) = p.urls.first() {
        keys.push(format!("url:{}", util::normalize_url(first)));
    }
    for u in &p.urls {
        if let Some(id) = util::arxiv_id(u) {
            let k = format!("arxiv:{id}");
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Merge papers that are the same paper: same `paper_key`, or (across different files) the
/// same post URL or arXiv id. Order is that of first appearance.
pub fn merge(papers: Vec<Paper>) -> Vec<Paper> {
    let mut out: Vec<Paper> = Vec::with_capacity(papers.len());
    let mut by_title: HashMap<String, usize> = HashMap::new();
    let mut by_link: HashMap<String, usize> = HashMap::new();
    for p in papers {
        let key = ids::paper_key(&p);
        let links = link_keys(&p);
        let mut target = by_title.get(&key).copied().filter(|_| !key.is_empty());
        if target.is_none() {
            for l in &links {
                if let Some(&i) = by_link.get(l) {
                    // A link match inside one file is not evidence (a series of posts may link
                    // the same paper); across files it is.
                    if !out[i].sources.iter().any(|s| p.sources.contains(s)) {
                        target = Some(i);
                        break;
                    }
                }
            }
        }
        match target {
            Some(i) => {
                merge_into(&mut out[i], p);
                for l in links {
                    by_link.entry(l).or_insert(i);
                }
            }
            None => {
                let i = out.len();
                if !key.is_empty() {
                    by_title.insert(key, i);
                }
                for l in links {
                    by_link.entry(l).or_insert(i);
                }
                out.push(p);
            }
        }
    }
    out
}

fn merge_into(a: &mut Paper, b: Paper) {
    let b_longer = b.text_len() > a.text_len();
    for s in b.sources {
        if !a.sources.contains(&s) {
            a.sources.push(s);
        }
    }
    for u in b.urls {
        if !a.urls.contains(&u) {
            a.urls.push(u);
        }
    }
    for t in b.tags {
        if !a.tags.contains(&t) {
            a.tags.push(t);
        }
    }
    if a.id.is_empty() {
        a.id = b.id;
    }
    if a.title_ko.is_none() {
        a.title_ko = b.title_ko;
    }
    if a.date.is_none() {
        a.date = b.date;
    }
    if a.feed.is_none() {
        a.feed = b.feed;
    }
    if a.venue.is_none() {
        a.venue = b.venue;
    }
    // Text: keep the longer one, then append sections of the other that add something new.
    let (mut base, other) = if b_longer {
        (b.sections, std::mem::take(&mut a.sections))
    } else {
        (std::mem::take(&mut a.sections), b.sections)
    };
    for s in other {
        if !base
            .iter()
            .any(|x| x.text == s.text || x.text.contains(&s.text))
        {
            base.push(s);
        }
    }
    a.sections = base;
    a.title_only = a.title_only && b.title_only;
    if !a.sections.is_empty() {
        a.title_only = false;
    }
}
