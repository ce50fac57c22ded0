//! Recognising a document's type from its bytes, never from its name or a client's claim, and
//! checking that what the client declared agrees.

/// The document types Brandstream ingests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// PDF.
    Pdf,
    /// Word (Office Open XML).
    Docx,
    /// HTML.
    Html,
    /// Markdown.
    Markdown,
    /// Plain text.
    Text,
}

impl FileKind {
    /// The MIME type reported as `fileType`.
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Html => "text/html",
            FileKind::Markdown => "text/markdown",
            FileKind::Text => "text/plain",
        }
    }

    /// A short name (`pdf`, `docx`, `html`, `markdown`, `text`), also accepted by
    /// [`FileKind::from_declared`].
    pub fn short_name(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Docx => "docx",
            FileKind::Html => "html",
            FileKind::Markdown => "markdown",
            FileKind::Text => "text",
        }
    }

    /// The kind a declared MIME type, short name or file extension stands for, if known.
    pub fn from_declared(declared: &str) -> Option<Self> {
        let value = declared
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let value = value
            .rsplit('.')
            .next()
            .filter(|_| !value.contains('/'))
            .unwrap_or(&value)
            .to_owned();
        match value.as_str() {
            "application/pdf" | "pdf" => Some(FileKind::Pdf),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" | "docx" => {
                Some(FileKind::Docx)
            }
            "text/html" | "application/xhtml+xml" | "html" | "htm" | "xhtml" => {
                Some(FileKind::Html)
            }
            "text/markdown" | "text/x-markdown" | "markdown" | "md" => Some(FileKind::Markdown),
            "text/plain" | "text" | "txt" => Some(FileKind::Text),
            _ => None,
        }
    }

    /// Whether content detected as `self` may carry the declared kind. Markdown and plain text
    /// are interchangeable (Markdown is plain text); everything else must match exactly.
    pub fn agrees_with(self, declared: FileKind) -> bool {
        let textual = |kind| matches!(kind, FileKind::Markdown | FileKind::Text);
        self == declared || (textual(self) && textual(declared))
    }
}

/// How far into a document HTML markup is looked for: far enough to pass a few kilobytes of
/// script or comments placed before `<html>`.
const HTML_SNIFF_BYTES: usize = 8 * 1024;

/// Markup that only HTML has, looked for (ASCII case-insensitively) near the start.
const HTML_MARKERS: &[&[u8]] = &[
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<meta",
    b"<title",
];

/// Detects the type of `bytes`, or `None` when it is none of the supported types.
///
/// - PDF: `%PDF-` within the first KiB.
/// - DOCX: a ZIP holding a WordprocessingML package (see [`crate::extract::docx::is_word_package`]:
///   the main document found through `[Content_Types].xml` or `_rels/.rels`, ECMA-376 Part 2);
///   a ZIP too damaged to open counts when its local headers name Word parts, so that the
///   upload fails with a message about the damage rather than "unsupported type".
/// - HTML: text whose first non-blank character is `<` and which has HTML markup
///   (`<!doctype html`, `<html`, `<head`, `<body`, `<meta`, `<title`) in its first 8 KiB,
///   even after scripts or comments. The test is on the raw bytes, so pages in legacy
///   ASCII-compatible encodings qualify; UTF-16 pages qualify by their BOM.
/// - Markdown or plain text: anything else that is not binary (NUL bytes, many control
///   bytes), in any encoding ([`crate::extract::text`] decodes it).
pub fn detect_kind(bytes: &[u8]) -> Option<FileKind> {
    // PDF: the header may follow a little junk, as readers tolerate (within 1 KiB).
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|window| window == b"%PDF-") {
        return Some(FileKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return match crate::extract::docx::is_word_package(bytes) {
            Some(true) => Some(FileKind::Docx),
            Some(false) => None,
            // Unreadable archive: only a Word document's part names make it a (damaged) DOCX.
            None => {
                let probe = &bytes[..bytes.len().min(256 * 1024)];
                let has = |name: &[u8]| probe.windows(name.len()).any(|window| window == name);
                (has(b"word/document.xml") || has(b"[Content_Types].xml") && has(b"word/"))
                    .then_some(FileKind::Docx)
            }
        };
    }
    if crate::extract::text::looks_binary(bytes) {
        return None;
    }
    if looks_like_html(bytes) {
        return Some(FileKind::Html);
    }
    // Markdown or text is decided on the first 64 KiB (cut at a line end, so no character is
    // split): decoding a 100 MiB upload here would only delay the answer.
    let probe = if bytes.len() > 64 * 1024 {
        let head = &bytes[..64 * 1024];
        head.iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(head, |end| &head[..=end])
    } else {
        bytes
    };
    let text = crate::extract::text::decode_document(probe).ok()?;
    if text.trim().is_empty() {
        return Some(FileKind::Text);
    }
    Some(if looks_like_markdown(&text) {
        FileKind::Markdown
    } else {
        FileKind::Text
    })
}

/// Whether the start of `bytes` is HTML markup (see [`detect_kind`]).
fn looks_like_html(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(HTML_SNIFF_BYTES)];
    let head: std::borrow::Cow<'_, [u8]> = match encoding_rs::Encoding::for_bom(head) {
        Some((encoding, bom_length)) if encoding != encoding_rs::UTF_8 => {
            // UTF-16: markup is ASCII once decoded (a split last code unit is harmless here).
            let text = encoding
                .decode_without_bom_handling(&head[bom_length..])
                .0
                .into_owned();
            text.into_bytes().into()
        }
        Some((_, bom_length)) => head[bom_length..].into(),
        None => head.into(),
    };
    let Some(first) = head.iter().position(|byte| !byte.is_ascii_whitespace()) else {
        return false;
    };
    if head[first] != b'<' {
        return false;
    }
    let lower = head.to_ascii_lowercase();
    HTML_MARKERS.iter().any(|marker| {
        lower
            .windows(marker.len() + 1)
            .any(|window| window.starts_with(marker) && ends_tag_name(window[marker.len()]))
            // The marker may end the sniffed bytes.
            || lower.ends_with(marker)
    })
}

/// Whether `byte` may follow a tag name (`<head>` is a head, `<header>` and `<heading>` are not).
fn ends_tag_name(byte: u8) -> bool {
    byte.is_ascii_whitespace() || byte == b'>' || byte == b'/'
}

/// Markdown has structure plain text rarely has: ATX headings, list markers, pipe tables,
/// fences, links or emphasis. Two kinds of signal make it Markdown.
fn looks_like_markdown(text: &str) -> bool {
    let mut signals = [false; 6];
    for line in text.lines().take(2000) {
        let line = line.trim_start();
        if line.starts_with('#') && line.trim_start_matches('#').starts_with(' ') {
            signals[0] = true;
        }
        if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
            signals[1] = true;
        }
        if line.starts_with('|') && line.matches('|').count() >= 2 {
            signals[2] = true;
        }
        if line.starts_with("```") || line.starts_with("~~~") {
            signals[3] = true;
        }
        if line.contains("](") {
            signals[4] = true;
        }
        if line.contains("**") || (line.starts_with('_') && line.ends_with('_') && line.len() > 2) {
            signals[5] = true;
        }
    }
    signals.iter().filter(|signal| **signal).count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

    fn sample(name: &str) -> Option<Vec<u8>> {
        std::fs::read(format!("{SAMPLES}/{name}")).ok()
    }

    #[test]
    fn the_samples_are_recognised_by_content() {
        let Some(pdf) = sample("northwind-coffee-roasters.pdf") else {
            brandstream_domain::testing::skip("shared", "../shared/samples not found");
            return;
        };
        assert_eq!(detect_kind(&pdf), Some(FileKind::Pdf));
        assert_eq!(
            detect_kind(&sample("northwind-coffee-roasters.docx").unwrap()),
            Some(FileKind::Docx)
        );
        assert_eq!(
            detect_kind(&sample("northwind-coffee-roasters.html").unwrap()),
            Some(FileKind::Html)
        );
        assert_eq!(
            detect_kind(&sample("northwind-coffee-roasters.md").unwrap()),
            Some(FileKind::Markdown)
        );
        // A text file named .pdf is text, and the declared type disagrees.
        let fake = sample("bad/not-a-pdf.pdf").unwrap();
        let detected = detect_kind(&fake).unwrap();
        assert!(matches!(detected, FileKind::Text | FileKind::Markdown));
        assert!(!detected.agrees_with(FileKind::from_declared("not-a-pdf.pdf").unwrap()));
    }

    #[test]
    fn binary_and_declared_types() {
        assert_eq!(detect_kind(b"\x89PNG\r\n\x1a\n\0\0"), None);
        assert_eq!(detect_kind(b"PK\x03\x04random zip"), None);
        assert_eq!(
            detect_kind(b"plain words, nothing more"),
            Some(FileKind::Text)
        );
        assert_eq!(
            detect_kind(b"<!DOCTYPE html><html><body>x</body></html>"),
            Some(FileKind::Html)
        );
        assert_eq!(
            FileKind::from_declared("application/pdf; charset=binary"),
            Some(FileKind::Pdf)
        );
        assert_eq!(FileKind::from_declared("Guide.DOCX"), Some(FileKind::Docx));
        assert_eq!(FileKind::from_declared("text/plain"), Some(FileKind::Text));
        assert_eq!(FileKind::from_declared("image/png"), None);
        assert!(FileKind::Markdown.agrees_with(FileKind::Text));
        assert!(!FileKind::Html.agrees_with(FileKind::Pdf));
    }
}
