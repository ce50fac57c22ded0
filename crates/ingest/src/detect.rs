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

/// Detects the type of `bytes`, or `None` when it is none of the supported types.
pub fn detect_kind(bytes: &[u8]) -> Option<FileKind> {
    // PDF: the header may follow a little junk, as readers tolerate (within 1 KiB).
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|window| window == b"%PDF-") {
        return Some(FileKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        // A ZIP: only a Word document's part names make it a DOCX.
        let probe = &bytes[..bytes.len().min(256 * 1024)];
        let has = |name: &[u8]| probe.windows(name.len()).any(|window| window == name);
        return (has(b"word/document.xml") || has(b"[Content_Types].xml") && has(b"word/"))
            .then_some(FileKind::Docx);
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).ok()?;
    if text.contains('\0') {
        return None;
    }
    let start: String = text
        .trim_start()
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    if start.starts_with("<!doctype html")
        || start.starts_with("<html")
        || (start.starts_with('<') && (start.contains("<body") || start.contains("<head")))
    {
        return Some(FileKind::Html);
    }
    if text.trim().is_empty() {
        return Some(FileKind::Text);
    }
    Some(if looks_like_markdown(text) {
        FileKind::Markdown
    } else {
        FileKind::Text
    })
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
            eprintln!("skipped: ../shared/samples not found");
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
