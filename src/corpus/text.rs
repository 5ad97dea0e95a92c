//! Any other UTF-8 text: one paper, titled from its first non-empty line; the rest, split
//! into paragraphs at blank lines, is its text.

use super::{Paper, Section};

pub fn parse(text: &str, source: &str) -> Vec<Paper> {
    let mut lines = text.lines();
    let title = loop {
        match lines.next() {
            Some(l) if l.trim().is_empty() => continue,
            Some(l) => {
                break l
                    .trim()
                    .trim_start_matches('#')
                    .trim()
                    .chars()
                    .take(300)
                    .collect::<String>()
            }
            None => return Vec::new(),
        }
    };
    let mut p = Paper::new(title, source);
    let mut body = String::new();
    for l in lines {
        if l.trim().is_empty() {
            continue;
        }
        body.push_str(l);
        body.push('\n');
    }
    if !body.is_empty() {
        p.sections.push(Section::new(None, body));
    }
    vec![p]
}
