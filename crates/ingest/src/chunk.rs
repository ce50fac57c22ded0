//! Cutting extracted text into knowledge chunks.
//!
//! Chunks follow the document's structure: a heading starts a new chunk, so every chunk has
//! one heading path. Within a section, blocks are packed up to a target size; a block longer
//! than the target is cut at sentence ends, else at spaces — never inside a word (a single
//! word longer than the target becomes a chunk of its own). Consecutive chunks of one section
//! share a small overlap, so a sentence that straddles a cut is findable from both sides.
//!
//! Each chunk also records where its blocks lie in its text ([`ChunkBlock`]), so readers
//! (the section filler) get the extractor's structure — list items, table rows, paragraphs —
//! instead of guessing it again from flattened text, and can tell the repeated overlap apart.

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
    /// Where the extracted blocks lie in `text`, in order. Text outside every block is the
    /// overlap repeated from the previous chunk (and the line breaks between blocks).
    pub blocks: Vec<ChunkBlock>,
}

/// One extracted block (or the part of one that falls in this chunk) inside a chunk's text.
///
/// Stored as a compact JSON triple `[kind, start, end]`: `kind` is `p` (paragraph), `li`
/// (list item), `tr` (table row, cells joined by ` | `) or `h1`…`h6` (heading), with a `+`
/// suffix when the block began in the previous chunk; `start`/`end` are byte offsets into the
/// chunk's text (UTF-8 boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "(String, u32, u32)", try_from = "(String, u32, u32)")]
pub struct ChunkBlock {
    /// What the block is.
    pub kind: BlockKind,
    /// First byte in the chunk's text.
    pub start: u32,
    /// Byte after the last.
    pub end: u32,
    /// The block began in the previous chunk (a long block cut at a sentence end).
    pub continued: bool,
}

impl From<ChunkBlock> for (String, u32, u32) {
    fn from(block: ChunkBlock) -> Self {
        let mut kind = match block.kind {
            BlockKind::Heading(level) => format!("h{}", level.clamp(1, 9)),
            BlockKind::Paragraph => "p".to_owned(),
            BlockKind::ListItem => "li".to_owned(),
            BlockKind::TableRow => "tr".to_owned(),
        };
        if block.continued {
            kind.push('+');
        }
        (kind, block.start, block.end)
    }
}

impl TryFrom<(String, u32, u32)> for ChunkBlock {
    type Error = String;

    fn try_from((kind, start, end): (String, u32, u32)) -> Result<Self, Self::Error> {
        let (name, continued) = match kind.strip_suffix('+') {
            Some(name) => (name, true),
            None => (kind.as_str(), false),
        };
        let kind = match name {
            "p" => BlockKind::Paragraph,
            "li" => BlockKind::ListItem,
            "tr" => BlockKind::TableRow,
            heading => match heading.strip_prefix('h').and_then(|n| n.parse::<u8>().ok()) {
                Some(level @ 1..=9) => BlockKind::Heading(level),
                _ => return Err(format!("unknown block kind {kind:?}")),
            },
        };
        if start > end {
            return Err(format!("block span {start}..{end} is reversed"));
        }
        Ok(Self {
            kind,
            start,
            end,
            continued,
        })
    }
}

impl ChunkBlock {
    /// The block's text within `chunk_text`, or `None` when the span does not fit it (a
    /// stored layout that does not belong to the text).
    pub fn text_in<'a>(&self, chunk_text: &'a str) -> Option<&'a str> {
        chunk_text.get(self.start as usize..self.end as usize)
    }
}

/// Byte offset as stored (chunk texts are far below 4 GiB; saturates rather than wraps).
fn offset(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

struct Open {
    text: String,
    fresh: bool,
    page_start: u32,
    page_end: u32,
    headings: Vec<String>,
    blocks: Vec<ChunkBlock>,
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
                    blocks: current.blocks,
                });
            }
        }
    };
    // A heading with no text of its own below it (followed by a sibling or a higher heading,
    // or ending the document) becomes a chunk of its own, so every line is indexed: its
    // children's chunks carry it in their heading path, but nothing else would.
    let mut pending: Option<(u32, Vec<String>, &str, BlockKind)> = None;
    let flush_heading = |pending: &mut Option<(u32, Vec<String>, &str, BlockKind)>,
                         chunks: &mut Vec<Chunk>| {
        if let Some((page, mut headings, text, kind)) = pending.take() {
            headings.push(text.to_owned());
            // A long paragraph styled as a heading is still cut to the chunk size.
            for (index, piece) in pieces(text, target).into_iter().enumerate() {
                chunks.push(Chunk {
                    ordinal: chunks.len(),
                    text: piece.to_owned(),
                    page_start: page,
                    page_end: page,
                    headings: headings.clone(),
                    blocks: vec![ChunkBlock {
                        kind,
                        start: 0,
                        end: offset(piece.len()),
                        continued: index > 0,
                    }],
                });
            }
        }
    };
    for page in &document.pages {
        for block in &page.blocks {
            if let BlockKind::Heading(_) = block.kind {
                emit(&mut open, &mut chunks);
                let child = pending.as_ref().is_some_and(|(_, _, text, _)| {
                    block.headings.last().is_some_and(|h| h == text)
                });
                if !child {
                    flush_heading(&mut pending, &mut chunks);
                }
                pending = Some((
                    page.number,
                    block.headings.clone(),
                    block.text.as_str(),
                    block.kind,
                ));
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
                        blocks: Vec::new(),
                    });
                }
                let current = open.get_or_insert_with(|| Open {
                    text: String::new(),
                    fresh: false,
                    page_start: page.number,
                    page_end: page.number,
                    headings: block.headings.clone(),
                    blocks: Vec::new(),
                });
                // Blocks (paragraphs, list items, table rows) stay on lines of their own, so
                // readers of a chunk can still tell its items apart.
                if !current.text.is_empty() {
                    current.text.push(if index == 0 { '\n' } else { ' ' });
                }
                let start = offset(current.text.len());
                current.text.push_str(piece);
                let end = offset(current.text.len());
                // The next piece of a block this chunk already holds extends it; a block's
                // first piece in a chunk starts a span (continued when cut before).
                match current.blocks.last_mut() {
                    Some(last) if index > 0 => last.end = end,
                    _ => current.blocks.push(ChunkBlock {
                        kind: block.kind,
                        start,
                        end,
                        continued: index > 0,
                    }),
                }
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
        assert_eq!(
            chunks[2].blocks,
            [ChunkBlock {
                kind: BlockKind::Heading(2),
                start: 0,
                end: 13,
                continued: false
            }]
        );
    }

    #[test]
    fn block_spans_are_stored_as_compact_triples() {
        let blocks = vec![
            ChunkBlock {
                kind: BlockKind::Paragraph,
                start: 0,
                end: 5,
                continued: true,
            },
            ChunkBlock {
                kind: BlockKind::TableRow,
                start: 6,
                end: 20,
                continued: false,
            },
            ChunkBlock {
                kind: BlockKind::Heading(3),
                start: 21,
                end: 30,
                continued: false,
            },
        ];
        let json = serde_json::to_string(&blocks).unwrap();
        assert_eq!(json, r#"[["p+",0,5],["tr",6,20],["h3",21,30]]"#);
        let back: Vec<ChunkBlock> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, blocks);
        for bad in [
            r#"[["x",0,1]]"#,
            r#"[["h0",0,1]]"#,
            r#"[["p",5,1]]"#,
            r#"[["li",0]]"#,
        ] {
            assert!(
                serde_json::from_str::<Vec<ChunkBlock>>(bad).is_err(),
                "{bad}"
            );
        }
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
            // The blocks' spans give back every source block exactly, in order, without the
            // overlap: continued spans join the block they continue.
            let mut rebuilt: Vec<String> = Vec::new();
            for chunk in &chunks {
                let mut previous_end = 0;
                for block in &chunk.blocks {
                    prop_assert!(block.start >= previous_end && block.start <= block.end);
                    previous_end = block.end;
                    let text = block.text_in(&chunk.text).expect("span inside the text");
                    match rebuilt.last_mut() {
                        Some(last) if block.continued => {
                            last.push(' ');
                            last.push_str(text);
                        }
                        _ => rebuilt.push(text.to_owned()),
                    }
                }
            }
            let expected: Vec<String> = sorted.iter().map(|(_, _, text)| text.trim().to_owned()).collect();
            prop_assert_eq!(rebuilt, expected);
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
