//! Extractive summaries: the few sentences of a document that best represent it.
//!
//! Sentences from paragraphs and list items are scored by how many of the document's frequent
//! content words they contain (normalised by length, so long sentences do not win by size);
//! the best few are returned in reading order.

use std::collections::HashMap;

use crate::{BlockKind, Extracted};

/// Words too common to characterise a document.
const STOP: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "are", "as", "at", "be", "because", "been",
    "but", "by", "can", "do", "does", "each", "every", "for", "from", "has", "have", "how", "if",
    "in", "into", "is", "it", "its", "more", "most", "must", "no", "not", "of", "on", "one", "or",
    "our", "should", "so", "than", "that", "the", "their", "them", "there", "these", "they",
    "this", "to", "use", "was", "we", "were", "what", "when", "which", "who", "will", "with",
    "you", "your",
];

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() > 2)
        .map(str::to_lowercase)
        .filter(|word| !STOP.contains(&word.as_str()))
}

/// Splits text into sentences at `.`, `!` or `?` followed by a space.
fn sentences(text: &str) -> Vec<&str> {
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
    let mut frequency: HashMap<String, usize> = HashMap::new();
    for sentence in &prose {
        for word in words(sentence) {
            *frequency.entry(word).or_default() += 1;
        }
    }
    let mut scored: Vec<(usize, f64)> = prose
        .iter()
        .enumerate()
        .map(|(index, sentence)| {
            let terms: Vec<String> = words(sentence).collect();
            let total: usize = terms
                .iter()
                .map(|t| frequency.get(t).copied().unwrap_or(0))
                .sum();
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
