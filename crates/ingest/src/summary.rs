//! Extractive summaries: the few sentences of a document that best represent it.
//!
//! Sentences from paragraphs and list items are scored by how many of the document's frequent
//! content words they contain (normalised by length, so long sentences do not win by size);
//! the best few are returned in reading order.

use rustc_hash::FxHashMap;
use std::borrow::Cow;

use crate::{BlockKind, Extracted};

/// Whether a (lowercase, longer than two letters) word is too common to characterise a
/// document. A `match` compiles to a length switch: far cheaper than searching a list.
fn is_stop_word(word: &str) -> bool {
    matches!(
        word,
        "about"
            | "all"
            | "also"
            | "and"
            | "any"
            | "are"
            | "because"
            | "been"
            | "but"
            | "can"
            | "does"
            | "each"
            | "every"
            | "for"
            | "from"
            | "has"
            | "have"
            | "how"
            | "into"
            | "its"
            | "more"
            | "most"
            | "must"
            | "not"
            | "one"
            | "our"
            | "should"
            | "than"
            | "that"
            | "the"
            | "their"
            | "them"
            | "there"
            | "these"
            | "they"
            | "this"
            | "use"
            | "was"
            | "were"
            | "what"
            | "when"
            | "which"
            | "who"
            | "will"
            | "with"
            | "you"
            | "your"
    )
}

/// The content words of `text`, lowercase (borrowed when they already are).
fn words(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().nth(2).is_some())
        .map(|word| {
            if word.chars().any(char::is_uppercase) {
                Cow::Owned(word.to_lowercase())
            } else {
                Cow::Borrowed(word)
            }
        })
        .filter(|word| !is_stop_word(word))
}

/// Splits text into sentences at `.`, `!` or `?` followed by a space (trimmed, none empty).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(byte, b'.' | b'!' | b'?') && bytes.get(index + 1).is_none_or(|b| *b == b' ') {
            let sentence = text[start..=index].trim();
            if !sentence.is_empty() {
                out.push(sentence);
            }
            start = index + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Up to `count` representative sentences, in reading order, joined by spaces; at most
/// `max_chars` characters. `None` when the document has no prose.
pub fn summarize(document: &Extracted, count: usize, max_chars: usize) -> Option<String> {
    let prose: Vec<&str> = document
        .pages
        .iter()
        .flat_map(|page| page.blocks.iter())
        .filter(|block| matches!(block.kind, BlockKind::Paragraph | BlockKind::ListItem))
        .flat_map(|block| sentences(&block.text))
        .filter(|sentence| {
            let length = sentence.chars().count();
            (40..=400).contains(&length) && sentence.ends_with(['.', '!', '?'])
        })
        .collect();
    if prose.is_empty() {
        return None;
    }
    // Each distinct word gets a number once; sentences are lists of numbers, and the word
    // counts are indexed by them (one hash lookup per word in all).
    let mut numbers: FxHashMap<Cow<'_, str>, usize> = FxHashMap::default();
    let mut frequency: Vec<usize> = Vec::new();
    let terms: Vec<Vec<usize>> = prose
        .iter()
        .map(|sentence| {
            words(sentence)
                .map(|word| {
                    let next = numbers.len();
                    let number = *numbers.entry(word).or_insert(next);
                    if number == frequency.len() {
                        frequency.push(0);
                    }
                    frequency[number] += 1;
                    number
                })
                .collect()
        })
        .collect();
    let mut scored: Vec<(usize, f64)> = terms
        .iter()
        .enumerate()
        .map(|(index, terms)| {
            let total: usize = terms.iter().map(|number| frequency[*number]).sum();
            let score = total as f64 / (terms.len().max(1) as f64).sqrt();
            // Earlier sentences usually introduce the document.
            (index, score / (1.0 + index as f64 / prose.len() as f64))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = scored.iter().take(count).map(|(index, _)| *index).collect();
    chosen.sort_unstable();
    let mut summary = String::new();
    for index in chosen {
        let sentence = prose[index];
        if summary.chars().count() + sentence.chars().count() + 1 > max_chars {
            break;
        }
        if !summary.is_empty() {
            summary.push(' ');
        }
        summary.push_str(sentence);
    }
    (!summary.is_empty()).then_some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Block, Page};

    fn paragraph(text: &str) -> Block {
        Block {
            kind: BlockKind::Paragraph,
            text: text.into(),
            headings: vec![],
        }
    }

    #[test]
    fn picks_representative_sentences_in_order() {
        let document = Extracted {
            title: None,
            pages: vec![Page {
                number: 1,
                blocks: vec![
                    Block {
                        kind: BlockKind::Heading(1),
                        text: "Coffee guide".into(),
                        headings: vec![],
                    },
                    paragraph("Our coffee is roasted in small batches every morning. We buy coffee directly from farms."),
                    paragraph("The office has a blue door and the parking is around the corner."),
                    paragraph("Fresh coffee tastes better, so every coffee bag carries its roast date."),
                ],
            }],
        };
        let summary = summarize(&document, 2, 1000).unwrap();
        assert!(summary.starts_with("Our coffee is roasted"), "{summary}");
        assert!(summary.contains("roast date"), "{summary}");
        assert!(!summary.contains("blue door"), "{summary}");
        assert!(summarize(&Extracted::default(), 3, 100).is_none());
    }
}
