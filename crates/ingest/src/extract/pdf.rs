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

/// `text` without apostrophes (straight or curly), for comparing names like "Dos and Dont's"
/// with "Dos and Don'ts".
fn without_apostrophes(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '\'' | '’')).collect()
}

/// Lays out one page's characters as lines of text. Like a plain-text rendering, but a gap
/// wider than a column gutter on the same line becomes ` | `, so table cells stay apart.
#[derive(Default)]
struct Layout {
    text: String,
    height: f64,
    last_end: f64,
    last_y: f64,
    word_start: bool,
}

impl pdf_extract::OutputDev for Layout {
    fn begin_page(
        &mut self,
        _page: u32,
        media_box: &pdf_extract::MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        self.height = media_box.ury - media_box.lly;
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        let (x, y) = (trm.m31, self.height - trm.m32);
        let size_x = font_size * (trm.m11 + trm.m21);
        let size_y = font_size * (trm.m12 + trm.m22);
        let size = (size_x * size_y).abs().sqrt();
        if self.word_start && !self.text.is_empty() {
            let dy = (y - self.last_y).abs();
            if dy > size * 1.5 {
                self.text.push_str("\n\n");
            } else if dy > size * 0.5 || x < self.last_end - size {
                self.text.push('\n');
            } else if x > self.last_end + size * 1.2 {
                self.text.push_str(" | ");
            } else if x > self.last_end + size * 0.1 {
                self.text.push(' ');
            }
        }
        self.text.push_str(text);
        self.word_start = false;
        self.last_y = y;
        self.last_end = x + width * size;
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.word_start = true;
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
}

/// The text of every page. A page the parser fails on (an error or a panic) is left empty and
/// the others are still read; only a document that cannot be opened at all is an error.
fn read_pages(bytes: &[u8]) -> Result<Vec<String>, ExtractError> {
    let opened = std::panic::catch_unwind(|| {
        let mut document = pdf_extract::Document::load_mem(bytes)?;
        if document.is_encrypted() {
            // An empty user password still opens documents that only restrict permissions.
            document.decrypt("")?;
        }
        Ok::<_, pdf_extract::Error>(document)
    })
    .map_err(|_| ExtractError::Corrupt("the PDF cannot be read (the parser failed)".into()))?;
    let document = match opened {
        Ok(document) => document,
        Err(error) => return Err(classify(&pdf_extract::OutputError::PdfError(error))),
    };
    let numbers: Vec<u32> = document.get_pages().keys().copied().collect();
    let mut pages = Vec::with_capacity(numbers.len());
    for number in numbers {
        let page = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut layout = Layout::default();
            pdf_extract::output_doc_page(&document, &mut layout, number).map(|()| layout.text)
        }));
        pages.push(match page {
            Ok(Ok(text)) => text,
            _ => String::new(),
        });
    }
    Ok(pages)
}

/// Extracts a PDF's text layer.
pub fn extract_pdf(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Corrupt("the PDF is empty".into()));
    }
    let pages = read_pages(bytes)?;
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
        .map(|section| without_apostrophes(section.name))
        .collect();
    // A heading names a catalogue section when it matches one exactly (apostrophes aside), or
    // in capitals: "Brand Context" is the chapter, "Brand context" its subsection.
    let names_section = |line: &str| {
        let line = without_apostrophes(line);
        let capitals =
            line.chars().any(char::is_alphabetic) && !line.chars().any(char::is_lowercase);
        sections
            .iter()
            .any(|name| *name == line || (capitals && name.to_uppercase() == line))
    };

    let page_paragraphs: Vec<Vec<Vec<&str>>> = pages
        .iter()
        .map(|text| {
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
            paragraphs
        })
        .collect();
    // The paragraphs after (page, position), across page breaks.
    let following = |page: usize, position: usize| {
        page_paragraphs[page]
            .iter()
            .skip(position + 1)
            .chain(page_paragraphs.iter().skip(page + 1).flatten())
    };
    let heading_like = |lines: &Vec<&str>| lines.len() == 1 && looks_like_heading(lines[0]);

    let mut builder = Builder::default();
    let mut title = None;
    let mut out = Vec::with_capacity(pages.len());
    for (index, paragraphs) in page_paragraphs.iter().enumerate() {
        for (position, lines) in paragraphs.iter().enumerate() {
            // Lines with column gaps are table rows; the rest of their paragraph stays as is.
            if lines.iter().any(|line| line.contains(" | ")) {
                for line in lines {
                    let kind = if line.contains(" | ") {
                        BlockKind::TableRow
                    } else {
                        BlockKind::Paragraph
                    };
                    builder.block(kind, line);
                }
                continue;
            }
            // A heading stands before body text — on this page or the next (a chapter title at
            // the foot of a page) — or before a subheading that does: a chapter title directly
            // followed by its first section.
            let mut next = following(index, position);
            let next_is_body = match (next.next(), next.next()) {
                (Some(first), _) if !heading_like(first) => true,
                (Some(_), Some(second)) => !heading_like(second) && names_section(lines[0]),
                _ => false,
            };
            if heading_like(lines) && (next_is_body || index == 0) {
                let line = lines[0];
                let level = if index == 0 && builder.is_empty() {
                    1
                } else if names_section(line) {
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

    #[test]
    fn chapters_and_their_sections_nest_like_the_catalogue() {
        let Ok(bytes) = std::fs::read(format!("{SAMPLES}/northwind-coffee-roasters.pdf")) else {
            eprintln!("skipped: ../shared/samples not found");
            return;
        };
        let document = extract_pdf(&bytes).unwrap();
        let headings: Vec<(u8, &str)> = document
            .pages
            .iter()
            .flat_map(|page| page.blocks.iter())
            .filter_map(|block| match block.kind {
                BlockKind::Heading(level) => Some((level, block.text.as_str())),
                _ => None,
            })
            .collect();
        // A chapter title at the foot of a page is still a chapter; its first section, named
        // like it but in sentence case, is a section below it.
        for (chapter, section) in [
            ("Tone of Voice", "Tone of voice"),
            ("Brand Context", "Brand context"),
            ("Image Style", "Image style"),
        ] {
            assert!(headings.contains(&(2, chapter)), "{chapter}: {headings:?}");
            assert!(headings.contains(&(3, section)), "{section}: {headings:?}");
        }
        // "Dos and Don'ts" is the catalogue's "Dos and Dont's" chapter.
        assert!(headings.contains(&(2, "Dos and Don'ts")), "{headings:?}");
    }
}
