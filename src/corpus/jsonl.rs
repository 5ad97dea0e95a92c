//! JSON Lines: one paper per line, `{"id", "title", "text", …}`. Other fields understood:
//! `title_ko`, `url`/`urls`, `date`, `venue`, `tags`, `abstract`/`summary`, `sections`
//! (`[{"heading", "text"}]`). A bad line is a warning with its line number; the others are
//! still read.

use super::{util, Paper, Section, Warning};
use serde_json::Value;
use std::path::Path;

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|x| !x.trim().is_empty())
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(x)) => vec![x.clone()],
        _ => Vec::new(),
    }
}

pub fn parse(text: &str, source: &str, path: &Path, warnings: &mut Vec<Warning>) -> Vec<Paper> {
    let mut papers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                warnings.push(Warning::new(
                    path,
                    Some(n + 1),
                    "JSON line is not an object; skipped",
                ));
                continue;
            }
            Err(e) => {
                warnings.push(Warning::new(
                    path,
                    Some(n + 1),
                    format!("bad JSON line skipped: {e}"),
                ));
                continue;
            }
        };
        let Some(title) = s(&v, "title") else {
            warnings.push(Warning::new(
                path,
                Some(n + 1),
                "JSON line has no \"title\"; skipped",
            ));
            continue;
        };
        let mut p = Paper::new(title, source);
        if let Some(id) = s(&v, "id") {
            p.id = id;
        }
        p.title_ko = s(&v, "title_ko");
        p.urls.extend(strings(&v, "url"));
        p.urls.extend(strings(&v, "urls"));
        p.date = s(&v, "date").map(|d| util::parse_feed_date(&d).unwrap_or(d));
        p.venue = s(&v, "venue");
        p.tags = strings(&v, "tags");
        for key in ["abstract", "summary", "text"] {
            if let Some(t) = s(&v, key) {
                let heading = (key != "text").then(|| key.to_string());
                p.sections.push(Section::new(heading, t));
            }
        }
        if let Some(Value::Array(secs)) = v.get("sections") {
            for sec in secs {
                if let Some(t) = s(sec, "text") {
                    p.sections.push(Section::new(s(sec, "heading"), t));
                }
            }
        }
        papers.push(p);
    }
    papers
}
