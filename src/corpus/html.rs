//! HTML → clean text: entities decoded (html-escape), tags stripped, block elements and list
//! items on their own lines, `h1`–`h4` starting new sections, images/scripts/styles dropped.
//!
//! A single forward scan over the input (linear time); tolerant of broken markup.

use super::Section;

/// The text of an HTML fragment as sections, plus every `href` in it (in order).
pub struct HtmlText {
    pub sections: Vec<Section>,
    pub links: Vec<String>,
    /// Links met before the first heading (a post's `[pdf]`/`[github]` line).
    pub lead_links: Vec<String>,
}

const SKIP_CONTENT: [&str; 8] = [
    "script", "style", "noscript", "svg", "math", "iframe", "object", "template",
];
const BLOCK: [&str; 27] = [
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "blockquote",
    "pre",
    "h5",
    "h6",
    "hr",
    "figure",
    "figcaption",
    "section",
    "article",
    "dd",
    "dt",
    "dl",
    "header",
    "footer",
    "aside",
    "nav",
    "main",
    "thead",
    "tbody",
];

struct Builder {
    sections: Vec<Section>,
    heading: Option<String>,
    lines: String,
    line: String,
    in_heading: bool,
    heading_buf: String,
}

impl Builder {
    fn text(&mut self, s: &str) {
        let decoded = html_escape::decode_html_entities(s);
        if self.in_heading {
            self.heading_buf.push_str(&decoded);
        } else {
            self.line.push_str(&decoded);
        }
    }
    fn space(&mut self) {
        if self.in_heading {
            self.heading_buf.push(' ');
        } else {
            self.line.push(' ');
        }
    }
    fn end_line(&mut self) {
        if !self.line.trim().is_empty() {
            // newlines inside HTML text are just spaces
            for part in self.line.split(['\n', '\r']) {
                self.lines.push_str(part);
                self.lines.push(' ');
            }
            self.lines.push('\n');
        }
        self.line.clear();
    }
    fn end_section(&mut self) {
        self.end_line();
        if !self.lines.trim().is_empty() || self.heading.is_some() {
            self.sections.push(Section::new(
                self.heading.take(),
                std::mem::take(&mut self.lines),
            ));
        }
        self.lines.clear();
    }
}

fn find_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0].to_ascii_lowercase();
    let mut i = from;
    while i + needle.len() <= hay.len() {
        if hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Position just after the `>` closing a tag that starts at `start` (`<`), respecting quotes.
fn tag_end(b: &[u8], start: usize) -> usize {
    let mut quote: Option<u8> = None;
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return i + 1,
            None => {}
        }
        i += 1;
    }
    b.len()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let v = tag[value_start..].trim_start();
        let val = if let Some(r) = v.strip_prefix('"') {
            r.split('"').next().unwrap_or("")
        } else if let Some(r) = v.strip_prefix('\'') {
            r.split('\'').next().unwrap_or("")
        } else {
            v.split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or("")
        };
        return Some(html_escape::decode_html_entities(val).trim().to_string());
    }
    None
}

/// Convert an HTML fragment to sections of clean(ish) text. Whitespace is collapsed later
/// by the corpus' common cleaning step.
pub fn to_text(html: &str) -> HtmlText {
    let b = html.as_bytes();
    let mut out = Builder {
        sections: Vec::new(),
        heading: None,
        lines: String::new(),
        line: String::new(),
        in_heading: false,
        heading_buf: String::new(),
    };
    let mut links = Vec::new();
    let mut lead_links = Vec::new();
    let mut seen_heading = false;
    let mut i = 0;
    while i < b.len() {
        let next = b[i..].iter().position(|&c| c == b'<').map(|p| p + i);
        let end = next.unwrap_or(b.len());
        if end > i {
            out.text(&html[i..end]);
        }
        let Some(lt) = next else { break };
        // What follows the '<'?
        let rest = &b[lt + 1..];
        if rest.starts_with(b"!--") {
            i = match find_ci(b, lt + 4, b"-->") {
                Some(p) => p + 3,
                None => b.len(),
            };
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = lt + 1 + usize::from(closing);
        let name_len = b[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if name_len == 0 && !rest.starts_with(b"!") && !rest.starts_with(b"?") {
            // a bare '<' in text
            out.text("<");
            i = lt + 1;
            continue;
        }
        let te = tag_end(b, lt);
        let name = html[name_start..name_start + name_len].to_ascii_lowercase();
        let tag = &html[lt..te];
        i = te;
        if name_len == 0 {
            continue; // <!DOCTYPE …>, <?…?>
        }
        if !closing && SKIP_CONTENT.contains(&name.as_str()) && !tag.ends_with("/>") {
            let close = format!("</{name}");
            i = match find_ci(b, te, close.as_bytes()) {
                Some(p) => tag_end(b, p),
                None => b.len(),
            };
            continue;
        }
        if matches!(name.as_str(), "h1" | "h2" | "h3" | "h4") {
            if closing {
                if out.in_heading {
                    out.in_heading = false;
                    let h = std::mem::take(&mut out.heading_buf);
                    out.end_section();
                    out.heading = Some(h.split_whitespace().collect::<Vec<_>>().join(" "));
                    seen_heading = true;
                }
            } else {
                out.end_line();
                out.in_heading = true;
                out.heading_buf.clear();
            }
            continue;
        }
        match name.as_str() {
            "a" if !closing => {
                if let Some(h) = attr(tag, "href") {
                    if h.starts_with("http") {
                        if !seen_heading {
                            lead_links.push(h.clone());
                        }
                        links.push(h);
                    }
                }
            }
            "img" | "source" | "video" | "audio" | "input" | "button" => {}
            "td" | "th" => out.space(),
            n if BLOCK.contains(&n) => {
                if out.in_heading {
                    out.space();
                } else {
                    out.end_line();
                }
            }
            _ => {}
        }
    }
    if out.in_heading {
        out.in_heading = false;
        let h = std::mem::take(&mut out.heading_buf);
        out.line.push_str(&h);
    }
    out.end_section();
    HtmlText {
        sections: out.sections,
        links,
        lead_links,
    }
}
