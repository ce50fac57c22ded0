//! Plain text: paragraphs are separated by blank lines; form feeds separate pages.
//!
//! This module also owns decoding text whose encoding nobody declared, shared with Markdown,
//! HTML and type detection: a byte order mark decides first, then valid UTF-8 is taken as
//! UTF-8, and anything else is handed to `chardetng` (the detector Firefox uses for unlabelled
//! legacy pages) and decoded with `encoding_rs`. Binary content (NUL bytes, many control
//! bytes) is refused rather than decoded into noise.

use std::borrow::Cow;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_8};

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted, Page};

/// How many leading bytes are examined for control bytes when telling text from binary.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// Decodes a text document whose encoding is not declared.
///
/// Order: a byte order mark (UTF-8, UTF-16LE, UTF-16BE, as in the WHATWG Encoding Standard's
/// "decode" algorithm), then UTF-8 when the bytes are valid UTF-8, then `chardetng` detection.
/// Malformed sequences become U+FFFD.
///
/// # Errors
///
/// [`ExtractError::NotText`] when the bytes have no BOM, are not UTF-8 and look binary
/// (see [`looks_binary`]).
pub(crate) fn decode_document(bytes: &[u8]) -> Result<Cow<'_, str>, ExtractError> {
    decode_declared(bytes, None)
}

/// Decodes a text document whose sender may have declared its encoding: a byte order mark
/// decides first, then `charset` (a WHATWG encoding label, e.g. the `charset` parameter of the
/// Content-Type it arrived with; unknown labels are ignored), then as [`decode_document`].
///
/// # Errors
///
/// [`ExtractError::NotText`] when the bytes have no BOM and look binary.
pub(crate) fn decode_declared<'a>(
    bytes: &'a [u8],
    charset: Option<&str>,
) -> Result<Cow<'a, str>, ExtractError> {
    if let Some((encoding, bom_length)) = Encoding::for_bom(bytes) {
        return Ok(decode_with(encoding, &bytes[bom_length..]));
    }
    if let Some(encoding) = charset.and_then(|label| Encoding::for_label(label.as_bytes())) {
        if looks_binary(bytes) {
            return Err(ExtractError::NotText);
        }
        // UTF-16 without a BOM is not ASCII-compatible: trust the label only as far as the
        // Encoding Standard's "decode" does for the other labels.
        return Ok(decode_with(encoding.output_encoding(), bytes));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    if looks_binary(bytes) {
        return Err(ExtractError::NotText);
    }
    Ok(decode_with(detect_encoding(bytes), bytes))
}

/// The encoding a `Content-Type` value declares in its `charset` parameter (RFC 9110 §8.3), by
/// its WHATWG Encoding Standard name: `text/html; charset="KOI8-R"` gives `KOI8-R`'s encoding,
/// named `KOI8-R`; `latin1` gives `windows-1252`. `None` without a charset parameter or for a
/// label the Encoding Standard does not know.
pub fn declared_charset(content_type: &str) -> Option<&'static str> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        Encoding::for_label(value.as_bytes()).map(Encoding::name)
    })
}

/// Decodes `bytes` (without a BOM) as `encoding`, replacing malformed sequences with U+FFFD.
pub(crate) fn decode_with<'a>(encoding: &'static Encoding, bytes: &'a [u8]) -> Cow<'a, str> {
    if encoding == UTF_8 {
        return String::from_utf8_lossy(bytes);
    }
    encoding.decode_without_bom_handling(bytes).0
}

/// Guesses the legacy encoding of unlabelled bytes with `chardetng` (UTF-8 allowed as a guess,
/// ISO-2022-JP not, as browsers do for content that may hold scripts). Pure ASCII guesses
/// windows-1252, which decodes it unchanged.
pub(crate) fn detect_encoding(bytes: &[u8]) -> &'static Encoding {
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, Utf8Detection::Allow)
}

/// Whether `bytes` look like binary data rather than text in some encoding: a NUL byte
/// anywhere, or more than one in 32 of the first 8 KiB being C0 control bytes other than tab,
/// line feed, carriage return, form feed and escape. Text in no legacy or Unicode encoding
/// (other than UTF-16/32, which carries a BOM here) has either. Content starting with a UTF-16
/// BOM is text by definition.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    if Encoding::for_bom(bytes).is_some_and(|(encoding, _)| encoding != UTF_8) {
        return false;
    }
    if bytes.contains(&0) {
        return true;
    }
    let head = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    let controls = head
        .iter()
        .filter(|&&byte| {
            (byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)) || byte == 0x7f
        })
        .count();
    controls * 32 > head.len()
}

/// Extracts plain text in UTF-8, UTF-16 with a BOM, or a legacy encoding found by detection.
///
/// # Errors
///
/// [`ExtractError::NotText`] for binary content, [`ExtractError::Empty`] when there is no text.
pub fn extract_text(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    extract_text_with_charset(bytes, None)
}

/// Extracts plain text whose sender declared `charset` (see [`decode_declared`]).
///
/// # Errors
///
/// As [`extract_text`].
pub fn extract_text_with_charset(
    bytes: &[u8],
    charset: Option<&str>,
) -> Result<Extracted, ExtractError> {
    let text = decode_declared(bytes, charset)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    use super::realdocs::block_text as all_text;

    #[test]
    fn a_declared_charset_is_read_from_the_content_type() {
        assert_eq!(
            declared_charset("text/html; charset=\"KOI8-R\""),
            Some("KOI8-R")
        );
        assert_eq!(
            declared_charset("text/plain;format=flowed; Charset=latin1"),
            Some("windows-1252")
        );
        assert_eq!(declared_charset("text/plain"), None);
        assert_eq!(declared_charset("text/plain; charset=klingon"), None);
        assert_eq!(
            declared_charset("charset=utf-8"),
            None,
            "a type comes first"
        );
    }

    #[test]
    fn a_declared_charset_decides_where_the_file_names_none() {
        // Short Baltic text: detection alone guesses another encoding.
        let baltic = "Ačiū labai";
        let (bytes, _, _) = encoding_rs::WINDOWS_1257.encode(baltic);
        let guessed = all_text(&extract_text(&bytes).unwrap());
        assert_ne!(guessed, baltic, "detection alone must not already be right");
        let declared = all_text(&extract_text_with_charset(&bytes, Some("windows-1257")).unwrap());
        assert_eq!(declared, baltic);
        let markdown =
            crate::extract::markdown::extract_markdown_with_charset(&bytes, Some("cp1257"))
                .unwrap();
        assert_eq!(all_text(&markdown), baltic);
        // A byte order mark still decides first; binary is still refused.
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(baltic.as_bytes());
        assert_eq!(
            all_text(&extract_text_with_charset(&with_bom, Some("windows-1257")).unwrap()),
            baltic
        );
        assert!(matches!(
            extract_text_with_charset(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("windows-1257")),
            Err(ExtractError::NotText)
        ));
    }

    #[test]
    fn legacy_encodings_are_detected_instead_of_refused() {
        let russian = "Агентство недвижимости предлагает аренду офисов и квартир в центре \
                       города. Мы работаем с частными и корпоративными клиентами.\n\n\
                       Второй абзац: продажа жилья, оценка и юридическое сопровождение сделок.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(russian);
        assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
        let doc = extract_text(&bytes).unwrap();
        assert!(
            all_text(&doc).contains("Агентство недвижимости"),
            "{}",
            all_text(&doc)
        );

        let french = "Le café de la gare est fermé le dimanche. À bientôt, chère clientèle !";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(french);
        assert_eq!(all_text(&extract_text(&bytes).unwrap()), french);
    }

    #[test]
    fn byte_order_marks_decide_first() {
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "Brand voice: warm.".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert!(!looks_binary(&utf16));
        assert_eq!(
            all_text(&extract_text(&utf16).unwrap()),
            "Brand voice: warm."
        );
        assert_eq!(
            all_text(&extract_text(b"\xEF\xBB\xBFplain").unwrap()),
            "plain"
        );
    }

    #[test]
    fn binary_is_still_refused() {
        assert_eq!(
            extract_text(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe"),
            Err(ExtractError::NotText)
        );
        // Control bytes without a single NUL.
        let noisy: Vec<u8> = (0..2000u32)
            .map(|i| if i % 2 == 0 { (i % 7 + 1) as u8 } else { 0xC3 })
            .collect();
        assert!(looks_binary(&noisy));
        assert!(!looks_binary("tab\tand\r\nnew lines\u{c}".as_bytes()));
    }
}

/// The real-world documents in `../shared/realdocs` and their manifest, shared by the DOCX and
/// HTML tests: every file's `probes.present` must be in the extracted text, `probes.absent`
/// must not, and `probes.count` phrases must appear exactly once (all case-insensitive, within
/// one block, as search finds them).
#[cfg(test)]
pub(crate) mod realdocs {
    use crate::{ExtractError, Extracted};

    const REALDOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realdocs");

    /// The manifest's entries whose name ends with `extension`, with the file's bytes; `None`
    /// (after a note) when `../shared/realdocs` is missing.
    pub(crate) fn files(extension: &str) -> Option<Vec<(serde_json::Value, Vec<u8>)>> {
        let Ok(manifest) = std::fs::read(format!("{REALDOCS}/manifest.json")) else {
            brandstream_domain::testing::skip("shared", "../shared/realdocs not found");
            return None;
        };
        let manifest: serde_json::Value =
            serde_json::from_slice(&manifest).expect("manifest.json is JSON");
        let entries = manifest["files"].as_array().expect("a files array").iter();
        Some(
            entries
                .filter(|entry| {
                    entry["name"]
                        .as_str()
                        .is_some_and(|name| name.ends_with(extension))
                })
                .map(|entry| {
                    let name = entry["name"].as_str().unwrap_or_default();
                    let bytes = std::fs::read(format!("{REALDOCS}/{name}")).expect("listed file");
                    (entry.clone(), bytes)
                })
                .collect(),
        )
    }

    /// The bytes of one realdocs file, `None` when the folder is missing.
    pub(crate) fn file(name: &str) -> Option<Vec<u8>> {
        std::fs::read(format!("{REALDOCS}/{name}")).ok()
    }

    /// Every block's text, one block a line.
    pub(crate) fn block_text(doc: &Extracted) -> String {
        doc.pages
            .iter()
            .flat_map(|page| &page.blocks)
            .map(|block| block.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every block's text, one block a line, lower-cased.
    pub(crate) fn searchable(doc: &Extracted) -> String {
        block_text(doc).to_lowercase()
    }

    /// Checks one manifest entry against its extraction result.
    pub(crate) fn check(entry: &serde_json::Value, result: &Result<Extracted, ExtractError>) {
        let name = entry["name"].as_str().unwrap_or_default();
        if entry["expect_status"] == "failed" {
            assert!(result.is_err(), "{name}: expected a clean failure");
            return;
        }
        let doc = match result {
            Ok(doc) => doc,
            Err(error) => panic!("{name}: {error}"),
        };
        let text = searchable(doc);
        let phrases = |key: &str| -> Vec<String> {
            entry["probes"][key]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|phrase| phrase.as_str().map(str::to_lowercase))
                        .collect()
                })
                .unwrap_or_default()
        };
        for phrase in phrases("present") {
            assert!(text.contains(&phrase), "{name}: {phrase:?} missing");
        }
        for phrase in phrases("absent") {
            assert!(!text.contains(&phrase), "{name}: {phrase:?} indexed");
        }
        for phrase in phrases("count") {
            assert_eq!(
                text.matches(&phrase).count(),
                1,
                "{name}: {phrase:?} not exactly once"
            );
        }
    }
}
