//! Text extraction, one module per format. Every extractor produces [`crate::Extracted`]:
//! pages of blocks, each block with its heading path.

pub mod docx;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod text;

use crate::{Block, BlockKind, ExtractError, Extracted, FileKind, HeadingPath, Page};

/// The headings a DOCX's page headers and footers are read under, after the body and its
/// notes: their text is kept (a reader can tell it from the body), and filling passes it over.
pub const PAGE_FURNITURE_HEADINGS: [&str; 2] = ["Headers", "Footers"];

/// Limits applied while extracting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Largest decompressed part of a DOCX, in bytes.
    pub docx_part_bytes: u64,
    /// Most pages.
    pub max_pages: u32,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self {
            docx_part_bytes: 200 * 1024 * 1024,
            max_pages: 2_000,
        }
    }
}

/// Extracts a document of a known kind, then enforces the page limit.
pub fn extract(
    kind: FileKind,
    bytes: &[u8],
    limits: ExtractLimits,
) -> Result<Extracted, ExtractError> {
    extract_declared(kind, bytes, limits, None)
}

/// Extracts `bytes` as [`extract`] does, reading a textual file (HTML, Markdown, plain text)
/// in the `charset` its sender declared (a WHATWG encoding label, e.g. the `charset` parameter
/// of the Content-Type it arrived with) when the file itself names none. PDF and DOCX carry
/// their own encodings and ignore it.
///
/// # Errors
///
/// As [`extract`].
pub fn extract_declared(
    kind: FileKind,
    bytes: &[u8],
    limits: ExtractLimits,
    charset: Option<&str>,
) -> Result<Extracted, ExtractError> {
    let extracted = match kind {
        FileKind::Pdf => pdf::extract_pdf_limited(bytes, limits.max_pages),
        FileKind::Docx => docx::extract_docx(bytes, limits.docx_part_bytes),
        FileKind::Html => html::extract_html_with_charset(bytes, charset),
        FileKind::Markdown => markdown::extract_markdown_with_charset(bytes, charset),
        FileKind::Text => text::extract_text_with_charset(bytes, charset),
    }?;
    let pages = extracted.pages.len();
    if pages > limits.max_pages as usize {
        return Err(ExtractError::TooManyPages {
            pages,
            limit: limits.max_pages,
        });
    }
    Ok(extracted)
}

/// Collects blocks while tracking headings; shared by the extractors.
#[derive(Default)]
pub(crate) struct Builder {
    headings: HeadingPath,
    blocks: Vec<Block>,
    title: Option<String>,
}

impl Builder {
    pub(crate) fn heading(&mut self, level: u8, text: &str) {
        let text = crate::normalise(text);
        if text.is_empty() {
            return;
        }
        if level == 1 && self.title.is_none() {
            self.title = Some(text.clone());
        }
        self.blocks.push(Block {
            kind: BlockKind::Heading(level),
            text: text.clone(),
            headings: self.headings.above(level),
        });
        self.headings.enter(level, text);
    }

    pub(crate) fn block(&mut self, kind: BlockKind, text: &str) {
        let text = crate::normalise(text);
        if !text.is_empty() {
            self.blocks.push(Block {
                kind,
                text,
                headings: self.headings.current(),
            });
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Hands over the blocks collected so far (one page's worth), keeping the heading path,
    /// and records the title if one was seen.
    pub(crate) fn take_blocks(&mut self, title: &mut Option<String>) -> Vec<Block> {
        if title.is_none() {
            *title = self.title.clone();
        }
        std::mem::take(&mut self.blocks)
    }

    pub(crate) fn finish(self) -> Result<Extracted, ExtractError> {
        if self.blocks.is_empty() {
            return Err(ExtractError::Empty);
        }
        Ok(Extracted {
            title: self.title,
            pages: vec![Page {
                number: 1,
                blocks: self.blocks,
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{chunk_document, ChunkSettings, Extracted};

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

    fn chunks_of(doc: &Extracted) -> Vec<crate::Chunk> {
        chunk_document(doc, ChunkSettings::default())
    }

    #[test]
    fn markdown_and_html_samples_keep_the_same_structure() {
        let (Ok(markdown), Ok(html)) = (
            std::fs::read(format!("{SAMPLES}/northwind-coffee-roasters.md")),
            std::fs::read(format!("{SAMPLES}/northwind-coffee-roasters.html")),
        ) else {
            brandstream_domain::testing::skip("shared", "../shared/samples not found");
            return;
        };
        for doc in [
            super::markdown::extract_markdown(&markdown).unwrap(),
            super::html::extract_html(&html).unwrap(),
        ] {
            let chunks = chunks_of(&doc);
            let palette = chunks
                .iter()
                .find(|chunk| {
                    chunk
                        .headings
                        .last()
                        .is_some_and(|h| h == "Colour palettes")
                })
                .expect("a chunk under Colour palettes");
            assert!(
                palette.headings.iter().any(|h| h == "Visual Guidelines"),
                "{:?}",
                palette.headings
            );
            assert!(
                palette.text.contains('#'),
                "colour codes in the palette chunk: {}",
                palette.text
            );
            let purpose = chunks
                .iter()
                .find(|chunk| chunk.headings.last().is_some_and(|h| h == "Brand purpose"))
                .unwrap();
            assert!(purpose.text.contains("fair trade"));
            assert!(chunks
                .iter()
                .all(|chunk| chunk.text.chars().count() <= 1000));
        }
    }
}
