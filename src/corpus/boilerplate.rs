//! Boilerplate: the parts of a summary that say nothing about its paper.
//!
//! Author and affiliation lines, blog greetings and sign-offs, link lists, reference-list
//! entries and "see the paper" remarks look alike across unrelated papers. Embedded, they
//! pull the vectors of unrelated papers together, and a passage made of them is then shown
//! as the reason two papers match. This step runs once on every parsed paper (from
//! `finish`, whatever the parser) and cuts each section into runs of content and runs of
//! boilerplate (`Section::kind`): the chunker embeds only the content, while `show` and the
//! web page still have the whole text, in reading order, and can dim the rest.
//!
//! The rules look at the *shape* of a line or sentence, never at particular sentences:
//! - author lines: lists of names (capitalized words or initials; Hangul names) separated by
//!   commas, `&` or `and`, with affiliation marks (`♠♡†‡*∗`, digits, superscripts);
//! - affiliation lines: mostly capitalized words with an organisation word (University,
//!   Institute, Lab, Research, 대학교, …), often behind an index mark (`1 `, `♠ `);
//!   e-mail addresses; footnotes such as "equal contribution" or "correspondence to";
//! - link lines: ≥ 60 % of the non-space characters in URLs, bracket labels alone
//!   (`[pdf] [github]`), labelled links (`논문 링크(arxiv): …`, `Code link: …`);
//! - reference entries: a numbered line with a year and a citation shape (`[12] A. Author,
//!   …, 2021.`), an APA-style line, or anything under a `References` / `참고문헌` heading;
//! - "see the paper" remarks: a sentence, clause or parenthesis that sends the reader to the
//!   paper (`자세한 내용은 논문 참조`, `(논문참조)`, `see the paper for details`);
//! - greetings at the start of a post (`안녕하세요, …팀 …입니다`, `Hi everyone!`) with the
//!   self-introduction and announcement sentences right after them, and sign-offs at its end
//!   (`읽어주셔서 감사합니다`, `Thanks for reading!`).
//!
//! A rule that is unsure by itself (a list of names without marks, a line with a single
//! "Lab" in it, a short capitalized line such as a company name) fires only where its
//! context agrees: at the head of a paper's text, or next to a line that is surely an author
//! or affiliation line. Everything here is linear in the text.

use super::{util, Paper, Section, SectionKind};
use regex::Regex;
use std::ops::Range;
use std::sync::LazyLock;
use unicode_segmentation::UnicodeSegmentation;

/// Lines at the head of a paper that may be title-page matter (authors, affiliations, links).
const HEAD_LINES: usize = 8;
/// Longest sentence (in characters) that a "see the paper" remark may be.
const POINTER_MAX: usize = 120;
/// Shortest clause (in characters) that may stay content before a pointer in one sentence.
const CLAUSE_MIN: usize = 8;

/// Marks the boilerplate of one paper: content sections are cut into runs, each run a
/// section of its own kind; the first run keeps the section's heading. Sections already
/// marked as boilerplate are left as they are.
pub fn mark(paper: &mut Paper) {
    let old = std::mem::take(&mut paper.sections);
    let mut lines: Vec<Line> = Vec::new();
    for (si, s) in old.iter().enumerate() {
        if s.kind.is_boilerplate() {
            continue;
        }
        let mut in_references = s.heading.as_deref().is_some_and(is_references_heading);
        for text in s.text.lines() {
            let mut line = Line::new(si, text);
            if in_references {
                line.set_whole(SectionKind::References);
            } else if is_references_heading(text) {
                in_references = true;
                line.set_whole(SectionKind::References);
            } else {
                let (kind, guess) = classify(text);
                match kind {
                    Some(k) => line.set_whole(k),
                    None => line.guess = guess,
                }
            }
            lines.push(line);
        }
    }
    resolve_guesses(&mut lines, &old);
    for line in lines.iter_mut().filter(|l| l.spans.is_empty()) {
        mark_pointers(line);
    }
    mark_greeting(&mut lines);
    mark_sign_off(&mut lines);
    paper.sections = rebuild(&old, &lines);
}

/// The boilerplate kind of one line taken alone, where its shape is unambiguous: what `mark`
/// decides for a line whatever its neighbours are.
pub fn line_kind(line: &str) -> Option<SectionKind> {
    classify(line).0
}

// ---- lines and spans -------------------------------------------------------------------------

/// What a line may be, if its context agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guess {
    None,
    /// A list of names without affiliation marks.
    Names,
    /// A capitalized line with one weak organisation word, or index marks only.
    Affiliation,
    /// A short capitalized line without a sentence (a company or team name).
    Short,
}

struct Line<'a> {
    section: usize,
    text: &'a str,
    /// Boilerplate byte ranges of `text`, disjoint.
    spans: Vec<(Range<usize>, SectionKind)>,
    guess: Guess,
}

impl<'a> Line<'a> {
    fn new(section: usize, text: &'a str) -> Self {
        Line {
            section,
            text,
            spans: Vec::new(),
            guess: Guess::None,
        }
    }

    fn set_whole(&mut self, kind: SectionKind) {
        self.spans = vec![(0..self.text.len(), kind)];
    }

    /// The kind of a line marked as a whole.
    fn whole(&self) -> Option<SectionKind> {
        match self.spans.as_slice() {
            [(r, k)] if r.start == 0 && r.end == self.text.len() => Some(*k),
            _ => None,
        }
    }

    fn is_free(&self, r: &Range<usize>) -> bool {
        self.spans
            .iter()
            .all(|(s, _)| s.end <= r.start || s.start >= r.end)
    }

    fn add(&mut self, r: Range<usize>, kind: SectionKind) {
        if self.is_free(&r) && !r.is_empty() {
            self.spans.push((r, kind));
        }
    }

    /// Sentences of the line not yet marked, with their byte ranges.
    fn free_sentences(&self) -> Vec<Range<usize>> {
        sentences(self.text)
            .into_iter()
            .filter(|r| self.is_free(r))
            .collect()
    }

    /// The line cut into pieces of one kind, trimmed, in order. A piece with no letter or
    /// digit (a stray bracket or full stop) joins its boilerplate neighbour.
    fn pieces(&self) -> Vec<(&'a str, SectionKind)> {
        let mut spans = self.spans.clone();
        spans.sort_by_key(|(r, _)| r.start);
        let mut cuts: Vec<(Range<usize>, SectionKind)> = Vec::new();
        let mut at = 0;
        for (r, k) in spans {
            if r.start > at {
                cuts.push((at..r.start, SectionKind::Content));
            }
            at = r.end;
            cuts.push((r, k));
        }
        if at < self.text.len() {
            cuts.push((at..self.text.len(), SectionKind::Content));
        }
        let has_word = |r: &Range<usize>| self.text[r.clone()].chars().any(char::is_alphanumeric);
        for i in 0..cuts.len() {
            if cuts[i].1 == SectionKind::Content && !has_word(&cuts[i].0) {
                let before = i.checked_sub(1).map(|j| cuts[j].1);
                let after = cuts.get(i + 1).map(|c| c.1);
                if let Some(k) = before.or(after).filter(|k| k.is_boilerplate()) {
                    cuts[i].1 = k;
                }
            }
        }
        let mut merged: Vec<(Range<usize>, SectionKind)> = Vec::new();
        for (r, k) in cuts {
            match merged.last_mut() {
                Some((last, lk)) if *lk == k => last.end = r.end,
                _ => merged.push((r, k)),
            }
        }
        merged
            .into_iter()
            .map(|(r, k)| (self.text[r].trim(), k))
            .filter(|(t, _)| !t.is_empty())
            .collect()
    }
}

/// Byte ranges of the sentences of a line (Unicode sentence boundaries, which serve Korean
/// and English alike), trailing spaces included; ranges without a letter or digit are left
/// out.
fn sentences(text: &str) -> Vec<Range<usize>> {
    text.split_sentence_bound_indices()
        .map(|(i, s)| i..i + s.len())
        .filter(|r| text[r.clone()].chars().any(char::is_alphanumeric))
        .collect()
}

/// Sections again, from the marked lines: each original section becomes one or more runs.
fn rebuild(old: &[Section], lines: &[Line]) -> Vec<Section> {
    let mut out = Vec::with_capacity(old.len());
    let mut next = 0;
    for (si, s) in old.iter().enumerate() {
        if s.kind.is_boilerplate() {
            out.push(s.clone());
            continue;
        }
        let mut runs: Vec<Section> = Vec::new();
        while next < lines.len() && lines[next].section == si {
            for (piece, kind) in lines[next].pieces() {
                match runs.last_mut() {
                    Some(run) if run.kind == kind => {
                        run.text.push('\n');
                        run.text.push_str(piece);
                    }
                    _ => runs.push(Section {
                        heading: None,
                        text: piece.to_string(),
                        kind,
                    }),
                }
            }
            next += 1;
        }
        match runs.first_mut() {
            Some(first) => first.heading = s.heading.clone(),
            None => runs.push(s.clone()),
        }
        out.extend(runs);
    }
    out
}

// ---- whole-line rules ------------------------------------------------------------------------

/// A sure kind for the line, or else what it may be.
fn classify(line: &str) -> (Option<SectionKind>, Guess) {
    let t = line.trim();
    if t.is_empty() {
        return (None, Guess::None);
    }
    if is_link_line(t) {
        return (Some(SectionKind::Links), Guess::None);
    }
    if t.chars().count() <= 400 && (EMAIL.is_match(t) || FOOTNOTE.is_match(t)) {
        return (Some(SectionKind::Authors), Guess::None);
    }
    if is_reference_entry(t) {
        return (Some(SectionKind::References), Guess::None);
    }
    match names(t) {
        Certainty::Sure => return (Some(SectionKind::Authors), Guess::None),
        Certainty::Maybe => return (None, Guess::Names),
        Certainty::No => {}
    }
    match affiliation(t) {
        Certainty::Sure => return (Some(SectionKind::Authors), Guess::None),
        Certainty::Maybe => return (None, Guess::Affiliation),
        Certainty::No => {}
    }
    if is_short_title(t) {
        return (None, Guess::Short);
    }
    (None, Guess::None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Certainty {
    No,
    Maybe,
    Sure,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[\w.%+-]+|\{[^{}]{1,200}\})@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b").unwrap()
});

static FOOTNOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:equal contributions?|contributed equally|corresponding authors?|correspondence to|work (?:was )?done (?:while|during|at|as)\b)|교신\s?저자|공동\s?제?1\s?저자",
    )
    .unwrap()
});

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:https?://|www\.)[^\s<>]+").unwrap());

/// `[pdf] [github] [code and dataset]`: bracketed labels and nothing else.
static BRACKET_LABELS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:\[\s*[^\[\]\s]+(?:\s+[^\[\]\s]+){0,3}\s*\]\s*)+$").unwrap());

/// `논문 링크(arxiv): …`, `Paper link: …`, `code URL - …`, `연구 및 논문 링크`: a short label
/// naming a link.
static LINK_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[\W_]*(?:[\w.-]+\s*){0,3}(?:링크|links?|urls?|주소)\s*(?:\([^)]{0,30}\))?\s*(?:[:：-]|$)")
        .unwrap()
});

fn is_link_line(t: &str) -> bool {
    let total = t.chars().filter(|c| !c.is_whitespace()).count();
    let in_urls: usize = URL
        .find_iter(t)
        .map(|m| m.as_str().chars().filter(|c| !c.is_whitespace()).count())
        .sum();
    if total > 0 && in_urls * 10 >= total * 6 {
        return true;
    }
    if BRACKET_LABELS.is_match(t) {
        return true;
    }
    // A label names a link only if what follows it is one, or a title (not a sentence).
    t.chars().count() <= 200
        && LINK_LABEL.find(t).is_some_and(|m| {
            let rest = t[m.end()..].trim();
            rest.is_empty()
                || URL.is_match(rest)
                || (!util::has_hangul(rest) && capitalized_share(rest) >= 0.6)
        })
}

static REFERENCES_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:\d+\.?\s*)?(?:references?|bibliography|works cited|참고\s?문헌|레퍼런스)\s*:?\s*$",
    )
    .unwrap()
});

fn is_references_heading(t: &str) -> bool {
    REFERENCES_HEADING.is_match(t)
}

/// `[12] A. Author, …`, `3. Smith, J., …`, `[4] Ashish Vaswani, Noam Shazeer, …`,
/// `[5] Brown et al. …`: a number, then an author, the way reference lists begin an entry
/// (an enumeration such as `(1) ImageNet-V2 (Recht et al., 2019): …` is not one).
static REF_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(?:\[\d{1,3}\]|\d{1,3}\.)\s+(?:\p{Lu}[\p{L}'’-]+,\s*(?:\p{Lu}\.|\p{Lu}[\p{L}'’-]+)|(?:\p{Lu}\.\s?)+\p{Lu}[\p{L}'’-]+|\p{Lu}[\p{L}'’-]+\s+\p{Lu}[\p{L}'’-]+,|\p{Lu}[\p{L}'’-]+\s+et al\.)",
    )
    .unwrap()
});
static YEAR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:19|20)\d{2}[a-z]?\b").unwrap());
/// `Smith, J., & Doe, A. (2020). Title. Journal.`
static APA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\p{Lu}[\p{L}'’-]+,\s(?:\p{Lu}\.\s?)+.*\((?:19|20)\d{2}[a-z]?\)").unwrap()
});

fn is_reference_entry(t: &str) -> bool {
    if util::has_hangul(t) {
        return false;
    }
    (REF_START.is_match(t) && YEAR.is_match(t)) || APA.is_match(t)
}

// ---- names ------------------------------------------------------------------------------------

/// Affiliation marks after a name: symbols, digits, superscript digits.
fn is_mark(c: char) -> bool {
    c.is_ascii_digit()
        || matches!(
            c,
            '♠' | '♡'
                | '♢'
                | '♣'
                | '♤'
                | '♥'
                | '♦'
                | '♧'
                | '†'
                | '‡'
                | '§'
                | '¶'
                | '∗'
                | '*'
                | '#'
                | '+'
                | '⋆'
                | '★'
                | '☆'
                | '⁎'
                | '¹'
                | '²'
                | '³'
                | '⁰'
                | '⁴'..='⁹'
        )
}

#[derive(Default)]
struct NameItem {
    words: Vec<String>,
    marked: bool,
    /// Held something that is neither a word nor a mark (brackets, colons, …).
    odd: bool,
}

/// The line cut into items at commas, `&`, `;`, `and`, and after affiliation marks.
fn name_items(line: &str) -> Vec<NameItem> {
    let mut items: Vec<NameItem> = Vec::new();
    let mut cur = NameItem::default();
    let mut word = String::new();
    fn end_word(word: &mut String, cur: &mut NameItem, items: &mut Vec<NameItem>) {
        if word == "and" {
            word.clear();
            end_item(cur, items);
        } else if !word.is_empty() {
            cur.words.push(std::mem::take(word));
        }
    }
    fn end_item(cur: &mut NameItem, items: &mut Vec<NameItem>) {
        if !cur.words.is_empty() {
            items.push(std::mem::take(cur));
        } else {
            *cur = NameItem::default();
        }
    }
    for c in line.chars() {
        if c.is_alphabetic() || (!word.is_empty() && matches!(c, '.' | '-' | '\'' | '’')) {
            word.push(c);
        } else if c.is_whitespace() {
            end_word(&mut word, &mut cur, &mut items);
        } else if matches!(c, ',' | ';' | '&' | '·' | '|' | '/') {
            end_word(&mut word, &mut cur, &mut items);
            end_item(&mut cur, &mut items);
        } else if is_mark(c) {
            end_word(&mut word, &mut cur, &mut items);
            if cur.words.is_empty() {
                if let Some(last) = items.last_mut() {
                    last.marked = true;
                }
            } else {
                cur.marked = true;
                end_item(&mut cur, &mut items);
            }
        } else {
            end_word(&mut word, &mut cur, &mut items);
            cur.odd = true;
        }
    }
    end_word(&mut word, &mut cur, &mut items);
    end_item(&mut cur, &mut items);
    items
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameWord {
    Capitalized,
    Initial,
    Particle,
    Hangul,
    Other,
}

fn name_word(w: &str) -> NameWord {
    const PARTICLES: [&str; 20] = [
        "de", "van", "von", "der", "den", "da", "das", "dos", "del", "della", "di", "du", "la",
        "le", "bin", "al", "el", "y", "ter", "zu",
    ];
    let letters: Vec<char> = w.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return NameWord::Other;
    }
    // `A.`, `J.-Y.`, `M`
    if w.split(['.', '-'])
        .filter(|p| !p.is_empty())
        .all(|p| p.chars().count() == 1 && p.chars().all(char::is_uppercase))
    {
        return NameWord::Initial;
    }
    if PARTICLES.contains(&w) {
        return NameWord::Particle;
    }
    if letters.iter().all(|&c| util::is_hangul(c)) {
        return if (2..=4).contains(&letters.len()) && letters.len() == w.chars().count() {
            NameWord::Hangul
        } else {
            NameWord::Other
        };
    }
    let first = w.chars().next().unwrap();
    let body_ok = w
        .chars()
        .all(|c| c.is_alphabetic() && !util::is_hangul(c) || matches!(c, '-' | '\'' | '’'));
    let has_lower = letters.iter().any(|c| c.is_lowercase());
    if first.is_uppercase() && has_lower && body_ok && !w.ends_with('.') && letters.len() >= 2 {
        NameWord::Capitalized
    } else {
        NameWord::Other
    }
}

/// A person's name: 2–5 Latin words, all capitalized words, initials or particles (with at
/// least one full capitalized word) and no organisation word, or one Hangul word of 2–4
/// syllables.
fn is_name(item: &NameItem) -> bool {
    let org = |w: &String| STRONG_ORG.contains(&w.as_str()) || WEAK_ORG.contains(&w.as_str());
    if item.odd || item.words.iter().any(org) {
        return false;
    }
    let kinds: Vec<NameWord> = item.words.iter().map(|w| name_word(w)).collect();
    if kinds == [NameWord::Hangul] {
        return true;
    }
    let caps = kinds
        .iter()
        .filter(|k| **k == NameWord::Capitalized)
        .count();
    let initials = kinds.iter().filter(|k| **k == NameWord::Initial).count();
    (2..=5).contains(&kinds.len())
        && caps >= 1
        && caps + initials >= 2
        && kinds.iter().all(|k| {
            matches!(
                k,
                NameWord::Capitalized | NameWord::Initial | NameWord::Particle
            )
        })
}

/// Is the line a list of people? Sure with affiliation marks, maybe without.
fn names(t: &str) -> Certainty {
    let items = name_items(t);
    let n = items.len();
    if n < 2 {
        return Certainty::No;
    }
    let valid = items.iter().filter(|i| is_name(i)).count();
    // A long author list may hold one name this test misreads (`Zhyun Dai* 1, …`).
    if valid < n && !(n >= 6 && valid + 1 >= n) {
        return Certainty::No;
    }
    let marked = items.iter().filter(|i| i.marked && is_name(i)).count();
    if marked >= 2 || (marked >= 1 && n >= 3) {
        Certainty::Sure
    } else {
        Certainty::Maybe
    }
}

// ---- affiliations -------------------------------------------------------------------------------

const FUNCTION_WORDS: [&str; 20] = [
    "of", "and", "the", "for", "at", "in", "on", "de", "du", "des", "la", "le", "der", "für", "di",
    "et", "y", "to", "an", "a",
];

/// Organisation words that alone make a capitalized line an affiliation.
const STRONG_ORG: [&str; 15] = [
    "University",
    "Universität",
    "Université",
    "Universidad",
    "Universidade",
    "Università",
    "Universiteit",
    "Institute",
    "Institut",
    "Instituto",
    "Istituto",
    "Polytechnic",
    "Politecnico",
    "Polytechnique",
    "KAIST",
];
/// Korean organisation suffixes that alone make an affiliation (`성균관대학교`, `…연구소`).
const KOREAN_ORG: [&str; 3] = ["대학교", "대학원", "연구소"];
/// Korean words that name a unit of an organisation (`컴퓨터공학부`, `AI연구센터`): counted
/// as capitalized words in an affiliation line.
const KOREAN_UNIT: [&str; 9] = [
    "대학교",
    "대학원",
    "연구소",
    "연구원",
    "연구실",
    "센터",
    "학부",
    "학과",
    "대학",
];
/// Organisation words that are also ordinary heading words: sure only in numbers or context.
const WEAK_ORG: [&str; 22] = [
    "Lab",
    "Labs",
    "Laboratory",
    "Laboratories",
    "Research",
    "Academy",
    "School",
    "College",
    "Department",
    "Dept",
    "Faculty",
    "Center",
    "Centre",
    "Inc",
    "Ltd",
    "LLC",
    "Corp",
    "Corporation",
    "Company",
    "Group",
    "Team",
    "Foundation",
];

/// Words of a line for the shape tests: split at anything but letters, digits, `'`, `-`,
/// with leading index digits dropped (`1University` → `University`).
fn words(t: &str) -> Vec<&str> {
    t.split(|c: char| !(c.is_alphanumeric() || matches!(c, '\'' | '’' | '-')))
        .map(|w| w.trim_start_matches(|c: char| c.is_ascii_digit()))
        .filter(|w| w.chars().any(char::is_alphabetic))
        .collect()
}

/// Share of a line's words (function words aside) that start with a capital letter or name a
/// Korean organisation unit.
fn capitalized_share(t: &str) -> f64 {
    let (mut caps, mut all) = (0usize, 0usize);
    for w in words(t) {
        if FUNCTION_WORDS.contains(&w.to_lowercase().as_str()) {
            continue;
        }
        all += 1;
        if w.chars().next().is_some_and(char::is_uppercase)
            || KOREAN_UNIT.iter().any(|k| w.ends_with(k))
        {
            caps += 1;
        }
    }
    if all == 0 {
        0.0
    } else {
        caps as f64 / all as f64
    }
}

/// `1 NVIDIA 2 Google Brain`, `♠ CAS Key Laboratory … ♡ University of …`: index marks each
/// followed by a capitalized name.
static INDEXED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s,])(?:\d{1,2}|[♠♡♢♣♤♥♦♧†‡§¶∗*⋆★☆¹²³⁴-⁹]+)\s*\p{Lu}").unwrap()
});

fn affiliation(t: &str) -> Certainty {
    if t.chars().count() > 400 || capitalized_share(t) < 0.7 {
        return Certainty::No;
    }
    let ws = words(t);
    let strong = ws
        .iter()
        .any(|w| STRONG_ORG.contains(w) || KOREAN_ORG.iter().any(|k| w.ends_with(k)));
    let weak = ws.iter().filter(|w| WEAK_ORG.contains(w)).count();
    let indexed = INDEXED.find_iter(t).count();
    let starts_with_mark = t.chars().next().is_some_and(is_mark);
    if strong || weak >= 2 || (weak >= 1 && starts_with_mark) {
        Certainty::Sure
    } else if weak == 1 || indexed >= 2 {
        Certainty::Maybe
    } else {
        Certainty::No
    }
}

/// A short capitalized line that is not a sentence (`NAVER Cloud`), possible title-page
/// matter at the head of a paper.
fn is_short_title(t: &str) -> bool {
    let n = words(t).len();
    t.chars().count() <= 80
        && (2..=8).contains(&n)
        && !util::has_hangul(t)
        && !t.ends_with(['.', '?', '!', ':', '。'])
        && capitalized_share(t) >= 0.8
}

/// Unsure lines become author lines where the context agrees: next to a sure author line,
/// or in the head of the paper (the lines before its first line of content) when that head
/// holds sure boilerplate or a list of names, or is followed by the abstract.
fn resolve_guesses(lines: &mut [Line], sections: &[Section]) {
    let is_authors = |l: &Line| l.whole() == Some(SectionKind::Authors);
    loop {
        let mut changed = false;
        for i in 0..lines.len() {
            if !lines[i].spans.is_empty()
                || !matches!(lines[i].guess, Guess::Names | Guess::Affiliation)
            {
                continue;
            }
            let prev = i > 0 && is_authors(&lines[i - 1]);
            let next = i + 1 < lines.len() && is_authors(&lines[i + 1]);
            if prev || next {
                lines[i].set_whole(SectionKind::Authors);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let head = lines
        .iter()
        .position(|l| l.spans.is_empty() && l.guess == Guess::None)
        .unwrap_or(lines.len());
    if head == 0 || head > HEAD_LINES {
        return;
    }
    let sure = lines[..head]
        .iter()
        .any(|l| l.whole().is_some() || l.guess == Guess::Names);
    let before_abstract = lines.get(head).is_some_and(|l| {
        let first_of_section = head == 0 || lines[head - 1].section != l.section;
        let heading = sections[l.section].heading.as_deref().unwrap_or("");
        (first_of_section && is_abstract_heading(heading)) || is_abstract_heading(l.text)
    });
    for l in &mut lines[..head] {
        let mark = match l.guess {
            Guess::Names | Guess::Affiliation => true,
            Guess::Short => sure || before_abstract,
            Guess::None => false,
        };
        if mark && l.spans.is_empty() {
            l.set_whole(SectionKind::Authors);
        }
    }
}

static ABSTRACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:\d+\.?\s*)?(?:abstract|summary|tl;?dr|초록|요약|논문 초록)\b").unwrap()
});

fn is_abstract_heading(t: &str) -> bool {
    ABSTRACT.is_match(t)
}

// ---- sentences: pointers, greetings, sign-offs -------------------------------------------------

/// `논문 참조`, `원문을 참고해 주세요`, `부록 확인`: the paper named, then a verb of looking.
static KO_POINTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:논문|원문|부록|본문|페이퍼|paper)\s*(?:을|를|에서|의|에)?\s*(?:참조|참고|확인)")
        .unwrap()
});
/// What may follow the verb in a pointer: nothing, or a request to the reader
/// (`참고해 주세요`, `참조해보시면 좋을 것 같습니다`), never a description (`참고하여 …`).
static KO_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[\s\p{P}~…]*$|\s*(?:하세요|하십시오|해\s?주세요|해\s?주시|하시|해\s?보시|해보세요|바람|바랍니다|부탁|하면\s?됩니다|하길|하기\s?바))")
        .unwrap()
});
static EN_POINTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:see|refer to|check(?: out)?|consult|read)\s+(?:the\s+|our\s+)?(?:original\s+|full\s+)?(?:paper|article|appendix|publication|preprint)\b|\bdetails?\s+(?:are|is|can be found)\s+in\s+(?:the\s+)?(?:paper|appendix)\b")
        .unwrap()
});
/// An English pointer addresses the reader: it starts with the request or says "for details".
static EN_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\W*(?:please|see|refer|for|check|more|further|details?|read)\b|\bfor (?:more |further |additional |the )?details\b")
        .unwrap()
});

/// A clause that announces the pointer after it (`For more details, …`).
static DETAILS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)detail|information|자세|상세|구체").unwrap());

/// Marks "see the paper" remarks in a line: the parenthesis around one, or else the clause
/// from the `※` or the last comma before it, or else its sentence; never more than
/// `POINTER_MAX` characters.
fn mark_pointers(line: &mut Line) {
    for s in line.free_sentences() {
        let sentence = &line.text[s.clone()];
        let found = KO_POINTER
            .find_iter(sentence)
            .find(|m| {
                let rest = &sentence[m.end()..];
                !rest.starts_with("문헌") && KO_REQUEST.is_match(rest)
            })
            .or_else(|| {
                EN_POINTER
                    .find(sentence)
                    .filter(|_| EN_REQUEST.is_match(sentence))
            });
        let Some(m) = found else { continue };
        let (at, end) = (s.start + m.start(), s.start + m.end());
        let span = enclosing_parens(line.text, at, end).or_else(|| {
            let before = &line.text[s.start..at];
            // From a `※` note mark; else from the last comma when a clause of content comes
            // before it (`…보이고 있으며, 자세한 내용은 논문을 참고해 주세요`); else the whole
            // sentence (`For more details, see the paper.`).
            let start = match (before.rfind('※'), before.rfind(", ")) {
                (Some(p), _) => s.start + p,
                (None, Some(p))
                    if before[..p].chars().count() >= CLAUSE_MIN
                        && !DETAILS.is_match(&before[..p]) =>
                {
                    s.start + p + 2
                }
                _ => s.start,
            };
            (line.text[start..s.end].chars().count() <= POINTER_MAX).then_some(start..s.end)
        });
        if let Some(r) = span {
            line.add(r, SectionKind::Pointer);
        }
    }
}

/// The parenthesis `( … )` of `text` around `at..end`, if the match sits in one.
fn enclosing_parens(text: &str, at: usize, end: usize) -> Option<Range<usize>> {
    let open = text[..at].rfind(['(', '（'])?;
    if text[open..at].contains([')', '）']) {
        return None;
    }
    let close = end + text[end..].find([')', '）'])?;
    let close_len = text[close..].chars().next().map_or(1, char::len_utf8);
    Some(open..close + close_len)
}

static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\W*(?:안녕하세요|안녕하십니까|반갑습니다|(?:hello|hi|hey|greetings|good (?:morning|afternoon|evening))(?:\s+(?:everyone|everybody|all|folks|there|friends|readers|guys))?\s*[,!.~]|dear\s+(?:readers|all|colleagues|friends)\b)")
        .unwrap()
});
/// A self-introduction or announcement right after a greeting: `…팀 …입니다`,
/// `오늘 소개해드릴 논문은 …입니다`, `…전달드리겠습니다`, `I'm …`, `In this post, I'll …`.
static KO_INTRO_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:입니다|이에요|예요|드립니다|드리겠습니다|드리려고\s?합니다|하겠습니다|보겠습니다|할게요|드릴게요)[\s\p{P}~…]*$")
        .unwrap()
});
static KO_INTRO_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"저는|제가|저희|팀|연구생|인턴|학생|소개|전달|리뷰|정리|세미나|발표|포스팅|포스트")
        .unwrap()
});
static EN_INTRO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\W*(?:i am|i'm|my name is|this is \p{Lu}|we are|in this (?:post|article|blog post|review)|today,? (?:i|we)\b)")
        .unwrap()
});

fn is_introduction(s: &str) -> bool {
    s.chars().count() <= 160
        && ((KO_INTRO_END.is_match(s) && KO_INTRO_WORD.is_match(s)) || EN_INTRO.is_match(s))
}

/// A greeting opening the paper's text, and the introduction sentences right after it.
fn mark_greeting(lines: &mut [Line]) {
    let Some(first) = lines
        .iter()
        .take(HEAD_LINES)
        .position(|l| l.whole().is_none())
    else {
        return;
    };
    let mut greeted = false;
    let mut marked = 0;
    for line in lines[first..].iter_mut().take(3) {
        if line.whole().is_some() {
            continue;
        }
        for s in line.free_sentences() {
            let sentence = &line.text[s.clone()];
            let take = if greeted {
                marked < 4 && is_introduction(sentence)
            } else {
                GREETING.is_match(sentence)
            };
            if !take {
                return;
            }
            greeted = true;
            marked += 1;
            line.add(s, SectionKind::Greeting);
        }
    }
}

static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:읽어|봐|들어)\s?주셔서\s?(?:감사|고맙)|다음\s?(?:에|번에|시간에|글에서|포스팅에서|포스트에서)\s?(?:또\s?)?(?:뵙|만나|봬|찾아)|댓글.{0,20}(?:남겨|달아|부탁)|thanks? (?:you )?for (?:reading|your attention)|^\W*(?:see you|until next time|happy reading|cheers)\b|feel free to (?:comment|leave a comment|reach out|contact)")
        .unwrap()
});
static SHORT_THANKS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)감사합니다|감사드립니다|고맙습니다|^\W*(?:thanks|thank you)\b").unwrap()
});

fn is_sign_off(s: &str) -> bool {
    SIGN_OFF.is_match(s) || (s.chars().count() <= 60 && SHORT_THANKS.is_match(s))
}

/// Sign-off sentences closing the paper's text (skipping remarks already marked).
fn mark_sign_off(lines: &mut [Line]) {
    let mut marked = 0;
    for line in lines.iter_mut().rev().take(3) {
        if line.whole().is_some() {
            continue;
        }
        for s in line.free_sentences().into_iter().rev() {
            if marked == 3 || !is_sign_off(&line.text[s.clone()]) {
                return;
            }
            marked += 1;
            line.add(s, SectionKind::Greeting);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SectionKind::*;

    #[test]
    fn author_and_affiliation_lines() {
        for line in [
            "Jane Doe¹, Minho Park², Wei Zhang¹*",
            "Alice Martin♠, Bob K. Lee♡†, Carol de la Cruz♠",
            "Maria García 1, Kenji Sato 2, Olu Ade 1,3 and Tom Jones 2",
            "Ana Souza∗& Ravi Kumar∗& Li Wei",
            "김철수¹, 이영희², 박민수¹",
            "1 Department of Physics, University of Somewhere 2 Example AI Lab",
            "♠ Seoul National University ♡ Acme Research",
            "‡ Example Research",
            "Speech Lab, Example Group",
            "서울대학교 컴퓨터공학부, 한국과학기술원 전산학부",
            "Contact: jane.doe@lab.example.org",
            "{alice, bob}@cs.example.edu",
            "* Equal contribution. † Corresponding author.",
            "∗ 교신저자",
            "1 Example University. Correspondence to: Jane Doe.",
        ] {
            assert_eq!(line_kind(line), Some(Authors), "{line}");
        }
    }

    #[test]
    fn sentences_about_people_and_places_are_content() {
        for line in [
            "Hinton and LeCun showed that deep belief networks can be trained greedily.",
            "As shown by Tom Brown, Ben Mann and Nick Ryder, GPT-3 learns in context.",
            "저자들은 Meta AI Research 와 University of Washington 에서 이 방법을 제안했다.",
            "Google Research released a new multilingual dataset for question answering.",
            "OPT, GPT, LLaMA, FLAN-T5 모델에서 실험한다.",
            "1. 중요한 정보가 소실되는 기존의 방법에 대한 새로운 접근 방식을 제안함",
            "The @ operator multiplies two matrices.",
            // Unsure alone: only their context can make these boilerplate.
            "Llama, Mistral, Falcon",
            "정확도, 재현율, 정밀도",
            "Jane Doe, John Roe, Ann Lee",
            "Research Questions",
            "NAVER Cloud",
        ] {
            assert_eq!(line_kind(line), None, "{line}");
        }
    }

    #[test]
    fn link_lines() {
        for line in [
            "https://arxiv.org/abs/2401.00001 https://github.com/example/repo",
            "[pdf] [code] [project page]",
            "Code: https://github.com/example/repo",
            "논문 링크: https://arxiv.org/abs/2401.00001",
            "프로젝트 링크(GitHub): Example Toolkit",
            "Paper link - Learning Things From Other Things",
            "관련 자료 링크",
            "- [Paper](https://arxiv.org/abs/2401.00001) [Code](https://github.com/x/y)",
            "2 www.example.info",
        ] {
            assert_eq!(line_kind(line), Some(Links), "{line}");
        }
        for line in [
            "The model is described at https://example.org/model with its training recipe and data.",
            "Entity link: 두 entity 사이의 관계를 예측하는 task",
            "Entity linking: mapping mentions to knowledge-base entries.",
            "[2023 Spring Seminar] 이 논문은 instruction tuning 을 다룬다.",
        ] {
            assert_eq!(line_kind(line), None, "{line}");
        }
    }

    #[test]
    fn reference_entries() {
        for line in [
            r#"[12] A. Author, B. Writer, "A Study of Things," in Proc. ACL, 2021."#,
            "3. Smith, J., & Doe, A. (2020). Learning things. Journal of Stuff, 12, 1–9.",
            "[4] Ashish Vaswani, Noam Shazeer. Attention is all you need. NeurIPS 2017.",
            "Vaswani, A., Shazeer, N. (2017). Attention is all you need.",
        ] {
            assert_eq!(line_kind(line), Some(References), "{line}");
        }
        for line in [
            "(1) ImageNet-V2 (Recht et al., 2019): a reproduction of the validation set.",
            "2. Transformer, an architecture introduced in 2017, replaced recurrence.",
            "저자는 Bugliarello et al. (2021)이 제안한 설정을 따른다.",
        ] {
            assert_eq!(line_kind(line), None, "{line}");
        }
    }

    fn paper(sections: &[(Option<&str>, &str)]) -> Paper {
        let mut p = Paper::new("Example Net", "x.md");
        p.sections = sections
            .iter()
            .map(|(h, t)| Section::new(h.map(str::to_string), *t))
            .collect();
        p
    }

    fn runs(p: &Paper) -> Vec<(SectionKind, &str)> {
        p.sections
            .iter()
            .map(|s| (s.kind, s.text.as_str()))
            .collect()
    }

    /// Marking only cuts: every character of the text is still there, in order.
    fn same_text(before: &Paper, after: &Paper) {
        let squash =
            |p: &Paper| -> String { p.text().chars().filter(|c| !c.is_whitespace()).collect() };
        assert_eq!(squash(before), squash(after));
    }

    #[test]
    fn korean_post_greeting_pointer_and_sign_off() {
        let before = paper(&[(
            None,
            "안녕하세요, 데이터마이닝 연구실 홍길동입니다.\n오늘 소개해 드릴 논문은 Example Net 입니다.\n이 논문은 그래프에서 노드 분류를 위한 새로운 방법을 제안합니다.\n실험에서 기존 방법보다 정확도가 높으며, 자세한 실험 설정은 논문을 참고해 주세요. 읽어주셔서 감사합니다.",
        )]);
        let mut p = before.clone();
        mark(&mut p);
        same_text(&before, &p);
        assert_eq!(
            runs(&p),
            [
                (
                    Greeting,
                    "안녕하세요, 데이터마이닝 연구실 홍길동입니다.\n오늘 소개해 드릴 논문은 Example Net 입니다."
                ),
                (
                    Content,
                    "이 논문은 그래프에서 노드 분류를 위한 새로운 방법을 제안합니다.\n실험에서 기존 방법보다 정확도가 높으며,"
                ),
                (Pointer, "자세한 실험 설정은 논문을 참고해 주세요."),
                (Greeting, "읽어주셔서 감사합니다."),
            ]
        );
    }

    #[test]
    fn english_post_greeting() {
        let mut p = paper(&[(
            Some("Intro"),
            "Hi everyone! I'm Jane from the NLP reading group.\nThis paper proposes a retrieval method. For more details, please see the paper.\nThanks for reading!",
        )]);
        mark(&mut p);
        assert_eq!(
            runs(&p),
            [
                (
                    Greeting,
                    "Hi everyone! I'm Jane from the NLP reading group."
                ),
                (Content, "This paper proposes a retrieval method."),
                (Pointer, "For more details, please see the paper."),
                (Greeting, "Thanks for reading!"),
            ]
        );
        assert_eq!(p.sections[0].heading.as_deref(), Some("Intro"));
        assert!(p.sections[1..].iter().all(|s| s.heading.is_none()));
    }

    #[test]
    fn greeting_words_inside_content_stay() {
        for text in [
            "이 챗봇은 사용자가 '안녕하세요'라고 말하면 대화를 시작한다.\n감사 인사에도 답한다.",
            "The model greets users.\nHello, the agent says, before it asks for the task.\nIt then plans.",
            "We thank the reviewers for their comments on the method. The method is simple.",
        ] {
            let mut p = paper(&[(None, text)]);
            mark(&mut p);
            assert_eq!(runs(&p), [(Content, text)], "{text}");
        }
    }

    #[test]
    fn pointers_in_parentheses_clauses_and_sentences() {
        let mut p = paper(&[(
            None,
            "Metric: ROUGE-L, LLM-as-a-judge (※ 자세한 내용은 논문 참조)\n저자들은 GPT-4 논문을 참고하여 평가 지표를 설계했다.\n추가로 tree decoding 도 가능하다. (논문참조)\nWe refer to the paper's method as P.\n각 dataset 에 대한 설명은 논문 참조.",
        )]);
        mark(&mut p);
        assert_eq!(
            runs(&p),
            [
                (Content, "Metric: ROUGE-L, LLM-as-a-judge"),
                (Pointer, "(※ 자세한 내용은 논문 참조)"),
                (
                    Content,
                    "저자들은 GPT-4 논문을 참고하여 평가 지표를 설계했다.\n추가로 tree decoding 도 가능하다."
                ),
                (Pointer, "(논문참조)"),
                (Content, "We refer to the paper's method as P."),
                (Pointer, "각 dataset 에 대한 설명은 논문 참조."),
            ]
        );
    }

    #[test]
    fn unsure_lines_follow_their_context() {
        // At the head, before the abstract: a list of names and a company line are authors.
        let mut p = paper(&[
            (None, "Jane Doe, John Roe, Ann Lee\nAcme Robotics"),
            (Some("Abstract"), "We study robots. Jane Doe, John Roe"),
        ]);
        mark(&mut p);
        assert_eq!(p.sections[0].kind, Authors);
        assert_eq!(
            p.sections[0].text,
            "Jane Doe, John Roe, Ann Lee\nAcme Robotics"
        );
        assert_eq!(p.sections[1].kind, Content);
        // Next to a sure author line, a plain list of names and a "Lab" line are authors too.
        let mut p = paper(&[(
            None,
            "We compare with prior work.\nMinho Park, Wei Zhang\nJane Doe¹, John Roe²\nVision Lab\nThe method works.",
        )]);
        mark(&mut p);
        assert_eq!(
            runs(&p),
            [
                (Content, "We compare with prior work."),
                (
                    Authors,
                    "Minho Park, Wei Zhang\nJane Doe¹, John Roe²\nVision Lab"
                ),
                (Content, "The method works."),
            ]
        );
        // In the middle of content, with nothing sure around, they stay content.
        let text = "The results hold.\nLlama, Mistral, Falcon\nResearch Questions\nWe ask three questions.";
        let mut p = paper(&[(None, text)]);
        mark(&mut p);
        assert_eq!(runs(&p), [(Content, text)]);
    }

    #[test]
    fn references_section_and_marked_sections_are_kept() {
        let mut p = paper(&[
            (Some("Method"), "We train a model."),
            (Some("References"), "Some entry without shape\nAnother one"),
        ]);
        p.sections.push(Section {
            heading: None,
            text: "Jane Doe, John Roe".into(),
            kind: Greeting,
        });
        mark(&mut p);
        let kinds: Vec<SectionKind> = p.sections.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [Content, References, Greeting]);
        assert_eq!(p.sections[1].heading.as_deref(), Some("References"));
    }

    #[test]
    fn seed_files_keep_every_character() {
        for entry in std::fs::read_dir(crate::corpus::seed_dir()).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut warnings = Vec::new();
            for before in crate::corpus::parse_text(&text, "seed", &path, &mut warnings) {
                let mut after = before.clone();
                mark(&mut after);
                same_text(&before, &after);
            }
        }
    }
}
