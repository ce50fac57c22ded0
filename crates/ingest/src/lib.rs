//! The ingestion engine, without HTTP: recognise a document's type from its bytes, extract its
//! text page by page with the heading path of every block, and cut it into knowledge chunks
//! that keep their page and heading provenance.
//!
//! Extractors: PDF (text layer), DOCX, HTML, Markdown and plain text.

pub mod chunk;
pub mod detect;
pub mod extract;
pub mod fill;
pub mod summary;

pub use chunk::{chunk_document, Chunk, ChunkBlock, ChunkSettings};
pub use detect::{detect_kind, FileKind};
pub use extract::text::declared_charset;
pub use extract::{extract, extract_declared, ExtractLimits};
pub use fill::{
    fill_fields, fill_fields_with, glossary_terms, FieldTarget, Filled, GlossaryTerm,
    KnowledgeChunk, MeaningModel, SentenceEmbedder,
};

/// What a block of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlockKind {
    /// A heading of the given level (1 = title).
    Heading(u8),
    /// A paragraph.
    Paragraph,
    /// One item of a list.
    ListItem,
    /// One row of a table, cells joined with " | ".
    TableRow,
}

/// A block of text with the headings it sits under.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    /// Its kind.
    pub kind: BlockKind,
    /// Its text, whitespace-normalised.
    pub text: String,
    /// The headings above it, outermost first (a heading block's own path excludes itself).
    pub headings: Vec<String>,
}

/// One page of a document (formats without pages have one).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// 1-based page number.
    pub number: u32,
    /// Its blocks, in reading order.
    pub blocks: Vec<Block>,
}

/// A document's extracted text.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    /// The document's title, if it states one.
    pub title: Option<String>,
    /// Its pages.
    pub pages: Vec<Page>,
}

/// Why extraction failed. The text is shown to people (run messages, document status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ExtractError {
    /// The bytes are binary, not text in any encoding.
    #[error("the document is not text")]
    NotText,
    /// The document holds no text at all.
    #[error("the document contains no text")]
    Empty,
    /// The file is damaged or not what it claims to be.
    #[error("{0}")]
    Corrupt(String),
    /// Most glyphs of the PDF map to no text (fonts without a Unicode mapping, or scanned
    /// pages drawn with glyphs): indexing it would store nothing or garbage.
    #[error("{percent} % of the document's {glyphs} glyphs map to no text (its fonts have no Unicode mapping); export it again with text, or run OCR first")]
    Unmapped {
        /// Glyphs drawn.
        glyphs: usize,
        /// The share that mapped to nothing, in percent.
        percent: u8,
    },
    /// The PDF is encrypted.
    #[error("the PDF is encrypted; upload a copy without a password")]
    Encrypted,
    /// A part inflates beyond the limit (a zip bomb, or simply too big).
    #[error("the document inflates beyond {0} bytes")]
    TooLarge(u64),
    /// More pages than allowed.
    #[error("the document has {pages} pages; the limit is {limit}")]
    TooManyPages {
        /// Pages found.
        pages: usize,
        /// The limit.
        limit: u32,
    },
}

/// Collapses runs of whitespace into single spaces and trims.
pub(crate) fn normalise(text: &str) -> String {
    // Control characters (NUL and the like, common in damaged files) separate words like
    // spaces: they are never text, and PostgreSQL cannot store a NUL.
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tracks the heading path while walking a document.
#[derive(Default)]
pub(crate) struct HeadingPath {
    levels: Vec<(u8, String)>,
}

impl HeadingPath {
    /// Enters a heading of `level`, closing deeper or equal ones.
    pub(crate) fn enter(&mut self, level: u8, text: String) {
        self.levels.retain(|(existing, _)| *existing < level);
        self.levels.push((level, text));
    }

    /// The current path, outermost first.
    pub(crate) fn current(&self) -> Vec<String> {
        self.levels.iter().map(|(_, text)| text.clone()).collect()
    }

    /// The headings a heading of `level` sits under: the current path without those of its
    /// level or deeper (a previous sibling is not its parent).
    pub(crate) fn above(&self, level: u8) -> Vec<String> {
        self.levels
            .iter()
            .filter(|(existing, _)| *existing < level)
            .map(|(_, text)| text.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_separate_words_and_never_survive() {
        assert_eq!(
            super::normalise("  Roast\u{0}Green\t#1B4D3E \u{7}\n"),
            "Roast Green #1B4D3E"
        );
        let extracted = crate::extract(
            crate::FileKind::Text,
            b"Brand\0voice\x01is warm.",
            crate::ExtractLimits::default(),
        )
        .unwrap();
        let text: String = extracted.pages[0]
            .blocks
            .iter()
            .map(|b| b.text.clone())
            .collect();
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
}
