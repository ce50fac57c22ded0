//! Plain text: paragraphs are separated by blank lines; form feeds separate pages.

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted, Page};

/// Extracts plain text.
pub fn extract_text(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| ExtractError::NotText)?;
    let mut pages = Vec::new();
    for (index, page_text) in text.split('\u{c}').enumerate() {
        let mut builder = Builder::default();
        for paragraph in page_text.split("\n\n") {
            builder.block(BlockKind::Paragraph, paragraph);
        }
        let blocks = builder
            .finish()
            .map(|doc| doc.pages.into_iter().flat_map(|p| p.blocks).collect())
            .unwrap_or_default();
        pages.push(Page {
            number: index as u32 + 1,
            blocks,
        });
    }
    if pages.iter().all(|page| page.blocks.is_empty()) {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted { title: None, pages })
}
