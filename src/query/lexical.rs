//! Lexical overlap between papers: tf-idf over the words two summaries share.
//!
//! Why a second signal beside the embeddings: the summaries are Korean prose with the
//! paper's technical terms left in English ("retrieval", "hallucination", "LoRA"). The
//! embedding of a passage mixes the topic with the form (language, layout, blog style), so
//! two posts written alike look alike; the English terms carry the topic alone. Measured on
//! the judged set (`recommend eval --sweep`), tf-idf over those terms ranks related papers
//! better than CSLS on paper vectors by itself, and the two fused beat either.
//!
//! What is counted: English words (ASCII letters, digits and hyphens, starting with a
//! letter, two characters or more, lower-cased after NFKC) and Korean character bigrams
//! (within runs of Hangul syllables), the usual unit for Korean without a morphological
//! analyser. Korean bigrams are mostly endings and function words in this prose ("습니",
//! "니다"), so they carry a weight of their own (`LexicalWeights::korean`). Terms found in
//! more than half of the papers say nothing about any one of them and are left out.
//!
//! The statistics (vocabulary, document frequencies, per-paper term counts) are computed
//! when the index is written and stored as the generation's `lexical.bin`; the weighting is
//! applied when a query runs, so eval can compare weightings without re-indexing.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

/// How term counts become weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LexicalWeights {
    /// Weight of a Korean bigram relative to an English word (0 = English words only).
    pub korean: f32,
    /// Terms in more than this fraction of the papers are ignored.
    pub max_df: f32,
}

impl Default for LexicalWeights {
    fn default() -> Self {
        Self {
            korean: 0.0,
            max_df: 0.5,
        }
    }
}

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// The terms of `text`, in order, with repeats.
pub fn terms(text: &str) -> Vec<String> {
    let text: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_lowercase() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '-') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let word = word.trim_end_matches('-');
            if word.chars().count() >= 2 {
                out.push(word.to_string());
            }
        } else if is_hangul(c) {
            let start = i;
            while i < chars.len() && is_hangul(chars[i]) {
                i += 1;
            }
            for w in chars[start..i].windows(2) {
                out.push(w.iter().collect());
            }
        } else if c.is_alphanumeric() {
            // Digits or other scripts outside a word: skip the whole run.
            while i < chars.len() && chars[i].is_alphanumeric() && !chars[i].is_ascii_lowercase() {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Per-paper term counts and the collection's document frequencies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LexicalStats {
    /// Sorted vocabulary.
    vocab: Vec<String>,
    /// Papers containing each term.
    df: Vec<u32>,
    /// Paper `p`'s (term, count) pairs are `postings[offsets[p]..offsets[p + 1]]`, sorted
    /// by term.
    offsets: Vec<u64>,
    postings: Vec<(u32, u32)>,
    /// Every term's idf under the default weights, made on first use: `similar` weighs
    /// the terms of up to 200 candidate papers per query, and an idf worked out per posting
    /// (a logarithm and a look at the term's script) was 15 % of a query's time.
    default_idf: std::sync::OnceLock<Vec<f32>>,
    /// Each paper's vector under the default weights, made on first use: a server (and
    /// eval) weighs the same candidates' terms for every query, and rebuilding them was a
    /// fifth of an uncached `similar` call.
    default_papers: std::sync::OnceLock<Vec<std::sync::OnceLock<Sparse>>>,
}

/// A sparse, unit-length tf-idf vector: (term, weight) sorted by term.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparse(Vec<(u32, f32)>);

impl Sparse {
    /// Cosine of two unit vectors.
    pub fn dot(&self, other: &Sparse) -> f32 {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j, mut s) = (0, 0, 0f32);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s += a[i].1 * b[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }

    /// Cosine with a vector given densely (`dense[term]`, see `to_dense`): one lookup per
    /// term of `self` instead of a merge of two term lists. The same terms are summed in
    /// the same order, so it equals `dot` exactly.
    pub fn dot_dense(&self, dense: &[f32]) -> f32 {
        self.0
            .iter()
            .map(|&(t, w)| w * dense.get(t as usize).copied().unwrap_or(0.0))
            .sum()
    }

    /// This vector over a vocabulary of `terms` terms, densely.
    pub fn to_dense(&self, terms: usize) -> Vec<f32> {
        let mut dense = vec![0f32; terms];
        for &(t, w) in &self.0 {
            if let Some(x) = dense.get_mut(t as usize) {
                *x = w;
            }
        }
        dense
    }

    /// The normalized sum of several vectors (a reading list's terms taken together).
    pub fn sum<'a>(parts: impl Iterator<Item = &'a Sparse>) -> Sparse {
        let mut all: Vec<(u32, f32)> = parts.flat_map(|p| p.0.iter().copied()).collect();
        all.sort_by_key(|x| x.0);
        let mut out: Vec<(u32, f32)> = Vec::with_capacity(all.len());
        for (t, w) in all {
            match out.last_mut() {
                Some(last) if last.0 == t => last.1 += w,
                _ => out.push((t, w)),
            }
        }
        normalized(out)
    }
}

fn normalized(mut v: Vec<(u32, f32)>) -> Sparse {
    let norm = v.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| x.1 /= norm);
    }
    Sparse(v)
}

/// The stored file could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("lexical.bin: {0}")]
pub struct LexicalFormatError(String);

const MAGIC: &[u8; 8] = b"RLEXv001";

impl LexicalStats {
    /// Statistics of papers `0..n`, each given as the texts it is made of.
    pub fn build<'a>(papers: impl Iterator<Item = Vec<&'a str>>) -> Self {
        let per_paper: Vec<Vec<(String, u32)>> = papers
            .map(|texts| {
                let mut ts: Vec<String> = texts.iter().flat_map(|t| terms(t)).collect();
                ts.sort_unstable();
                let mut counted: Vec<(String, u32)> = Vec::new();
                for t in ts {
                    match counted.last_mut() {
                        Some(last) if last.0 == t => last.1 += 1,
                        _ => counted.push((t, 1)),
                    }
                }
                counted
            })
            .collect();
        let mut vocab: Vec<String> = per_paper
            .iter()
            .flat_map(|p| p.iter().map(|t| t.0.clone()))
            .collect();
        vocab.sort_unstable();
        vocab.dedup();
        let mut df = vec![0u32; vocab.len()];
        let mut offsets = vec![0u64];
        let mut postings = Vec::new();
        for p in per_paper {
            for (t, c) in p {
                let id = vocab.binary_search(&t).expect("term is in the vocabulary");
                df[id] += 1;
                postings.push((id as u32, c));
            }
            offsets.push(postings.len() as u64);
        }
        LexicalStats {
            vocab,
            df,
            offsets,
            postings,
            default_idf: Default::default(),
            default_papers: Default::default(),
        }
    }

    /// Statistics of `papers` from their titles and their passages' text (what is
    /// embedded, so boilerplate kept out of the passages is kept out here too); passages
    /// are `(paper id, text)`.
    pub fn of_papers<'a>(
        papers: &'a [crate::corpus::Paper],
        passages: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let pos: std::collections::HashMap<&str, usize> = papers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let mut texts: Vec<Vec<&str>> = papers.iter().map(|p| vec![p.title.as_str()]).collect();
        for (paper, text) in passages {
            if let Some(&i) = pos.get(paper) {
                texts[i].push(text);
            }
        }
        Self::build(texts.into_iter())
    }

    /// Size of the vocabulary.
    pub fn terms(&self) -> usize {
        self.vocab.len()
    }

    pub fn papers(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    fn idf(&self, term: usize, w: &LexicalWeights) -> f32 {
        if *w == LexicalWeights::default() {
            let table = self.default_idf.get_or_init(|| {
                (0..self.vocab.len())
                    .map(|t| self.idf_uncached(t, w))
                    .collect()
            });
            return table[term];
        }
        self.idf_uncached(term, w)
    }

    fn idf_uncached(&self, term: usize, w: &LexicalWeights) -> f32 {
        let n = self.papers() as f32;
        let df = self.df[term] as f32;
        if df > w.max_df * n {
            return 0.0;
        }
        let lang = if self.vocab[term].chars().next().is_some_and(is_hangul) {
            w.korean
        } else {
            1.0
        };
        lang * (((n + 1.0) / (df + 1.0)).ln() + 1.0)
    }

    /// Paper `p`'s unit tf-idf vector (kept for the next call under the default weights).
    pub fn paper(&self, p: usize, w: &LexicalWeights) -> Cow<'_, Sparse> {
        if *w == LexicalWeights::default() {
            let cells = self
                .default_papers
                .get_or_init(|| (0..self.papers()).map(|_| Default::default()).collect());
            return Cow::Borrowed(cells[p].get_or_init(|| self.paper_uncached(p, w)));
        }
        Cow::Owned(self.paper_uncached(p, w))
    }

    fn paper_uncached(&self, p: usize, w: &LexicalWeights) -> Sparse {
        let range = self.offsets[p] as usize..self.offsets[p + 1] as usize;
        normalized(
            self.postings[range]
                .iter()
                .map(|&(t, c)| (t, c as f32 * self.idf(t as usize, w)))
                .filter(|x| x.1 > 0.0)
                .collect(),
        )
    }

    /// A free text's unit tf-idf vector over this collection's vocabulary.
    pub fn text(&self, text: &str, w: &LexicalWeights) -> Sparse {
        let mut ids: Vec<u32> = terms(text)
            .iter()
            .filter_map(|t| self.vocab.binary_search(t).ok().map(|i| i as u32))
            .collect();
        ids.sort_unstable();
        let mut out: Vec<(u32, f32)> = Vec::new();
        for t in ids {
            match out.last_mut() {
                Some(last) if last.0 == t => last.1 += 1.0,
                _ => out.push((t, 1.0)),
            }
        }
        out.iter_mut()
            .for_each(|x| x.1 *= self.idf(x.0 as usize, w));
        out.retain(|x| x.1 > 0.0);
        normalized(out)
    }

    /// The stored form (little-endian): magic, counts, vocabulary (length-prefixed UTF-8),
    /// document frequencies, offsets, postings.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&(self.vocab.len() as u64).to_le_bytes());
        b.extend_from_slice(&(self.papers() as u64).to_le_bytes());
        b.extend_from_slice(&(self.postings.len() as u64).to_le_bytes());
        for t in &self.vocab {
            b.extend_from_slice(&(t.len() as u32).to_le_bytes());
            b.extend_from_slice(t.as_bytes());
        }
        for d in &self.df {
            b.extend_from_slice(&d.to_le_bytes());
        }
        for o in &self.offsets {
            b.extend_from_slice(&o.to_le_bytes());
        }
        for (t, c) in &self.postings {
            b.extend_from_slice(&t.to_le_bytes());
            b.extend_from_slice(&c.to_le_bytes());
        }
        b
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LexicalFormatError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(LexicalFormatError("not a lexical statistics file".into()));
        }
        let (terms, papers, nnz) = (r.u64()? as usize, r.u64()? as usize, r.u64()? as usize);
        // Every count is bounded by the bytes it needs, so a damaged header cannot make
        // us allocate more than the file holds.
        if terms > bytes.len() || papers > bytes.len() || nnz > bytes.len() {
            return Err(LexicalFormatError("counts larger than the file".into()));
        }
        let mut vocab = Vec::with_capacity(terms);
        for _ in 0..terms {
            let len = r.u32()? as usize;
            let s = std::str::from_utf8(r.take(len)?)
                .map_err(|_| LexicalFormatError("a term is not UTF-8".into()))?;
            vocab.push(s.to_string());
        }
        let df = (0..terms).map(|_| r.u32()).collect::<Result<_, _>>()?;
        let offsets: Vec<u64> = (0..=papers).map(|_| r.u64()).collect::<Result<_, _>>()?;
        let postings: Vec<(u32, u32)> = (0..nnz)
            .map(|_| Ok((r.u32()?, r.u32()?)))
            .collect::<Result<_, _>>()?;
        if r.at != bytes.len()
            || offsets.last().copied() != Some(nnz as u64)
            || offsets.windows(2).any(|w| w[0] > w[1])
            || postings.iter().any(|p| p.0 as usize >= terms)
        {
            return Err(LexicalFormatError("inconsistent contents".into()));
        }
        Ok(LexicalStats {
            vocab,
            df,
            offsets,
            postings,
            default_idf: Default::default(),
            default_papers: Default::default(),
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LexicalFormatError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| LexicalFormatError("truncated".into()))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, LexicalFormatError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, LexicalFormatError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_english_words_and_korean_bigrams() {
        assert_eq!(
            terms("Self-RAG 는 retrieval 을 on-demand 로 GPT-4 와 LoRA 2개"),
            vec!["self-rag", "retrieval", "on-demand", "gpt-4", "lora"]
        );
        assert_eq!(terms("환각을 줄인다"), vec!["환각", "각을", "줄인", "인다"]);
        // NFKC: full-width letters are plain words.
        assert_eq!(terms("ＲＡＧ a x9"), vec!["rag", "x9"]);
    }

    fn stats() -> LexicalStats {
        LexicalStats::build(
            [
                vec!["retrieval augmented generation reduces hallucination"],
                vec!["retrieval for question answering", "retrieval again"],
                vec!["vision language pretraining with image patches"],
                vec!["language model decoding"],
            ]
            .into_iter(),
        )
    }

    #[test]
    fn shared_rare_terms_make_papers_close() {
        let s = stats();
        let w = LexicalWeights::default();
        let p: Vec<Sparse> = (0..4).map(|i| s.paper(i, &w).into_owned()).collect();
        assert!((p[0].dot(&p[0]) - 1.0).abs() < 1e-5);
        assert!(p[0].dot(&p[1]) > 0.1, "{}", p[0].dot(&p[1]));
        assert_eq!(p[0].dot(&p[2]), 0.0);
        // "language" is in half the papers: still counted at max_df 0.5, not above.
        assert!(p[2].dot(&p[3]) > 0.0);
        let strict = LexicalWeights { max_df: 0.4, ..w };
        assert_eq!(s.paper(2, &strict).dot(&s.paper(3, &strict)), 0.0);
        let q = s.text("hallucination in generation", &w);
        assert!(q.dot(&p[0]) > 0.5 && q.dot(&p[1]) == 0.0);
        for (a, b) in [(0, 1), (0, 2), (2, 3), (1, 1)] {
            let dense = p[a].to_dense(s.terms());
            assert_eq!(p[b].dot_dense(&dense), p[b].dot(&p[a]), "{a} {b}");
        }
        let both = Sparse::sum([&p[0], &p[2]].into_iter());
        assert!(both.dot(&p[0]) > 0.5 && both.dot(&p[2]) > 0.5);
    }

    #[test]
    fn korean_bigrams_count_only_with_a_korean_weight() {
        let s = LexicalStats::build(
            [
                vec!["환각 감소"],
                vec!["환각 평가"],
                vec!["이미지 생성"],
                vec!["음성 인식"],
            ]
            .into_iter(),
        );
        let off = LexicalWeights::default();
        assert_eq!(s.paper(0, &off).dot(&s.paper(1, &off)), 0.0);
        let on = LexicalWeights { korean: 1.0, ..off };
        assert!(s.paper(0, &on).dot(&s.paper(1, &on)) > 0.3);
    }

    #[test]
    fn stored_form_round_trips_and_damage_is_an_error() {
        let s = stats();
        let bytes = s.to_bytes();
        assert_eq!(LexicalStats::from_bytes(&bytes).unwrap(), s);
        assert!(LexicalStats::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        assert!(LexicalStats::from_bytes(b"garbage!").is_err());
        let mut bad = bytes.clone();
        bad[8] = 0xff; // vocabulary count far beyond the file
        assert!(LexicalStats::from_bytes(&bad).is_err());
    }
}
