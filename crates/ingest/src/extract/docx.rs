//! Word documents (Office Open XML): headings from paragraph styles, list items, tables
//! flattened to rows, explicit page breaks honoured. Footers and headers live in other parts
//! and are ignored.
//!
//! A DOCX is a ZIP archive, so every part is read through a size limit: a small file that
//! inflates to gigabytes (a zip bomb) is refused once it passes the limit, whatever sizes the
//! archive declares.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted, Page};

/// Default limit on the decompressed size of one part.
pub const DEFAULT_PART_LIMIT: u64 = 200 * 1024 * 1024;

fn read_part(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, ExtractError> {
    let file = match archive.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(error) => {
            return Err(ExtractError::Corrupt(format!(
                "the Word archive is damaged: {error}"
            )))
        }
    };
    if file.size() > limit {
        return Err(ExtractError::TooLarge(limit));
    }
    let mut out = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|error| ExtractError::Corrupt(format!("the Word archive is damaged: {error}")))?;
    if out.len() as u64 > limit {
        return Err(ExtractError::TooLarge(limit));
    }
    Ok(Some(out))
}

fn attribute(element: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.local_name().as_ref() == local)
        .and_then(|attribute| {
            attribute
                .unescape_value()
                .ok()
                .map(|value| value.into_owned())
        })
}

/// Style id → heading level, from `word/styles.xml` (`Title` is 1, `heading N` is N + 1).
fn heading_styles(styles: &[u8]) -> HashMap<String, u8> {
    let mut levels = HashMap::new();
    let mut reader = Reader::from_reader(styles);
    let mut buffer = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(element)) | Ok(Event::Empty(element)) => {
                match element.local_name().as_ref() {
                    b"style" => current = attribute(&element, b"styleId"),
                    b"name" => {
                        if let (Some(id), Some(name)) =
                            (current.as_ref(), attribute(&element, b"val"))
                        {
                            if let Some(level) = level_of_name(&name) {
                                levels.insert(id.clone(), level);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buffer.clear();
    }
    levels
}

fn level_of_name(name: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase();
    if name == "title" {
        return Some(1);
    }
    let number = name.strip_prefix("heading")?.trim().parse::<u8>().ok()?;
    (1..=8).contains(&number).then_some(number + 1)
}

/// Extracts a DOCX, refusing any part that inflates beyond `part_limit` bytes.
pub fn extract_docx(bytes: &[u8], part_limit: u64) -> Result<Extracted, ExtractError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| ExtractError::Corrupt(format!("not a readable Word document: {error}")))?;
    let document = read_part(&mut archive, "word/document.xml", part_limit)?.ok_or_else(|| {
        ExtractError::Corrupt("the Word document has no word/document.xml".into())
    })?;
    let styles = read_part(&mut archive, "word/styles.xml", part_limit)?
        .map(|xml| heading_styles(&xml))
        .unwrap_or_default();

    let mut pages: Vec<Page> = Vec::new();
    let mut builder = Builder::default();
    let mut reader = Reader::from_reader(document.as_slice());
    let mut buffer = Vec::new();
    let mut text = String::new();
    let mut style: Option<String> = None;
    let mut list_item = false;
    let mut page_break_after = false;
    let mut table_depth = 0usize;
    let mut cells: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut in_text = false;
    let mut title: Option<String> = None;

    let mut new_page = |builder: &mut Builder, pages: &mut Vec<Page>| {
        let blocks = builder.take_blocks(&mut title);
        pages.push(Page {
            number: pages.len() as u32 + 1,
            blocks,
        });
    };
    loop {
        let event = reader.read_event_into(&mut buffer).map_err(|error| {
            ExtractError::Corrupt(format!("the Word document's XML is malformed: {error}"))
        })?;
        match event {
            Event::Start(element) | Event::Empty(element) => match element.local_name().as_ref() {
                b"p" => {
                    text.clear();
                    style = None;
                    list_item = false;
                }
                b"pStyle" => style = attribute(&element, b"val"),
                b"numPr" => list_item = true,
                b"pageBreakBefore" if table_depth == 0 && !builder.is_empty() => {
                    new_page(&mut builder, &mut pages);
                }
                b"br" if attribute(&element, b"type").as_deref() == Some("page") => {
                    page_break_after = true
                }
                b"tab" => text.push(' '),
                b"t" => in_text = true,
                b"tbl" => table_depth += 1,
                b"tr" if table_depth == 1 => cells.clear(),
                b"tc" if table_depth == 1 => cell.clear(),
                _ => {}
            },
            Event::Text(content) if in_text => {
                let content = content.unescape().map_err(|error| {
                    ExtractError::Corrupt(format!("the Word document's XML is malformed: {error}"))
                })?;
                text.push_str(&content);
            }
            Event::End(element) => match element.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    if table_depth > 0 {
                        if !cell.is_empty() {
                            cell.push(' ');
                        }
                        cell.push_str(&text);
                    } else {
                        let level = style
                            .as_ref()
                            .and_then(|id| styles.get(id).copied().or_else(|| level_of_name(id)));
                        match level {
                            Some(level) => builder.heading(level, &text),
                            None if list_item => builder.block(BlockKind::ListItem, &text),
                            None => builder.block(BlockKind::Paragraph, &text),
                        }
                    }
                    text.clear();
                    if page_break_after && table_depth == 0 {
                        page_break_after = false;
                        new_page(&mut builder, &mut pages);
                    }
                }
                b"tc" if table_depth == 1 => cells.push(crate::normalise(&cell)),
                b"tr" if table_depth == 1 => builder.block(BlockKind::TableRow, &cells.join(" | ")),
                b"tbl" => table_depth = table_depth.saturating_sub(1),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    new_page(&mut builder, &mut pages);
    pages.retain(|page| !page.blocks.is_empty());
    for (index, page) in pages.iter_mut().enumerate() {
        page.number = index as u32 + 1;
    }
    if pages.is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted { title, pages })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

    #[test]
    fn the_sample_docx_has_pages_headings_and_tables() {
        let Ok(bytes) = std::fs::read(format!("{SAMPLES}/northwind-coffee-roasters.docx")) else {
            eprintln!("skipped: ../shared/samples not found");
            return;
        };
        let doc = extract_docx(&bytes, DEFAULT_PART_LIMIT).unwrap();
        // The sample has three explicit page breaks.
        assert_eq!(doc.pages.len(), 4, "page breaks honoured");
        let blocks: Vec<&crate::Block> = doc.pages.iter().flat_map(|page| &page.blocks).collect();
        let row = blocks
            .iter()
            .find(|block| block.kind == BlockKind::TableRow && block.text.contains('#'))
            .unwrap();
        assert!(
            row.headings.iter().any(|h| h == "Colour palettes"),
            "{:?}",
            row.headings
        );
        assert!(blocks.iter().any(|block| block.kind == BlockKind::ListItem));
        assert!(
            !blocks
                .iter()
                .any(|block| block.text.starts_with("Page ") && block.text.contains(" of ")),
            "footers ignored"
        );
    }

    #[test]
    fn a_zip_bomb_is_refused_at_the_limit() {
        let Ok(bytes) = std::fs::read(format!("{SAMPLES}/bad/zip-bomb.docx")) else {
            eprintln!("skipped: ../shared/samples not found");
            return;
        };
        let started = std::time::Instant::now();
        assert!(matches!(
            extract_docx(&bytes, 10 * 1024 * 1024),
            Err(ExtractError::TooLarge(_))
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(extract_docx(b"PK\x03\x04 not really", DEFAULT_PART_LIMIT).is_err());
    }
}
