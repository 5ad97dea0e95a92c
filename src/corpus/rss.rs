//! RSS 2.0 and Atom feeds: one paper per `<item>`/`<entry>`.
//!
//! Title `[VENUE] Paper title` gives the venue; the HTML description/content becomes
//! sections (see `html`); `<link>` is the post URL whose slug is the ID hint; `<pubDate>` /
//! `<published>` / `<updated>` the date; `<category>` the tags. Malformed or truncated XML
//! keeps the entries read before the error, with one warning giving the line.

use super::{html, util, Paper, Warning};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::path::Path;

#[derive(Default)]
struct Entry {
    title: String,
    link: Option<String>,
    date: Option<String>,
    categories: Vec<String>,
    description: String,
    content: String,
}

impl Entry {
    /// The buffer that collects raw markup of an Atom `<content>` or an RSS `<description>`.
    fn markup(&mut self, field: Field) -> &mut String {
        if field == Field::Content {
            &mut self.content
        } else {
            &mut self.description
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    None,
    Title,
    Link,
    Date,
    Category,
    Description,
    Content,
}

fn line_of(text: &str, byte: usize) -> usize {
    let end = byte.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn local(name: &[u8]) -> String {
    let n = match name.iter().rposition(|&c| c == b':') {
        Some(p) => &name[p + 1..],
        None => name,
    };
    String::from_utf8_lossy(n).to_ascii_lowercase()
}

pub fn parse(text: &str, source: &str, path: &Path, warnings: &mut Vec<Warning>) -> Vec<Paper> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut papers = Vec::new();
    let mut entry: Option<Entry> = None;
    let mut field = Field::None;
    let mut field_depth = 0usize; // element depth inside the current field (xhtml content)
    let mut depth = 0usize;
    // The feed's own title (`<channel><title>` or Atom `<feed><title>`), for `--source`.
    let mut feed_title = String::new();
    let mut in_feed_title = false;
    loop {
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let pos = reader.error_position() as usize;
                warnings.push(Warning::new(
                    path,
                    Some(line_of(text, pos)),
                    format!(
                        "malformed XML ({e}); kept the {} entries read before it",
                        papers.len()
                    ),
                ));
                break;
            }
        };
        match ev {
            Event::Start(e) => {
                depth += 1;
                let name = local(e.name().as_ref());
                if let Some(en) = entry.as_mut() {
                    if field != Field::None {
                        // xhtml inside an Atom <content>: keep the markup for the HTML step
                        field_depth += 1;
                        let buf = en.markup(field);
                        buf.push('<');
                        buf.push_str(&String::from_utf8_lossy(e.as_ref()));
                        buf.push('>');
                        continue;
                    }
                    field = match name.as_str() {
                        "title" => Field::Title,
                        "link" => Field::Link,
                        "pubdate" | "published" | "updated" | "date" => Field::Date,
                        "category" => {
                            en.categories.push(attr(&e, b"term").unwrap_or_default());
                            Field::Category
                        }
                        "description" | "summary" => Field::Description,
                        "content" | "encoded" => Field::Content,
                        _ => Field::None,
                    };
                    if field == Field::Link {
                        if let Some(h) = attr(&e, b"href") {
                            set_link(en, &e, h);
                        }
                    }
                    if field == Field::Date && en.date.is_some() {
                        field = Field::None; // first date wins (published before updated)
                    }
                    field_depth = 0;
                } else if name == "item" || name == "entry" {
                    entry = Some(Entry::default());
                    field = Field::None;
                } else if name == "title" && feed_title.is_empty() {
                    in_feed_title = true;
                }
            }
            Event::Empty(e) => {
                let name = local(e.name().as_ref());
                if let Some(en) = entry.as_mut() {
                    if field == Field::Description || field == Field::Content {
                        let buf = en.markup(field);
                        buf.push('<');
                        buf.push_str(&String::from_utf8_lossy(e.as_ref()));
                        buf.push_str("/>");
                    } else if name == "link" {
                        if let Some(h) = attr(&e, b"href") {
                            set_link(en, &e, h);
                        }
                    } else if name == "category" {
                        if let Some(t) = attr(&e, b"term") {
                            en.categories.push(t);
                        }
                    }
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                let name = local(e.name().as_ref());
                in_feed_title = false;
                if let Some(en) = entry.as_mut() {
                    if field != Field::None && field_depth > 0 {
                        field_depth -= 1;
                        let buf = en.markup(field);
                        buf.push_str("</");
                        buf.push_str(&String::from_utf8_lossy(e.name().as_ref()));
                        buf.push('>');
                        continue;
                    }
                    if name == "item" || name == "entry" {
                        if let Some(p) = to_paper(entry.take().unwrap(), source) {
                            papers.push(p);
                        }
                        field = Field::None;
                    } else {
                        field = Field::None;
                    }
                }
            }
            Event::Text(t) => {
                if let Some(en) = entry.as_mut() {
                    push(en, field, &t.decode().unwrap_or_default());
                } else if in_feed_title {
                    feed_title.push_str(&t.decode().unwrap_or_default());
                }
            }
            Event::CData(t) => {
                if let Some(en) = entry.as_mut() {
                    push(en, field, &String::from_utf8_lossy(t.as_ref()));
                } else if in_feed_title {
                    feed_title.push_str(&String::from_utf8_lossy(t.as_ref()));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(en) = entry.as_mut() {
                    let s = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            let name = r.decode().unwrap_or_default();
                            match quick_xml::escape::resolve_predefined_entity(&name) {
                                Some(s) => s.to_string(),
                                // an HTML entity in the feed: leave it for the HTML decoder
                                None => format!("&{name};"),
                            }
                        }
                    };
                    push(en, field, &s);
                } else if in_feed_title {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        feed_title.push(c);
                    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(
                        &r.decode().unwrap_or_default(),
                    ) {
                        feed_title.push_str(s);
                    }
                }
            }
            Event::Eof => {
                if depth > 0 || entry.is_some() {
                    warnings.push(Warning::new(
                        path,
                        Some(line_of(text, text.len())),
                        format!(
                            "truncated XML (unexpected end of file); kept the {} entries read before it",
                            papers.len()
                        ),
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    let feed_title = util::clean_inline(&feed_title);
    if !feed_title.is_empty() {
        for p in &mut papers {
            p.feed = Some(feed_title.clone());
        }
    }
    papers
}

fn attr(e: &quick_xml::events::BytesStart, key: &[u8]) -> Option<String> {
    let a = e.try_get_attribute(key).ok().flatten()?;
    let v = a.unescape_value().ok()?.trim().to_string();
    (!v.is_empty()).then_some(v)
}

fn set_link(en: &mut Entry, e: &quick_xml::events::BytesStart, href: String) {
    let rel = attr(e, b"rel").unwrap_or_else(|| "alternate".into());
    if rel == "alternate" && en.link.is_none() {
        en.link = Some(href);
    }
}

fn push(en: &mut Entry, field: Field, s: &str) {
    match field {
        Field::Title => en.title.push_str(s),
        Field::Link => {
            let l = en.link.get_or_insert_with(String::new);
            l.push_str(s);
        }
        Field::Date => {
            let d = en.date.get_or_insert_with(String::new);
            d.push_str(s);
        }
        Field::Category => {
            if let Some(last) = en.categories.last_mut() {
                last.push_str(s);
            }
        }
        Field::Description => en.description.push_str(s),
        Field::Content => en.content.push_str(s),
        Field::None => {}
    }
}

fn to_paper(en: Entry, source: &str) -> Option<Paper> {
    // The title may itself carry HTML entities/markup.
    let raw_title = html::to_text(&en.title)
        .sections
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let (label, title) = util::split_bracket_prefix(&util::clean_inline(&raw_title));
    let body = if en.content.trim().len() > en.description.trim().len() {
        &en.content
    } else {
        &en.description
    };
    let h = html::to_text(body);
    let link = en
        .link
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    let title = if title.is_empty() {
        link.as_deref().and_then(util::url_slug)?
    } else {
        title
    };
    let mut p = Paper::new(title, source);
    match label {
        Some(l) if util::label_is_venue(&l) => p.venue = Some(l),
        Some(l) => p.tags.push(l),
        None => {}
    }
    if let Some(l) = &link {
        p.urls.push(l.clone());
        if let Some(slug) = util::url_slug(l) {
            p.id = slug;
        }
    }
    for l in h.lead_links {
        p.urls.push(l);
    }
    p.date = en.date.as_deref().and_then(util::parse_feed_date);
    for c in en.categories {
        let c = util::clean_inline(&c);
        if !c.is_empty() {
            p.tags.push(c);
        }
    }
    p.sections = h.sections;
    // Lines that are only link labels (`[pdf] [github]`) carry no text.
    for sec in &mut p.sections {
        if sec.text.lines().any(is_link_labels) {
            sec.text = sec
                .text
                .lines()
                .filter(|l| !is_link_labels(l))
                .collect::<Vec<_>>()
                .join("\n");
        }
    }
    Some(p)
}

/// `[pdf] [github]`: a line made only of bracketed labels.
fn is_link_labels(line: &str) -> bool {
    let mut rest = line.trim();
    if rest.is_empty() {
        return false;
    }
    while let Some(r) = rest.strip_prefix('[') {
        match r.find(']') {
            Some(end) => rest = r[end + 1..].trim_start(),
            None => return false,
        }
    }
    rest.is_empty()
}
