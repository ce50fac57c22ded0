//! HTML: headings, paragraphs, list items and table rows; navigation, scripts, styles and other
//! page furniture are dropped, and so are inline `data:` URIs (base64 images pasted as text).
//!
//! Pages in legacy encodings are decoded the way browsers decode them (WHATWG HTML §13.2.3
//! "Determining the character encoding"): a byte order mark, then a `<meta charset>` or
//! `<meta http-equiv="Content-Type">` found by the prescan, then the charset the caller was
//! given, then detection with `chardetng`; decoding is done by `encoding_rs`.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252, X_USER_DEFINED};
use scraper::{ElementRef, Html, Node};

use crate::extract::text::{decode_with, detect_encoding, looks_binary};
use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted};

/// Elements whose content is never brand text.
const SKIPPED: &[&str] = &[
    "script", "style", "nav", "noscript", "template", "svg", "form", "button", "iframe", "head",
];

/// Elements that are the site's banner and footer when they belong to the page, not to a
/// section of it (HTML-AAM: `header`/`footer` map to the banner/contentinfo roles only outside
/// `article`, `aside`, `main`, `nav` and `section`); inside those they head or close their
/// section, whose title they often hold.
const PAGE_CHROME: &[&str] = &["header", "footer"];

/// Sectioning elements whose `header` and `footer` are their own (see [`PAGE_CHROME`]).
const SECTIONING: &[&str] = &["article", "aside", "main", "nav", "section"];

/// ARIA roles of page furniture rather than content (WAI-ARIA 1.2 landmark and window roles):
/// site navigation, the site banner and footer, search, and dialogs such as consent prompts.
const FURNITURE_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "search",
    "dialog",
    "alertdialog",
];

/// Class or id words of consent and cookie notices, which sites mark up as plain `<div>`s.
const CONSENT_WORDS: &[&str] = &["cookie", "cookies", "consent", "gdpr"];

/// Whether an element is page furniture by its markup: a skipped element, `hidden` or
/// `aria-hidden="true"` (not rendered, or not for readers), a furniture role, a `<dialog>`, or
/// a consent notice by its class or id.
fn is_furniture(element: ElementRef<'_>) -> bool {
    let value = element.value();
    if SKIPPED.contains(&value.name()) || value.name() == "dialog" {
        return true;
    }
    if PAGE_CHROME.contains(&value.name())
        && !element.ancestors().any(|ancestor| {
            ancestor
                .value()
                .as_element()
                .is_some_and(|e| SECTIONING.contains(&e.name()))
        })
    {
        return true;
    }
    if value.attr("hidden").is_some()
        || value
            .attr("aria-hidden")
            .is_some_and(|hidden| hidden.trim().eq_ignore_ascii_case("true"))
    {
        return true;
    }
    let one_of = |word: &str, list: &[&str]| list.iter().any(|w| word.eq_ignore_ascii_case(w));
    if value.attr("role").is_some_and(|roles| {
        roles
            .split_ascii_whitespace()
            .any(|role| one_of(role, FURNITURE_ROLES))
    }) {
        return true;
    }
    value
        .classes()
        .chain(value.id())
        .flat_map(|name| name.split(['-', '_']))
        .any(|word| one_of(word, CONSENT_WORDS))
}

/// How far the `<meta>` prescan looks. WHATWG says 1024 bytes; real pages put kilobytes of
/// script before `<html>` (and Chromium keeps looking while it is still in the head), so the
/// prescan covers 8 KiB, as Apache Tika's does.
pub(crate) const PRESCAN_BYTES: usize = 8 * 1024;

/// Extracts HTML in any encoding a browser would recognise (see [`extract_html_with_charset`]).
///
/// # Errors
///
/// [`ExtractError::NotText`] for binary content, [`ExtractError::Empty`] when no text is left
/// once furniture is dropped.
pub fn extract_html(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    extract_html_with_charset(bytes, None)
}

/// Extracts HTML, with the `charset` parameter of the `Content-Type` the document arrived with,
/// if any (a WHATWG encoding label such as `windows-1251`; unknown labels are ignored).
///
/// The encoding is chosen by [`decode_html`]: a BOM, then the document's own `<meta>`
/// declaration, then `charset`, then detection. The caller's charset ranks below the document's
/// declaration, unlike a browser's HTTP header, because an upload's declared type is the
/// client's guess while the `<meta>` is the author's.
///
/// # Errors
///
/// As [`extract_html`].
pub fn extract_html_with_charset(
    bytes: &[u8],
    charset: Option<&str>,
) -> Result<Extracted, ExtractError> {
    let text = decode_html(bytes, charset)?;
    let document = Html::parse_document(&text);
    let mut builder = Builder::default();
    walk(document.root_element(), &mut builder);
    builder.finish()
}

/// Decodes an HTML document to text.
///
/// 1. A byte order mark (UTF-8, UTF-16LE, UTF-16BE) decides.
/// 2. Otherwise the `<meta>` prescan over the first [`PRESCAN_BYTES`] bytes
///    ([`prescan_charset`]). A declared UTF-8 that is not valid UTF-8 is treated as undeclared:
///    the declaration is wrong, and detection recovers the text a browser would garble.
/// 3. Otherwise `charset`, the caller's label.
/// 4. Otherwise UTF-8 when the bytes are valid UTF-8, else `chardetng` detection.
///
/// # Errors
///
/// [`ExtractError::NotText`] when the bytes have no BOM, are not UTF-8 and look binary.
pub fn decode_html<'a>(
    bytes: &'a [u8],
    charset: Option<&str>,
) -> Result<Cow<'a, str>, ExtractError> {
    if let Some((encoding, bom_length)) = Encoding::for_bom(bytes) {
        return Ok(decode_with(encoding, &bytes[bom_length..]));
    }
    let valid_utf8 = std::str::from_utf8(bytes).is_ok();
    if !valid_utf8 && looks_binary(bytes) {
        return Err(ExtractError::NotText);
    }
    // Non-ASCII text that is valid UTF-8 is UTF-8 whatever the page declares: legacy
    // encodings practically never form valid UTF-8 sequences, while pages saved as UTF-8 with
    // a stale `<meta charset>` are common.
    if valid_utf8 && !bytes.is_ascii() {
        return Ok(decode_with(UTF_8, bytes));
    }
    let declared = prescan_charset(bytes)
        .filter(|encoding| *encoding != UTF_8 || valid_utf8)
        .or_else(|| charset.and_then(|label| html_encoding(label.as_bytes())));
    let encoding = declared.unwrap_or_else(|| {
        if valid_utf8 {
            UTF_8
        } else {
            detect_encoding(bytes)
        }
    });
    Ok(decode_with(encoding, bytes))
}

/// An encoding label as HTML maps it: UTF-16 labels in a byte stream that reached ASCII-based
/// markup mean UTF-8, and `x-user-defined` means windows-1252 (WHATWG HTML §13.2.3.2).
fn html_encoding(label: &[u8]) -> Option<&'static Encoding> {
    let encoding = Encoding::for_label(label)?;
    Some(if encoding == UTF_16BE || encoding == UTF_16LE {
        UTF_8
    } else if encoding == X_USER_DEFINED {
        WINDOWS_1252
    } else {
        encoding
    })
}

/// The encoding declared by a `<meta charset>` or `<meta http-equiv="Content-Type"
/// content="…; charset=…">` in the first [`PRESCAN_BYTES`] bytes, following the WHATWG
/// "prescan a byte stream to determine its encoding" algorithm (§13.2.3.2): comments are
/// skipped, other tags are skipped with their attributes (so a `>` inside a quoted value does
/// not end them), and the first `<meta>` that declares a known encoding wins.
pub fn prescan_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let input = &bytes[..bytes.len().min(PRESCAN_BYTES)];
    let mut position = 0;
    while position < input.len() {
        let rest = &input[position..];
        if rest.starts_with(b"<!--") {
            // The closing "-->" may share its dashes with the opening, as in "<!-->".
            position += 2 + find(&rest[2..], b"-->").map_or(rest.len(), |end| end + 3);
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest
                .get(5)
                .is_some_and(|byte| byte.is_ascii_whitespace() || *byte == b'/')
        {
            position += 5;
            if let Some(encoding) = meta_encoding(input, &mut position) {
                return Some(encoding);
            }
        } else if rest.len() > 1
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic()
                || (rest[1] == b'/' && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            // Any other tag: skip its name, then its attributes.
            position += 1;
            while position < input.len()
                && !input[position].is_ascii_whitespace()
                && input[position] != b'>'
            {
                position += 1;
            }
            while attribute(input, &mut position).is_some() {}
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            position += find(rest, b">").map_or(rest.len(), |end| end + 1);
        } else {
            position += 1;
        }
    }
    None
}

/// Reads a `<meta>` element's attributes (the position is just after `<meta`) and returns the
/// encoding it declares, if any.
fn meta_encoding(input: &[u8], position: &mut usize) -> Option<&'static Encoding> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut got_pragma = false;
    // The declared encoding, and whether it came from `content` (and so needs the pragma).
    let mut declared: Option<(&'static Encoding, bool)> = None;
    while let Some((name, value)) = attribute(input, position) {
        if seen.contains(&name) {
            continue;
        }
        match name.as_slice() {
            b"http-equiv" if value == b"content-type" => got_pragma = true,
            b"content" if declared.is_none() => {
                declared = charset_in_content(&value)
                    .and_then(html_encoding)
                    .map(|encoding| (encoding, true));
            }
            b"charset" if declared.is_none() => {
                declared = html_encoding(trim_ascii(&value)).map(|encoding| (encoding, false));
            }
            _ => {}
        }
        seen.push(name);
    }
    match declared {
        Some((encoding, needs_pragma)) if got_pragma || !needs_pragma => Some(encoding),
        _ => None,
    }
}

/// The WHATWG "get an attribute" step of the prescan: the next attribute's lower-cased name and
/// raw value, or `None` at the end of the tag (the position is then just after `>`).
fn attribute(input: &[u8], position: &mut usize) -> Option<(Vec<u8>, Vec<u8>)> {
    let byte_at = |index: usize| input.get(index).copied();
    while byte_at(*position).is_some_and(|byte| byte.is_ascii_whitespace() || byte == b'/') {
        *position += 1;
    }
    match byte_at(*position) {
        None => return None,
        Some(b'>') => {
            *position += 1;
            return None;
        }
        _ => {}
    }
    let mut name = Vec::new();
    while let Some(byte) = byte_at(*position) {
        if !name.is_empty() && byte == b'=' {
            break;
        }
        if byte.is_ascii_whitespace() || byte == b'/' || byte == b'>' {
            break;
        }
        name.push(byte.to_ascii_lowercase());
        *position += 1;
    }
    while byte_at(*position).is_some_and(|byte| byte.is_ascii_whitespace()) {
        *position += 1;
    }
    if byte_at(*position) != Some(b'=') {
        return Some((name, Vec::new()));
    }
    *position += 1;
    while byte_at(*position).is_some_and(|byte| byte.is_ascii_whitespace()) {
        *position += 1;
    }
    let mut value = Vec::new();
    match byte_at(*position) {
        Some(quote @ (b'"' | b'\'')) => {
            *position += 1;
            while let Some(byte) = byte_at(*position) {
                *position += 1;
                if byte == quote {
                    break;
                }
                value.push(byte.to_ascii_lowercase());
            }
        }
        _ => {
            while let Some(byte) = byte_at(*position) {
                if byte.is_ascii_whitespace() || byte == b'>' {
                    break;
                }
                value.push(byte.to_ascii_lowercase());
                *position += 1;
            }
        }
    }
    Some((name, value))
}

/// The WHATWG "extract a character encoding from a meta element" algorithm: the value after
/// `charset=` in a `content` attribute, unquoted or quoted.
fn charset_in_content(content: &[u8]) -> Option<&[u8]> {
    let mut rest = content;
    loop {
        let start = find_ignore_case(rest, b"charset")?;
        rest = &rest[start + 7..];
        let after_space = trim_ascii_start(rest);
        if let Some(value) = after_space.strip_prefix(b"=") {
            let value = trim_ascii_start(value);
            return match value.first() {
                Some(&quote @ (b'"' | b'\'')) => {
                    let inner = &value[1..];
                    inner
                        .iter()
                        .position(|&byte| byte == quote)
                        .map(|end| &inner[..end])
                }
                Some(_) => {
                    let end = value
                        .iter()
                        .position(|&byte| byte.is_ascii_whitespace() || byte == b';')
                        .unwrap_or(value.len());
                    Some(&value[..end])
                }
                None => None,
            };
        }
        rest = after_space;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let bytes = trim_ascii_start(bytes);
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(0, |last| last + 1);
    &bytes[..end]
}

/// Text without inline `data:` URIs: a base64 image pasted into the text is bytes, not words.
fn without_data_uris(text: &str) -> Cow<'_, str> {
    let is_data_uri = |word: &str| {
        let word = word.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        word.starts_with("data:") && word.contains(";base64,")
    };
    if !text.split_whitespace().any(is_data_uri) {
        return Cow::Borrowed(text);
    }
    // Only the data words go; the spacing around the rest is kept (it separates this text
    // from its neighbours).
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..start]);
        let word_end = rest[start..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |end| start + end);
        let word = &rest[start..word_end];
        if !is_data_uri(word) {
            out.push_str(word);
        }
        rest = &rest[word_end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn text_of(element: ElementRef<'_>) -> String {
    let mut out = String::new();
    collect_text(element, &mut out);
    out
}

fn collect_text(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(&without_data_uris(text)),
            Node::Element(inner)
                if !SKIPPED.contains(&inner.name()) && !PAGE_CHROME.contains(&inner.name()) =>
            {
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

/// The level of an element that is a heading by its ARIA role, not its tag (`<div
/// role="heading" aria-level="3">`, as page builders and design systems write them): WAI-ARIA
/// 1.2 `heading` role, `aria-level` 1–9 (default 2), our levels 1–6 as for `h1`–`h6`.
fn aria_heading_level(element: ElementRef<'_>) -> Option<u8> {
    let value = element.value();
    let role = value.attr("role")?;
    if !role
        .split_ascii_whitespace()
        .next()
        .is_some_and(|first| first.eq_ignore_ascii_case("heading"))
    {
        return None;
    }
    let level = value
        .attr("aria-level")
        .and_then(|level| level.trim().parse::<u8>().ok())
        .filter(|level| *level >= 1)
        .unwrap_or(2);
    Some(level.min(6))
}

fn walk(element: ElementRef<'_>, builder: &mut Builder) {
    let name = element.value().name();
    if is_furniture(element) {
        return;
    }
    if let Some(level) = aria_heading_level(element) {
        builder.heading(level, &text_of(element));
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
                    Node::Text(text) => Some(without_data_uris(text).into_owned()),
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
                        builder.block(BlockKind::Paragraph, &without_data_uris(text));
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

    #[test]
    fn hidden_elements_dialogs_and_consent_notices_are_furniture() {
        let doc = extract_html(
            br#"<html><body>
            <div class="cookie-banner">We use cookies to count visits.</div>
            <div id="consent_prompt"><p>Allow tracking?</p></div>
            <div role="dialog"><p>Sign up for our newsletter</p></div>
            <div role="Navigation"><a href="/">Menu</a></div>
            <dialog open><p>Modal text</p></dialog>
            <p hidden>Hidden text</p><p aria-hidden="true">Decorative text</p>
            <div class="cookbook"><p>Recipes for brand storytelling.</p></div>
            <p aria-hidden="false">Visible text</p>
            </body></html>"#,
        )
        .unwrap();
        let texts: Vec<&str> = doc.pages[0]
            .blocks
            .iter()
            .map(|b| b.text.as_str())
            .collect();
        assert_eq!(
            texts,
            ["Recipes for brand storytelling.", "Visible text"],
            "{texts:?}"
        );
    }

    #[test]
    fn aria_headings_and_the_headers_of_sections_are_read() {
        let doc = extract_html(
            br#"<html><body>
            <header><a href="/">Site name</a></header>
            <main><article>
              <header><h1>Guide</h1></header>
              <div role="heading" aria-level="2">Our voice</div>
              <div role="heading">Tone scenarios</div>
              <p>Say sorry once.</p>
              <span role="heading" aria-level="12">Deep</span>
              <footer><p>Edition 3</p></footer>
            </article></main>
            <footer>Site footer</footer>
            </body></html>"#,
        )
        .unwrap();
        let blocks: Vec<(BlockKind, &str)> = doc.pages[0]
            .blocks
            .iter()
            .map(|b| (b.kind, b.text.as_str()))
            .collect();
        assert_eq!(
            blocks,
            [
                (BlockKind::Heading(1), "Guide"),
                (BlockKind::Heading(2), "Our voice"),
                (BlockKind::Heading(2), "Tone scenarios"),
                (BlockKind::Paragraph, "Say sorry once."),
                (BlockKind::Heading(6), "Deep"),
                (BlockKind::Paragraph, "Edition 3"),
            ]
        );
    }

    fn all_text(doc: &Extracted) -> String {
        crate::extract::text::realdocs::searchable(doc)
    }

    #[test]
    fn the_real_html_files_meet_the_manifest() {
        let Some(files) = crate::extract::text::realdocs::files(".html") else {
            return;
        };
        assert!(!files.is_empty());
        for (entry, bytes) in files {
            assert_eq!(
                crate::detect_kind(&bytes),
                Some(crate::FileKind::Html),
                "{}",
                entry["name"]
            );
            crate::extract::text::realdocs::check(&entry, &extract_html(&bytes));
        }
    }

    #[test]
    fn the_big_preamble_page_is_windows_1251_by_its_meta() {
        let Some(bytes) = crate::extract::text::realdocs::file("tika-big-preamble.html") else {
            brandstream_domain::testing::skip("shared", "../shared/realdocs not found");
            return;
        };
        assert_eq!(prescan_charset(&bytes), Some(encoding_rs::WINDOWS_1251));
    }

    /// A page in `encoding` whose only non-ASCII text is `words`, with `meta` in its head.
    fn page(encoding: &'static Encoding, meta: &str, words: &str) -> Vec<u8> {
        let source = format!(
            "<!-- generated -->\n<script>var list = \"<html>\"; function addToList() {{}}</script>\n\
             <html><head>{meta}<title>t</title><style>body {{ color: red }}</style></head>\n\
             <body><h1>{words}</h1><p>{words}<script>from.selectedIndex = 0;</script></p></body></html>"
        );
        let (bytes, _, unmappable) = encoding.encode(&source);
        assert!(!unmappable);
        bytes.into_owned()
    }

    #[test]
    fn meta_declarations_decide_the_encoding() {
        let arabic = "مرحبا بكم في دليل العلامة التجارية";
        for meta in [
            r#"<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-6">"#,
            r#"<META HTTP-EQUIV='content-type' CONTENT='text/html;charset="ISO-8859-6"'>"#,
            r#"<meta charset=iso-8859-6>"#,
            r#"<meta data-x="a > b" charset=" iso-8859-6 ">"#,
        ] {
            let bytes = page(encoding_rs::ISO_8859_6, meta, arabic);
            assert_eq!(
                crate::detect_kind(&bytes),
                Some(crate::FileKind::Html),
                "{meta}"
            );
            let text = all_text(&extract_html(&bytes).unwrap());
            assert!(text.contains(arabic), "{meta}: {text}");
            assert!(
                !text.contains("addtolist")
                    && !text.contains("selectedindex")
                    && !text.contains("color"),
                "{text}"
            );
        }
    }

    #[test]
    fn prescan_follows_the_whatwg_algorithm() {
        let prescan = |html: &str| prescan_charset(html.as_bytes()).map(Encoding::name);
        // `content` counts only with http-equiv="Content-Type".
        assert_eq!(
            prescan(r#"<meta content="text/html; charset=koi8-r">"#),
            None
        );
        // Commented-out declarations are skipped, including the short "<!-->" form.
        assert_eq!(
            prescan(r#"<!--> <meta charset="koi8-r"> --><meta charset="windows-1251">"#),
            Some("KOI8-R")
        );
        assert_eq!(
            prescan(r#"<!-- <meta charset="koi8-r"> --><meta charset="windows-1251">"#),
            Some("windows-1251")
        );
        // A quoted ">" does not end a tag, unknown labels are passed over, UTF-16 means UTF-8.
        assert_eq!(
            prescan(
                r#"<a title="<meta charset=koi8-r>"><meta charset=bogus><meta charset=utf-16le>"#
            ),
            Some("UTF-8")
        );
        assert_eq!(
            prescan(r#"<meta charset="x-user-defined">"#),
            Some("windows-1252")
        );
        // Beyond the prescan window nothing is seen.
        let late = format!("<p>{}</p><meta charset=koi8-r>", "x".repeat(PRESCAN_BYTES));
        assert_eq!(prescan(&late), None);
    }

    #[test]
    fn without_a_declaration_the_caller_charset_then_detection_decide() {
        let russian = "Агентство недвижимости: аренда офисов, продажа квартир и домов";
        let bytes = page(encoding_rs::WINDOWS_1251, "", russian);
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(crate::detect_kind(&bytes), Some(crate::FileKind::Html));
        // chardetng recognises the Cyrillic text.
        assert!(all_text(&extract_html(&bytes).unwrap()).contains(&russian.to_lowercase()));
        // The caller's charset is used when the page declares none…
        let greek = "Καλώς ήρθατε στον οδηγό";
        let bytes = page(encoding_rs::ISO_8859_7, "", greek);
        let text = all_text(&extract_html_with_charset(&bytes, Some("iso-8859-7")).unwrap());
        assert!(text.contains(&greek.to_lowercase()), "{text}");
        // …but the page's own declaration outranks it.
        let bytes = page(encoding_rs::ISO_8859_7, "<meta charset=iso-8859-7>", greek);
        let text = all_text(&extract_html_with_charset(&bytes, Some("koi8-r")).unwrap());
        assert!(text.contains(&greek.to_lowercase()), "{text}");
        // A declared UTF-8 that is not UTF-8 is detected instead of garbled.
        let bytes = page(encoding_rs::WINDOWS_1251, "<meta charset=utf-8>", russian);
        assert!(all_text(&extract_html(&bytes).unwrap()).contains(&russian.to_lowercase()));
        // A BOM beats everything.
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<meta charset=koi8-r><p>Déjà vu</p>".as_bytes());
        assert_eq!(all_text(&extract_html(&bytes).unwrap()), "déjà vu");
    }

    #[test]
    fn inline_data_uris_are_not_text() {
        let doc = extract_html(
            b"<html><body><p>Logo: data:image/png;base64,iVBORw0KGgoAAAANSUhEUg== here</p>\
              <img src=\"data:image/png;base64,iVBORw0KGgo=\"><div>(data:image/gif;base64,R0lGOD)</div>\
              <p>The data: field stays.</p></body></html>",
        )
        .unwrap();
        let text = all_text(&doc);
        assert!(
            !text.contains("base64") && !text.contains("ivbor"),
            "{text}"
        );
        assert!(
            text.contains("logo: here") && text.contains("the data: field stays."),
            "{text}"
        );
    }

    #[test]
    fn binary_is_not_decoded_as_html() {
        assert_eq!(
            extract_html(b"<html>\0\0\x01\x02\xff\xfe\x03"),
            Err(ExtractError::NotText)
        );
    }
}
