//! Markdown (CommonMark with pipe tables): headings, paragraphs, list items and table rows.
//! Files that are not UTF-8 are decoded as plain text is (BOM, then detection; see
//! [`crate::extract::text`]).

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted};

fn level(heading: HeadingLevel) -> u8 {
    match heading {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Extracts Markdown.
///
/// # Errors
///
/// [`ExtractError::NotText`] for binary content, [`ExtractError::Empty`] when there is no text.
pub fn extract_markdown(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    extract_markdown_with_charset(bytes, None)
}

/// Extracts Markdown whose sender declared `charset` (a WHATWG encoding label; a BOM still
/// decides first, unknown labels are ignored).
///
/// # Errors
///
/// As [`extract_markdown`].
pub fn extract_markdown_with_charset(
    bytes: &[u8],
    charset: Option<&str>,
) -> Result<Extracted, ExtractError> {
    let text = crate::extract::text::decode_declared(bytes, charset)?;
    let text = text.as_ref();
    let mut builder = Builder::default();
    let mut buffer = String::new();
    let mut cells: Vec<String> = Vec::new();
    let mut list_depth = 0usize;
    for event in Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Heading { .. } | Tag::Paragraph | Tag::TableCell)
                if list_depth == 0 =>
            {
                buffer.clear();
            }
            Event::Start(Tag::Item) => {
                list_depth += 1;
                buffer.clear();
            }
            Event::End(TagEnd::Heading(heading)) => {
                builder.heading(level(heading), &buffer);
                buffer.clear();
            }
            Event::End(TagEnd::Paragraph) if list_depth == 0 => {
                builder.block(BlockKind::Paragraph, &buffer);
                buffer.clear();
            }
            Event::End(TagEnd::Paragraph) => buffer.push(' '),
            Event::End(TagEnd::Item) => {
                builder.block(BlockKind::ListItem, &buffer);
                buffer.clear();
                list_depth = list_depth.saturating_sub(1);
            }
            Event::End(TagEnd::TableCell) => {
                cells.push(crate::normalise(&buffer));
                buffer.clear();
            }
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                builder.block(BlockKind::TableRow, &cells.join(" | "));
                cells.clear();
            }
            Event::Text(text) | Event::Code(text) => buffer.push_str(&text),
            Event::SoftBreak | Event::HardBreak => buffer.push(' '),
            _ => {}
        }
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockKind;

    #[test]
    fn headings_lists_and_tables_keep_their_path() {
        let doc = extract_markdown(
            b"# Guide\n\n## Visual Guidelines\n\n### Colour palettes\n\nOur colours:\n\n| Name | HEX |\n|---|---|\n| Harbour Blue | #1B3A5C |\n\n- **Functional:** fast\n- second item\n",
        )
        .unwrap();
        assert_eq!(doc.title.as_deref(), Some("Guide"));
        let blocks = &doc.pages[0].blocks;
        let row = blocks
            .iter()
            .find(|b| b.kind == BlockKind::TableRow && b.text.contains("Harbour"))
            .unwrap();
        assert_eq!(row.text, "Harbour Blue | #1B3A5C");
        assert_eq!(
            row.headings,
            ["Guide", "Visual Guidelines", "Colour palettes"]
        );
        let item = blocks
            .iter()
            .find(|b| b.kind == BlockKind::ListItem)
            .unwrap();
        assert_eq!(item.text, "Functional: fast");
        assert!(extract_markdown(b"   \n").is_err());
    }

    #[test]
    fn legacy_encoded_markdown_is_decoded() {
        let source = "# Руководство\n\n## Цвета\n\nНаш основной цвет — тёмно-синий, \
                      дополнительный — песочный.\n\n- первый пункт\n- второй пункт\n";
        let (bytes, _, _) = encoding_rs::KOI8_R.encode(source);
        let doc = extract_markdown(&bytes).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Руководство"));
        assert!(doc.pages[0]
            .blocks
            .iter()
            .any(|b| b.kind == BlockKind::ListItem && b.text == "второй пункт"));
        assert_eq!(
            extract_markdown(b"# T\0\x01\x02\x03\xff"),
            Err(ExtractError::NotText)
        );
    }
}
