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
//! when the index is written and stored as tables of the generation (`TABLES`), mapped by
//! a query; the weighting is applied when a query runs, so eval can compare weightings
//! without re-indexing.

use crate::index::format::LEXICAL;
use crate::index::mapped::{Array, Records};
use crate::index::{GenerationWriter, Index, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
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
///
/// Stored as four tables of the generation (`TABLES`): the sorted vocabulary (records),
/// each term's document frequency, each paper's first posting, and the (term, count)
/// postings. A query maps them and reads only the postings of the papers it scores and the
/// vocabulary rows its text looks up (by binary search): opening costs the same at 89
/// papers and at a million. Reading and parsing the one-file form of earlier indexes
/// (`lexical.bin`, still read) was half of a `similar` process at 100,000 papers.
pub struct LexicalStats {
    /// The vocabulary, sorted by bytes (so English words come before Hangul bigrams).
    vocab: Records,
    /// Papers containing each term.
    df: Array<u32>,
    /// Paper `p`'s postings are pairs `offsets[p]..offsets[p + 1]`.
    offsets: Array<u64>,
    /// (term, count) pairs, flattened, each paper's sorted by term.
    postings: Array<u32>,
    /// Papers' vectors under the default weights, kept after first use: a server (and
    /// eval) scores the same candidate papers query after query.
    cache: Mutex<HashMap<u32, Arc<Sparse>>>,
}

impl std::fmt::Debug for LexicalStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LexicalStats")
            .field("terms", &self.terms())
            .field("papers", &self.papers())
            .finish()
    }
}

impl PartialEq for LexicalStats {
    fn eq(&self, other: &Self) -> bool {
        self.terms() == other.terms()
            && (0..self.terms()).all(|t| self.vocab.get(t) == other.vocab.get(t))
            && self.df.as_slice() == other.df.as_slice()
            && self.offsets.as_slice() == other.offsets.as_slice()
            && self.postings.as_slice() == other.postings.as_slice()
    }
}

/// A paper's (or a text's) unit tf-idf vector: (term, weight) sorted by term.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparse(Vec<(u32, f32)>);

impl Sparse {
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

    /// `dot` against a vector spread over the whole vocabulary (`to_dense`): one lookup
    /// per term of `self`.
    pub fn dot_dense(&self, dense: &[f32]) -> f32 {
        self.0
            .iter()
            .map(|&(t, w)| w * dense.get(t as usize).copied().unwrap_or(0.0))
            .sum()
    }

    pub fn to_dense(&self, terms: usize) -> Vec<f32> {
        let mut dense = vec![0f32; terms];
        for &(t, w) in &self.0 {
            if let Some(x) = dense.get_mut(t as usize) {
                *x = w;
            }
        }
        dense
    }

    /// The unit sum of several vectors (a pseudo-paper of several seeds).
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

#[derive(Debug, thiserror::Error)]
#[error("{LEXICAL}: {0}")]
pub struct LexicalFormatError(String);

/// The one-file form of indexes written before the tables (read, never written).
const MAGIC: &[u8; 8] = b"RLEXv001";

/// The generation's files of the statistics: vocabulary (records, with its `.idx`),
/// document frequencies, each paper's first posting (papers + 1), postings (pairs).
pub const TABLES: [&str; 4] = [
    "lexical.terms",
    "lexical.df",
    "lexical.papers",
    "lexical.postings",
];
const DF_KIND: &[u8; 8] = b"lex df  ";
const OFFSETS_KIND: &[u8; 8] = b"lex offs";
const POSTINGS_KIND: &[u8; 8] = b"lex post";

impl LexicalStats {
    fn from_parts(
        vocab: Records,
        df: Array<u32>,
        offsets: Array<u64>,
        postings: Array<u32>,
    ) -> Self {
        LexicalStats {
            vocab,
            df,
            offsets,
            postings,
            cache: Default::default(),
        }
    }

    /// Counts the terms of each paper's texts. Terms are numbered as they are first seen
    /// and renumbered in sorted order at the end, so memory holds each distinct term once
    /// and eight bytes per (paper, term), not a string per posting.
    pub fn build<'a>(papers: impl Iterator<Item = Vec<&'a str>>) -> Self {
        let mut seen: HashMap<String, u32> = HashMap::new();
        let mut offsets = vec![0u64];
        let mut postings: Vec<(u32, u32)> = Vec::new();
        let mut ids: Vec<u32> = Vec::new();
        for texts in papers {
            ids.clear();
            for t in texts.iter().flat_map(|t| terms(t)) {
                let next = seen.len() as u32;
                ids.push(*seen.entry(t).or_insert(next));
            }
            ids.sort_unstable();
            let first = postings.len();
            for &t in &ids {
                match postings[first..].last_mut() {
                    Some(last) if last.0 == t => last.1 += 1,
                    _ => postings.push((t, 1)),
                }
            }
            offsets.push(postings.len() as u64);
        }
        let mut vocab: Vec<(String, u32)> = seen.into_iter().collect();
        vocab.sort_unstable();
        let mut renumber = vec![0u32; vocab.len()];
        for (sorted, (_, first)) in vocab.iter().enumerate() {
            renumber[*first as usize] = sorted as u32;
        }
        let mut df = vec![0u32; vocab.len()];
        let mut flat = Vec::with_capacity(postings.len() * 2);
        for w in offsets.windows(2) {
            let paper = &mut postings[w[0] as usize..w[1] as usize];
            paper.iter_mut().for_each(|p| p.0 = renumber[p.0 as usize]);
            paper.sort_unstable_by_key(|p| p.0);
            for &(t, c) in paper.iter() {
                df[t as usize] += 1;
                flat.extend([t, c]);
            }
        }
        Self::from_parts(
            Records::owned(vocab.iter().map(|(t, _)| t.as_bytes())),
            Array::owned(df),
            Array::owned(offsets),
            Array::owned(flat),
        )
    }

    /// The statistics as tables of a generation (`TABLES`).
    pub fn write(&self, gen: &mut GenerationWriter) -> Result<(), StoreError> {
        let [terms, df, papers, postings] = TABLES;
        gen.put_records(terms, (0..self.terms()).map(|t| self.term(t)))?;
        gen.put_array(df, DF_KIND, 1, self.df.as_slice())?;
        gen.put_array(papers, OFFSETS_KIND, 1, self.offsets.as_slice())?;
        gen.put_array(postings, POSTINGS_KIND, 2, self.postings.as_slice())
    }

    /// The statistics of `index`: its tables, mapped and checked against each other (sizes
    /// only: constant work); or the one-file form of an older index, read whole; or, for an
    /// index written before either, counted now from its passages.
    pub fn open(index: &Index) -> Result<Self, StoreError> {
        let n = index.paper_count();
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: index.dir().to_path_buf(),
            reason,
        };
        let [terms, df, papers, postings] = TABLES;
        let stats = if let Some(vocab) = index.feature_records(terms)? {
            let missing = |name: &str| corrupt(format!("{terms} is there but {name} is not"));
            let (_, df) = index
                .feature_array::<u32>(df, DF_KIND, 1)?
                .ok_or_else(|| missing(df))?;
            let (_, offsets) = index
                .feature_array::<u64>(papers, OFFSETS_KIND, 1)?
                .ok_or_else(|| missing(papers))?;
            let (_, postings) = index
                .feature_array::<u32>(postings, POSTINGS_KIND, 2)?
                .ok_or_else(|| missing(postings))?;
            // The idf of every term is worked out at open, and each candidate's postings
            // are found through the offsets; the postings are read a paper at a time
            // (`prefetch`).
            df.will_need(0..df.len());
            offsets.will_need(0..offsets.len());
            let stats = Self::from_parts(vocab, df, offsets, postings);
            let o = stats.offsets.as_slice();
            if stats.df.len() != stats.terms()
                || o.first() != Some(&0)
                || o.last().map(|&l| l * 2) != Some(stats.postings.len() as u64)
            {
                return Err(corrupt(format!("the tables {TABLES:?} do not agree")));
            }
            stats
        } else if let Some(bytes) = index.read_file_unhashed(LEXICAL)? {
            Self::from_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?
        } else {
            let mut texts = Vec::with_capacity(n);
            index.prefetch_all();
            for i in 0..n {
                let mut t = vec![index.paper_meta(i)?.title];
                for row in index.passages_of(i) {
                    t.push(index.passage_text(row)?);
                }
                texts.push(t);
            }
            Self::build(texts.iter().map(|t| t.iter().map(String::as_str).collect()))
        };
        if stats.papers() != n {
            return Err(corrupt(format!(
                "the lexical statistics describe {} papers, not {n}",
                stats.papers()
            )));
        }
        Ok(stats)
    }

    /// Size of the vocabulary.
    pub fn terms(&self) -> usize {
        self.vocab.len()
    }

    pub fn papers(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    fn term(&self, t: usize) -> &[u8] {
        self.vocab.get(t).unwrap_or_default()
    }

    /// The number of `term` in the vocabulary, by binary search.
    fn find(&self, term: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.terms());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.term(mid).cmp(term.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    fn idf(&self, term: usize, w: &LexicalWeights) -> f32 {
        let n = self.papers() as f32;
        let Some(&df) = self.df.as_slice().get(term) else {
            return 0.0;
        };
        let df = df as f32;
        if df > w.max_df * n {
            return 0.0;
        }
        let korean = std::str::from_utf8(self.term(term))
            .ok()
            .and_then(|t| t.chars().next())
            .is_some_and(is_hangul);
        let lang = if korean { w.korean } else { 1.0 };
        if lang == 0.0 {
            return 0.0;
        }
        lang * (((n + 1.0) / (df + 1.0)).ln() + 1.0)
    }

    /// Paper `p`'s unit tf-idf vector (kept for the next call under the default weights).
    pub fn paper(&self, p: usize, w: &LexicalWeights) -> Arc<Sparse> {
        self.paper_vectors(&[p], w).remove(0)
    }

    /// The unit tf-idf vectors of papers `ps`, in order (each kept for the next call
    /// under the default weights). The postings of those not kept yet are read in one
    /// batch: they are scattered rows of a large table (`Array::read_ranges`; read
    /// through the map, a paper's few hundred bytes mapped the whole large page-cache folio
    /// around them, 212 MB of resident memory for the 200 papers of a `similar` at a
    /// million papers).
    pub fn paper_vectors(&self, ps: &[usize], w: &LexicalWeights) -> Vec<Arc<Sparse>> {
        let keep = *w == LexicalWeights::default();
        let lock = || self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Option<Arc<Sparse>>> = match keep {
            true => {
                let cache = lock();
                ps.iter()
                    .map(|&p| cache.get(&(p as u32)).cloned())
                    .collect()
            }
            false => vec![None; ps.len()],
        };
        let missing: Vec<usize> = (0..ps.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return out.into_iter().flatten().collect();
        }
        let spans: Vec<Range<usize>> = missing.iter().map(|&i| self.span(ps[i])).collect();
        let mut pairs = vec![0u32; spans.iter().map(|r| r.len()).sum()];
        // The spans were checked against the table, so the read finds every one.
        let read = self.postings.read_ranges(&spans, &mut pairs);
        let mut at = 0;
        let made: Vec<Arc<Sparse>> = spans
            .iter()
            .map(|span| {
                let own = &pairs[at..at + span.len()];
                at += span.len();
                Arc::new(self.vector(if read { own } else { &[] }, w))
            })
            .collect();
        // Kept only once made (the lock is not held while they are), and only when read.
        if keep && read {
            let mut cache = lock();
            for (&i, v) in missing.iter().zip(&made) {
                cache.insert(ps[i] as u32, v.clone());
            }
        }
        for (i, v) in missing.into_iter().zip(made) {
            out[i] = Some(v);
        }
        out.into_iter().flatten().collect()
    }

    /// Where paper `p`'s (term, count) pairs lie in the postings table. Out-of-order
    /// offsets (a damaged table the size checks let through) read as a paper without
    /// terms; `recommend verify` names the file.
    fn span(&self, p: usize) -> Range<usize> {
        let o = self.offsets.as_slice();
        let pair = |x: u64| usize::try_from(x).ok()?.checked_mul(2);
        match (
            o.get(p).copied().and_then(pair),
            o.get(p + 1).copied().and_then(pair),
        ) {
            (Some(a), Some(b)) if a <= b && b <= self.postings.len() => a..b,
            _ => 0..0,
        }
    }

    /// The unit tf-idf vector of a paper's (term, count) `pairs`.
    fn vector(&self, pairs: &[u32], w: &LexicalWeights) -> Sparse {
        normalized(
            pairs
                .chunks_exact(2)
                .map(|tc| (tc[0], tc[1] as f32 * self.idf(tc[0] as usize, w)))
                .filter(|x| x.1 > 0.0)
                .collect(),
        )
    }

    /// A free text's unit tf-idf vector over this collection's vocabulary.
    pub fn text(&self, text: &str, w: &LexicalWeights) -> Sparse {
        let mut ids: Vec<u32> = terms(text).iter().filter_map(|t| self.find(t)).collect();
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

    /// The one-file form (little-endian): magic, counts, vocabulary (length-prefixed
    /// UTF-8), document frequencies, offsets, postings. Indexes no longer write it; tests
    /// do, to check that older indexes are still read.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&(self.terms() as u64).to_le_bytes());
        b.extend_from_slice(&(self.papers() as u64).to_le_bytes());
        b.extend_from_slice(&(self.postings.len() as u64 / 2).to_le_bytes());
        for t in 0..self.terms() {
            b.extend_from_slice(&(self.term(t).len() as u32).to_le_bytes());
            b.extend_from_slice(self.term(t));
        }
        for d in self.df.as_slice() {
            b.extend_from_slice(&d.to_le_bytes());
        }
        for o in self.offsets.as_slice() {
            b.extend_from_slice(&o.to_le_bytes());
        }
        for v in self.postings.as_slice() {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Reads the one-file form of indexes written before the tables.
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
            vocab.push(s);
        }
        let df: Vec<u32> = (0..terms).map(|_| r.u32()).collect::<Result<_, _>>()?;
        let offsets: Vec<u64> = (0..=papers).map(|_| r.u64()).collect::<Result<_, _>>()?;
        let postings: Vec<u32> = (0..nnz * 2).map(|_| r.u32()).collect::<Result<_, _>>()?;
        if r.at != bytes.len()
            || offsets.last().copied() != Some(nnz as u64)
            || offsets.windows(2).any(|w| w[0] > w[1])
            || postings.iter().step_by(2).any(|&t| t as usize >= terms)
        {
            return Err(LexicalFormatError("inconsistent contents".into()));
        }
        Ok(Self::from_parts(
            Records::owned(vocab),
            Array::owned(df),
            Array::owned(offsets),
            Array::owned(postings),
        ))
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
        let p: Vec<Sparse> = (0..4).map(|i| (*s.paper(i, &w)).clone()).collect();
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
    fn a_batch_of_papers_is_each_paper_and_damaged_offsets_read_as_no_terms() {
        let w = LexicalWeights::default();
        let each: Vec<Sparse> = (0..4).map(|i| (*stats().paper(i, &w)).clone()).collect();
        let s = stats();
        let kept = s.paper(2, &w);
        let order = [3, 2, 0, 3, 1];
        let batch = s.paper_vectors(&order, &w);
        for (v, &i) in batch.iter().zip(&order) {
            assert_eq!(**v, each[i], "paper {i}");
        }
        // The kept vector is the one handed out again; other weights are not kept.
        assert!(Arc::ptr_eq(&kept, &batch[1]));
        let strict = LexicalWeights { max_df: 0.4, ..w };
        let b = s.paper_vectors(&[2, 3], &strict);
        assert_eq!(b[0].dot(&b[1]), 0.0);
        assert_eq!(*s.paper(2, &w), each[2]);
        // An offset too large to be a position (a damaged table the size checks let
        // through): the papers it bounds read as without terms, the others as they are.
        let mut o = s.offsets.as_slice().to_vec();
        o[2] = (1 << 63) + 3;
        let damaged = LexicalStats::from_parts(
            s.vocab.clone(),
            s.df.clone(),
            Array::owned(o),
            s.postings.clone(),
        );
        let got = damaged.paper_vectors(&[0, 1, 2, 3], &w);
        assert_eq!((*got[0]).clone(), each[0]);
        assert_eq!((*got[1]).clone(), Sparse::default());
        assert_eq!((*got[2]).clone(), Sparse::default());
        assert_eq!((*got[3]).clone(), each[3]);
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
