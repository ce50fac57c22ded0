//! Cutting extracted text into knowledge chunks.
//!
//! Chunks follow the document's structure: a heading starts a new chunk, so every chunk has
//! one heading path. Within a section, blocks are packed up to a target size; a block longer
//! than the target is cut at sentence ends, else at spaces — never inside a word (a single
//! word longer than the target becomes a chunk of its own). Consecutive chunks of one section
//! share a small overlap, so a sentence that straddles a cut is findable from both sides.

use crate::{BlockKind, Extracted};

/// Sizes, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    /// Largest chunk (unless one word is longer).
    pub target_chars: usize,
    /// Text repeated from the end of the previous chunk of the same section.
    pub overlap_chars: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self {
            target_chars: 1000,
            overlap_chars: 150,
        }
    }
}

/// A knowledge chunk with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub ordinal: usize,
    /// The text.
    pub text: String,
    /// First page it comes from.
    pub page_start: u32,
    /// Last page it comes from.
    pub page_end: u32,
    /// The headings it sits under, outermost first.
    pub headings: Vec<String>,
}

struct Open {
    text: String,
    fresh: bool,
    page_start: u32,
    page_end: u32,
    headings: Vec<String>,
}

fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// The last at most `limit` characters of `text`, starting at a word.
fn tail(text: &str, limit: usize) -> &str {
    if limit == 0 {
        return "";
    }
    let total = char_len(text);
    if total <= limit {
        return text;
    }
    let start = text
        .char_indices()
        .nth(total - limit)
        .map_or(0, |(index, _)| index);
    match text[start..].find(' ') {
        Some(space) => &text[start + space + 1..],
        None => "",
    }
}

/// Cuts `text` into pieces of at most `limit` characters at sentence ends or spaces.
fn pieces(text: &str, limit: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while char_len(rest) > limit {
        let cut_at = rest
            .char_indices()
            .nth(limit)
            .map_or(rest.len(), |(index, _)| index);
        let window = &rest[..cut_at];
        // Prefer the last sentence end in the second half of the window, else the last space.
        let sentence = window
            .match_indices(". ")
            .chain(window.match_indices("! "))
            .chain(window.match_indices("? "))
            .map(|(index, _)| index + 1)
            .filter(|index| *index > window.len() / 2)
            .max();
        let cut = sentence
            .or_else(|| window.rfind(' '))
            .filter(|cut| *cut > 0);
        match cut {
            Some(cut) => {
                out.push(rest[..cut].trim_end());
                rest = rest[cut..].trim_start();
            }
            None => {
                // One word longer than the limit: kept whole (a long URL is one thing), up to
                // four times the limit; a longer run without spaces (encoded data) is cut at
                // the limit, so no chunk is unbounded (PostgreSQL's index refuses huge ones).
                let word_end = rest.find(' ').unwrap_or(rest.len());
                let end = if char_len(&rest[..word_end]) > limit * 4 {
                    cut_at
                } else {
                    word_end
                };
                out.push(&rest[..end]);
                rest = rest[end..].trim_start();
            }
        }
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Chunks a document.
pub fn chunk_document(document: &Extracted, settings: ChunkSettings) -> Vec<Chunk> {
    let target = settings.target_chars.max(16);
    let overlap = settings.overlap_chars.min(target / 4);
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut open: Option<Open> = None;
    let emit = |open: &mut Option<Open>, chunks: &mut Vec<Chunk>| {
        if let Some(current) = open.take() {
            if current.fresh && !current.text.is_empty() {
                chunks.push(Chunk {
                    ordinal: chunks.len(),
                    text: current.text,
                    page_start: current.page_start,
                    page_end: current.page_end,
                    headings: current.headings,
                });
            }
        }
    };
    // A heading with no text of its own below it (followed by a sibling or a higher heading,
    // or ending the document) becomes a chunk of its own, so every line is indexed: its
    // children's chunks carry it in their heading path, but nothing else would.
    let mut pending: Option<(u32, Vec<String>, &str)> = None;
    let flush_heading = |pending: &mut Option<(u32, Vec<String>, &str)>,
                         chunks: &mut Vec<Chunk>| {
        if let Some((page, mut headings, text)) = pending.take() {
            headings.push(text.to_owned());
            // A long paragraph styled as a heading is still cut to the chunk size.
            for piece in pieces(text, target) {
                chunks.push(Chunk {
                    ordinal: chunks.len(),
                    text: piece.to_owned(),
                    page_start: page,
                    page_end: page,
                    headings: headings.clone(),
                });
            }
        }
    };
    for page in &document.pages {
        for block in &page.blocks {
            if let BlockKind::Heading(_) = block.kind {
                emit(&mut open, &mut chunks);
                let child = pending
                    .as_ref()
                    .is_some_and(|(_, _, text)| block.headings.last().is_some_and(|h| h == text));
                if !child {
                    flush_heading(&mut pending, &mut chunks);
                }
                pending = Some((page.number, block.headings.clone(), block.text.as_str()));
                continue;
            }
            pending = None;
            if open
                .as_ref()
                .is_some_and(|current| current.headings != block.headings)
            {
                emit(&mut open, &mut chunks);
            }
            // Pieces leave room for the overlap carried from the previous chunk.
            for (index, piece) in pieces(&block.text, target - overlap - 1)
                .into_iter()
                .enumerate()
            {
                let fits = open.as_ref().is_some_and(|current| {
                    current.text.is_empty()
                        || char_len(&current.text) + 1 + char_len(piece) <= target
                });
                if open.is_some() && !fits {
                    let previous = open
                        .as_ref()
                        .map(|current| tail(&current.text, overlap).to_owned())
                        .unwrap_or_default();
                    let headings = block.headings.clone();
                    emit(&mut open, &mut chunks);
                    let carried = if char_len(&previous) + 1 + char_len(piece) <= target {
                        previous
                    } else {
                        String::new()
                    };
                    open = Some(Open {
                        text: carried,
                        fresh: false,
                        page_start: page.number,
                        page_end: page.number,
                        headings,
                    });
                }
                let current = open.get_or_insert_with(|| Open {
                    text: String::new(),
                    fresh: false,
                    page_start: page.number,
                    page_end: page.number,
                    headings: block.headings.clone(),
                });
                // Blocks (paragraphs, list items, table rows) stay on lines of their own, so
                // readers of a chunk can still tell its items apart.
                if !current.text.is_empty() {
                    current.text.push(if index == 0 { '\n' } else { ' ' });
                }
                current.text.push_str(piece);
                current.fresh = true;
                current.page_end = page.number;
            }
        }
    }
    emit(&mut open, &mut chunks);
    flush_heading(&mut pending, &mut chunks);
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Block, Page};
    use proptest::prelude::*;

    #[test]
    fn long_words_stay_whole_but_runs_of_encoded_data_are_cut() {
        let url = format!("https://example.com/{}", "a".repeat(1500));
        assert_eq!(pieces(&url, 1000), vec![url.as_str()]);
        let blob = "Q".repeat(100_000);
        let cut = pieces(&blob, 1000);
        assert!(cut.iter().all(|piece| char_len(piece) <= 4000));
        assert_eq!(
            cut.iter().map(|piece| piece.len()).sum::<usize>(),
            blob.len()
        );
    }

    fn document(blocks: Vec<(u32, Vec<String>, String)>) -> Extracted {
        let mut pages: Vec<Page> = Vec::new();
        for (page, headings, text) in blocks {
            if pages.last().map(|p| p.number) != Some(page) {
                pages.push(Page {
                    number: page,
                    blocks: Vec::new(),
                });
            }
            if let Some(last) = pages.last_mut() {
                last.blocks.push(Block {
                    kind: BlockKind::Paragraph,
                    text,
                    headings,
                });
            }
        }
        Extracted { title: None, pages }
    }

    #[test]
    fn headings_split_chunks_and_overlap_repeats_the_tail() {
        let sentence = "Harbour Blue is our primary colour. ";
        let long = sentence.repeat(60);
        let doc = document(vec![
            (1, vec!["Visual".into()], long.trim().to_owned()),
            (2, vec!["Tone".into()], "Be warm.".into()),
        ]);
        let chunks = chunk_document(
            &doc,
            ChunkSettings {
                target_chars: 400,
                overlap_chars: 60,
            },
        );
        assert!(chunks.len() >= 6);
        assert!(chunks.iter().all(|chunk| char_len(&chunk.text) <= 400));
        let last = chunks.last().unwrap();
        assert_eq!(last.text, "Be warm.");
        assert_eq!(
            (last.page_start, last.headings.clone()),
            (2, vec!["Tone".to_owned()])
        );
        // The second chunk starts with the end of the first.
        let end_of_first = tail(&chunks[0].text, 60);
        assert!(!end_of_first.is_empty() && chunks[1].text.starts_with(end_of_first));
    }

    #[test]
    fn headings_without_text_of_their_own_are_chunks() {
        let heading = |level: u8, text: &str, headings: &[&str]| Block {
            kind: BlockKind::Heading(level),
            text: text.into(),
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
        };
        let body = |text: &str, headings: &[&str]| Block {
            kind: BlockKind::Paragraph,
            text: text.into(),
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
        };
        let doc = Extracted {
            title: None,
            pages: vec![Page {
                number: 1,
                blocks: vec![
                    heading(1, "Pdf Test 1", &[]),
                    heading(1, "Second title", &[]),
                    heading(2, "Child", &["Second title"]),
                    body("Body text.", &["Second title", "Child"]),
                    heading(2, "Empty sibling", &["Second title"]),
                ],
            }],
        };
        let chunks = chunk_document(&doc, ChunkSettings::default());
        let texts: Vec<&str> = chunks.iter().map(|chunk| chunk.text.as_str()).collect();
        // "Second title" has a child with text: its path carries it; no chunk of its own.
        assert_eq!(texts, ["Pdf Test 1", "Body text.", "Empty sibling"]);
        assert_eq!(chunks[2].headings, ["Second title", "Empty sibling"]);
        assert!(chunks.iter().enumerate().all(|(i, c)| c.ordinal == i));
    }

    #[test]
    fn an_extracted_heading_followed_by_a_sibling_is_a_chunk_under_its_own_parents() {
        // The extractors' heading blocks sit under their parents, not under the previous
        // sibling: "Scenarios" was taken for the parent of "When late" and lost.
        let markdown = b"# Guide\n\n## Scenarios\n\n## When late\n\nSay sorry once.\n";
        let doc = crate::extract::markdown::extract_markdown(markdown).expect("markdown");
        let chunks = chunk_document(&doc, ChunkSettings::default());
        let found: Vec<(&[String], &str)> = chunks
            .iter()
            .map(|chunk| (chunk.headings.as_slice(), chunk.text.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    &["Guide".to_owned(), "Scenarios".to_owned()][..],
                    "Scenarios"
                ),
                (
                    &["Guide".to_owned(), "When late".to_owned()][..],
                    "Say sorry once."
                ),
            ]
        );
    }

    fn words() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-zé]{1,12}[.!?]?|[A-Z]{1,40}", 1..120)
            .prop_map(|words| words.join(" "))
    }

    proptest! {
        #[test]
        fn chunks_never_split_words_and_cover_everything(
            blocks in proptest::collection::vec((1u32..4, 0usize..3, words()), 1..12),
            target in 40usize..400,
            overlap in 0usize..80,
        ) {
            let mut sorted = blocks;
            sorted.sort_by_key(|(page, _, _)| *page);
            let doc = document(sorted.iter().map(|(page, heading, text)| (*page, vec![format!("H{heading}")], text.clone())).collect());
            let chunks = chunk_document(&doc, ChunkSettings { target_chars: target, overlap_chars: overlap });
            let source: Vec<&str> = sorted.iter().flat_map(|(_, _, text)| text.split_whitespace()).collect();
            let vocabulary: std::collections::HashSet<&str> = source.iter().copied().collect();
            for chunk in &chunks {
                for word in chunk.text.split_whitespace() {
                    prop_assert!(vocabulary.contains(word), "split word {:?}", word);
                }
                let longest_word = chunk.text.split_whitespace().map(char_len).max().unwrap_or(0);
                prop_assert!(char_len(&chunk.text) <= target.max(longest_word));
                prop_assert!(chunk.page_start <= chunk.page_end);
            }
            // Every word of the source appears, in order, across the chunks.
            let joined: Vec<&str> = chunks.iter().flat_map(|chunk| chunk.text.split_whitespace()).collect();
            let mut position = 0;
            for word in &source {
                match joined[position..].iter().position(|candidate| candidate == word) {
                    Some(found) => position += found + 1,
                    None => prop_assert!(false, "lost word {:?}", word),
                }
            }
        }
    }
}
