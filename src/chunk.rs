//! Stage 2: papers → passages that fit the model.
//!
//! A passage is a window of whole sentences (Korean and English sentence ends alike, by
//! Unicode's sentence rules) of at most `max_tokens` model ids, title and prefix included,
//! and consecutive windows share about `overlap_tokens` of sentences so that an idea cut at
//! a window edge is still whole in one of them. The title leads every passage: a passage
//! about "the method" means little without the name of the paper it belongs to.

use crate::corpus::Paper;
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Window sizes, recorded in the index manifest: changing them rebuilds the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkParams {
    /// Ids per passage, `passage: ` prefix, title and `<s>`/`</s>` included (≤ 512).
    pub max_tokens: usize,
    /// Ids of trailing sentences repeated at the start of the next passage.
    pub overlap_tokens: usize,
}

impl Default for ChunkParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            overlap_tokens: 48,
        }
    }
}

/// One passage of one paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// ID of the paper it belongs to.
    pub paper: String,
    /// Position within the paper, from 0.
    pub ordinal: usize,
    /// The paper's title, embedded in front of the text.
    pub title: String,
    /// The passage itself, as shown to readers.
    pub text: String,
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

pub fn chunk_paper(
    paper: &Paper,
    params: ChunkParams,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let title = match &paper.title_ko {
        Some(ko) if !ko.is_empty() && ko != &paper.title => format!("{} / {}", paper.title, ko),
        _ => paper.title.clone(),
    };
    let head = count(&format!("passage: {title}")) + SPECIALS + 1;
    // A title so long it leaves no room is cut to half the window.
    let (title, head) = if head * 2 > params.max_tokens {
        let cut = cut_to_tokens(&title, params.max_tokens / 2 - SPECIALS - 4, count);
        let h = count(&format!("passage: {cut}")) + SPECIALS + 1;
        (cut, h)
    } else {
        (title, head)
    };
    let budget = params.max_tokens.saturating_sub(head).max(8);

    let mut pieces: Vec<(String, usize)> = Vec::new();
    for section in &paper.sections {
        let mut text = section.text.as_str();
        let heading;
        if let Some(h) = &section.heading {
            heading = format!("{h}. {text}");
            text = &heading;
        }
        for sentence in text.split_sentence_bounds() {
            let s = sentence.trim();
            if s.is_empty() {
                continue;
            }
            let n = count(s);
            if n <= budget {
                pieces.push((s.to_string(), n));
            } else {
                for part in split_long(s, budget, count) {
                    let n = count(&part);
                    pieces.push((part, n));
                }
            }
        }
    }

    let make = |ordinal: usize, text: String| Chunk {
        paper: paper.id.clone(),
        ordinal,
        title: title.clone(),
        text,
    };
    if pieces.is_empty() {
        return vec![make(0, String::new())];
    }
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < pieces.len() {
        // Sentences are joined with a space, which costs at most one id each.
        let mut end = start;
        let mut used = 0;
        while end < pieces.len() && (end == start || used + pieces[end].1 < budget) {
            used += pieces[end].1 + 1;
            end += 1;
        }
        let text = pieces[start..end]
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        chunks.push(make(chunks.len(), text));
        if end == pieces.len() {
            break;
        }
        // Step back over trailing sentences worth at most `overlap_tokens`, but always move
        // forward by at least one sentence.
        let mut back = end;
        let mut overlap = 0;
        while back > start + 1 && overlap + pieces[back - 1].1 <= params.overlap_tokens {
            overlap += pieces[back - 1].1;
            back -= 1;
        }
        start = back;
    }
    chunks
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
            sections: vec![Section {
                heading: None,
                text: text.into(),
            }],
            title_only: false,
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
}
