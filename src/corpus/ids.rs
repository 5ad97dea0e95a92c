//! Short, human, unique, stable paper IDs.
//!
//! Order of preference for a paper's ID:
//! 1. the ID an earlier run gave the same paper (`PreviousIds`, keyed by `paper_key`);
//! 2. the hint its parser left in `Paper::id` (a post URL slug such as `CAD`, an explicit id
//!    from Markdown/JSONL, a method name the post says it proposes such as `FSR`);
//! 3. the name before a colon in the title (`NLLB`, `SaySelf`), if short;
//! 4. a short form of the title (its first significant
//!    words in CamelCase).
//!
//! IDs are unique case-insensitively; a collision gets `-2`, `-3`, … in paper order.

use super::{util, Paper};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Paper key → ID assigned by an earlier run.
pub type PreviousIds = BTreeMap<String, String>;

/// Longest ID derived from a title (explicit hints may be longer).
const MAX_LEN: usize = 22;

/// Stable identity of a paper: its title, NFKC, lowercase, letters and digits only.
pub fn paper_key(p: &Paper) -> String {
    title_key(&p.title)
}

/// The key `paper_key` makes of a title.
pub fn title_key(title: &str) -> String {
    title
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Give every paper its final ID. Previous IDs win; then hints and derived names, in order.
pub fn assign(papers: &mut [Paper], previous: &PreviousIds) {
    let mut used: HashSet<String> = HashSet::new();
    let mut done = vec![false; papers.len()];
    // 1. previous ids, for papers still present.
    for (i, p) in papers.iter_mut().enumerate() {
        if let Some(id) = previous.get(&paper_key(p)) {
            let id = sanitize(id);
            if !id.is_empty() && used.insert(id.to_lowercase()) {
                p.id = id;
                done[i] = true;
            }
        }
    }
    // IDs of papers that are gone now stay reserved, so a stale ID never points to another paper.
    let reserved: HashSet<String> = previous
        .values()
        .map(|v| sanitize(v).to_lowercase())
        .collect();
    // 2. everything else, in paper order.
    for (i, p) in papers.iter_mut().enumerate() {
        if done[i] {
            continue;
        }
        let mut base = sanitize(&p.id);
        if base.is_empty() {
            base = derive_for(p);
        }
        if base.is_empty() {
            base = "paper".to_string();
        }
        let mut id = base.clone();
        let mut n = 2;
        while used.contains(&id.to_lowercase()) || reserved.contains(&id.to_lowercase()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        used.insert(id.to_lowercase());
        p.id = id;
    }
}

/// Keep letters, digits, `-`, `_` and `.`; drop everything else (spaces included).
fn sanitize(s: &str) -> String {
    let s: String = s
        .nfc()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    s.trim_matches(['-', '_', '.']).to_string()
}

const STOP: [&str; 26] = [
    "a", "an", "the", "of", "for", "with", "and", "or", "in", "on", "to", "via", "from", "by",
    "at", "is", "are", "as", "into", "through", "how", "what", "we", "your", "towards", "toward",
];

/// An ID from a paper's titles: the short name before a colon in the title (or, failing
/// that, in a Korean title whose name is in Latin letters, `NLLB: 신경망 …`), else a short form
/// of the title.
fn derive_for(p: &Paper) -> String {
    if let Some(id) = colon_name(&p.title) {
        return id;
    }
    if let Some(id) = p.title_ko.as_deref().and_then(colon_name) {
        return id;
    }
    derive(&p.title)
}

/// Title without a leading `[label]` and a trailing `(…)` (venue, part number, keywords).
fn core_title(title: &str) -> String {
    let (_, t) = util::split_bracket_prefix(title);
    let mut t = t.trim_start_matches(['#', ' ']).trim().to_string();
    if t.ends_with(')') {
        if let Some(open) = t.rfind('(') {
            if open > 0 {
                t.truncate(open);
            }
        }
    }
    t.trim().to_string()
}

/// `SaySelf: Teaching …` → `SaySelf`; `Show, Don't Tell: …` → `ShowDontTell`; only for a
/// short (≤ 3 words, ≤ 20 chars) Latin name.
fn colon_name(title: &str) -> Option<String> {
    let t = core_title(title);
    let (name, _) = t.split_once(':')?;
    let name = name.trim();
    if util::has_hangul(name) || !name.chars().any(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.is_empty() || words.len() > 3 {
        return None;
    }
    let id = if words.len() == 1 {
        sanitize(words[0])
    } else {
        camel(&words)
    };
    (!id.is_empty() && id.chars().count() <= MAX_LEN).then_some(id)
}

/// An ID from a title alone (colon name, else short form; see the module docs).
pub fn derive(title: &str) -> String {
    if let Some(id) = colon_name(title) {
        return id;
    }
    let t = core_title(title);
    if let Some((name, _)) = t.split_once(':') {
        let n = name.split_whitespace().count();
        if n > 3 && n <= 12 {
            let id = short_form(name);
            if !id.is_empty() {
                return id;
            }
        }
    }
    short_form(&t)
}

/// Join words CamelCase, letters and digits only: `Show, Don't Tell` → `ShowDontTell`.
fn camel(words: &[&str]) -> String {
    let mut out = String::new();
    for w in words {
        let w: String = w.chars().filter(|c| !matches!(c, '\'' | '’')).collect();
        for piece in w.split(|c: char| !c.is_alphanumeric()) {
            let mut cs = piece.chars();
            if let Some(f) = cs.next() {
                out.extend(f.to_uppercase());
                out.extend(cs);
            }
        }
    }
    out
}

/// The first significant words in CamelCase, whole words up to 20 characters
/// (`The Reversal Curse` → `ReversalCurse`, `Vision Transformers Need Registers` →
/// `VisionTransformers`). Acronyms of long titles (`VTNR`) were tried and read as noise.
fn short_form(s: &str) -> String {
    let mut words: Vec<&str> = s
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    // Prefer Latin words when the title mixes scripts.
    if words
        .iter()
        .any(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
    {
        words.retain(|w| !util::has_hangul(w));
    }
    let significant: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !STOP.contains(&w.to_lowercase().as_str()))
        .collect();
    let pool = if significant.is_empty() {
        &words
    } else {
        &significant
    };
    let mut out = String::new();
    for w in pool {
        let piece = camel(&[w]);
        if !out.is_empty() && out.chars().count() + piece.chars().count() > MAX_LEN {
            break;
        }
        out.push_str(&piece);
    }
    out.chars().take(MAX_LEN).collect()
}

/// No paper has the requested ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownId {
    pub id: String,
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no paper with id \"{}\"", self.id)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean {s}?")?;
        }
        Ok(())
    }
}

/// Find a paper by ID, case-insensitively; otherwise suggest the closest existing ID.
pub fn find<'a>(papers: &'a [Paper], id: &str) -> Result<&'a Paper, UnknownId> {
    find_position(papers.iter().map(|p| p.id.as_str()), id).map(|i| &papers[i])
}

/// The position of `id` among `ids`, case-insensitively; otherwise the closest one as a
/// suggestion.
pub fn find_position<'a>(
    ids: impl Iterator<Item = &'a str> + Clone,
    id: &str,
) -> Result<usize, UnknownId> {
    let wanted = id.trim().to_lowercase();
    if let Some(i) = ids.clone().position(|p| p.to_lowercase() == wanted) {
        return Ok(i);
    }
    let mut best: Option<(f64, &str)> = None;
    for p in ids {
        let cand = p.to_lowercase();
        let dist = strsim::damerau_levenshtein(&wanted, &cand);
        let len = wanted.chars().count().max(cand.chars().count()).max(1);
        let jw = strsim::jaro_winkler(&wanted, &cand);
        let close = dist <= 2.max(len / 4) && dist < len || jw >= 0.9;
        if !close {
            continue;
        }
        // Higher is better: mostly edit distance, ties broken by Jaro-Winkler.
        let score = -(dist as f64) + jw;
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, p));
        }
    }
    Err(UnknownId {
        id: id.to_string(),
        suggestion: best.map(|(_, s)| s.to_string()),
    })
}
