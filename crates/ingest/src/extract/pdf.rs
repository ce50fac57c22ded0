//! PDF: the text layer, page by page (pdf-extract, on lopdf).
//!
//! A PDF's text layer has no structure, so structure is inferred: running headers and footers
//! (lines repeated on most pages, digits ignored) are dropped; blank lines separate
//! paragraphs; a short, unpunctuated line standing alone before body text is a heading (a
//! heading that names a catalogue section sits one level above the others); bulleted lines are
//! list items; paragraphs made only of short lines (table rows, lists without bullets) keep one
//! block per line.
//!
//! Parsing untrusted PDFs is risky: the parser can panic or run long on hostile input. Here a
//! panic becomes an error; the server runs this in a child process with time and memory limits.

use std::collections::HashMap;

use brandstream_domain::brand::CATALOGUE;

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted, Page};

fn classify(error: &pdf_extract::OutputError) -> ExtractError {
    let message = error.to_string();
    if message.contains("decrypt") || message.contains("password") || message.contains("ncrypt") {
        ExtractError::Encrypted
    } else {
        ExtractError::Corrupt(format!("the PDF cannot be read: {message}"))
    }
}

/// A line with its digits blanked, to recognise "Page 3 of 9" as the same footer everywhere.
fn shape(line: &str) -> String {
    line.trim()
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

fn is_bullet(line: &str) -> Option<&str> {
    ["• ", "- ", "* ", "– ", "· ", "▪ "]
        .iter()
        .find_map(|bullet| line.strip_prefix(bullet))
}

fn looks_like_heading(line: &str) -> bool {
    let words = line.split_whitespace().count();
    let last = line.chars().last().unwrap_or('.');
    let first = line.chars().next().unwrap_or('a');
    (1..=10).contains(&words)
        && line.chars().count() <= 80
        && !matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | ')')
        && (first.is_uppercase() || first.is_ascii_digit())
        && !line.contains('|')
        && is_bullet(line).is_none()
}

/// Extracts a PDF's text layer.
pub fn extract_pdf(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Corrupt("the PDF is empty".into()));
    }
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| ExtractError::Corrupt("the PDF cannot be read (the parser failed)".into()))?
        .map_err(|error| classify(&error))?;
    if pages.iter().all(|page| page.trim().is_empty()) {
        return Err(ExtractError::Empty);
    }

    // Running headers and footers: line shapes present on at least half of three or more pages.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for page in &pages {
        let mut shapes: Vec<String> = page.lines().map(shape).filter(|s| !s.is_empty()).collect();
        shapes.sort();
        shapes.dedup();
        for shape in shapes {
            *seen.entry(shape).or_default() += 1;
        }
    }
    let repeated = |line: &str| {
        pages.len() >= 3
            && seen
                .get(&shape(line))
                .is_some_and(|count| *count * 2 >= pages.len())
    };
    let sections: Vec<String> = CATALOGUE
        .iter()
        .map(|section| section.name.to_lowercase())
        .collect();

    let mut builder = Builder::default();
    let mut title = None;
    let mut out = Vec::with_capacity(pages.len());
    for (index, text) in pages.iter().enumerate() {
        let mut paragraphs: Vec<Vec<&str>> = vec![Vec::new()];
        for line in text.lines().map(str::trim) {
            if line.is_empty() {
                paragraphs.push(Vec::new());
            } else if !repeated(line) {
                if let Some(current) = paragraphs.last_mut() {
                    current.push(line);
                }
            }
        }
        paragraphs.retain(|lines| !lines.is_empty());
        for (position, lines) in paragraphs.iter().enumerate() {
            let next_is_body = paragraphs
                .get(position + 1)
                .is_some_and(|next| !(next.len() == 1 && looks_like_heading(next[0])));
            if lines.len() == 1 && looks_like_heading(lines[0]) && (next_is_body || index == 0) {
                let line = lines[0];
                let level = if index == 0 && builder.is_empty() {
                    1
                } else if sections.contains(&line.to_lowercase()) {
                    2
                } else {
                    3
                };
                builder.heading(level, line);
                continue;
            }
            let short = lines.iter().all(|line| line.chars().count() <= 60);
            if lines.iter().any(|line| is_bullet(line).is_some()) || (short && lines.len() > 1) {
                let mut item = String::new();
                for line in lines {
                    match is_bullet(line) {
                        Some(rest) => {
                            if !item.is_empty() {
                                builder.block(BlockKind::ListItem, &item);
                            }
                            item = rest.to_owned();
                        }
                        None if short => {
                            if !item.is_empty() {
                                builder.block(BlockKind::ListItem, &item);
                            }
                            item = (*line).to_owned();
                        }
                        None => {
                            item.push(' ');
                            item.push_str(line);
                        }
                    }
                }
                if !item.is_empty() {
                    builder.block(BlockKind::ListItem, &item);
                }
            } else {
                builder.block(BlockKind::Paragraph, &lines.join(" "));
            }
        }
        out.push(Page {
            number: index as u32 + 1,
            blocks: builder.take_blocks(&mut title),
        });
    }
    Ok(Extracted { title, pages: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

    #[test]
    fn the_sample_pdf_keeps_pages_and_headings_without_footers() {
        let Ok(bytes) = std::fs::read(format!("{SAMPLES}/northwind-coffee-roasters.pdf")) else {
            eprintln!("skipped: ../shared/samples not found");
            return;
        };
        let doc = extract_pdf(&bytes).unwrap();
        assert_eq!(doc.pages.len(), 9);
        let blocks: Vec<(u32, &crate::Block)> = doc
            .pages
            .iter()
            .flat_map(|page| page.blocks.iter().map(move |block| (page.number, block)))
            .collect();
        assert!(
            !blocks.iter().any(|(_, block)| block.text.contains(" of 9")),
            "footers dropped"
        );
        let (_, purpose) = blocks
            .iter()
            .find(|(_, block)| block.text.contains("fair trade between grower"))
            .unwrap();
        assert!(
            purpose.headings.iter().any(|h| h == "Brand purpose"),
            "{:?}",
            purpose.headings
        );
        assert!(
            purpose.headings.iter().any(|h| h == "Brand Context"),
            "{:?}",
            purpose.headings
        );
        let palette = blocks.iter().find(|(_, block)| {
            block
                .headings
                .last()
                .is_some_and(|h| h == "Colour palettes")
        });
        assert!(palette.is_some(), "a block under Colour palettes");
    }

    #[test]
    fn broken_pdfs_are_clear_errors() {
        let read = |name: &str| std::fs::read(format!("{SAMPLES}/bad/{name}")).ok();
        let Some(encrypted) = read("encrypted.pdf") else {
            eprintln!("skipped: ../shared/samples not found");
            return;
        };
        assert_eq!(extract_pdf(&encrypted), Err(ExtractError::Encrypted));
        assert_eq!(
            extract_pdf(&read("image-only.pdf").unwrap()),
            Err(ExtractError::Empty)
        );
        assert!(matches!(
            extract_pdf(&read("truncated.pdf").unwrap()),
            Err(ExtractError::Corrupt(_))
        ));
        assert!(matches!(
            extract_pdf(&read("empty.pdf").unwrap()),
            Err(ExtractError::Corrupt(_))
        ));
        assert!(matches!(
            extract_pdf(&read("not-a-pdf.pdf").unwrap()),
            Err(ExtractError::Corrupt(_))
        ));
    }
}
