//! HTML: headings, paragraphs, list items and table rows; navigation, scripts, styles and other
//! page furniture are dropped.

use scraper::{ElementRef, Html, Node};

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted};

/// Elements whose content is never brand text.
const SKIPPED: &[&str] = &[
    "script", "style", "nav", "noscript", "template", "svg", "header", "footer", "form", "button",
    "iframe", "head",
];

/// Extracts HTML.
pub fn extract_html(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| ExtractError::NotText)?;
    let document = Html::parse_document(text);
    let mut builder = Builder::default();
    walk(document.root_element(), &mut builder);
    builder.finish()
}

fn text_of(element: ElementRef<'_>) -> String {
    let mut out = String::new();
    collect_text(element, &mut out);
    out
}

fn collect_text(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(inner) if !SKIPPED.contains(&inner.name()) => {
                if let Some(child) = ElementRef::wrap(child) {
                    let block = matches!(inner.name(), "br" | "p" | "div" | "li" | "td" | "th");
                    if block {
                        out.push(' ');
                    }
                    collect_text(child, out);
                    if block {
                        out.push(' ');
                    }
                }
            }
            _ => {}
        }
    }
}

fn walk(element: ElementRef<'_>, builder: &mut Builder) {
    let name = element.value().name();
    if SKIPPED.contains(&name) {
        return;
    }
    match name {
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            let level = name.as_bytes()[1] - b'0';
            builder.heading(level, &text_of(element));
        }
        "p" | "blockquote" | "pre" | "figcaption" | "dt" | "dd" => {
            builder.block(BlockKind::Paragraph, &text_of(element))
        }
        "li" => {
            // Nested lists become their own items.
            let own: String = element
                .children()
                .filter(|child| !matches!(child.value(), Node::Element(e) if matches!(e.name(), "ul" | "ol")))
                .filter_map(|child| match child.value() {
                    Node::Text(text) => Some(text.to_string()),
                    Node::Element(_) => ElementRef::wrap(child).map(text_of),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" ");
            builder.block(BlockKind::ListItem, &own);
            for child in element.children().filter_map(ElementRef::wrap) {
                if matches!(child.value().name(), "ul" | "ol") {
                    walk(child, builder);
                }
            }
        }
        "tr" => {
            let cells: Vec<String> = element
                .children()
                .filter_map(ElementRef::wrap)
                .filter(|cell| matches!(cell.value().name(), "td" | "th"))
                .map(|cell| crate::normalise(&text_of(cell)))
                .collect();
            builder.block(BlockKind::TableRow, &cells.join(" | "));
        }
        _ => {
            for child in element.children() {
                match child.value() {
                    Node::Element(_) => {
                        if let Some(child) = ElementRef::wrap(child) {
                            walk(child, builder);
                        }
                    }
                    Node::Text(text)
                        if matches!(name, "body" | "div" | "section" | "article" | "main") =>
                    {
                        builder.block(BlockKind::Paragraph, text);
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn furniture_is_dropped_and_structure_kept() {
        let doc = extract_html(
            br#"<!doctype html><html><head><title>T</title><style>p{}</style></head><body>
            <nav><a href="/">Home</a></nav><h1>Guide</h1><h2>Tone of Voice</h2><h3>Tone scenarios</h3>
            <p>Be <b>warm</b>.</p><ul><li>One<ul><li>Nested</li></ul></li></ul>
            <table><tr><th>Name</th><th>HEX</th></tr><tr><td>Sea</td><td>#123456</td></tr></table>
            <script>alert(1)</script></body></html>"#,
        )
        .unwrap();
        let blocks = &doc.pages[0].blocks;
        let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
        assert!(
            !texts
                .iter()
                .any(|t| t.contains("Home") || t.contains("alert")),
            "{texts:?}"
        );
        let paragraph = blocks
            .iter()
            .find(|b| b.text == "Be warm .")
            .or_else(|| blocks.iter().find(|b| b.text.starts_with("Be")))
            .unwrap();
        assert_eq!(
            paragraph.headings,
            ["Guide", "Tone of Voice", "Tone scenarios"]
        );
        assert!(texts.contains(&"One") && texts.contains(&"Nested"));
        assert!(texts.contains(&"Sea | #123456"));
        assert_eq!(doc.title.as_deref(), Some("Guide"));
    }
}
