//! A tokenizer for a few texts known in advance: a query process's one query.
//!
//! Loading the bundled unigram tokenizer builds a byte trie of its 250,002 pieces, a hash map
//! per node: about 0.8 s of CPU on this project's machines and the longest step of a
//! `recommend search` process (perf: `Trie::push`), while the weights, on the other thread,
//! take about 0.25 s. A unigram model segments each pre-token over a lattice of the pieces
//! that are substrings of that pre-token and of nothing else. So a model in which every other
//! piece is replaced by one placeholder that occurs in none of the texts segments those texts
//! exactly as the full model does: the same lattice, the same scores, the same ids. Pieces keep
//! their positions, so ids, the post-processor's `<s>`/`</s>` and the added tokens are
//! unchanged. The placeholders keep their pieces' scores, so the unknown-piece penalty, set
//! from the lowest score of the vocabulary, is unchanged too.
//!
//! The tokenizer this builds must only ever see the texts it was built for; `Embedder` checks
//! that. Where the argument does not hold, [`for_texts`] answers `None` and the caller loads
//! the full tokenizer: a model other than Unigram, byte fallback, or a text that contains an
//! added token (those are split off before normalization, which this does not mirror).

use serde::Deserialize;
use std::collections::HashSet;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{
    AddedToken, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    Tokenizer,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The parts of a `tokenizer.json` with a unigram model, typed: parsing the vocabulary
/// straight into pairs took the tokenizer thread a quarter of the time that going through
/// `serde_json::Value` did (86 ms against 360 ms, perf). `truncation` and `padding` are
/// left out: the embedder sets both. A file with another model does not parse as this and
/// gets the full loader.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    post_processor: Option<PostProcessorWrapper>,
    decoder: Option<DecoderWrapper>,
    model: Model,
}

#[derive(Deserialize)]
struct Model {
    #[serde(rename = "type")]
    kind: String,
    unk_id: Option<usize>,
    #[serde(default)]
    byte_fallback: bool,
    vocab: Vec<(String, f64)>,
}

/// A tokenizer that gives `texts` the ids the full tokenizer in `json` gives them, built
/// without the pieces none of them contains; `None` where that cannot be shown (see the
/// module doc).
pub fn for_texts(json: &[u8], texts: &[String]) -> Result<Option<Tokenizer>, Error> {
    let Ok(file) = serde_json::from_slice::<File>(json) else {
        return Ok(None);
    };
    let File {
        added_tokens,
        normalizer,
        pre_tokenizer,
        post_processor,
        decoder,
        model,
    } = file;
    if model.kind != "Unigram" || model.byte_fallback {
        return Ok(None);
    }
    let added: Vec<&str> = added_tokens.iter().map(|t| t.content.as_str()).collect();
    if texts.iter().any(|t| added.iter().any(|a| t.contains(a))) {
        return Ok(None);
    }
    let mut splits = Vec::new();
    for text in texts {
        let mut s = PreTokenizedString::from(text.as_str());
        if let Some(n) = &normalizer {
            s.normalize(|n2| n.normalize(n2))?;
        }
        if let Some(p) = &pre_tokenizer {
            p.pre_tokenize(&mut s)?;
        }
        for (split, _, _) in s.get_splits(OffsetReferential::Original, OffsetType::Byte) {
            splits.push(split.to_string());
        }
    }
    // An added token that only appears once normalized would be split off there.
    if splits.iter().any(|s| added.iter().any(|a| s.contains(a))) {
        return Ok(None);
    }
    let longest = model
        .vocab
        .iter()
        .map(|(p, _)| p.chars().count())
        .max()
        .unwrap_or(0);
    let substrings = substrings(&splits, longest);
    let Some(placeholder) =
        ('\u{E000}'..='\u{F8FF}').find(|c| !splits.iter().any(|s| s.contains(*c)))
    else {
        return Ok(None);
    };
    let placeholder = placeholder.to_string();
    let unk_id = model.unk_id;
    let vocab: Vec<(String, f64)> = model
        .vocab
        .into_iter()
        .enumerate()
        .map(|(id, (piece, score))| {
            let keep = Some(id) == unk_id
                || substrings.contains(piece.as_str())
                || added.contains(&piece.as_str());
            (if keep { piece } else { placeholder.clone() }, score)
        })
        .collect();
    // Assembled as the crate's own deserializer does (`tokenizer/serialization.rs`): the
    // pipeline's parts, then the added tokens, whose ids the model gives.
    let mut tokenizer = Tokenizer::new(Unigram::from(vocab, unk_id, false)?);
    tokenizer
        .with_normalizer(normalizer)
        .with_pre_tokenizer(pre_tokenizer)
        .with_post_processor(post_processor)
        .with_decoder(decoder);
    tokenizer.add_tokens(&added_tokens);
    Ok(Some(tokenizer))
}

/// Every substring of every split, up to `longest` characters, cut at character boundaries
/// (pieces are whole characters).
fn substrings(splits: &[String], longest: usize) -> HashSet<&str> {
    let mut out = HashSet::new();
    for s in splits {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        for (a, &start) in bounds.iter().enumerate() {
            for &end in bounds.iter().skip(a + 1).take(longest) {
                out.insert(&s[start..end]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::source::bundled_dir;

    fn bundled() -> (Vec<u8>, Tokenizer) {
        let path = bundled_dir().join("tokenizer.json");
        let json = std::fs::read(&path).expect("the bundled tokenizer is in the repository");
        let full = Tokenizer::from_bytes(&json).expect("bundled tokenizer loads");
        (json, full)
    }

    fn ids(t: &Tokenizer, text: &str) -> Vec<u32> {
        t.encode(text, true).unwrap().get_ids().to_vec()
    }

    #[test]
    fn gives_the_texts_it_was_built_for_the_full_tokenizers_ids() {
        let (json, full) = bundled();
        let mut texts: Vec<String> = [
            "query: 요약할 때 모델이 입력 문서를 무시하고 지어내는 걸 막아주는 디코딩 기법",
            "query: a single model that decides by itself when to fetch documents",
            "passage: Trusting Your Evidence: Hallucinate Less with Context-aware Decoding",
            "query:   spaces    and\ttabs\nand newlines  ",
            "query: ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ and ligatures ﬁ ﬂ, é vs e\u{301}",
            "query: 稣 ấ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀🚀 \u{200b}zero width",
            "query: x",
            "query: GPT-4o, LLaMA-2-70B; p<0.05 && a[i]=b{j} ~/path/file.rs:42",
            "query: 한글 jamo and 한글",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.push(format!("query: {}", "long words ".repeat(400)));
        // Built for all at once, and for each alone: each text's ids must not depend on
        // which others shared the vocabulary.
        let together = for_texts(&json, &texts)
            .unwrap()
            .expect("a unigram tokenizer");
        for text in &texts {
            let want = ids(&full, text);
            assert_eq!(ids(&together, text), want, "{text:?}");
            let alone = for_texts(&json, std::slice::from_ref(text))
                .unwrap()
                .expect("a unigram tokenizer");
            assert_eq!(ids(&alone, text), want, "{text:?}");
        }
        // It does drop pieces: a text it was not built for comes out differently.
        assert_ne!(
            ids(&together, "query: zebra quokka"),
            ids(&full, "query: zebra quokka")
        );
    }

    #[test]
    fn gives_every_seed_passage_the_full_tokenizers_ids() {
        let (json, full) = bundled();
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/seeds");
        let mut texts = Vec::new();
        for entry in std::fs::read_dir(&seeds).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            texts.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .filter(|l| {
                        !["<s>", "</s>", "<pad>", "<unk>", "<mask>"]
                            .iter()
                            .any(|a| l.contains(a))
                    })
                    .map(|l| format!("passage: {}", l.trim())),
            );
        }
        assert!(texts.len() > 1000, "{} lines", texts.len());
        let scoped = for_texts(&json, &texts)
            .unwrap()
            .expect("a unigram tokenizer");
        for text in &texts {
            assert_eq!(ids(&scoped, text), ids(&full, text), "{text:?}");
        }
    }

    #[test]
    fn declines_texts_holding_an_added_token() {
        let (json, _) = bundled();
        let texts = vec!["query: fill the <mask> here".to_string()];
        assert!(for_texts(&json, &texts).unwrap().is_none());
    }

    #[test]
    fn declines_other_models() {
        let json = br#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
            "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
            "model":{"type":"WordLevel","vocab":{"a":0,"[UNK]":1},"unk_token":"[UNK]"}}"#;
        assert!(for_texts(json, &["a".to_string()]).unwrap().is_none());
    }
}
