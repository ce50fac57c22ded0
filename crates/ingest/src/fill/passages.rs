//! Chunks turned back into passages: consecutive chunks of one document with one heading path
//! are joined, the overlap the chunker repeats between them removed and each block kept on a
//! line of its own. A chapter title a PDF left as the last words of the previous page is taken
//! off the passage and remembered, so the next passage can be placed under it.

use super::words::{key, starts_upper};
use super::KnowledgeChunk;

/// Consecutive chunks of one document with one heading path, overlap removed.
#[derive(Debug, Clone)]
pub(super) struct Passage {
    pub(super) doc: String,
    pub(super) headings: Vec<String>,
    pub(super) text: String,
    pub(super) chunk_ids: Vec<String>,
    /// A heading that ended up as the last words of the text (PDF heading inference).
    pub(super) dangling: Option<String>,
}

/// Collapses spaces within lines and drops empty lines; line breaks (block boundaries) stay.
fn normalise_lines(text: &str) -> String {
    text.lines()
        .map(crate::normalise)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Appends `next` to `text`, dropping the overlap the chunker repeats from the end of `text`.
fn append_without_overlap(text: &mut String, next: &str) {
    let next = normalise_lines(next);
    if next.is_empty() || (next.len() >= 8 && text.ends_with(&next)) {
        return;
    }
    // The longest start of `next`, ending before a space or line break, that ends `text`.
    let mut cut: Option<usize> = None;
    for (index, c) in next.char_indices() {
        if index > 600 {
            break;
        }
        if c.is_whitespace() && index >= 8 && text.ends_with(&next[..index]) {
            cut = Some(index);
        }
    }
    let (separator, rest) = match cut {
        Some(index) => {
            let separator = if next[index..].starts_with('\n') {
                '\n'
            } else {
                ' '
            };
            (separator, next[index..].trim_start())
        }
        // No overlap: a new block if the text so far ends a sentence.
        None if text.ends_with(['.', '!', '?', ':', '"']) => ('\n', next.as_str()),
        None => (' ', next.as_str()),
    };
    if rest.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(separator);
    }
    text.push_str(rest);
}

pub(super) fn build_passages(chunks: &[KnowledgeChunk]) -> Vec<Passage> {
    let mut out: Vec<Passage> = Vec::new();
    for chunk in chunks {
        if let Some(last) = out.last_mut() {
            if last.doc == chunk.document_id && last.headings == chunk.headings {
                append_without_overlap(&mut last.text, &chunk.text);
                last.chunk_ids.push(chunk.id.clone());
                continue;
            }
        }
        out.push(Passage {
            doc: chunk.document_id.clone(),
            headings: chunk.headings.clone(),
            text: normalise_lines(&chunk.text),
            chunk_ids: vec![chunk.id.clone()],
            dangling: None,
        });
    }
    out
}

/// Removes a known heading left at the end of a passage's text (a chapter title a PDF put at
/// the foot of the previous page) and records it.
pub(super) fn strip_dangling(passage: &mut Passage, names: &[String]) {
    let text = passage.text.trim_end();
    // Its own last line…
    if let Some((before, last)) = text.rsplit_once('\n') {
        let last_key = key(last);
        if let Some(name) = names.iter().find(|name| key(name) == last_key) {
            if starts_upper(last.trim()) {
                passage.text = before.trim_end().to_owned();
                passage.dangling = Some(name.clone());
                return;
            }
        }
    }
    // …or the last words of a text without line breaks.
    let words: Vec<(usize, &str)> = text
        .split_whitespace()
        .map(|word| (word.as_ptr() as usize - text.as_ptr() as usize, word))
        .collect();
    let mut best: Option<(usize, &String)> = None;
    for name in names {
        let count = name.split_whitespace().count();
        if count == 0 || count > words.len() {
            continue;
        }
        let first = words.len() - count;
        let tail: Vec<&str> = words[first..].iter().map(|(_, w)| *w).collect();
        if key(&tail.join(" ")) != key(name) || !starts_upper(words[first].1) {
            continue;
        }
        let separated = first == 0
            || words[first - 1].1.ends_with(['.', '!', '?', ':', '"', ')'])
            || count >= 2;
        if separated && best.is_none_or(|(c, _)| count > c) {
            best = Some((count, name));
        }
    }
    if let Some((count, name)) = best {
        let offset = words[words.len() - count].0;
        passage.text = text[..offset].trim_end().to_owned();
        passage.dangling = Some(name.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_between_chunks_is_removed() {
        let mut text = "Alpha beta gamma delta epsilon zeta.".to_owned();
        append_without_overlap(&mut text, "delta epsilon zeta. Eta theta.");
        assert_eq!(text, "Alpha beta gamma delta epsilon zeta. Eta theta.");
    }
}
