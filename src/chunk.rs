//! Stage 2: papers → passages that fit the model.
//!
//! A passage is a window of whole sentences (Korean and English sentence ends alike, by
//! Unicode's sentence rules) of at most `max_tokens` model ids, title and prefix included,
//! and consecutive windows share about `overlap_tokens` of sentences so that an idea cut at
//! a window edge is still whole in one of them. The title leads every passage: a passage
//! about "the method" means little without the name of the paper it belongs to.
//!
//! Only content is embedded: boilerplate sections (author lines, greetings, link lists, …;
//! see `corpus::boilerplate`) are skipped, so they never shape a vector nor become the
//! passage shown as the reason of a match.
//!
//! A passage holds one language. Digests give the same abstract in Korean and in English; a
//! window holding both embeds the mixture, and every digest paper then looks like every
//! other by layout. Each paragraph's language is decided by script (the share of words with
//! Hangul, so a Korean sentence full of English terms stays Korean), short runs of the other
//! language (a heading, a metric name) stay with their neighbours, and windows never cross
//! from one language run to the next. The title in front of a Korean passage is the Korean
//! title where the paper has one.

use crate::corpus::{is_hangul, Paper};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Version of the rules that decide what text goes into passages (boilerplate marking,
/// language runs). Stored with the window sizes: an index built under older rules is
/// re-chunked by the next `index` (vectors of unchanged passages are reused).
pub const RULES: u32 = 1;

/// Window sizes, recorded in the index manifest: changing them rebuilds the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkParams {
    /// Ids per passage, `passage: ` prefix, title and `<s>`/`</s>` included (≤ 512).
    pub max_tokens: usize,
    /// Ids of trailing sentences repeated at the start of the next passage.
    pub overlap_tokens: usize,
    /// `RULES` of the build; 0 in manifests written before it was recorded.
    #[serde(default)]
    pub rules: u32,
}

impl Default for ChunkParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            overlap_tokens: 48,
            rules: RULES,
        }
    }
}

/// The language of a passage, by script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Hangul in at least `KOREAN_SHARE` of the words.
    Ko,
    /// Everything else (in these collections: English).
    En,
}

/// Share of words holding Hangul from which a paragraph is Korean: Korean summaries of ML
/// papers keep many English terms (`Language model (LM) 이 coherent 하고 …` is 60 %
/// Hangul words), English text has none.
const KOREAN_SHARE: f64 = 0.2;
/// A paragraph with fewer words than this (a number, a formula) takes its neighbours'
/// language.
const MIN_WORDS: usize = 3;
/// A run of the other language shorter than this many ids stays in its neighbours' windows.
const MIN_RUN_TOKENS: usize = 24;

/// The language of a paragraph, or `None` when it has too few words to tell.
pub fn lang_of(text: &str) -> Option<Lang> {
    let (mut ko, mut other) = (0usize, 0usize);
    for w in text.split_whitespace() {
        if w.chars().any(is_hangul) {
            ko += 1;
        } else if w.chars().any(char::is_alphabetic) {
            other += 1;
        }
    }
    let all = ko + other;
    if all < MIN_WORDS {
        None
    } else if ko as f64 >= KOREAN_SHARE * all as f64 {
        Some(Lang::Ko)
    } else {
        Some(Lang::En)
    }
}

/// One passage of one paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// ID of the paper it belongs to.
    pub paper: String,
    /// Position within the paper, from 0.
    pub ordinal: usize,
    /// The paper's title (in the passage's language where there are two), embedded in
    /// front of the text.
    pub title: String,
    /// The passage itself, as shown to readers.
    pub text: String,
    /// Its language; `None` in indexes written before passages had one.
    #[serde(default)]
    pub lang: Option<Lang>,
}

impl Chunk {
    /// The text handed to the embedder.
    pub fn input(&self) -> String {
        if self.text.is_empty() {
            self.title.clone()
        } else {
            format!("{}\n{}", self.title, self.text)
        }
    }
}

/// Ids the model adds around every text: `<s>`, `</s>`, and the `passage: ` prefix is
/// counted by the caller's counter on the title line.
const SPECIALS: usize = 2;

/// Splits every paper. `count` gives the number of model ids of a text without specials.
pub fn chunk_papers(
    papers: &[Paper],
    params: ChunkParams,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    papers
        .iter()
        .flat_map(|p| chunk_paper(p, params, count))
        .collect()
}

/// A sentence (or part of an over-long one) with its id count and language.
struct Piece {
    text: String,
    tokens: usize,
    lang: Lang,
}

/// The title put in front of a passage and the ids it takes (prefix and specials included);
/// a title so long it leaves no room is cut to half the window.
fn title_for(
    paper: &Paper,
    lang: Lang,
    params: ChunkParams,
    count: &dyn Fn(&str) -> usize,
) -> (String, usize) {
    let title = match (&paper.title_ko, lang) {
        (Some(ko), Lang::Ko) if !ko.is_empty() => ko.clone(),
        _ => paper.title.clone(),
    };
    let head = count(&format!("passage: {title}")) + SPECIALS + 1;
    if head * 2 > params.max_tokens {
        let cut = cut_to_tokens(&title, params.max_tokens / 2 - SPECIALS - 4, count);
        let h = count(&format!("passage: {cut}")) + SPECIALS + 1;
        (cut, h)
    } else {
        (title, head)
    }
}

pub fn chunk_paper(
    paper: &Paper,
    params: ChunkParams,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let titles = [Lang::Ko, Lang::En].map(|l| title_for(paper, l, params, count));
    let title = |lang: Lang| &titles[(lang == Lang::En) as usize];
    let budget = |lang: Lang| params.max_tokens.saturating_sub(title(lang).1).max(8);
    // Sentences are cut to fit the smaller budget, so that they fit either window.
    let pieces = pieces(paper, budget(Lang::Ko).min(budget(Lang::En)), count);
    let make = |ordinal: usize, lang: Lang, text: String| Chunk {
        paper: paper.id.clone(),
        ordinal,
        title: title(lang).0.clone(),
        text,
        lang: Some(lang),
    };
    if pieces.is_empty() {
        let lang = lang_of(&paper.title).unwrap_or(Lang::En);
        return vec![make(0, lang, String::new())];
    }
    let mut chunks = Vec::new();
    for (run, lang) in language_runs(&pieces) {
        for text in windows(&pieces[run], budget(lang), params.overlap_tokens) {
            chunks.push(make(chunks.len(), lang, text));
        }
    }
    chunks
}

/// The paper's content sentences in reading order, each with its paragraph's language. A
/// section's heading leads its first sentence; the heading of a boilerplate run (an
/// `Abstract` heading over an author line) goes to the content that follows it.
fn pieces(paper: &Paper, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<Piece> {
    let mut out: Vec<(String, usize, Option<Lang>)> = Vec::new();
    let mut pending_heading: Option<&str> = None;
    for section in &paper.sections {
        if section.kind.is_boilerplate() {
            pending_heading = section.heading.as_deref().or(pending_heading);
            continue;
        }
        let text = match section.heading.as_deref().or(pending_heading.take()) {
            Some(h) => format!("{h}. {}", section.text),
            None => section.text.clone(),
        };
        for line in text.lines() {
            let lang = lang_of(line);
            for sentence in line.split_sentence_bounds() {
                let s = sentence.trim();
                if s.is_empty() {
                    continue;
                }
                let n = count(s);
                if n <= budget {
                    out.push((s.to_string(), n, lang));
                } else {
                    for part in split_long(s, budget, count) {
                        let n = count(&part);
                        out.push((part, n, lang));
                    }
                }
            }
        }
    }
    // Paragraphs too short to tell take the language before them (after them at the start).
    let first = out
        .iter()
        .find_map(|p| p.2)
        .or_else(|| lang_of(&paper.title))
        .unwrap_or(Lang::En);
    let mut last = first;
    out.into_iter()
        .map(|(text, tokens, lang)| {
            let lang = lang.unwrap_or(last);
            last = lang;
            Piece { text, tokens, lang }
        })
        .collect()
}

/// Ranges of `pieces` that make one language run each, with the run's language. A run
/// shorter than `MIN_RUN_TOKENS` takes the language of the run before it (after it, at the
/// start), so a heading or a metric name in English stays inside its Korean paragraph's
/// window.
fn language_runs(pieces: &[Piece]) -> Vec<(std::ops::Range<usize>, Lang)> {
    let mut runs: Vec<(std::ops::Range<usize>, Lang, usize)> = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        match runs.last_mut() {
            Some((r, lang, tokens)) if *lang == p.lang => {
                r.end = i + 1;
                *tokens += p.tokens;
            }
            _ => runs.push((i..i + 1, p.lang, p.tokens)),
        }
    }
    if runs.len() > 1 {
        for i in 0..runs.len() {
            if runs[i].2 < MIN_RUN_TOKENS {
                runs[i].1 = if i > 0 { runs[i - 1].1 } else { runs[1].1 };
            }
        }
    }
    let mut merged: Vec<(std::ops::Range<usize>, Lang)> = Vec::new();
    for (r, lang, _) in runs {
        match merged.last_mut() {
            Some((m, l)) if *l == lang => m.end = r.end,
            _ => merged.push((r, lang)),
        }
    }
    merged
}

/// Windows of whole sentences of at most `budget` ids, each starting with the trailing
/// sentences (at most `overlap` ids) of the one before.
fn windows(pieces: &[Piece], budget: usize, overlap: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < pieces.len() {
        // Sentences are joined with a space, which costs at most one id each.
        let mut end = start;
        let mut used = 0;
        while end < pieces.len() && (end == start || used + pieces[end].tokens < budget) {
            used += pieces[end].tokens + 1;
            end += 1;
        }
        let text = pieces[start..end]
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(text);
        if end == pieces.len() {
            break;
        }
        // Step back over trailing sentences worth at most `overlap` ids, but always move
        // forward by at least one sentence.
        let mut back = end;
        let mut kept = 0;
        while back > start + 1 && kept + pieces[back - 1].tokens <= overlap {
            kept += pieces[back - 1].tokens;
            back -= 1;
        }
        start = back;
    }
    out
}

/// Cuts an over-long sentence (a table row, a run-on list) at word boundaries into parts of
/// at most `budget` ids. A single word longer than the budget becomes its own part, which
/// the tokenizer's 512 cut then bounds.
fn split_long(s: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    // The XLM-R tokenizer never merges across whitespace, so a part's ids are the sum of its
    // words' ids: one pass, no re-tokenizing of growing prefixes.
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for word in s.split_word_bounds() {
        let n = if word.trim().is_empty() {
            0
        } else {
            count(word)
        };
        if used > 0 && used + n > budget {
            parts.push(current.trim().to_string());
            current.clear();
            used = 0;
        }
        current.push_str(word);
        used += n;
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

fn cut_to_tokens(s: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> String {
    split_long(s, budget, count)
        .into_iter()
        .next()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Section;

    /// One id per whitespace-separated word: enough to test window arithmetic.
    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn paper(text: &str) -> Paper {
        Paper {
            id: "P".into(),
            title: "A title".into(),
            title_ko: None,
            sources: vec![],
            feed: None,
            urls: vec![],
            date: None,
            venue: None,
            tags: vec![],
            sections: vec![Section::new(None, text)],
            title_only: false,
            source_kind: Default::default(),
        }
    }

    #[test]
    fn windows_fit_budget_cut_at_sentences_and_overlap() {
        let text: String = (0..40)
            .map(|i| format!("문장 {i} 은 다섯 단어입니다. Sentence {i} has six words here. "))
            .collect();
        let params = ChunkParams {
            max_tokens: 60,
            overlap_tokens: 10,
            ..Default::default()
        };
        let chunks = chunk_paper(&paper(&text), params, &words);
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(
                words(&format!("passage: {}", c.input())) + SPECIALS <= 60,
                "{c:?}"
            );
            assert!(c.text.ends_with('.'), "cut mid-sentence: {:?}", c.text);
            assert!(c.input().starts_with("A title\n"));
        }
        // Each window starts with the last sentence of the one before.
        for pair in chunks.windows(2) {
            let last = pair[0].text.rsplit(". ").next().unwrap();
            assert!(
                pair[1].text.starts_with(last.trim_end_matches('.')),
                "{pair:?}"
            );
        }
        // Every sentence is somewhere.
        for i in 0..40 {
            let s = format!("Sentence {i} has six words here.");
            assert!(chunks.iter().any(|c| c.text.contains(&s)), "lost {s}");
        }
    }

    #[test]
    fn long_sentence_is_split_and_empty_paper_keeps_title() {
        let long = "word ".repeat(500);
        let chunks = chunk_paper(&paper(&long), ChunkParams::default(), &words);
        assert!(chunks.len() >= 2);
        assert!(chunks.iter().all(|c| words(&c.input()) <= 256));
        let empty = chunk_paper(&paper(""), ChunkParams::default(), &words);
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].input(), "A title");
    }

    #[test]
    fn language_by_share_of_hangul_words() {
        assert_eq!(
            lang_of("Language model (LM) 이 coherent 하고 fluent 한 generation 을 잘 생성한다."),
            Some(Lang::Ko)
        );
        assert_eq!(
            lang_of("(Evaluation) reasoning, knowledge, commonsense, factuality, coding, math 등 많은 benchmark 에서 평가한다."),
            Some(Lang::Ko)
        );
        assert_eq!(
            lang_of("We present a series of long-context LLMs (장문 모델) that support windows of 32k tokens."),
            Some(Lang::En)
        );
        assert_eq!(lang_of("Table 3"), None);
        assert_eq!(lang_of("$lambda$=0.5"), None);
    }

    /// `n` Korean or English sentences of six words each.
    fn ko(n: usize) -> String {
        (0..n)
            .map(|i| format!("한국어 문장 {i} 은 여섯 단어입니다. "))
            .collect()
    }
    fn en(n: usize) -> String {
        en_named("English", n)
    }
    fn en_named(name: &str, n: usize) -> String {
        (0..n)
            .map(|i| format!("{name} sentence {i} has six words. "))
            .collect()
    }

    #[test]
    fn korean_and_english_versions_are_separate_passages() {
        let mut p = paper("");
        p.title = "A title".into();
        p.title_ko = Some("한국어 제목".into());
        p.sections = vec![
            Section::new(Some("논문 소개".into()), format!("{}\n{}", ko(5), en(5))),
            Section::new(
                Some("논문 초록".into()),
                format!("{}\n{}", ko(30), en_named("Abstract", 30)),
            ),
        ];
        let params = ChunkParams {
            max_tokens: 80,
            overlap_tokens: 12,
            ..Default::default()
        };
        let chunks = chunk_paper(&p, params, &words);
        let langs: Vec<Lang> = chunks.iter().map(|c| c.lang.unwrap()).collect();
        // Reading order: Korean intro, English intro, Korean abstract, English abstract.
        let mut runs = langs.clone();
        runs.dedup();
        assert_eq!(
            runs,
            [Lang::Ko, Lang::En, Lang::Ko, Lang::En],
            "{chunks:#?}"
        );
        for c in &chunks {
            let has_ko = c.text.contains("한국어");
            let has_en = c.text.contains("English") || c.text.contains("Abstract sentence");
            assert!(has_ko != has_en, "mixed passage: {c:?}");
            match c.lang.unwrap() {
                Lang::Ko => assert!(has_ko && c.title == "한국어 제목", "{c:?}"),
                Lang::En => assert!(has_en && c.title == "A title", "{c:?}"),
            }
            assert!(words(&format!("passage: {}", c.input())) + SPECIALS <= 80);
        }
        // The overlap never reaches into the other language: the English abstract's first
        // window starts with its own first sentence.
        let first_en_abstract = chunks
            .iter()
            .find(|c| c.text.contains("Abstract sentence 0"))
            .unwrap();
        assert!(
            first_en_abstract.text.starts_with("Abstract sentence 0"),
            "{first_en_abstract:?}"
        );
    }

    #[test]
    fn short_runs_of_the_other_language_stay_in_their_window() {
        let text = format!(
            "{}\nRetrieval performance : Recall@K (R@K)\n{}",
            ko(4),
            ko(4)
        );
        let chunks = chunk_paper(&paper(&text), ChunkParams::default(), &words);
        assert_eq!(chunks.len(), 1, "{chunks:#?}");
        assert_eq!(chunks[0].lang, Some(Lang::Ko));
        assert!(chunks[0].text.contains("Recall@K"));
    }

    #[test]
    fn boilerplate_is_not_embedded_and_hands_on_its_heading() {
        use crate::corpus::SectionKind;
        let mut p = paper("");
        p.sections = vec![
            Section {
                heading: Some("Abstract".into()),
                text: "Jane Doe¹, John Roe²".into(),
                kind: SectionKind::Authors,
            },
            Section::new(None, en(3)),
            Section {
                heading: None,
                text: "For more details, please see the paper.".into(),
                kind: SectionKind::Pointer,
            },
        ];
        let chunks = chunk_paper(&p, ChunkParams::default(), &words);
        assert_eq!(chunks.len(), 1);
        assert!(
            chunks[0].text.starts_with("Abstract. English sentence 0"),
            "{chunks:?}"
        );
        assert!(!chunks[0].text.contains("Jane") && !chunks[0].text.contains("details"));
        // A paper with nothing but boilerplate is its title.
        p.sections.remove(1);
        let chunks = chunk_paper(&p, ChunkParams::default(), &words);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].input(), "A title");
    }
}
