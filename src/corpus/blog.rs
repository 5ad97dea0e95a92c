//! Blog page dumps (tistory and the like), two layouts:
//!
//! * full posts: a title line, then a meta line `CATEGORY YYYY. M. D. HH:MM Posted by NAME`,
//!   then the body. A post may have lost its title (the text before the first title, or a
//!   body that starts over with a greeting such as `안녕하세요`): its title is recovered from
//!   the body (a quoted title in the sentence introducing the paper, `논문인 X 입니다`, or the
//!   name of what the post says the paper proposes). Acceptance notices ("… accepted at
//!   VENUE") yield the quoted paper titles they list (`title_only`, tag `accepted`); when a
//!   notice lists one paper and describes it, that description is its text.
//! * listings: per post a line `TITLE CATEGORY YYYY. M. D. HH:MM` then a truncated excerpt.

use super::{util, Paper, Section};
use regex::Regex;
use std::sync::LazyLock;

static POSTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(.*?)\s*(\d{4})\.\s*(\d{1,2})\.\s*(\d{1,2})\.\s*\d{1,2}:\d{2}\s+Posted by\s+(.+?)\s*$")
        .unwrap()
});
static LISTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(\S.*?)\s*(\d{4})\.\s*(\d{1,2})\.\s*(\d{1,2})\.\s*\d{1,2}:\d{2}\s*$").unwrap()
});

pub fn detect(text: &str) -> bool {
    text.lines()
        .any(|l| POSTED.is_match(l) || LISTED.is_match(l))
}

pub fn parse(text: &str, source: &str) -> Vec<Paper> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.iter().any(|l| POSTED.is_match(l)) {
        parse_posts(&lines, source)
    } else {
        parse_listing(&lines, source)
    }
}

struct Post<'a> {
    title: Option<String>,
    date: Option<String>,
    category: Option<String>,
    body: Vec<&'a str>,
}

fn is_greeting(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("안녕하세요") || t.starts_with("Hello") || t.starts_with("Hi,")
}

fn parse_posts(lines: &[&str], source: &str) -> Vec<Paper> {
    // Find meta lines; the title of each is the closest non-empty line above it.
    let mut posts: Vec<Post> = Vec::new();
    let mut metas = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(c) = POSTED.captures(l) {
            let title_at = (0..i).rev().find(|&j| !lines[j].trim().is_empty());
            metas.push((i, title_at, c));
        }
    }
    let first_title = metas.first().and_then(|m| m.1).unwrap_or(lines.len());
    let first_end = metas
        .first()
        .map(|m| m.1.unwrap_or(m.0))
        .unwrap_or(lines.len());
    posts.push(Post {
        title: None,
        date: None,
        category: None,
        body: lines[..first_title.min(first_end)].to_vec(),
    });
    for (n, (i, title_at, c)) in metas.iter().enumerate() {
        let end = match metas.get(n + 1) {
            Some((ni, nt, _)) => nt.unwrap_or(*ni),
            None => lines.len(),
        };
        let cat = c[1].trim();
        posts.push(Post {
            title: title_at.map(|t| lines[t].trim().to_string()),
            date: util::ymd(&c[2], &c[3], &c[4]),
            category: (!cat.is_empty()).then(|| cat.to_string()),
            body: lines[(i + 1).min(end)..end].to_vec(),
        });
    }
    // A greeting after some content starts a new post whose title was lost.
    let mut split: Vec<Post> = Vec::new();
    for mut post in posts {
        let body = std::mem::take(&mut post.body);
        let mut cur = post;
        let mut seen_content = false;
        for l in body {
            if is_greeting(l) && seen_content {
                let category = cur.category.clone();
                split.push(std::mem::replace(
                    &mut cur,
                    Post {
                        title: None,
                        date: None,
                        category,
                        body: Vec::new(),
                    },
                ));
            }
            if !l.trim().is_empty() {
                seen_content = true;
            }
            cur.body.push(l);
        }
        split.push(cur);
    }
    let mut papers = Vec::new();
    for post in split {
        papers.extend(post_papers(post, source));
    }
    papers
}

/// A line that is only a quoted title: `"REPrune: Channel Pruning via …"`.
fn quoted_line(line: &str) -> Option<String> {
    let t = line.trim();
    let mut cs = t.chars();
    let open = cs.next()?;
    let close = cs.next_back()?;
    let ok = matches!(
        (open, close),
        ('"', '"') | ('“', '”') | ('\'', '\'') | ('‘', '’')
    );
    let inner = t[open.len_utf8()..t.len() - close.len_utf8()].trim();
    (ok && inner.chars().count() >= 5).then(|| inner.to_string())
}

/// The first quoted span (`'…'`, `"…"`, `‘…’`, `“…”`) with Latin letters and at least two words.
fn quoted_span(line: &str) -> Option<String> {
    for (open, close) in [('\'', '\''), ('"', '"'), ('‘', '’'), ('“', '”')] {
        let mut rest = line;
        while let Some(a) = rest.find(open) {
            let after = &rest[a + open.len_utf8()..];
            let Some(b) = after.find(close) else { break };
            let inner = after[..b].trim();
            if inner.split_whitespace().count() >= 2
                && inner.chars().any(|c| c.is_ascii_alphabetic())
            {
                return Some(inner.to_string());
            }
            rest = &after[b + close.len_utf8()..];
        }
    }
    None
}

/// `… 소개드릴 논문은 … 논문인 Feature Separation and … 입니다.` → the title.
fn introduced_title(line: &str) -> Option<String> {
    if !line.contains("논문")
        || !(line.contains("소개") || line.contains("리뷰") || line.contains("발표"))
    {
        return None;
    }
    if let Some(q) = quoted_span(line) {
        return Some(q);
    }
    let end = line.find("입니다")?;
    let before = &line[..end];
    let start = ["논문인 ", "논문은 ", "논문 "]
        .iter()
        .filter_map(|m| before.rfind(m).map(|p| p + m.len()))
        .max()?;
    let cand = before[start..].trim().trim_end_matches(['.', ',']);
    let latin_words = cand
        .split_whitespace()
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .count();
    (latin_words >= 2 && !util::has_hangul(cand)).then(|| cand.to_string())
}

fn recover_title(lines: &[String]) -> Option<String> {
    for l in lines {
        if let Some(t) = introduced_title(l) {
            return Some(t);
        }
    }
    for l in lines {
        if let Some(n) = util::proposed_name(l) {
            return Some(n);
        }
    }
    lines
        .iter()
        .find(|l| !is_greeting(l))
        .map(|l| l.chars().take(80).collect())
}

/// Venue from a notice title: `Two papers accepted at AAAI 2024` → `AAAI 2024`.
fn notice_venue(title: &str) -> Option<String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)accepted\s+(?:at|to|in|by|for)\s+(.+?)\s*[.!]?$").unwrap()
    });
    RE.captures(title).map(|c| c[1].to_string())
}

fn is_notice(title: Option<&str>, lines: &[String]) -> bool {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\baccepted\b|채택|억셉").unwrap());
    if let Some(t) = title {
        if RE.is_match(t) {
            return true;
        }
    }
    title.is_none() && lines.iter().take(3).any(|l| RE.is_match(l))
}

fn post_papers(post: Post, source: &str) -> Vec<Paper> {
    let lines: Vec<String> = post
        .body
        .iter()
        .map(|l| util::clean_inline(util::strip_bullet(l)))
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() && post.title.is_none() {
        return Vec::new();
    }
    let mut tags = Vec::new();
    if let Some(c) = &post.category {
        if c != "카테고리 없음" {
            tags.push(c.clone());
        }
    }
    let quoted: Vec<String> = lines.iter().filter_map(|l| quoted_line(l)).collect();
    if !quoted.is_empty() && is_notice(post.title.as_deref(), &lines) {
        let venue = post.title.as_deref().and_then(notice_venue);
        let description: Vec<&String> = lines.iter().filter(|l| quoted_line(l).is_none()).collect();
        let described =
            quoted.len() == 1 && description.iter().map(|l| l.chars().count()).sum::<usize>() > 120;
        return quoted
            .into_iter()
            .map(|t| {
                let mut p = Paper::new(t, source);
                p.date = post.date.clone();
                p.venue = venue.clone();
                p.tags = tags.clone();
                p.tags.push("accepted".into());
                if described {
                    let text = description
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n");
                    p.sections.push(Section::new(post.title.clone(), text));
                } else {
                    p.title_only = true;
                }
                p
            })
            .collect();
    }
    let raw_title = match post.title.clone().or_else(|| recover_title(&lines)) {
        Some(t) => t,
        None => return Vec::new(),
    };
    let (label, t) = util::split_bracket_prefix(&raw_title);
    let (venue, title) = util::split_venue_suffix(&t);
    let mut p = Paper::new(title, source);
    p.date = post.date;
    p.venue = venue;
    if let Some(l) = label {
        if util::label_is_venue(&l) && p.venue.is_none() {
            p.venue = Some(l);
        } else {
            tags.push(l);
        }
    }
    p.tags = tags;
    if !p.title.contains(':') {
        if let Some(n) = lines.iter().find_map(|l| util::proposed_name(l)) {
            p.id = n;
        }
    }
    for l in &lines {
        p.urls.extend(util::find_urls(l));
    }
    p.sections.push(Section::new(None, lines.join("\n")));
    vec![p]
}

fn parse_listing(lines: &[&str], source: &str) -> Vec<Paper> {
    let metas: Vec<(usize, regex::Captures)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| LISTED.captures(l).map(|c| (i, c)))
        .collect();
    // The category is glued to the title (`…(NeurIPS 2022)AI/NLP`): take the suffix common to
    // all meta lines, or what follows a closing bracket when there is only one.
    let last_tokens: Vec<&str> = metas
        .iter()
        .map(|(_, c)| {
            c.get(1)
                .unwrap()
                .as_str()
                .split_whitespace()
                .last()
                .unwrap_or("")
        })
        .collect();
    let category = common_suffix(&last_tokens)
        .map(|s| {
            s.trim_start_matches(|c: char| !c.is_alphanumeric())
                .to_string()
        })
        .filter(|s| !s.is_empty());
    let mut papers = Vec::new();
    for (n, (i, c)) in metas.iter().enumerate() {
        let head = c.get(1).unwrap().as_str().trim();
        let (title, cat) = match &category {
            Some(cat) if head.ends_with(cat.as_str()) && head.len() > cat.len() => (
                head[..head.len() - cat.len()].trim().to_string(),
                Some(cat.clone()),
            ),
            _ => (head.to_string(), None),
        };
        let end = metas.get(n + 1).map(|m| m.0).unwrap_or(lines.len());
        let mut excerpt = String::new();
        for l in &lines[i + 1..end] {
            let t = l.trim();
            if t.is_empty() || t == "-" {
                continue;
            }
            excerpt.push_str(t);
            excerpt.push('\n');
        }
        let mut excerpt = excerpt.trim().to_string();
        if let Some(rest) = excerpt.strip_prefix(title.as_str()) {
            excerpt = rest.trim().to_string();
        }
        let excerpt = excerpt.trim_end_matches('.').trim().to_string();
        let (label, t) = util::split_bracket_prefix(&title);
        let (venue, t) = util::split_venue_suffix(&t);
        let mut p = Paper::new(t, source);
        p.date = util::ymd(&c[2], &c[3], &c[4]);
        p.venue = venue;
        if let Some(l) = label {
            p.tags.push(l);
        }
        if let Some(cat) = cat {
            p.tags.push(cat);
        }
        p.urls.extend(util::find_urls(&excerpt));
        p.sections.push(Section::new(None, excerpt));
        papers.push(p);
    }
    papers
}

fn common_suffix(tokens: &[&str]) -> Option<String> {
    if tokens.len() < 2 {
        let t = tokens.first()?;
        let p = t.rfind([')', ']'])?;
        return Some(t[p + 1..].to_string());
    }
    let first: Vec<char> = tokens[0].chars().rev().collect();
    let mut len = first.len();
    for t in &tokens[1..] {
        let common = first
            .iter()
            .zip(t.chars().rev())
            .take_while(|(a, b)| **a == *b)
            .count();
        len = len.min(common);
    }
    (len > 0).then(|| first[..len].iter().rev().collect())
}
