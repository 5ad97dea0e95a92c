//! Small text helpers shared by the parsers: whitespace/NFC cleaning, dates, URLs, name
//! extraction. Everything here is linear in its input.

use regex::Regex;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

/// NFC-normalize and collapse every run of whitespace (including NBSP and newlines) into one
/// space; trims both ends.
pub fn clean_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfc() {
        if c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}' {
            pending_space = !out.is_empty();
        } else if c.is_control() {
            // drop stray control characters
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Clean every line (see `clean_inline`) and drop empty ones; lines are joined with `\n`.
pub fn clean_block(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let l = clean_inline(line);
        if !l.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&l);
        }
    }
    out
}

pub fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

pub fn has_hangul(s: &str) -> bool {
    s.chars().any(is_hangul)
}

/// `YYYY`, `M`, `D` → `YYYY-MM-DD`, if plausible.
pub fn ymd(y: &str, m: &str, d: &str) -> Option<String> {
    let y: u32 = y.trim().parse().ok()?;
    let m: u32 = m.trim().parse().ok()?;
    let d: u32 = d.trim().parse().ok()?;
    if !(1000..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// RFC 822 (`Wed, 17 Apr 2024 04:20:00 +0000`) or ISO 8601 (`2024-04-17T…`) → `YYYY-MM-DD`.
pub fn parse_feed_date(s: &str) -> Option<String> {
    static ISO: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})").unwrap());
    static RFC: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)(\d{1,2})\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{4})",
        )
        .unwrap()
    });
    if let Some(c) = ISO.captures(s) {
        return ymd(&c[1], &c[2], &c[3]);
    }
    let c = RFC.captures(s)?;
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mon = c[2].to_ascii_lowercase();
    let m = MONTHS.iter().position(|x| *x == mon)? + 1;
    ymd(&c[3], &m.to_string(), &c[1])
}

/// Last meaningful path segment of a URL without its extension:
/// `https://x.io/a/2024/01/02/CAD.html` → `CAD`.
pub fn url_slug(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let last = rest.split('/').skip(1).filter(|s| !s.is_empty()).last()?;
    let stem = match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()) => {
            stem
        }
        _ => last,
    };
    let stem = stem.trim();
    if stem.is_empty() || stem.eq_ignore_ascii_case("index") {
        return None;
    }
    Some(stem.to_string())
}

/// arXiv identifier of an abs/pdf/html URL, without version: `arxiv.org/pdf/2303.18223v2.pdf`
/// → `2303.18223`.
pub fn arxiv_id(url: &str) -> Option<String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)arxiv\.org/(?:abs|pdf|html)/([a-z\-]+/\d{7}|\d{4}\.\d{4,5})").unwrap()
    });
    RE.captures(url).map(|c| c[1].to_ascii_lowercase())
}

/// URL normalized for identity comparisons: arXiv links become `arxiv:ID`; others lose the
/// scheme, `www.`, a trailing slash and fragment.
pub fn normalize_url(url: &str) -> String {
    if let Some(id) = arxiv_id(url) {
        return format!("arxiv:{id}");
    }
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    let rest = rest.split('#').next().unwrap_or("");
    rest.trim_end_matches('/').to_ascii_lowercase()
}

/// Every `http(s)://…` URL in a line, trailing punctuation trimmed.
pub fn find_urls(s: &str) -> Vec<String> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"https?://[^\s<>"'()\[\]]+"#).unwrap());
    RE.find_iter(s)
        .map(|m| {
            m.as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?'])
                .to_string()
        })
        .collect()
}

/// Split a leading `[...]` label off a title: `[EMNLP2023] Foo` → (`Some("EMNLP2023")`, `Foo`).
pub fn split_bracket_prefix(title: &str) -> (Option<String>, String) {
    let t = title.trim_start();
    if let Some(rest) = t.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let label = clean_inline(&rest[..end]);
            let after = clean_inline(&rest[end + 1..]);
            if !after.is_empty() && !label.is_empty() {
                return (Some(label), after);
            }
        }
    }
    (None, clean_inline(title))
}

/// Does a bracket label look like a venue (`EMNLP2023`, `Arxiv 2305`, `EMNLP2021 best paper`,
/// `CVPR 2022 Tutorial`) rather than a seminar name or a model name (`BEIT-3`)?
pub fn label_is_venue(label: &str) -> bool {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z\-]*\s*,?\s*\d{2,4}\b").unwrap());
    RE.is_match(label)
}

/// Split a trailing venue parenthetical off a title: `Foo (EMNLP 2023)` → (`Some("EMNLP 2023")`,
/// `Foo`); `Foo (ICLR, 2022)` → `ICLR 2022`.
pub fn split_venue_suffix(title: &str) -> (Option<String>, String) {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(.*\S)\s*\(\s*([A-Za-z][A-Za-z\- ]{1,30}?)\s*,?\s*((?:19|20)\d{2})\s*\)\s*$")
            .unwrap()
    });
    match RE.captures(title) {
        Some(c) => (
            Some(format!("{} {}", c[2].trim(), &c[3])),
            c[1].trim().to_string(),
        ),
        None => (None, title.trim().to_string()),
    }
}

/// A method/model name that a (Korean or English) sentence says the paper proposes:
/// `본 논문에서는 Toolformer를 제안함으로써` → `Toolformer`; `FSR 모듈을 제안했습니다` → `FSR`;
/// `we propose Vec2Text, …` → `Vec2Text`.
pub fn proposed_name(line: &str) -> Option<String> {
    static KO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"([A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])(?:\s*(?:이라는|라는|를|을|이|가)|\s+(?:모듈|모델|방법론|방법|프레임워크|기법|framework|model|method)\S*)")
            .unwrap()
    });
    static EN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(?:we|We|authors)\s+(?:propose|introduce|present)s?\s+(?:a\s+|an\s+|the\s+)?([A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])").unwrap()
    });
    let name_like = |s: &str| {
        s.len() >= 3
            && s.len() <= 24
            && s.chars()
                .skip(1)
                .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            || (s.len() >= 5
                && s.len() <= 24
                && s.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
    };
    if let Some(pos) = line.find("제안") {
        let before = &line[..pos];
        let mut found = None;
        for c in KO.captures_iter(before) {
            let name = c.get(1).unwrap().as_str();
            if name_like(name) && !is_generic_word(name) {
                found = Some(name.to_string());
            }
        }
        if found.is_some() {
            return found;
        }
    }
    for c in EN.captures_iter(line) {
        let name = c.get(1).unwrap().as_str();
        if name_like(name) && !is_generic_word(name) {
            return Some(name.to_string());
        }
    }
    None
}

fn is_generic_word(w: &str) -> bool {
    const GENERIC: [&str; 14] = [
        "API",
        "APIs",
        "LLM",
        "LLMs",
        "Adversarial",
        "Training",
        "Transformer",
        "Language",
        "Model",
        "Models",
        "Contribution",
        "Human",
        "Loss",
        "Threshold",
    ];
    GENERIC.iter().any(|g| g.eq_ignore_ascii_case(w))
}

/// Strip a leading list bullet (`•`, `-`, `*`, `1.`) from a line.
pub fn strip_bullet(line: &str) -> &str {
    let t = line.trim_start();
    for b in ["• ", "•", "- ", "* ", "· "] {
        if let Some(r) = t.strip_prefix(b) {
            return r.trim_start();
        }
    }
    t
}
