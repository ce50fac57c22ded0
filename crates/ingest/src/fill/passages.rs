//! Chunks turned back into passages: consecutive chunks of one document with one heading path
//! are joined, the overlap the chunker repeats between them removed and each block kept on a
//! line of its own. A chapter title a PDF left as the last words of the previous page is taken
//! off the passage and remembered, so the next passage can be placed under it.
//!
//! Chunks that carry their block layout ([`crate::ChunkBlock`]) are joined by their blocks:
//! the overlap is the text outside them, and every line of the passage keeps the kind of block
//! it came from (paragraph, list item, table row, heading). Older chunks without a layout are
//! joined by matching the repeated text, and their lines' kinds are guessed by the readers.

use super::tables::is_row_line;
use super::words::{key, starts_upper};
use super::KnowledgeChunk;
use crate::BlockKind;

/// Consecutive chunks of one document with one heading path, overlap removed.
#[derive(Debug, Clone)]
pub(super) struct Passage {
    pub(super) doc: String,
    pub(super) headings: Vec<String>,
    pub(super) text: String,
    pub(super) chunk_ids: Vec<String>,
    /// A heading that ended up as the last words of the text (PDF heading inference).
    pub(super) dangling: Option<String>,
    /// The block kind of each line of `text`, where every chunk recorded its layout.
    pub(super) kinds: Option<Vec<BlockKind>>,
}

impl Passage {
    /// Replaces the text with a start of it (a trailing heading removed), keeping the line
    /// kinds aligned.
    fn cut_text(&mut self, text: String) {
        if let Some(kinds) = &mut self.kinds {
            kinds.truncate(text.lines().count());
        }
        self.text = text;
    }

    /// Empties the text (a heading with no text of its own).
    pub(super) fn clear_text(&mut self) {
        self.cut_text(String::new());
    }
}

/// The non-empty lines of `text`, trimmed, each with its block kind where `kinds` (one per
/// line of `text`) records it.
pub(super) fn typed_lines<'a>(
    text: &'a str,
    kinds: Option<&[BlockKind]>,
) -> Vec<(&'a str, Option<BlockKind>)> {
    let kinds = kinds.filter(|kinds| kinds.len() == text.lines().count());
    text.lines()
        .enumerate()
        .map(|(index, line)| (line.trim(), kinds.and_then(|k| k.get(index).copied())))
        .filter(|(line, _)| !line.is_empty())
        .collect()
}

/// Whether a line is a table row: its block says so, or (without a layout) it looks like
/// one (cells joined by " | ").
pub(super) fn is_row(line: &str, kind: Option<BlockKind>) -> bool {
    match kind {
        Some(kind) => kind == BlockKind::TableRow,
        None => is_row_line(line),
    }
}

/// A chunk's blocks as normalised lines: (kind, continues the previous chunk's last block,
/// text). `None` without a layout or when a span does not fit the text.
fn block_lines(chunk: &KnowledgeChunk) -> Option<Vec<(BlockKind, bool, String)>> {
    let blocks = chunk.blocks.as_ref()?;
    let mut out = Vec::with_capacity(blocks.len());
    for block in blocks {
        let text = crate::normalise(block.text_in(&chunk.text)?);
        if !text.is_empty() {
            out.push((block.kind, block.continued, text));
        }
    }
    Some(out)
}

/// Appends a chunk's block lines to a passage's text and kinds.
fn append_blocks(
    text: &mut String,
    kinds: &mut Vec<BlockKind>,
    lines: Vec<(BlockKind, bool, String)>,
) {
    for (kind, continued, line) in lines {
        if continued && !kinds.is_empty() {
            text.push(' ');
        } else {
            if !text.is_empty() {
                text.push('\n');
            }
            kinds.push(kind);
        }
        text.push_str(&line);
    }
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
        let lines = block_lines(chunk);
        let same = out
            .last()
            .is_some_and(|last| last.doc == chunk.document_id && last.headings == chunk.headings);
        if !same {
            out.push(Passage {
                doc: chunk.document_id.clone(),
                headings: chunk.headings.clone(),
                text: String::new(),
                chunk_ids: Vec::new(),
                dangling: None,
                kinds: lines.is_some().then(Vec::new),
            });
        }
        let Some(last) = out.last_mut() else {
            continue;
        };
        last.chunk_ids.push(chunk.id.clone());
        match (&mut last.kinds, lines) {
            (Some(kinds), Some(lines)) => append_blocks(&mut last.text, kinds, lines),
            (kinds, _) => {
                *kinds = None;
                append_without_overlap(&mut last.text, &chunk.text);
            }
        }
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
                passage.cut_text(before.trim_end().to_owned());
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
        passage.cut_text(text[..offset].trim_end().to_owned());
        passage.dangling = Some(name.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laid_out(id: &str, text: &str, blocks: &[(BlockKind, &str, bool)]) -> KnowledgeChunk {
        let spans = blocks
            .iter()
            .map(|(kind, part, continued)| {
                let start = text.find(part).expect("part of the text");
                crate::ChunkBlock {
                    kind: *kind,
                    start: start as u32,
                    end: (start + part.len()) as u32,
                    continued: *continued,
                }
            })
            .collect();
        KnowledgeChunk {
            id: id.into(),
            document_id: "doc".into(),
            text: text.into(),
            headings: vec!["Guide".into()],
            page_start: 1,
            page_end: 1,
            blocks: Some(spans),
        }
    }

    #[test]
    fn laid_out_chunks_join_by_their_blocks_and_keep_each_lines_kind() {
        use BlockKind::{ListItem, Paragraph, TableRow};
        // The second chunk repeats "Be kind." (too short for text matching to recognise as
        // overlap) and continues the paragraph the first one cut.
        let first = laid_out(
            "a",
            "Intro line.\nBe kind.\nWe write",
            &[
                (Paragraph, "Intro line.", false),
                (ListItem, "Be kind.", false),
                (Paragraph, "We write", false),
            ],
        );
        let second = laid_out(
            "b",
            "Be kind. We write as we speak.\nName | Use\nBlue | Text",
            &[
                (Paragraph, "as we speak.", true),
                (TableRow, "Name | Use", false),
                (TableRow, "Blue | Text", false),
            ],
        );
        let passages = build_passages(&[first.clone(), second]);
        assert_eq!(passages.len(), 1);
        let passage = &passages[0];
        assert_eq!(
            passage.text,
            "Intro line.\nBe kind.\nWe write as we speak.\nName | Use\nBlue | Text"
        );
        assert_eq!(
            passage.kinds.as_deref(),
            Some(&[Paragraph, ListItem, Paragraph, TableRow, TableRow][..])
        );
        assert_eq!(passage.chunk_ids, ["a", "b"]);
        // A chunk without a layout makes the passage's kinds unknown.
        let mut old = first;
        old.blocks = None;
        assert!(build_passages(&[old]).iter().all(|p| p.kinds.is_none()));
    }

    #[test]
    fn a_paragraph_quoting_a_title_with_bars_is_prose_by_its_block() {
        use super::super::items::{items_of, Item};
        let text = "Page titles read \"Name | Branch | Town\" on every page.\nEvent titles read \"Event | Branch | Day\" in listings.";
        let rows = |items: Vec<Item>| {
            items
                .iter()
                .filter(|i| matches!(i, Item::Row { .. }))
                .count()
        };
        let kinds = [BlockKind::Paragraph, BlockKind::Paragraph];
        assert_eq!(rows(items_of(text, Some(&kinds))), 0);
        // Without a layout the two lines look like a table.
        assert!(rows(items_of(text, None)) > 0);
        let table = "Name | Use\nBlue | Text\nRed | Alerts";
        let kinds = [BlockKind::TableRow; 3];
        assert_eq!(rows(items_of(table, Some(&kinds))), 2);
    }

    #[test]
    fn cutting_a_passage_keeps_its_kinds_aligned() {
        let mut passage = build_passages(&[laid_out(
            "a",
            "Body text.\nColour",
            &[
                (BlockKind::Paragraph, "Body text.", false),
                (BlockKind::Heading(2), "Colour", false),
            ],
        )])
        .remove(0);
        strip_dangling(&mut passage, &["Colour".to_owned()]);
        assert_eq!(passage.text, "Body text.");
        assert_eq!(passage.dangling.as_deref(), Some("Colour"));
        assert_eq!(passage.kinds.as_deref(), Some(&[BlockKind::Paragraph][..]));
        passage.clear_text();
        assert_eq!(passage.kinds.as_deref(), Some(&[][..]));
    }

    #[test]
    fn overlap_between_chunks_is_removed() {
        let mut text = "Alpha beta gamma delta epsilon zeta.".to_owned();
        append_without_overlap(&mut text, "delta epsilon zeta. Eta theta.");
        assert_eq!(text, "Alpha beta gamma delta epsilon zeta. Eta theta.");
    }
}
