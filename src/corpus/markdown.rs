//! Markdown summaries: one paper per file. Optional front matter between `---` lines with
//! simple `key: value` pairs (`id`, `title`, `title_ko`, `url`/`link`, `date`, `venue`,
//! `tags: [a, b]` or `tags: a, b` or a `- item` list); `# Title` is the title when the front
//! matter has none; `##`… headings start sections; link syntax is reduced to its text.

use super::{util, Paper, Section};
use regex::Regex;
use std::sync::LazyLock;

/// Markdown-looking text: an ATX heading among the first lines.
pub fn detect(head: &str) -> bool {
    head.lines()
        .filter(|l| !l.trim().is_empty())
        .take(5)
        .any(|l| l.starts_with("# ") || l.starts_with("## "))
}

fn unquote(s: &str) -> String {
    let t = s.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(t);
    t.trim().to_string()
}

fn list(v: &str) -> Vec<String> {
    let t = v.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    t.split(',')
        .map(unquote)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `[text](url)` → `text` (url collected); `**`, `__` and backticks dropped.
fn inline(line: &str, urls: &mut Vec<String>) -> String {
    static LINK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)").unwrap());
    let before = urls.len();
    for c in LINK.captures_iter(line) {
        if c[2].starts_with("http") {
            urls.push(c[2].to_string());
        }
    }
    if urls.len() == before {
        // bare URLs in the text
        urls.extend(util::find_urls(line));
    }
    let s = LINK.replace_all(line, |c: &regex::Captures| {
        if c[0].starts_with('!') {
            String::new()
        } else {
            c[1].to_string()
        }
    });
    s.replace("**", "").replace("__", "").replace('`', "")
}

pub fn parse(text: &str, source: &str) -> Vec<Paper> {
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines().peekable();
    let mut p = Paper::new(String::new(), source);
    let mut fm_title = false;
    while lines.peek().is_some_and(|l| l.trim().is_empty()) {
        lines.next();
    }
    if lines.peek().is_some_and(|l| l.trim() == "---") {
        lines.next();
        let mut list_key: Option<String> = None;
        for l in lines.by_ref() {
            let t = l.trim();
            if t == "---" || t == "..." {
                break;
            }
            if let (Some(k), Some(item)) = (&list_key, t.strip_prefix("- ")) {
                if k == "tags" || k == "categories" {
                    p.tags.push(unquote(item));
                } else if k == "urls" || k == "links" {
                    p.urls.push(unquote(item));
                }
                continue;
            }
            let Some((k, v)) = t.split_once(':') else {
                continue;
            };
            let key = k.trim().to_ascii_lowercase();
            let v = v.trim();
            list_key = v.is_empty().then(|| key.clone());
            match key.as_str() {
                "id" => p.id = unquote(v),
                "title" => {
                    p.title = unquote(v);
                    fm_title = !p.title.is_empty();
                }
                "title_ko" => p.title_ko = Some(unquote(v)),
                "url" | "link" => p.urls.insert(0, unquote(v)),
                "urls" | "links" => p.urls.extend(list(v)),
                "date" => p.date = util::parse_feed_date(&unquote(v)).or(Some(unquote(v))),
                "venue" => p.venue = Some(unquote(v)),
                "tags" | "categories" | "keywords" => p.tags.extend(list(v)),
                _ => {}
            }
        }
    }
    let mut heading: Option<String> = None;
    let mut buf = String::new();
    let mut urls = Vec::new();
    for l in lines {
        let t = l.trim_end();
        if let Some(h) = t.strip_prefix("# ") {
            if p.title.is_empty() && !fm_title {
                p.title = inline(h, &mut urls);
                continue;
            }
        }
        if t.starts_with('#') {
            let h = t.trim_start_matches('#').trim();
            if !buf.trim().is_empty() {
                p.sections
                    .push(Section::new(heading.take(), std::mem::take(&mut buf)));
            }
            buf.clear();
            heading = Some(inline(h, &mut urls));
            continue;
        }
        let s = util::strip_bullet(t);
        if s.is_empty() {
            continue;
        }
        buf.push_str(&inline(s, &mut urls));
        buf.push('\n');
    }
    if !buf.trim().is_empty() {
        p.sections.push(Section::new(heading, buf));
    }
    p.urls.extend(urls);
    if p.title.is_empty() {
        // No title anywhere: the first line of text.
        if let Some(first) = p.sections.first().and_then(|s| s.text.lines().next()) {
            p.title = first.chars().take(200).collect();
        }
    }
    vec![p]
}
