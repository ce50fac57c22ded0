//! Word documents (Office Open XML WordprocessingML): headings from paragraph styles, list
//! items, tables flattened to rows, explicit page breaks honoured, text boxes, content controls,
//! smart tags, fields and inserted text kept; deleted text never indexed.
//!
//! After the body come, on the last page, the footnotes and endnotes (under a "Footnotes" /
//! "Endnotes" heading) and the text of the page headers and footers, each part once and each
//! line once (under "Headers" / "Footers"), so a reader can tell them from the body.
//!
//! Parts are found as Word finds them (ECMA-376 Part 2, Open Packaging Conventions): the main
//! document through the package relationship of type `…/officeDocument` in `_rels/.rels`
//! (transitional `http://schemas.openxmlformats.org/…` or Strict `http://purl.oclc.org/ooxml/…`),
//! and styles, notes, headers and footers through the main part's own relationships
//! (`<dir>/_rels/<name>.rels`); conventional names are the fallback when a relationships part is
//! missing.
//!
//! A DOCX is a ZIP archive, so every part is read through a size limit: a small file that
//! inflates to gigabytes (a zip bomb) is refused once it passes the limit, whatever sizes the
//! archive declares. All the parts read for one document together stay within
//! [`TOTAL_PART_FACTOR`] times that limit.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted, Page};

/// Default limit on the decompressed size of one part.
pub const DEFAULT_PART_LIMIT: u64 = 200 * 1024 * 1024;

/// All parts read for one document together inflate to at most this many times the part
/// limit, so a package that relates hundreds of parts (or ZIP entries that overlap, each under
/// the limit) cannot make extraction inflate without bound.
pub const TOTAL_PART_FACTOR: u64 = 4;

/// How much of a part [`is_word_package`] reads.
const DETECTION_PART_LIMIT: u64 = 1024 * 1024;

/// Content types of a WordprocessingML main document part (ECMA-376 Part 1 §11.3.10, and the
/// template and macro-enabled variants Word writes), as listed in `[Content_Types].xml`.
const MAIN_CONTENT_TYPES: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
];

/// Footnote and endnote types that hold the separator lines, not notes (ECMA-376 Part 1
/// §17.18.33 ST_FtnEdn).
const SEPARATOR_NOTE_TYPES: &[&str] = &["separator", "continuationSeparator", "continuationNotice"];

/// Elements whose whole content is never document text: tracked deletions and moved-away text
/// (§17.13.5.14 `del`, §17.13.5.22 `moveFrom`, §17.3.3.7 `delText`), the previous properties
/// kept by tracked formatting changes (`pPrChange` would otherwise overwrite the style), and a
/// content control's properties (§17.5.2.38 `sdtPr`; its content is in `sdtContent`).
const SKIPPED_ELEMENTS: &[&[u8]] = &[
    b"del",
    b"moveFrom",
    b"delText",
    b"delInstrText",
    b"pPrChange",
    b"rPrChange",
    b"sectPrChange",
    b"tblPrChange",
    b"trPrChange",
    b"tcPrChange",
    b"numberingChange",
    b"sdtPr",
];

/// Most header (and footer) parts read: a document has at most three per section, and a
/// package relating thousands is not a real document.
const MAX_HEADER_FOOTER_PARTS: usize = 256;

/// A ZIP package read through the part limit and the total budget.
struct Package<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// Item names by their ASCII-lowercase form, built once (case-insensitive lookups stay
    /// constant-time however many parts a package relates).
    lowercase: HashMap<String, String>,
    part_limit: u64,
    /// Bytes that may still be inflated for this document.
    remaining: u64,
    total_limit: u64,
}

impl<'a> Package<'a> {
    fn open(bytes: &'a [u8], part_limit: u64) -> Result<Self, ExtractError> {
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|error| {
            ExtractError::Corrupt(format!("not a readable Word document: {error}"))
        })?;
        let total_limit = part_limit.saturating_mul(TOTAL_PART_FACTOR);
        let mut lowercase = HashMap::new();
        for name in archive.file_names().flatten() {
            lowercase
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| name.into_owned());
        }
        Ok(Self {
            archive,
            lowercase,
            part_limit,
            remaining: total_limit,
            total_limit,
        })
    }

    /// The ZIP item holding part `name` (without its leading `/`): the exact name, else the
    /// percent-decoded name, else a case-insensitive match (part names are ASCII
    /// case-insensitive, ECMA-376 Part 2 §6.2.2.3).
    fn item_name(&self, name: &str) -> Option<String> {
        let decoded = percent_decode(name);
        let candidates = [Some(name), decoded.as_deref()];
        for candidate in candidates.into_iter().flatten() {
            if self.archive.index_for_name(candidate).is_some() {
                return Some(candidate.to_owned());
            }
        }
        let wanted = decoded.as_deref().unwrap_or(name);
        self.lowercase
            .get(&wanted.to_ascii_lowercase())
            .or_else(|| self.lowercase.get(&name.to_ascii_lowercase()))
            .cloned()
    }

    /// The names of the archive's items (those with unreadable names left out).
    fn item_names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|name| name.ok().map(|name| name.into_owned()))
            .collect()
    }

    fn contains(&self, name: &str) -> bool {
        self.item_name(name).is_some()
    }

    /// Part `name`'s bytes, `None` when the package has no such part.
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ExtractError> {
        let Some(item) = self.item_name(name) else {
            return Ok(None);
        };
        let damaged = |error: &dyn std::fmt::Display| {
            ExtractError::Corrupt(format!("the Word archive is damaged: {error}"))
        };
        let file = self
            .archive
            .by_name(&item)
            .map_err(|error| damaged(&error))?;
        if file.size() > self.part_limit {
            return Err(ExtractError::TooLarge(self.part_limit));
        }
        let allowed = self.part_limit.min(self.remaining);
        let mut out = Vec::new();
        file.take(allowed + 1)
            .read_to_end(&mut out)
            .map_err(|error| damaged(&error))?;
        let read = out.len() as u64;
        if read > self.part_limit {
            return Err(ExtractError::TooLarge(self.part_limit));
        }
        if read > self.remaining {
            return Err(ExtractError::TooLarge(self.total_limit));
        }
        self.remaining -= read;
        Ok(Some(out))
    }

    /// The relationships of `part` (`""` for the package), from its relationships part, or
    /// `None` when there is none. Unreadable XML gives no relationships.
    fn relationships(&mut self, part: &str) -> Result<Option<Vec<Relationship>>, ExtractError> {
        let (directory, file) = split_part_name(part);
        let rels = if directory.is_empty() {
            format!("_rels/{file}.rels")
        } else {
            format!("{directory}/_rels/{file}.rels")
        };
        Ok(self
            .read(&rels)?
            .map(|xml| parse_relationships(&xml, directory)))
    }

    /// The main document part: the package relationship of type `…/officeDocument`, else the
    /// part `[Content_Types].xml` gives a WordprocessingML main content type, else
    /// `word/document.xml`.
    fn main_part(&mut self) -> Result<Option<String>, ExtractError> {
        let related = self
            .relationships("")?
            .unwrap_or_default()
            .into_iter()
            .find(|relationship| relationship.kind == "officeDocument")
            .map(|relationship| relationship.target);
        if let Some(target) = related.filter(|target| self.contains(target)) {
            return Ok(Some(target));
        }
        let declared = self
            .read("[Content_Types].xml")?
            .and_then(|xml| main_part_in_content_types(&xml));
        if let Some(part) = declared.filter(|part| self.contains(part)) {
            return Ok(Some(part));
        }
        Ok(self
            .contains("word/document.xml")
            .then(|| "word/document.xml".to_owned()))
    }
}

/// One relationship of a part (ECMA-376 Part 2 §9.3).
#[derive(Debug, Clone)]
struct Relationship {
    id: String,
    /// The last segment of the relationship type (`styles`, `footnotes`, `officeDocument`…),
    /// the same in the transitional and Strict namespaces.
    kind: String,
    /// The target part's name, resolved against the source part's folder, without a leading
    /// `/`.
    target: String,
}

/// The internal relationships in a relationships part whose source part sits in `directory`.
fn parse_relationships(xml: &[u8], directory: &str) -> Vec<Relationship> {
    let xml = utf8_xml(xml);
    let mut reader = Reader::from_reader(xml.as_ref());
    let mut buffer = Vec::new();
    let mut relationships = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(element)) | Ok(Event::Empty(element))
                if element.local_name().as_ref() == b"Relationship" =>
            {
                let external = attribute(&element, b"TargetMode")
                    .is_some_and(|mode| mode.eq_ignore_ascii_case("External"));
                if let (false, Some(kind), Some(target)) = (
                    external,
                    attribute(&element, b"Type"),
                    attribute(&element, b"Target"),
                ) {
                    relationships.push(Relationship {
                        id: attribute(&element, b"Id").unwrap_or_default(),
                        kind: kind.rsplit('/').next().unwrap_or_default().to_owned(),
                        target: resolve_target(directory, &target),
                    });
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buffer.clear();
    }
    relationships
}

/// The part name `[Content_Types].xml` gives a WordprocessingML main document content type.
fn main_part_in_content_types(xml: &[u8]) -> Option<String> {
    let xml = utf8_xml(xml);
    let mut reader = Reader::from_reader(xml.as_ref());
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(element)) | Ok(Event::Empty(element))
                if element.local_name().as_ref() == b"Override" =>
            {
                let main = attribute(&element, b"ContentType").is_some_and(|content_type| {
                    MAIN_CONTENT_TYPES
                        .iter()
                        .any(|main| main.eq_ignore_ascii_case(content_type.trim()))
                });
                if main {
                    if let Some(part) = attribute(&element, b"PartName") {
                        return Some(resolve_target("", &part));
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
        buffer.clear();
    }
}

/// Resolves a relationship target against the source part's folder (RFC 3986 reference
/// resolution, as ECMA-376 Part 2 §9.3.3 requires): an absolute target starts at the package
/// root; `.` and `..` segments are removed; a fragment is dropped.
fn resolve_target(directory: &str, target: &str) -> String {
    let target = target.split('#').next().unwrap_or_default();
    let mut segments: Vec<&str> = Vec::new();
    let joined;
    let path = if let Some(absolute) = target.strip_prefix('/') {
        absolute
    } else {
        joined = format!("{directory}/{target}");
        joined.as_str()
    };
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    segments.join("/")
}

/// A part name's folder and file name (`word/document.xml` → `word`, `document.xml`).
fn split_part_name(part: &str) -> (&str, &str) {
    part.rsplit_once('/').unwrap_or(("", part))
}

/// Decodes `%XX` escapes in a part name, `None` when there are none (or they are not UTF-8).
fn percent_decode(name: &str) -> Option<String> {
    if !name.contains('%') {
        return None;
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A part's XML as UTF-8: parts may be UTF-8 or UTF-16 (ECMA-376 Part 2 §8.1.4); a UTF-16 part
/// (it has a BOM) is converted, and a UTF-8 BOM is dropped.
fn utf8_xml(xml: &[u8]) -> Cow<'_, [u8]> {
    match encoding_rs::Encoding::for_bom(xml) {
        Some((encoding, bom_length)) if encoding != encoding_rs::UTF_8 => {
            let text = encoding.decode_without_bom_handling(&xml[bom_length..]).0;
            Cow::Owned(text.into_owned().into_bytes())
        }
        Some((_, bom_length)) => Cow::Borrowed(&xml[bom_length..]),
        None => Cow::Borrowed(xml),
    }
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

/// Whether an on/off property (§17.17.4 ST_OnOff) is on: present without `val`, or with a
/// `val` other than `0`, `false` or `off`.
fn is_on(element: &BytesStart<'_>) -> bool {
    attribute(element, b"val").is_none_or(|value| !matches!(value.as_str(), "0" | "false" | "off"))
}

/// Whether `bytes` are a ZIP holding a Word document: `[Content_Types].xml` gives some part a
/// WordprocessingML main document content type, or the `…/officeDocument` package relationship
/// targets a part whose root element is a WordprocessingML `document`, or (a package without
/// either) it has `word/document.xml`. Spreadsheets, presentations and other ZIPs are not Word
/// documents. `None` when the archive cannot be opened at all (damaged or truncated).
///
/// Reads at most 1 MiB of any part.
pub fn is_word_package(bytes: &[u8]) -> Option<bool> {
    let mut package = Package::open(bytes, DETECTION_PART_LIMIT).ok()?;
    let content_types = package.read("[Content_Types].xml").ok().flatten();
    if content_types
        .as_deref()
        .and_then(main_part_in_content_types)
        .is_some()
    {
        return Some(true);
    }
    let relationships = package.relationships("").ok().flatten();
    let main = relationships
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|relationship| relationship.kind == "officeDocument")
        .map(|relationship| relationship.target.clone());
    if let Some(main) = main {
        let root_is_document = package
            .read_prefix(&main)
            .is_some_and(|xml| root_is_wordprocessing_document(&xml));
        return Some(root_is_document);
    }
    Some(
        content_types.is_none() && relationships.is_none() && package.contains("word/document.xml"),
    )
}

impl Package<'_> {
    /// The first 64 KiB of part `name`, for sniffing its root element.
    fn read_prefix(&mut self, name: &str) -> Option<Vec<u8>> {
        let item = self.item_name(name)?;
        let file = self.archive.by_name(&item).ok()?;
        let mut out = Vec::new();
        file.take(64 * 1024).read_to_end(&mut out).ok()?;
        Some(out)
    }
}

/// Whether the XML's root element is `document` in a WordprocessingML namespace (transitional
/// `…/wordprocessingml/2006/main` or Strict `http://purl.oclc.org/ooxml/wordprocessingml/main`).
fn root_is_wordprocessing_document(xml: &[u8]) -> bool {
    let xml = utf8_xml(xml);
    let mut reader = quick_xml::NsReader::from_reader(xml.as_ref());
    let mut buffer = Vec::new();
    loop {
        match reader.read_resolved_event_into(&mut buffer) {
            Ok((namespace, Event::Start(element))) | Ok((namespace, Event::Empty(element))) => {
                let in_wordprocessing = match namespace {
                    quick_xml::name::ResolveResult::Bound(namespace) => {
                        let namespace = String::from_utf8_lossy(namespace.as_ref());
                        namespace.contains("wordprocessingml")
                    }
                    _ => false,
                };
                return in_wordprocessing && element.local_name().as_ref() == b"document";
            }
            Ok((_, Event::Eof)) | Err(_) => return false,
            _ => {}
        }
        buffer.clear();
    }
}

/// A heading level from an outline level (ECMA-376 Part 1 §17.3.1.20 `w:outlineLvl`): 0–8 are
/// the outline's levels (level 0 is what `heading 1` carries, our level 2, under the title);
/// 9, or anything else, is body text.
fn level_of_outline(outline: u8) -> Option<u8> {
    (outline <= 8).then_some(outline + 2)
}

/// Style id → heading level, from the styles part: `Title` is 1, `heading N` is N + 1; any
/// other paragraph style is a heading when it sets an outline level (§17.3.1.20) or is based
/// on a style that does (`w:basedOn`, §17.7.4.3), as Word's navigation pane reads it: custom
/// chapter styles of designed documents. An outline level of 9 makes a style body text.
fn heading_styles(styles: &[u8]) -> HashMap<String, u8> {
    /// What one style says of itself.
    #[derive(Default)]
    struct Style {
        named: Option<u8>,
        outline: Option<u8>,
        based_on: Option<String>,
    }
    let styles = utf8_xml(styles);
    let mut declared: HashMap<String, Style> = HashMap::new();
    let mut reader = Reader::from_reader(styles.as_ref());
    let mut buffer = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(element)) | Ok(Event::Empty(element)) => {
                let name = element.local_name();
                if name.as_ref() == b"style" {
                    current = attribute(&element, b"styleId");
                    if let Some(id) = &current {
                        declared.entry(id.clone()).or_default();
                    }
                    continue;
                }
                let Some(style) = current.as_ref().and_then(|id| declared.get_mut(id)) else {
                    continue;
                };
                let value = attribute(&element, b"val");
                match name.as_ref() {
                    b"name" => style.named = value.as_deref().and_then(level_of_name),
                    b"basedOn" => style.based_on = value,
                    b"outlineLvl" => style.outline = value.and_then(|v| v.parse().ok()),
                    _ => {}
                }
            }
            Ok(Event::End(element)) if element.local_name().as_ref() == b"style" => current = None,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buffer.clear();
    }
    // A style's level: its name's, else its outline level's, else its base style's (a chain
    // of at most eight, so a cycle ends).
    let resolve = |id: &str| -> Option<u8> {
        let mut at = declared.get(id)?;
        for _ in 0..8 {
            if let Some(level) = at.named {
                return Some(level);
            }
            if let Some(outline) = at.outline {
                return level_of_outline(outline);
            }
            at = declared.get(at.based_on.as_deref()?)?;
        }
        None
    };
    declared
        .keys()
        .filter_map(|id| resolve(id).map(|level| (id.clone(), level)))
        .collect()
}

fn level_of_name(name: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase();
    if name == "title" {
        return Some(1);
    }
    let number = name.strip_prefix("heading")?.trim().parse::<u8>().ok()?;
    (1..=8).contains(&number).then_some(number + 1)
}

/// What a WordprocessingML part (body, notes, header, footer) holds, in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A paragraph outside tables.
    Paragraph {
        style: Option<String>,
        /// The paragraph's own outline level (`w:outlineLvl`), over its style's.
        outline: Option<u8>,
        list_item: bool,
        text: String,
    },
    /// A top-level table row, cells joined with " | ".
    TableRow(String),
    /// An explicit page break.
    PageBreak,
}

/// A parsed part: its items, and the relationship ids of the headers and footers its section
/// properties reference, in order.
#[derive(Debug, Default)]
struct PartContent {
    items: Vec<Item>,
    header_footer_ids: Vec<String>,
}

/// A paragraph being read. Paragraphs nest: a text box's paragraphs sit inside a run of the
/// paragraph that anchors it.
#[derive(Default)]
struct OpenParagraph {
    style: Option<String>,
    outline: Option<u8>,
    list_item: bool,
    text: String,
    break_before: bool,
    break_after: bool,
}

/// A table being read.
#[derive(Default)]
struct OpenTable {
    cells: Vec<String>,
    cell: String,
}

/// Reads a WordprocessingML part's text (ECMA-376 Part 1 §17).
///
/// - `mc:AlternateContent` (Part 3, Markup Compatibility): the first `mc:Choice` is read and
///   every later branch skipped, so a text box stored both as DrawingML (Choice) and as VML
///   (Fallback) is read once; the Fallback is read only when there is no Choice.
/// - Deleted and moved-away text, and old properties of tracked changes, are skipped
///   ([`SKIPPED_ELEMENTS`]); inserted text (`w:ins`) is ordinary text.
/// - Smart tags, custom XML, content controls (`w:sdtContent`), hyperlinks and field results
///   keep their runs; field codes (`w:instrText`) are not text.
/// - Separator footnotes and endnotes are skipped.
///
/// # Errors
///
/// [`ExtractError::Corrupt`] when the XML is malformed.
fn parse_part(xml: &[u8]) -> Result<PartContent, ExtractError> {
    let xml = utf8_xml(xml);
    let malformed = |error: &dyn std::fmt::Display| {
        ExtractError::Corrupt(format!("the Word document's XML is malformed: {error}"))
    };
    let mut reader = Reader::from_reader(xml.as_ref());
    let mut buffer = Vec::new();
    let mut content = PartContent::default();
    let mut paragraphs: Vec<OpenParagraph> = Vec::new();
    let mut tables: Vec<OpenTable> = Vec::new();
    // One entry per open mc:AlternateContent: whether a branch has been taken.
    let mut alternates: Vec<bool> = Vec::new();
    // Depth inside a skipped element (0: not skipping).
    let mut skipping = 0usize;
    let mut in_text = false;
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|error| malformed(&error))?;
        match event {
            Event::Start(_) if skipping > 0 => skipping += 1,
            Event::End(_) if skipping > 0 => skipping -= 1,
            _ if skipping > 0 => {}
            Event::Start(element) => {
                let name = element.local_name();
                let name = name.as_ref();
                let skip = SKIPPED_ELEMENTS.contains(&name)
                    || (matches!(name, b"Choice" | b"Fallback")
                        && alternates.last().copied() == Some(true))
                    || (matches!(name, b"footnote" | b"endnote")
                        && attribute(&element, b"type")
                            .is_some_and(|kind| SEPARATOR_NOTE_TYPES.contains(&kind.as_str())));
                if skip {
                    skipping = 1;
                } else {
                    match name {
                        b"p" => paragraphs.push(OpenParagraph::default()),
                        b"t" => in_text = true,
                        b"tbl" => tables.push(OpenTable::default()),
                        b"tr" => {
                            if let Some(table) = tables.last_mut() {
                                table.cells.clear();
                            }
                        }
                        b"tc" => {
                            if let Some(table) = tables.last_mut() {
                                table.cell.clear();
                            }
                        }
                        b"AlternateContent" => alternates.push(false),
                        b"Choice" | b"Fallback" => {
                            if let Some(taken) = alternates.last_mut() {
                                *taken = true;
                            }
                        }
                        _ => property(&element, paragraphs.last_mut(), &mut content),
                    }
                }
            }
            Event::Empty(element) => property(&element, paragraphs.last_mut(), &mut content),
            Event::Text(text) if in_text => {
                if let Some(paragraph) = paragraphs.last_mut() {
                    let text = text.unescape().map_err(|error| malformed(&error))?;
                    paragraph.text.push_str(&text);
                }
            }
            Event::CData(text) if in_text => {
                if let Some(paragraph) = paragraphs.last_mut() {
                    paragraph.text.push_str(&String::from_utf8_lossy(&text));
                }
            }
            Event::End(element) => match element.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let Some(paragraph) = paragraphs.pop() else {
                        continue;
                    };
                    if let Some(table) = tables.last_mut() {
                        if !table.cell.is_empty() {
                            table.cell.push(' ');
                        }
                        table.cell.push_str(&paragraph.text);
                    } else {
                        if paragraph.break_before {
                            content.items.push(Item::PageBreak);
                        }
                        content.items.push(Item::Paragraph {
                            style: paragraph.style,
                            outline: paragraph.outline,
                            list_item: paragraph.list_item,
                            text: paragraph.text,
                        });
                        if paragraph.break_after {
                            content.items.push(Item::PageBreak);
                        }
                    }
                }
                b"tc" => {
                    if let Some(table) = tables.last_mut() {
                        let cell = crate::normalise(&table.cell);
                        table.cells.push(cell);
                    }
                }
                b"tr" => {
                    let depth = tables.len();
                    if let Some(table) = tables.last_mut() {
                        let row = table.cells.join(" | ");
                        table.cells.clear();
                        if depth == 1 {
                            content.items.push(Item::TableRow(row));
                        } else if let Some(outer) = tables.get_mut(depth - 2) {
                            // A nested table's rows belong to the outer cell.
                            if !outer.cell.is_empty() {
                                outer.cell.push(' ');
                            }
                            outer.cell.push_str(&row);
                        }
                    }
                }
                b"tbl" => {
                    tables.pop();
                }
                b"AlternateContent" => {
                    alternates.pop();
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    Ok(content)
}

/// Applies an element that carries no text of its own: paragraph properties, run content that
/// stands for characters, and section references to headers and footers.
fn property(
    element: &BytesStart<'_>,
    paragraph: Option<&mut OpenParagraph>,
    content: &mut PartContent,
) {
    let name = element.local_name();
    if matches!(name.as_ref(), b"headerReference" | b"footerReference") {
        if let Some(id) = attribute(element, b"id") {
            content.header_footer_ids.push(id);
        }
        return;
    }
    let Some(paragraph) = paragraph else {
        return;
    };
    match name.as_ref() {
        b"pStyle" => paragraph.style = attribute(element, b"val"),
        b"outlineLvl" => {
            paragraph.outline = attribute(element, b"val").and_then(|v| v.parse().ok());
        }
        b"numPr" => paragraph.list_item = true,
        // Numbering id 0 removes numbering (§17.9.18).
        b"numId" if attribute(element, b"val").as_deref() == Some("0") => {
            paragraph.list_item = false
        }
        b"pageBreakBefore" => paragraph.break_before = is_on(element),
        b"br" => {
            if attribute(element, b"type").as_deref() == Some("page") {
                paragraph.break_after = true;
            }
            paragraph.text.push(' ');
        }
        b"tab" | b"ptab" | b"cr" => paragraph.text.push(' '),
        b"noBreakHyphen" => paragraph.text.push('-'),
        _ => {}
    }
}

/// Pages of blocks being built from the parts.
struct Pages {
    builder: Builder,
    pages: Vec<Page>,
    title: Option<String>,
}

impl Pages {
    fn new_page(&mut self) {
        let blocks = self.builder.take_blocks(&mut self.title);
        self.pages.push(Page {
            number: self.pages.len() as u32 + 1,
            blocks,
        });
    }

    /// Adds the body: headings from styles, page breaks honoured.
    fn add_body(&mut self, items: Vec<Item>, styles: &HashMap<String, u8>) {
        for item in items {
            match item {
                Item::Paragraph {
                    style,
                    outline,
                    list_item,
                    text,
                } => {
                    // The paragraph's own outline level wins over its style's (§17.3.1.20).
                    let level = match outline {
                        Some(outline) => level_of_outline(outline),
                        None => style
                            .as_ref()
                            .and_then(|id| styles.get(id).copied().or_else(|| level_of_name(id))),
                    };
                    match level {
                        Some(level) => self.builder.heading(level, &text),
                        None if list_item => self.builder.block(BlockKind::ListItem, &text),
                        None => self.builder.block(BlockKind::Paragraph, &text),
                    }
                }
                Item::TableRow(row) => self.builder.block(BlockKind::TableRow, &row),
                Item::PageBreak => self.new_page(),
            }
        }
    }

    /// Adds text from outside the body under a `heading` (level 2, beside the body's chapters
    /// and under its title), each block at most once in `seen`. Headings inside become
    /// paragraphs so the mark stays; page breaks are ignored.
    fn add_marked(&mut self, heading: &str, items: Vec<Item>, seen: &mut HashSet<String>) {
        let mut marked = false;
        for item in items {
            let (kind, text) = match item {
                Item::Paragraph {
                    list_item, text, ..
                } => (
                    if list_item {
                        BlockKind::ListItem
                    } else {
                        BlockKind::Paragraph
                    },
                    text,
                ),
                Item::TableRow(row) => (BlockKind::TableRow, row),
                Item::PageBreak => continue,
            };
            let text = crate::normalise(&text);
            if text.is_empty() || !seen.insert(text.clone()) {
                continue;
            }
            if !marked {
                self.builder.heading(2, heading);
                marked = true;
            }
            self.builder.block(kind, &text);
        }
    }
}

/// Reads and parses an auxiliary part (notes, header, footer). A missing or damaged part is
/// left out; a part over the size limits still fails the document (a zip bomb stays refused).
fn auxiliary_part(package: &mut Package<'_>, name: &str) -> Result<Vec<Item>, ExtractError> {
    match package.read(name) {
        Ok(Some(xml)) => Ok(parse_part(&xml).map(|part| part.items).unwrap_or_default()),
        Ok(None) | Err(ExtractError::Corrupt(_)) => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

/// Extracts a DOCX, refusing any part that inflates beyond `part_limit` bytes (and all parts
/// together beyond [`TOTAL_PART_FACTOR`] times that).
///
/// The result has the body's pages (split at explicit page breaks), then on the last page the
/// footnotes, endnotes, headers and footers, each under its own heading.
///
/// # Errors
///
/// [`ExtractError::Corrupt`] when the archive cannot be read, has no main document part, or its
/// XML is malformed; [`ExtractError::TooLarge`] past the limits; [`ExtractError::Empty`] when
/// there is no text.
pub fn extract_docx(bytes: &[u8], part_limit: u64) -> Result<Extracted, ExtractError> {
    let mut package = Package::open(bytes, part_limit)?;
    let main = package.main_part()?.ok_or_else(|| {
        ExtractError::Corrupt("the Word document has no main document part".into())
    })?;
    let (directory, _) = split_part_name(&main);
    let conventional = |name: &str| {
        if directory.is_empty() {
            name.to_owned()
        } else {
            format!("{directory}/{name}")
        }
    };
    let relationships = package.relationships(&main)?;
    // A related part of `kind`; the conventional name only when there is no relationships part.
    let related = |kind: &str| -> Option<String> {
        match &relationships {
            Some(relationships) => relationships
                .iter()
                .find(|relationship| relationship.kind == kind)
                .map(|relationship| relationship.target.clone()),
            None => Some(conventional(&format!("{kind}.xml"))),
        }
    };

    let styles = match related("styles") {
        Some(name) => package
            .read(&name)?
            .map(|xml| heading_styles(&xml))
            .unwrap_or_default(),
        None => HashMap::new(),
    };
    let document = package
        .read(&main)?
        .ok_or_else(|| ExtractError::Corrupt(format!("the Word document has no {main}")))?;
    let body = parse_part(&document)?;
    drop(document);

    let mut pages = Pages {
        builder: Builder::default(),
        pages: Vec::new(),
        title: None,
    };
    pages.add_body(body.items, &styles);

    for (kind, heading) in [("footnotes", "Footnotes"), ("endnotes", "Endnotes")] {
        if let Some(name) = related(kind) {
            let items = auxiliary_part(&mut package, &name)?;
            pages.add_marked(heading, items, &mut HashSet::new());
        }
    }

    // Headers and footers: those the sections reference, in that order, then any other the
    // main part relates to; without a relationships part, the conventionally named ones.
    let mut headers: Vec<String> = Vec::new();
    let mut footers: Vec<String> = Vec::new();
    match &relationships {
        Some(relationships) => {
            let by_id: HashMap<&str, &Relationship> = relationships
                .iter()
                .map(|relationship| (relationship.id.as_str(), relationship))
                .collect();
            let referenced = body
                .header_footer_ids
                .iter()
                .filter_map(|id| by_id.get(id.as_str()).copied());
            let mut listed: HashSet<&str> = HashSet::new();
            for relationship in referenced.chain(relationships.iter()) {
                let list = match relationship.kind.as_str() {
                    "header" => &mut headers,
                    "footer" => &mut footers,
                    _ => continue,
                };
                if list.len() < MAX_HEADER_FOOTER_PARTS && listed.insert(&relationship.target) {
                    list.push(relationship.target.clone());
                }
            }
        }
        None => {
            let mut names = package.item_names();
            names.sort_by_key(|name| natural_key(name));
            for name in names {
                let (folder, file) = split_part_name(&name);
                if folder != directory || !file.ends_with(".xml") {
                    continue;
                }
                if headers.len() + footers.len() >= 2 * MAX_HEADER_FOOTER_PARTS {
                    break;
                }
                if file.starts_with("header") {
                    headers.push(name);
                } else if file.starts_with("footer") {
                    footers.push(name);
                }
            }
        }
    }
    for (parts, heading) in [headers, footers]
        .into_iter()
        .zip(super::PAGE_FURNITURE_HEADINGS)
    {
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        for name in parts {
            items.extend(auxiliary_part(&mut package, &name)?);
        }
        pages.add_marked(heading, items, &mut seen);
    }

    pages.new_page();
    let Pages {
        pages: mut all,
        title,
        ..
    } = pages;
    all.retain(|page| !page.blocks.is_empty());
    for (index, page) in all.iter_mut().enumerate() {
        page.number = index as u32 + 1;
    }
    if all.is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted { title, pages: all })
}

/// Sorts `header10.xml` after `header2.xml`.
fn natural_key(name: &str) -> (String, u64) {
    let stem = name.trim_end_matches(".xml");
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, number) = stem.split_at(stem.len() - digits);
    (prefix.to_owned(), number.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

    #[test]
    fn the_sample_docx_has_pages_headings_and_tables() {
        let Ok(bytes) = std::fs::read(format!("{SAMPLES}/northwind-coffee-roasters.docx")) else {
            brandstream_domain::testing::skip("shared", "../shared/samples not found");
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
        // The footer (with its PAGE field) comes once, after the body, marked as a footer.
        let footers: Vec<&&crate::Block> = blocks
            .iter()
            .filter(|block| block.headings.last().is_some_and(|h| h == "Footers"))
            .collect();
        assert_eq!(footers.len(), 1, "{footers:?}");
        assert!(footers[0].text.contains("Brand Guidelines"));
        assert!(doc.pages[3]
            .blocks
            .iter()
            .any(|block| block.text == "Footers"));
    }

    #[test]
    fn a_zip_bomb_is_refused_at_the_limit() {
        let Ok(bytes) = std::fs::read(format!("{SAMPLES}/bad/zip-bomb.docx")) else {
            brandstream_domain::testing::skip("shared", "../shared/samples not found");
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

    use std::io::Write;

    const NAMESPACES: &str = concat!(
        r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" "#,
        r#"xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" "#,
        r#"xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" "#,
        r#"xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" "#,
        r#"xmlns:v="urn:schemas-microsoft-com:vml""#
    );
    const TRANSITIONAL: &str =
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const STRICT: &str = "http://purl.oclc.org/ooxml/officeDocument/relationships";
    const MAIN_TYPE: &str =
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";

    /// A ZIP of `parts` (name, content), stored uncompressed.
    fn zip_of(parts: &[(&str, String)]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, content) in parts {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content.as_bytes()).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn part(root: &str, content: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:{root} {NAMESPACES}>{content}</w:{root}>"#
        )
    }

    fn body(content: &str) -> String {
        part("document", &format!("<w:body>{content}</w:body>"))
    }

    /// A relationships part: (id, type namespace + "/" + kind, target).
    fn relationships(entries: &[(&str, String, &str)]) -> String {
        let entries: String = entries
            .iter()
            .map(|(id, kind, target)| {
                format!(r#"<Relationship Id="{id}" Type="{kind}" Target="{target}"/>"#)
            })
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{entries}</Relationships>"#
        )
    }

    fn content_types(main: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/{main}" ContentType="{MAIN_TYPE}"/></Types>"#
        )
    }

    /// A conventional DOCX whose body is `content`, with `extra` parts and relationships of
    /// the main part.
    fn docx(content: &str, extra: &[(&str, String)], related: &[(&str, String, &str)]) -> Vec<u8> {
        let mut parts = vec![
            ("[Content_Types].xml", content_types("word/document.xml")),
            (
                "_rels/.rels",
                relationships(&[(
                    "rId1",
                    format!("{TRANSITIONAL}/officeDocument"),
                    "word/document.xml",
                )]),
            ),
            ("word/document.xml", body(content)),
            ("word/_rels/document.xml.rels", relationships(related)),
        ];
        parts.extend(extra.iter().cloned());
        zip_of(&parts)
    }

    fn paragraph(text: &str) -> String {
        format!("<w:p><w:r><w:t>{text}</w:t></w:r></w:p>")
    }

    fn texts(doc: &Extracted) -> Vec<String> {
        doc.pages
            .iter()
            .flat_map(|page| &page.blocks)
            .map(|block| block.text.clone())
            .collect()
    }

    fn block<'a>(doc: &'a Extracted, text: &str) -> &'a crate::Block {
        doc.pages
            .iter()
            .flat_map(|page| &page.blocks)
            .find(|block| block.text == text)
            .unwrap_or_else(|| panic!("no block {text:?} in {:?}", texts(doc)))
    }

    #[test]
    fn the_real_docx_files_meet_the_manifest() {
        let Some(files) = crate::extract::text::realdocs::files(".docx") else {
            return;
        };
        assert!(!files.is_empty());
        for (entry, bytes) in files {
            let result = extract_docx(&bytes, DEFAULT_PART_LIMIT);
            if entry["expect_status"] != "failed" {
                assert_eq!(
                    crate::detect_kind(&bytes),
                    Some(crate::FileKind::Docx),
                    "{}",
                    entry["name"]
                );
            }
            crate::extract::text::realdocs::check(&entry, &result);
        }
    }

    #[test]
    fn a_text_box_is_read_from_the_choice_only() {
        let text_box = |text: &str| {
            format!("<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>")
        };
        let doc = extract_docx(
            &docx(
                &format!(
                    "<w:p><w:r><w:t>Before </w:t></w:r><w:r><mc:AlternateContent>\
                     <mc:Choice Requires=\"wps\"><w:drawing><wps:txbx>{}</wps:txbx></w:drawing></mc:Choice>\
                     <mc:Fallback><w:pict><v:textbox>{}</v:textbox></w:pict></mc:Fallback>\
                     </mc:AlternateContent></w:r><w:r><w:t>after.</w:t></w:r></w:p>\
                     <w:p><w:r><mc:AlternateContent><mc:Fallback><w:t>Only a fallback</w:t></mc:Fallback>\
                     </mc:AlternateContent></w:r></w:p>",
                    text_box("Boxed words"),
                    text_box("Boxed words")
                ),
                &[],
                &[],
            ),
            DEFAULT_PART_LIMIT,
        )
        .unwrap();
        let all = texts(&doc);
        assert_eq!(
            all.iter()
                .filter(|text| text.contains("Boxed words"))
                .count(),
            1,
            "{all:?}"
        );
        // The anchoring paragraph keeps its own text around the box.
        assert!(all.contains(&"Before after.".to_owned()), "{all:?}");
        assert!(all.contains(&"Only a fallback".to_owned()), "{all:?}");
    }

    #[test]
    fn the_main_part_is_found_through_the_package_relationships() {
        let styles = part(
            "styles",
            r#"<w:style w:type="paragraph" w:styleId="Big"><w:name w:val="heading 1"/></w:style>"#,
        );
        for namespace in [TRANSITIONAL, STRICT] {
            let bytes = zip_of(&[
                // No content types for the main part: only the relationship finds it.
                (
                    "[Content_Types].xml",
                    r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#
                        .to_owned(),
                ),
                (
                    "_rels/.rels",
                    relationships(&[(
                        "rId1",
                        format!("{namespace}/officeDocument"),
                        "/content/main%20part.xml",
                    )]),
                ),
                (
                    "content/main part.xml",
                    body(&format!(
                        r#"<w:p><w:pPr><w:pStyle w:val="Big"/></w:pPr><w:r><w:t>Chapter</w:t></w:r></w:p>{}"#,
                        paragraph("Body text")
                    )),
                ),
                (
                    "content/_rels/main part.xml.rels",
                    relationships(&[("rId7", format!("{namespace}/styles"), "../shared/look.xml")]),
                ),
                ("shared/look.xml", styles.clone()),
            ]);
            assert_eq!(crate::detect_kind(&bytes), Some(crate::FileKind::Docx));
            let doc = extract_docx(&bytes, DEFAULT_PART_LIMIT).unwrap();
            assert_eq!(
                block(&doc, "Chapter").kind,
                BlockKind::Heading(2),
                "{namespace}"
            );
            assert_eq!(block(&doc, "Body text").headings, ["Chapter"]);
        }
        // Without relationships, [Content_Types].xml names the main part.
        let bytes = zip_of(&[
            ("[Content_Types].xml", content_types("doc/body.xml")),
            ("doc/body.xml", body(&paragraph("Declared main part"))),
        ]);
        assert_eq!(crate::detect_kind(&bytes), Some(crate::FileKind::Docx));
        let doc = extract_docx(&bytes, DEFAULT_PART_LIMIT).unwrap();
        assert_eq!(texts(&doc), ["Declared main part"]);
    }

    #[test]
    fn outline_levels_make_headings_as_word_s_navigation_pane_shows_them() {
        // Custom chapter styles (ECMA-376 §17.3.1.20, §17.7.4.3): one with an outline level,
        // one based on a heading style, one that sets body level on a heading base; and
        // paragraphs with their own outline level.
        let styles = part(
            "styles",
            concat!(
                r#"<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>"#,
                r#"<w:style w:type="paragraph" w:styleId="Chapter"><w:name w:val="Chapter Title"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>"#,
                r#"<w:style w:type="paragraph" w:styleId="Part"><w:name w:val="Part Title"/><w:basedOn w:val="Heading1"/></w:style>"#,
                r#"<w:style w:type="paragraph" w:styleId="Section"><w:name w:val="Section Title"/><w:basedOn w:val="Chapter"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>"#,
                r#"<w:style w:type="paragraph" w:styleId="TOCHeading"><w:name w:val="TOC Heading"/><w:basedOn w:val="Heading1"/><w:pPr><w:outlineLvl w:val="9"/></w:pPr></w:style>"#,
                r#"<w:style w:type="paragraph" w:styleId="Loop"><w:name w:val="Loop"/><w:basedOn w:val="Loop"/></w:style>"#,
            ),
        );
        let styled = |style: &str, text: &str| {
            format!(
                r#"<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"#
            )
        };
        let content = [
            styled("TOCHeading", "Contents"),
            styled("Chapter", "Our voice"),
            styled("Section", "Tone scenarios"),
            paragraph("Say sorry once."),
            styled("Part", "Our look"),
            styled("Loop", "Loops end"),
            r#"<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Colours</w:t></w:r></w:p>"#
                .to_owned(),
            r#"<w:p><w:pPr><w:pStyle w:val="Heading1"/><w:outlineLvl w:val="9"/></w:pPr><w:r><w:t>Body after all</w:t></w:r></w:p>"#
                .to_owned(),
        ]
        .concat();
        let bytes = docx(
            &content,
            &[("word/styles.xml", styles)],
            &[("rId9", format!("{TRANSITIONAL}/styles"), "styles.xml")],
        );
        let doc = extract_docx(&bytes, DEFAULT_PART_LIMIT).unwrap();
        for (text, kind) in [
            ("Contents", BlockKind::Paragraph),
            ("Our voice", BlockKind::Heading(2)),
            ("Tone scenarios", BlockKind::Heading(3)),
            ("Our look", BlockKind::Heading(2)),
            ("Loops end", BlockKind::Paragraph),
            ("Colours", BlockKind::Heading(3)),
            ("Body after all", BlockKind::Paragraph),
        ] {
            assert_eq!(block(&doc, text).kind, kind, "{text}");
        }
        assert_eq!(
            block(&doc, "Say sorry once.").headings,
            ["Our voice", "Tone scenarios"]
        );
    }

    #[test]
    fn other_zips_are_not_word_documents() {
        let spreadsheet = zip_of(&[
            (
                "[Content_Types].xml",
                r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#.to_owned(),
            ),
            (
                "_rels/.rels",
                relationships(&[("rId1", format!("{TRANSITIONAL}/officeDocument"), "xl/workbook.xml")]),
            ),
            (
                "xl/workbook.xml",
                r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>"#.to_owned(),
            ),
        ]);
        assert_eq!(crate::detect_kind(&spreadsheet), None);
        assert!(extract_docx(&spreadsheet, DEFAULT_PART_LIMIT).is_err());
        let random = zip_of(&[
            ("notes.txt", "hello".to_owned()),
            ("word/readme.md", "# hi".to_owned()),
        ]);
        assert_eq!(crate::detect_kind(&random), None);
        // A package whose content types are lost is still recognised by its main part's root.
        let bytes = zip_of(&[
            (
                "_rels/.rels",
                relationships(&[("rId1", format!("{STRICT}/officeDocument"), "w/d.xml")]),
            ),
            (
                "w/d.xml",
                body(&paragraph("x")).replace(
                    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
                    "http://purl.oclc.org/ooxml/wordprocessingml/main",
                ),
            ),
        ]);
        assert_eq!(crate::detect_kind(&bytes), Some(crate::FileKind::Docx));
    }

    #[test]
    fn notes_headers_and_footers_come_after_the_body_marked() {
        let separators = r#"<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/><w:t>SEPARATOR</w:t></w:r></w:p></w:footnote><w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>"#;
        let footnotes = part(
            "footnotes",
            &format!(
                r#"{separators}<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> </w:t></w:r><w:sdt><w:sdtPr><w:alias w:val="Citation"/><w:tag w:val="placeholder"/></w:sdtPr><w:sdtContent><w:r><w:t>Cited in the footnote.</w:t></w:r></w:sdtContent></w:sdt></w:p></w:footnote>"#
            ),
        );
        let endnotes = part(
            "endnotes",
            r#"<w:endnote w:id="1"><w:p><w:r><w:t>An endnote.</w:t></w:r></w:p></w:endnote>"#,
        );
        let header = |text: &str| part("hdr", &paragraph(text));
        let footer = |text: &str| part("ftr", &paragraph(text));
        let content = format!(
            r#"<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Guide</w:t></w:r></w:p>{}<w:p><w:r><w:t>Body</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p><w:sectPr><w:headerReference w:type="first" r:id="rH2"/><w:headerReference w:type="default" r:id="rH1"/><w:headerReference w:type="even" r:id="rH3"/><w:footerReference w:type="default" r:id="rF1"/></w:sectPr>"#,
            r#"<w:p><w:r><w:br w:type="page"/></w:r></w:p>"#
        );
        let bytes = docx(
            &content,
            &[
                ("word/footnotes.xml", footnotes),
                ("word/endnotes.xml", endnotes),
                ("word/header1.xml", header("Running header")),
                ("word/header2.xml", header("First page header")),
                ("word/header3.xml", header("Running header")),
                ("word/footer1.xml", footer("Footer text")),
                // Not related: never read.
                ("word/footer9.xml", footer("Stray footer")),
            ],
            &[
                ("rN1", format!("{TRANSITIONAL}/footnotes"), "footnotes.xml"),
                ("rN2", format!("{TRANSITIONAL}/endnotes"), "endnotes.xml"),
                ("rH1", format!("{TRANSITIONAL}/header"), "header1.xml"),
                ("rH2", format!("{TRANSITIONAL}/header"), "header2.xml"),
                ("rH3", format!("{TRANSITIONAL}/header"), "header3.xml"),
                ("rF1", format!("{TRANSITIONAL}/footer"), "footer1.xml"),
            ],
        );
        let doc = extract_docx(&bytes, DEFAULT_PART_LIMIT).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Guide"));
        assert_eq!(doc.pages.len(), 2);
        assert_eq!(
            texts(&doc),
            [
                "Guide",
                "Body",
                "Footnotes",
                "Cited in the footnote.",
                "Endnotes",
                "An endnote.",
                "Headers",
                "First page header",
                "Running header",
                "Footers",
                "Footer text"
            ]
        );
        assert_eq!(
            block(&doc, "Cited in the footnote.").headings,
            ["Guide", "Footnotes"]
        );
        assert_eq!(block(&doc, "An endnote.").headings, ["Guide", "Endnotes"]);
        assert_eq!(block(&doc, "Footer text").headings, ["Guide", "Footers"]);
        assert_eq!(doc.pages[1].blocks.last().unwrap().text, "Footer text");
    }

    #[test]
    fn without_a_relationships_part_conventional_names_are_used() {
        let bytes = zip_of(&[
            ("[Content_Types].xml", content_types("word/document.xml")),
            ("word/document.xml", body(&paragraph("Body"))),
            (
                "word/footnotes.xml",
                part(
                    "footnotes",
                    r#"<w:footnote w:id="2"><w:p><w:r><w:t>Note</w:t></w:r></w:p></w:footnote>"#,
                ),
            ),
            ("word/header10.xml", part("hdr", &paragraph("Tenth"))),
            ("word/header2.xml", part("hdr", &paragraph("Second"))),
        ]);
        let doc = extract_docx(&bytes, DEFAULT_PART_LIMIT).unwrap();
        assert_eq!(
            texts(&doc),
            ["Body", "Footnotes", "Note", "Headers", "Second", "Tenth"]
        );
    }

    #[test]
    fn tracked_changes_fields_smart_tags_and_content_controls() {
        let content = concat!(
            r#"<w:p><w:pPr><w:pStyle w:val="Normal"/><w:pPrChange w:id="9"><w:pPr><w:pStyle w:val="Heading1"/></w:pPr></w:pPrChange></w:pPr>"#,
            r#"<w:r><w:t xml:space="preserve">Kept </w:t></w:r>"#,
            r#"<w:ins w:id="1"><w:r><w:t xml:space="preserve">inserted </w:t></w:r></w:ins>"#,
            r#"<w:del w:id="2"><w:r><w:delText>deleted words </w:delText></w:r><w:r><w:t>stray deleted t </w:t></w:r></w:del>"#,
            r#"<w:moveFrom w:id="3"><w:r><w:t>moved away </w:t></w:r></w:moveFrom>"#,
            r#"<w:moveTo w:id="4"><w:r><w:t xml:space="preserve">moved here </w:t></w:r></w:moveTo>"#,
            r#"<w:smartTag w:uri="urn:x" w:element="place"><w:smartTagPr><w:attr w:name="n" w:val="v"/></w:smartTagPr><w:r><w:t xml:space="preserve">Harbour Lane </w:t></w:r></w:smartTag>"#,
            r#"<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> HYPERLINK "https://example.com" </w:instrText></w:r>"#,
            r#"<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t xml:space="preserve">field result </w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>"#,
            r#"<w:fldSimple w:instr="DATE"><w:r><w:t xml:space="preserve">simple field </w:t></w:r></w:fldSimple>"#,
            r#"<w:sdt><w:sdtPr><w:alias w:val="Alias"/></w:sdtPr><w:sdtContent><w:r><w:t>control.</w:t></w:r></w:sdtContent></w:sdt></w:p>"#,
            r#"<w:sdt><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Block-level control</w:t></w:r></w:p></w:sdtContent></w:sdt>"#,
            r#"<w:del w:id="5"><w:p><w:r><w:delText>A deleted paragraph</w:delText></w:r></w:p></w:del>"#,
            r#"<w:p><w:r><w:t>Tab</w:t><w:tab/><w:t>and</w:t><w:br/><w:t>break</w:t><w:noBreakHyphen/><w:t>x</w:t><w:t/></w:r></w:p>"#
        );
        let doc = extract_docx(&docx(content, &[], &[]), DEFAULT_PART_LIMIT).unwrap();
        assert_eq!(
            texts(&doc),
            [
                "Kept inserted moved here Harbour Lane field result simple field control.",
                "Block-level control",
                "Tab and break-x"
            ]
        );
        assert_eq!(
            doc.pages[0].blocks[0].kind,
            BlockKind::Paragraph,
            "old style ignored"
        );
    }

    #[test]
    fn every_numbered_item_is_a_list_item() {
        let item = |text: &str, level: u8, list: u8| {
            format!(
                r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="{list}"/></w:numPr></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"#
            )
        };
        let content = [
            paragraph("Intro"),
            item("One", 0, 1),
            item("One-a", 1, 1),
            item("Restarted", 0, 2),
            item("Not numbered", 0, 0),
        ]
        .concat();
        let doc = extract_docx(&docx(&content, &[], &[]), DEFAULT_PART_LIMIT).unwrap();
        let kinds: Vec<(String, BlockKind)> = doc.pages[0]
            .blocks
            .iter()
            .map(|block| (block.text.clone(), block.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("Intro".to_owned(), BlockKind::Paragraph),
                ("One".to_owned(), BlockKind::ListItem),
                ("One-a".to_owned(), BlockKind::ListItem),
                ("Restarted".to_owned(), BlockKind::ListItem),
                ("Not numbered".to_owned(), BlockKind::Paragraph),
            ]
        );
    }

    #[test]
    fn damaged_packages_fail_cleanly() {
        let good = docx(&paragraph("Some text worth reading"), &[], &[]);
        assert!(extract_docx(&good, DEFAULT_PART_LIMIT).is_ok());
        // Truncated at every length: an error or (past the central directory) the text, never a
        // panic.
        for length in (0..good.len()).step_by(7) {
            let _ = extract_docx(&good[..length], DEFAULT_PART_LIMIT);
            let _ = crate::detect_kind(&good[..length]);
        }
        assert!(matches!(
            extract_docx(&good[..good.len() / 2], DEFAULT_PART_LIMIT),
            Err(ExtractError::Corrupt(_))
        ));
        let malformed = docx("<w:p><w:r><w:t>open", &[], &[]);
        assert!(matches!(
            extract_docx(&malformed, DEFAULT_PART_LIMIT),
            Err(ExtractError::Corrupt(_))
        ));
        let no_main = zip_of(&[("[Content_Types].xml", content_types("word/document.xml"))]);
        assert!(matches!(
            extract_docx(&no_main, DEFAULT_PART_LIMIT),
            Err(ExtractError::Corrupt(_))
        ));
        // A damaged footnotes part leaves the body readable.
        let bytes = docx(
            &paragraph("Body survives"),
            &[("word/footnotes.xml", "<w:footnotes><w:footnote>".to_owned())],
            &[("rN", format!("{TRANSITIONAL}/footnotes"), "footnotes.xml")],
        );
        assert_eq!(
            texts(&extract_docx(&bytes, DEFAULT_PART_LIMIT).unwrap()),
            ["Body survives"]
        );
    }

    #[test]
    fn all_parts_together_stay_within_the_total_budget() {
        let filler = paragraph(&"x".repeat(900));
        let headers: Vec<(String, String)> = (1..=8)
            .map(|index| (format!("word/header{index}.xml"), part("hdr", &filler)))
            .collect();
        let mut parts = vec![
            ("[Content_Types].xml", content_types("word/document.xml")),
            ("word/document.xml", body(&paragraph("Body"))),
        ];
        parts.extend(
            headers
                .iter()
                .map(|(name, content)| (name.as_str(), content.clone())),
        );
        let bytes = zip_of(&parts);
        // Each part is under 2 KiB, all of them together far over 4 × 2 KiB.
        assert_eq!(
            extract_docx(&bytes, 2048),
            Err(ExtractError::TooLarge(2048 * TOTAL_PART_FACTOR))
        );
        assert!(extract_docx(&bytes, 64 * 1024).is_ok());
    }

    #[test]
    fn targets_resolve_like_uris() {
        assert_eq!(resolve_target("word", "styles.xml"), "word/styles.xml");
        assert_eq!(
            resolve_target("word", "../customXml/item1.xml"),
            "customXml/item1.xml"
        );
        assert_eq!(
            resolve_target("word", "/word/document2.xml"),
            "word/document2.xml"
        );
        assert_eq!(resolve_target("", "./word/./a.xml#frag"), "word/a.xml");
        assert_eq!(
            percent_decode("main%20part.xml").as_deref(),
            Some("main part.xml")
        );
        assert_eq!(percent_decode("plain.xml"), None);
    }
}
