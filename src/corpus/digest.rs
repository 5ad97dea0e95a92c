//! Weekly digests ("Top ML Papers of the Week"): one paper per block that starts with a
//! `한국어 제목 / English title` line followed by `논문 소개`. The block's `논문 소개`
//! (introduction) and `논문 초록` (abstract) become sections, in both languages; URLs under
//! `논문 링크` / `더 읽어보기` become links. The digest's week start is the date.

use super::{util, Paper, Section};
use regex::Regex;
use std::sync::LazyLock;

fn is_intro_heading(line: &str) -> bool {
    // `논문 소개`, sometimes `연구 소개`
    let t = line.trim();
    (t.ends_with("소개") && t.chars().count() <= 10) || t.eq_ignore_ascii_case("Paper Introduction")
}

/// Indices of title lines: a line with ` / ` whose next non-empty line is `논문 소개`.
fn title_lines(lines: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut last_nonempty: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        if is_intro_heading(l) {
            if let Some(j) = last_nonempty {
                if lines[j].contains(" / ") && lines[j].trim().chars().count() < 400 {
                    out.push(j);
                }
            }
        }
        last_nonempty = Some(i);
    }
    out
}

pub fn detect(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    !title_lines(&lines).is_empty()
}

/// Split `한국어 제목 / English title` at the first ` / ` after which there is no Hangul.
fn split_title(line: &str) -> (Option<String>, String) {
    let mut from = 0;
    while let Some(pos) = line[from..].find(" / ") {
        let at = from + pos;
        let right = &line[at + 3..];
        if !util::has_hangul(right) {
            return (
                Some(line[..at].trim().to_string()),
                right.trim().to_string(),
            );
        }
        from = at + 3;
    }
    match line.split_once(" / ") {
        Some((ko, en)) => (Some(ko.trim().to_string()), en.trim().to_string()),
        None => (None, line.trim().to_string()),
    }
}

pub fn parse(text: &str, source: &str) -> Vec<Paper> {
    static WEEK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\[(\d{4})/(\d{1,2})/(\d{1,2})").unwrap());
    let lines: Vec<&str> = text.lines().collect();
    let starts = title_lines(&lines);
    let date = lines
        .iter()
        .take(20)
        .find_map(|l| WEEK.captures(l))
        .and_then(|c| util::ymd(&c[1], &c[2], &c[3]));
    let mut papers = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        let (ko, en) = split_title(lines[start]);
        let mut p = Paper::new(en, source);
        p.title_ko = ko;
        p.date = date.clone();
        let mut heading: Option<String> = None;
        let mut links_mode = false;
        let mut buf = String::new();
        let flush = |p: &mut Paper, heading: &Option<String>, buf: &mut String| {
            if !buf.trim().is_empty() {
                p.sections
                    .push(Section::new(heading.clone(), std::mem::take(buf)));
            }
            buf.clear();
        };
        for line in &lines[start + 1..end] {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            if is_intro_heading(t) || t.starts_with("논문 초록") {
                flush(&mut p, &heading, &mut buf);
                heading = Some(t.to_string());
                links_mode = false;
                continue;
            }
            if t.starts_with("논문 링크") || t.starts_with("더 읽어보기") {
                flush(&mut p, &heading, &mut buf);
                links_mode = true;
                continue;
            }
            if t == "원문" {
                break; // end of the digest page
            }
            let urls = util::find_urls(t);
            let only_url = urls.len() == 1 && urls[0].len() + 2 >= t.len();
            p.urls.extend(urls);
            if links_mode || only_url {
                continue;
            }
            buf.push_str(util::strip_bullet(t));
            buf.push('\n');
        }
        flush(&mut p, &heading, &mut buf);
        papers.push(p);
    }
    papers
}
