//! PDF: the text layer, page by page (hayro: a pure-Rust PDF interpreter).
//!
//! hayro runs each page's content streams (every text-showing operator: `Tj`, `TJ`, `'` and
//! `"`; form XObjects; damaged Flate streams decoded as far as they go; standard security
//! handlers with an empty user password) and hands over each glyph with its position and its
//! Unicode text from the font's `ToUnicode` map, its encoding and glyph names. This module
//! lays the glyphs out as text, as poppler's `pdftotext` reads a page:
//!
//! - Glyphs follow in content order; a move to another baseline starts a line (a blank line
//!   when the move is wider than one and a half lines), a gap wider than 0.15 em between one
//!   glyph's advance and the next is a space, wider than 1.2 em a column gap (` | `, so table
//!   cells stay apart). Positions are measured along each glyph's own baseline, so rotated
//!   pages and labels read like the rest.
//! - A table row whose cells wrap is drawn cell by cell: one cell's lines, then the next cell's
//!   back up at the row's first baseline. Such a row becomes one line, each cell's lines joined
//!   and the cells set apart with ` | `, as a row whose cells fit one line reads; a "cell" of
//!   more than five lines is a column of running text and is left as it is.
//! - A glyph drawn again at (almost) the same place with the same text (fake bold, shadows)
//!   is kept once.
//! - Lines in right-to-left scripts are stored in logical order: glyphs are placed in visual
//!   order, which the Unicode bidirectional algorithm (UAX #9) turns back into reading order.
//! - Composite (CID) fonts without a `ToUnicode` map are read through their character
//!   collection's predefined CID-to-Unicode map (Adobe-Japan1, -GB1, -CNS1, -Korea1), as
//!   poppler does; glyphs of simple fonts that map to nothing fall back to their code when it
//!   is printable ASCII.
//! - A document whose glyphs mostly map to no text is refused with a message saying so, never
//!   stored as an empty or garbled document.
//!
//! A PDF's text layer has no structure, so structure is inferred: running headers and footers
//! (lines repeated on most pages, digits ignored) are dropped; blank lines separate
//! paragraphs; a short, unpunctuated line standing alone before body text is a heading (a
//! heading that names a catalogue section sits one level above the others); bulleted lines are
//! list items; paragraphs made only of short lines (table rows, lists without bullets) keep one
//! block per line.
//!
//! Parsing untrusted PDFs is risky: the parser can panic or run long on hostile input. Here a
//! panic becomes an error (or an empty page, when only one page fails); the server runs this
//! in a child process with time and memory limits.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use brandstream_domain::brand::CATALOGUE;
use hayro_interpret::font::Glyph;
use hayro_interpret::hayro_cmap::{self, BfString, CMap, CMapName, CidFamily};
use hayro_interpret::hayro_syntax::object::{Array, Dict, Name};
use hayro_interpret::hayro_syntax::page::Resources;
use hayro_interpret::hayro_syntax::{LoadPdfError, Pdf};
use hayro_interpret::kurbo::{Affine, BezPath, Point, Rect};
use hayro_interpret::{
    interpret_page, BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image,
    ImageDrawProps, InterpreterCache, InterpreterSettings, SoftMask,
};

use crate::extract::Builder;
use crate::{BlockKind, ExtractError, Extracted, Page};

/// Glyphs kept per page; a dense page of small print holds about 10,000.
const MAX_GLYPHS_PER_PAGE: usize = 200_000;

/// A document whose glyphs map to no text at more than this share is refused.
const MAX_UNMAPPED_SHARE: f64 = 0.5;

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

/// Most words of a question standing as a heading ("Can a contractor put our logo on their
/// van?"), a frequently-asked-questions page's shape.
const QUESTION_HEADING_WORDS: usize = 14;

fn looks_like_heading(line: &str) -> bool {
    let words = line.split_whitespace().count();
    let last = line.chars().last().unwrap_or('.');
    let first = line.chars().next().unwrap_or('a');
    // A numbered question is a checklist's item ("2. Is the price shown?").
    let question = last == '?' && words <= QUESTION_HEADING_WORDS && !numbered(line);
    ((1..=10).contains(&words) || question)
        && line.chars().count() <= 100
        && (question
            || (line.chars().count() <= 80
                && !matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | ')')))
        && (first.is_uppercase() || first.is_ascii_digit())
        && !line.contains('|')
        && is_bullet(line).is_none()
}

/// Whether the break between two lines of a paragraph falls inside a sentence: the next line
/// goes on in lower case, or the line ends on a comma (text wrapped at a column's width).
fn continues(line: &str, next: &str) -> bool {
    line.ends_with(',') || next.chars().next().is_some_and(char::is_lowercase)
}

/// Whether a paragraph's lines are one text wrapped at a narrow column's width rather than a
/// list of short lines: at least half of its line breaks fall inside a sentence.
fn wrapped_prose(lines: &[&str]) -> bool {
    let breaks = lines.len().saturating_sub(1);
    let inside = lines
        .windows(2)
        .filter(|pair| continues(pair[0], pair[1]))
        .count();
    breaks > 0 && inside * 2 >= breaks
}

/// A paragraph read as a heading: one heading-like line, or a heading wrapped onto a second
/// line that goes on in lower case ("Questions we get" / "asked a lot" in a narrow column).
fn heading_text(lines: &[&str]) -> Option<String> {
    match lines {
        [line] if looks_like_heading(line) => Some((*line).to_owned()),
        [first, second] if continues(first, second) => {
            let joined = format!("{first} {second}");
            looks_like_heading(&joined).then_some(joined)
        }
        _ => None,
    }
}

/// `text` without apostrophes (straight or curly), for comparing names like "Dos and Dont's"
/// with "Dos and Don'ts".
fn without_apostrophes(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '\'' | '’')).collect()
}

/// One glyph as drawn: where its baseline starts and where its advance ends, measured along
/// its own baseline direction, in device units (points, y down).
#[derive(Debug, Clone)]
struct Placed {
    /// Unit vector of the baseline direction.
    direction: (f64, f64),
    /// Position along the baseline.
    along: f64,
    /// Position across the baseline (the line's coordinate).
    across: f64,
    /// `along` plus the advance width.
    end: f64,
    /// The em size.
    size: f64,
    /// Where its text (empty when it maps to nothing) lies in the page's text buffer: one
    /// buffer per page rather than a string per glyph.
    text: std::ops::Range<usize>,
}

/// What composite fonts without `ToUnicode` map to: font name → (code → CID map, or identity;
/// CID → Unicode map of the font's character collection).
type CidFallbacks = HashMap<String, Option<(Option<CMap>, CMap)>>;

/// A font's name without the subset tag (`ABCDEF+`), as hayro reports it.
fn without_subset_tag(name: &str) -> &str {
    match name.split_once('+') {
        Some((tag, rest)) if tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()) => rest,
        _ => name,
    }
}

fn predefined_cmap(name: CMapName<'_>) -> Option<CMap> {
    let data = hayro_cmap::load_embedded(name)?;
    CMap::parse(data, hayro_cmap::load_embedded)
}

/// The CID fallback of a `Type0` font dictionary without `ToUnicode` (ISO 32000-1 §9.10.2:
/// a predefined CMap, or a character collection Adobe-Japan1/GB1/CNS1/Korea1).
fn cid_fallback(font: &Dict<'_>) -> Option<(Option<CMap>, CMap)> {
    let descendant = font
        .get::<Array<'_>>(b"DescendantFonts")?
        .iter::<Dict<'_>>()
        .next()?;
    let info = descendant.get::<Dict<'_>>(b"CIDSystemInfo")?;
    let registry = info.get::<hayro_interpret::hayro_syntax::object::String<'_>>(b"Registry")?;
    let ordering = info.get::<hayro_interpret::hayro_syntax::object::String<'_>>(b"Ordering")?;
    let family = CidFamily::from_registry_ordering(&registry, &ordering);
    let to_unicode = predefined_cmap(family.ucs2_cmap()?)?;
    let encoding = match font.get::<Name<'_>>(b"Encoding") {
        Some(name) if !name.as_str().starts_with("Identity") => {
            Some(predefined_cmap(CMapName::from_bytes(&name))?)
        }
        _ => None,
    };
    Some((encoding, to_unicode))
}

/// Records the CID fallbacks of the composite fonts of `resources` (and of the form XObjects
/// they use, one level deep) that have no `ToUnicode` map.
fn scan_fonts(resources: &Resources<'_>, fallbacks: &mut CidFallbacks) {
    let mut scan = |fonts: &Dict<'_>| {
        for key in fonts.keys() {
            let Some(font) = fonts.get::<Dict<'_>>(&key) else {
                continue;
            };
            let composite = font
                .get::<Name<'_>>(b"Subtype")
                .is_some_and(|subtype| subtype.as_str() == "Type0");
            if !composite || font.contains_key(b"ToUnicode") {
                continue;
            }
            let Some(name) = font.get::<Name<'_>>(b"BaseFont") else {
                continue;
            };
            let name = without_subset_tag(name.as_str()).to_owned();
            fallbacks.entry(name).or_insert_with(|| cid_fallback(&font));
        }
    };
    scan(&resources.fonts);
    for key in resources.x_objects.keys() {
        if let Some(form) = resources
            .x_objects
            .get::<hayro_interpret::hayro_syntax::object::Stream<'_>>(&key)
        {
            if let Some(inner) = form.dict().get::<Dict<'_>>(b"Resources") {
                if let Some(fonts) = inner.get::<Dict<'_>>(b"Font") {
                    scan(&fonts);
                }
            }
        }
    }
}

/// The text of a code of a simple font whose glyph has no usable name: printable ASCII and
/// Latin-1 codes stand for themselves (the standard encodings agree there), and codes 11–15
/// are TeX's ligatures (the OT1 encoding of dvips' Type 3 fonts: ff, fi, fl, ffi, ffl).
fn simple_code_text(code: u32) -> Option<String> {
    match code {
        0x0B => Some("ff".into()),
        0x0C => Some("fi".into()),
        0x0D => Some("fl".into()),
        0x0E => Some("ffi".into()),
        0x0F => Some("ffl".into()),
        0x21..=0x7E | 0xA1..=0xFF => char::from_u32(code).map(String::from),
        _ => None,
    }
}

fn bf_text(text: BfString) -> String {
    match text {
        BfString::Char(c) => c.to_string(),
        BfString::String(s) => s,
    }
}

/// What identifies an outline glyph's text and advance across glyph runs and pages: its font
/// program and glyph, the character code that selected it, and the horizontal stretch it is
/// drawn with (the squared ratio of its transform's x and y scales, in 1/4096ths).
///
/// hayro does not expose which PDF font dictionary drew a glyph, so two dictionaries sharing
/// one program are told apart by what they change: another encoding selects other glyphs,
/// and an unembedded font with its own widths (Arial drawn with the Helvetica substitute) is
/// drawn stretched to them. Two dictionaries of one program mapping the same glyph to
/// different text through their `ToUnicode` maps would share entries; no producer we know
/// writes that, and the sample and real-world PDFs read identically with and without this
/// cache.
#[derive(PartialEq, Eq, Hash)]
struct GlyphKey {
    glyph: hayro_interpret::font::GlyphIdentifier,
    code: u32,
    stretch: u32,
}

/// A glyph's text (empty when it maps to nothing) and advance in glyph units.
struct KnownGlyph {
    text: Box<str>,
    advance: f64,
}

/// Glyphs already looked up on this thread. The lookups go through the font's glyph-name and
/// metrics tables and were most of the cost of text-heavy pages in standard fonts, where every
/// line is its own glyph run.
type GlyphCache = rustc_hash::FxHashMap<GlyphKey, KnownGlyph>;

/// Entries kept per thread before the cache starts over (a document with thousands of fonts).
const MAX_CACHED_GLYPHS: usize = 65_536;

/// Collects a page's glyphs.
struct Glyphs<'f> {
    placed: Vec<Placed>,
    /// The text of every placed glyph, one after the other.
    texts: String,
    unmapped: usize,
    fallbacks: &'f CidFallbacks,
    known: &'f mut GlyphCache,
}

/// A glyph's advance in glyph units (1000 to the em): the font's, or half an em when the font
/// gives none or an absurd one.
fn advance_or_default(advance: Option<f32>) -> f64 {
    advance
        .map(f64::from)
        .filter(|advance| advance.is_finite() && *advance > 0.0 && *advance < 4000.0)
        .unwrap_or(500.0)
}

/// A glyph's text: what hayro maps it to, else its font's CID fallback, else its code when
/// that is printable (see [`fallback_text`]); empty when it maps to nothing.
fn glyph_text(glyph: &Glyph<'_>, fallbacks: &CidFallbacks) -> String {
    match glyph.as_unicode() {
        Some(BfString::Char('\u{0}' | '\u{FFFD}')) | None => {
            fallback_text(glyph, fallbacks).unwrap_or_default()
        }
        Some(BfString::Char(c)) => c.to_string(),
        Some(BfString::String(text)) => text,
    }
}

/// The text of a glyph hayro could not map: through its font's CID fallback, else its code
/// when that is printable ASCII (simple fonts with private glyph names).
fn fallback_text(glyph: &Glyph<'_>, fallbacks: &CidFallbacks) -> Option<String> {
    let code = glyph.char_code();
    if let Glyph::Outline(outline) = glyph {
        let name = outline
            .font_data()
            .and_then(|data| data.postscript_name)
            .unwrap_or_default();
        if let Some(Some((encoding, to_unicode))) = fallbacks.get(name.as_str()) {
            let cid = match encoding {
                None => Some(code),
                Some(cmap) => {
                    let bytes = if code > 0xFF { 2 } else { 1 };
                    cmap.lookup_cid_code(code, bytes)
                        .or_else(|| cmap.lookup_cid_code(code, 2))
                }
            }?;
            return to_unicode.lookup_bf_string(cid).map(bf_text);
        }
    }
    simple_code_text(code)
}

impl<'a> Device<'a> for Glyphs<'_> {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}

    fn draw_glyph_run(
        &mut self,
        run: &hayro_interpret::font::GlyphRun<'_, 'a>,
        props: DrawProps<'a>,
        _: &DrawMode,
    ) {
        // Type 3 glyphs have no program to key them by; a run is shown in one font, so their
        // text and advance are looked up once per code and run.
        let mut seen: Vec<(u32, std::ops::Range<usize>, f64)> = Vec::new();
        for glyph in run.glyphs() {
            if self.placed.len() >= MAX_GLYPHS_PER_PAGE {
                // A page drawing more glyphs than any real page holds (a form repeated
                // endlessly): the rest is not text anyone reads.
                return;
            }
            // Glyph space has 1000 units to the em.
            let transform: Affine = props.transform * glyph.transform();
            let origin = transform * Point::ZERO;
            let baseline = transform * Point::new(1000.0, 0.0) - origin;
            let size = (transform * Point::new(0.0, 1000.0) - origin).hypot();
            let length = baseline.hypot();
            if !(length.is_finite() && size.is_finite()) || length < 1e-6 || size < 1e-6 {
                continue;
            }
            let direction = (baseline.x / length, baseline.y / length);
            let code = glyph.char_code();
            let (text, advance) = match &**glyph {
                Glyph::Outline(outline) => {
                    let [a, b, c, d, _, _] = glyph.transform().as_coeffs();
                    // The squared ratio: no square roots per glyph.
                    let stretch = (a * a + b * b) / (c * c + d * d).max(1e-18);
                    let key = GlyphKey {
                        glyph: outline.identifier(),
                        code,
                        stretch: (stretch * 4096.0).round().clamp(0.0, f64::from(u32::MAX)) as u32,
                    };
                    if self.known.len() >= MAX_CACHED_GLYPHS {
                        self.known.clear();
                    }
                    let known = match self.known.entry(key) {
                        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                        std::collections::hash_map::Entry::Vacant(entry) => {
                            let advance = advance_or_default(outline.advance_width());
                            let text = glyph_text(glyph, self.fallbacks).into_boxed_str();
                            entry.insert(KnownGlyph { text, advance })
                        }
                    };
                    let start = self.texts.len();
                    self.texts.push_str(&known.text);
                    (start..self.texts.len(), known.advance)
                }
                Glyph::Type3(type3) => match seen.iter().find(|(seen, _, _)| *seen == code) {
                    Some((_, text, advance)) => (text.clone(), *advance),
                    None => {
                        let advance = advance_or_default(type3.advance_width());
                        let start = self.texts.len();
                        self.texts.push_str(&glyph_text(glyph, self.fallbacks));
                        let text = start..self.texts.len();
                        seen.push((code, text.clone(), advance));
                        (text, advance)
                    }
                },
            };
            if text.is_empty() {
                self.unmapped += 1;
            }
            let along = origin.x * direction.0 + origin.y * direction.1;
            let across = origin.y * direction.0 - origin.x * direction.1;
            self.placed.push(Placed {
                direction,
                along,
                across,
                end: along + advance / 1000.0 * length,
                size,
                text,
            });
        }
    }
}

/// Whether `c` is a strong right-to-left letter (Hebrew, Arabic, Syriac, Thaana, N'Ko and
/// their presentation forms).
fn is_rtl(c: char) -> bool {
    matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// A line placed in visual order, in logical (reading) order.
fn logical_order(line: &str) -> String {
    if !line.chars().any(is_rtl) {
        return line.to_owned();
    }
    let rtl = line.chars().filter(|c| is_rtl(*c)).count();
    let ltr = line
        .chars()
        .filter(|c| c.is_alphabetic() && !is_rtl(*c))
        .count();
    let level = if rtl >= ltr {
        unicode_bidi::Level::rtl()
    } else {
        unicode_bidi::Level::ltr()
    };
    let info = unicode_bidi::BidiInfo::new(line, Some(level));
    info.paragraphs
        .iter()
        .map(|paragraph| {
            info.reorder_line(paragraph, paragraph.range.clone())
                .into_owned()
        })
        .collect()
}

/// Where a laid-out line lies: its first glyph's position and size, its last glyph's end.
#[derive(Debug, Clone, Copy)]
struct LineSpan {
    start: f64,
    end: f64,
    across: f64,
    size: f64,
    direction: (f64, f64),
}

/// Most lines a table cell may wrap to before its column is taken for running text.
const MAX_CELL_LINES: usize = 5;

/// The table rows among a page's lines whose cells wrap (see [`join_wrapped_rows`]): each
/// found row as (first line, last line + 1, the cells' line ranges).
fn wrapped_rows(spans: &[LineSpan]) -> Vec<(usize, usize, Vec<std::ops::Range<usize>>)> {
    let mut rows = Vec::new();
    let mut first = 0;
    while first < spans.len() {
        let top = spans[first];
        let tolerance = top.size;
        let mut cells: Vec<std::ops::Range<usize>> = Vec::new();
        cells.push(first..first + 1);
        let mut row_end = top.end;
        let mut line = first + 1;
        while line < spans.len() {
            let span = spans[line];
            let previous = spans[line - 1];
            let Some(cell) = cells.last_mut() else { break };
            let cell_start = spans[cell.start].start;
            let same_direction = (span.direction.0 - top.direction.0).abs() < 0.01
                && (span.direction.1 - top.direction.1).abs() < 0.01;
            let from_top = (span.across - top.across).abs();
            let step = from_top - (previous.across - top.across).abs();
            if !same_direction {
                break;
            }
            if from_top < 0.3 * tolerance && span.start > row_end + 0.5 * tolerance {
                // Back up at the row's first baseline, right of everything so far: a new cell.
                cells.push(line..line + 1);
            } else if step > 0.5 * tolerance
                && step < 1.6 * tolerance
                && (span.start - cell_start).abs() < 2.0 * tolerance
                && cell.len() < MAX_CELL_LINES
            {
                // The next line down, under the cell's first: the cell wraps.
                cell.end = line + 1;
            } else {
                break;
            }
            row_end = row_end.max(span.end);
            line += 1;
        }
        if cells.len() >= 2 && cells.iter().any(|cell| cell.len() >= 2) {
            rows.push((first, line, cells));
            first = line;
        } else {
            first += 1;
        }
    }
    rows
}

/// Joins table rows whose cells wrap onto several lines. A content stream draws such a table
/// cell by cell, so its lines arrive as one cell's lines, then the next cell's back up at the
/// row's first baseline; each row becomes one line, its cells' lines joined and the cells set
/// apart with ` | ` as on a row whose cells fit one line. A "cell" longer than
/// [`MAX_CELL_LINES`] lines is a column of running text and is left as it is.
fn join_wrapped_rows(text: String, spans: &[LineSpan]) -> String {
    let rows = wrapped_rows(spans);
    if rows.is_empty() {
        return text;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    // The non-empty lines, in the order their spans were recorded.
    let filled: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].is_empty()).collect();
    if filled.len() != spans.len() {
        return text;
    }
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut next_line = 0;
    for (first, end, cells) in rows {
        let (from, to) = (filled[first], filled[end - 1]);
        out.extend(lines[next_line..from].iter().map(|line| (*line).to_owned()));
        let row: Vec<String> = cells
            .iter()
            .map(|cell| {
                cell.clone()
                    .map(|index| lines[filled[index]].trim())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.push(row.join(" | "));
        next_line = to + 1;
    }
    out.extend(lines[next_line..].iter().map(|line| (*line).to_owned()));
    out.join("\n")
}

/// Lays a page's glyphs out as lines of text (see the module documentation).
fn lay_out(glyphs: &[Placed], texts: &str) -> String {
    let mut text = String::new();
    let mut spans: Vec<LineSpan> = Vec::new();
    let mut kept: Vec<(&Placed, &str)> = Vec::new();
    for glyph in glyphs {
        let glyph_text = &texts[glyph.text.clone()];
        if glyph_text.trim().is_empty() && !glyph_text.is_empty() {
            // A space glyph: a word boundary, unless one is already there.
            if !text.is_empty() && !text.ends_with(char::is_whitespace) {
                text.push(' ');
            }
            continue;
        }
        // Overprinting: the same text again at (almost) the same place — within 0.1 em along
        // the line and 0.2 em across it, the tolerances poppler's text output uses for
        // duplicated glyphs (closer than any two letters of a real word).
        // (Positions first: they rule out nearly every candidate without comparing text.)
        let overprint = kept.iter().rev().take(8).any(|(previous, previous_text)| {
            (previous.along - glyph.along).abs() < 0.1 * glyph.size
                && (previous.across - glyph.across).abs() < 0.2 * glyph.size
                && previous.direction == glyph.direction
                && *previous_text == glyph_text
        });
        if overprint {
            continue;
        }
        if let Some((previous, _)) = kept.last() {
            let size = glyph.size;
            let same_direction = (previous.direction.0 - glyph.direction.0).abs() < 0.01
                && (previous.direction.1 - glyph.direction.1).abs() < 0.01;
            let dy = (glyph.across - previous.across).abs();
            let new_line = dy > size * 0.5 || glyph.along < previous.end - size;
            // A word hyphenated at the end of a line continues on the next: joined, as
            // pdftotext joins it ("Work-" + "ers" is "Workers").
            let mut last = text.chars().rev();
            let hyphenated = same_direction
                && new_line
                && dy < size * 3.0
                && matches!(last.next(), Some('-' | '\u{AD}'))
                && last.next().is_some_and(char::is_alphabetic)
                && glyph_text.starts_with(char::is_lowercase);
            if hyphenated {
                text.pop();
            } else if !same_direction || dy > size * 1.5 {
                text.push_str("\n\n");
            } else if new_line {
                text.push('\n');
            } else if glyph.along > previous.end + size * 1.2 {
                text.push_str(" | ");
            } else if glyph.along > previous.end + size * 0.15
                && !text.ends_with(char::is_whitespace)
            {
                text.push(' ');
            }
        }
        if text.is_empty() || text.ends_with('\n') {
            spans.push(LineSpan {
                start: glyph.along,
                end: glyph.end,
                across: glyph.across,
                size: glyph.size,
                direction: glyph.direction,
            });
        } else if let Some(span) = spans.last_mut() {
            span.end = span.end.max(glyph.end);
        }
        text.push_str(glyph_text);
        kept.push((glyph, glyph_text));
    }
    let text = join_wrapped_rows(text, &spans);
    if !text.chars().any(is_rtl) {
        return text;
    }
    text.split('\n')
        .map(logical_order)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One page's text and how many of its glyphs mapped to nothing.
#[derive(Default)]
struct PageText {
    text: String,
    glyphs: usize,
    unmapped: usize,
}

/// Reads pages with one interpreter cache, taking the next unread page from `next` until none
/// is left (so threads share the work however unevenly it is spread over the pages). Returns
/// each page read with its index. A page the interpreter fails on (a panic) is left empty.
fn read_shared(
    pages: &[hayro_interpret::hayro_syntax::page::Page<'_>],
    next: &std::sync::atomic::AtomicUsize,
) -> Vec<(usize, PageText)> {
    let cache = InterpreterCache::new();
    let mut fallbacks = CidFallbacks::new();
    // The key hashes and compares a font program by its content hash, fixed at creation; the
    // program's lazily filled tables do not take part.
    #[allow(clippy::mutable_key_type)]
    let mut known = GlyphCache::default();
    let mut read = Vec::new();
    loop {
        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(page) = pages.get(index) else {
            return read;
        };
        let text = catch_unwind(AssertUnwindSafe(|| {
            scan_fonts(page.resources(), &mut fallbacks);
            let transform = Affine::new(page.initial_transform(true).as_coeffs());
            let (width, height) = page.render_dimensions();
            let mut context = Context::new(
                transform,
                Rect::new(0.0, 0.0, f64::from(width), f64::from(height)),
                &cache,
                page.xref(),
                InterpreterSettings::default(),
            );
            let mut device = Glyphs {
                placed: Vec::with_capacity(4096),
                texts: String::with_capacity(8192),
                unmapped: 0,
                fallbacks: &fallbacks,
                known: &mut known,
            };
            interpret_page(page, &mut context, &mut device);
            PageText {
                text: lay_out(&device.placed, &device.texts),
                glyphs: device.placed.len(),
                unmapped: device.unmapped,
            }
        }))
        .unwrap_or_default();
        read.push((index, text));
    }
}

/// A PDF without any trailer or cross-reference stream is incomplete (an upload cut short):
/// poppler refuses it, and so do we, rather than guess at what the rest held.
fn has_trailer(bytes: &[u8]) -> bool {
    // Searched from the end, where a complete file has them.
    let has = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .rev()
            .any(|window| window == needle)
    };
    has(b"trailer") || has(b"/XRef")
}

/// The text of every page. Pages the interpreter fails on (a panic) are left empty and the
/// others are still read; only a document that cannot be opened at all is an error.
fn read_pages(bytes: &[u8], max_pages: u32) -> Result<Vec<PageText>, ExtractError> {
    if !has_trailer(bytes) {
        return Err(ExtractError::Corrupt(
            "the PDF is incomplete (it has no trailer; was the upload cut short?)".into(),
        ));
    }
    let data = bytes.to_vec();
    let pdf = catch_unwind(move || Pdf::new(data))
        .map_err(|_| ExtractError::Corrupt("the PDF cannot be read (the parser failed)".into()))?
        .map_err(|error| match error {
            LoadPdfError::Decryption(
                hayro_interpret::hayro_syntax::DecryptionError::PasswordProtected,
            ) => ExtractError::Encrypted,
            LoadPdfError::Decryption(other) => {
                ExtractError::Corrupt(format!("the PDF's encryption cannot be read ({other:?})"))
            }
            LoadPdfError::Invalid => ExtractError::Corrupt("the PDF cannot be read".into()),
        })?;
    let pages = pdf.pages();
    if pages.len() > max_pages as usize {
        return Err(ExtractError::TooManyPages {
            pages: pages.len(),
            limit: max_pages,
        });
    }
    // Pages are interpreted on up to four threads, each with its own caches, each taking the
    // next unread page. A thread that dies leaves its pages empty.
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 4)
        .min(pages.len() / 8 + 1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut read: Vec<PageText> = Vec::new();
    read.resize_with(pages.len(), PageText::default);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|_| scope.spawn(|| read_shared(pages, &next)))
            .collect();
        // This thread reads too.
        for (index, text) in read_shared(pages, &next) {
            read[index] = text;
        }
        for handle in handles {
            for (index, text) in handle.join().unwrap_or_default() {
                read[index] = text;
            }
        }
    });
    Ok(read)
}

/// The laid-out text of every page, before structure is inferred (running headers and footers
/// still in): what `pdftotext` would print, for comparing the two (`bench/pdf.sh`).
pub fn page_texts(bytes: &[u8]) -> Result<Vec<String>, ExtractError> {
    Ok(read_pages(bytes, u32::MAX)?
        .into_iter()
        .map(|page| page.text)
        .collect())
}

/// Extracts a PDF's text layer.
pub fn extract_pdf(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    extract_pdf_limited(bytes, u32::MAX)
}

/// Extracts a PDF's text layer, refusing documents of more than `max_pages` pages before any
/// page is read ([`ExtractError::TooManyPages`]).
pub fn extract_pdf_limited(bytes: &[u8], max_pages: u32) -> Result<Extracted, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Corrupt("the PDF is empty".into()));
    }
    let read = read_pages(bytes, max_pages)?;
    let glyphs: usize = read.iter().map(|page| page.glyphs).sum();
    let unmapped: usize = read.iter().map(|page| page.unmapped).sum();
    if glyphs > 0 && unmapped as f64 > glyphs as f64 * MAX_UNMAPPED_SHARE {
        return Err(ExtractError::Unmapped {
            glyphs,
            percent: (unmapped * 100 / glyphs) as u8,
        });
    }
    let pages: Vec<String> = read.into_iter().map(|page| page.text).collect();
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
    let heading_like = |lines: &Vec<&str>| heading_text(lines).is_some();

    let mut builder = Builder::default();
    let mut title = None;
    let mut out = Vec::with_capacity(pages.len());
    // Whether a numbered chapter ("2. The garden through a lens") has been seen: the headings
    // numbered the same way after it are chapters too, though a section may come between.
    let mut numbered_chapters = false;
    for (index, paragraphs) in page_paragraphs.iter().enumerate() {
        for (position, lines) in paragraphs.iter().enumerate() {
            // Lines with column gaps are table rows; the rest of their paragraph stays as is.
            // In running text (fewer than half of a paragraph's three or more lines with a
            // gap) a ` | ` is a vertical bar the text itself contains ("Station name | Site").
            let rows = lines.iter().filter(|line| line.contains(" | ")).count();
            let running_text = lines.len() >= 3 && rows * 2 < lines.len();
            if rows > 0 && !running_text {
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
            // followed by its first section, which makes it a chapter (level 2) whatever it is
            // called; other headings are sections (3) unless they name a catalogue section.
            let mut next = following(index, position);
            let (next_is_body, before_subheading) = match (next.next(), next.next()) {
                (Some(first), _) if !heading_like(first) => (true, false),
                // A chapter's title comes before its first section's; an unnumbered line
                // before a numbered heading (a signature above the next chapter) is not one.
                (Some(first), Some(second)) => {
                    let chapter =
                        !heading_like(second) && (numbered(lines[0]) || !numbered(first[0]));
                    (chapter, chapter)
                }
                _ => (false, false),
            };
            if let Some(line) = heading_text(lines).filter(|_| next_is_body || index == 0) {
                let line = line.as_str();
                let chapter_number = chapter_numbered(line);
                let level = if index == 0 && builder.is_empty() {
                    1
                } else if names_section(line)
                    || before_subheading
                    || (chapter_number && numbered_chapters)
                {
                    2
                } else {
                    3
                };
                if level == 2 && chapter_number {
                    numbered_chapters = true;
                }
                builder.heading(level, line);
                continue;
            }
            let short = lines.iter().all(|line| line.chars().count() <= 60);
            let short_lines = short && lines.len() > 1 && !wrapped_prose(lines);
            if lines.iter().any(|line| is_bullet(line).is_some()) || short_lines {
                let mut item = String::new();
                let mut previous = "";
                for line in lines {
                    // A short line that goes on with the sentence before it is that item's
                    // text wrapped in a narrow column, not an item of its own.
                    let wrapped = !previous.is_empty() && continues(previous, line);
                    previous = line;
                    match is_bullet(line) {
                        Some(rest) => {
                            if !item.is_empty() {
                                builder.block(BlockKind::ListItem, &item);
                            }
                            item = rest.to_owned();
                        }
                        None if short && !wrapped => {
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

/// Whether a heading is numbered like a chapter: one number, then `.` or `)` and a space
/// (`3. Colour`, `12) Voice`; not `3.1 Colour`).
fn chapter_numbered(line: &str) -> bool {
    let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < line.len() && (rest.starts_with(". ") || rest.starts_with(") "))
}

/// Whether a heading is numbered: it starts with a section number (`3.`, `3 `, `3)`, `3.1`).
fn numbered(line: &str) -> bool {
    let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < line.len() && rest.starts_with(['.', ' ', ')'])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line at `start`..`end` along its baseline, `line` lines down the page (12 pt type).
    fn span(start: f64, end: f64, line: f64) -> LineSpan {
        LineSpan {
            start,
            end,
            across: -14.0 * line,
            size: 12.0,
            direction: (1.0, 0.0),
        }
    }

    #[test]
    fn table_rows_whose_cells_wrap_become_one_line_each() {
        // Two rows of three cells drawn cell by cell, under a heading and over a paragraph.
        let text = "Scenarios\nA train is\nlate\n\"New time\nfirst.\"\nNever\n\nStorms\nWarn early\nand plainly\nCalmly\nAfter the table comes a paragraph.";
        let spans = [
            span(0.0, 80.0, 0.0),
            span(0.0, 60.0, 1.0),
            span(0.0, 30.0, 2.0),
            span(100.0, 170.0, 1.0),
            span(100.0, 140.0, 2.0),
            span(200.0, 240.0, 1.0),
            span(0.0, 50.0, 4.0),
            span(100.0, 180.0, 4.0),
            span(100.0, 170.0, 5.0),
            span(200.0, 240.0, 4.0),
            span(0.0, 300.0, 6.0),
        ];
        assert_eq!(
            join_wrapped_rows(text.to_owned(), &spans),
            "Scenarios\nA train is late | \"New time first.\" | Never\n\nStorms | Warn early and plainly | Calmly\nAfter the table comes a paragraph."
        );
    }

    #[test]
    fn running_text_and_page_columns_are_not_table_rows() {
        // A column of seven lines, then a second column back at the top: running text.
        let lines: Vec<String> = (0..7)
            .map(|i| format!("left {i}"))
            .chain((0..3).map(|i| format!("right {i}")))
            .collect();
        let mut spans: Vec<LineSpan> = (0..7).map(|i| span(0.0, 200.0, f64::from(i))).collect();
        spans.extend((0..3).map(|i| span(250.0, 450.0, f64::from(i))));
        let text = lines.join("\n");
        assert_eq!(join_wrapped_rows(text.clone(), &spans), text);
        // Cells that each fit one line are already one line (` | ` from their gaps).
        let text = "Name | HEX\nSea | #123456".to_owned();
        let spans = [span(0.0, 200.0, 0.0), span(0.0, 200.0, 1.0)];
        assert_eq!(join_wrapped_rows(text.clone(), &spans), text);
    }

    /// A one-page PDF showing `content` with font `/F1` = `font` (a dictionary), with a
    /// correct cross-reference table.
    fn pdf_with(font: &str, content: &str) -> Vec<u8> {
        pdf_with_fonts(&[font], content)
    }

    /// A one-page PDF showing `content` with fonts `/F1`, `/F2`, … = `fonts` (dictionaries).
    fn pdf_with_fonts(fonts: &[&str], content: &str) -> Vec<u8> {
        let names: String = (0..fonts.len())
            .map(|index| format!("/F{} {} 0 R ", index + 1, index + 4))
            .collect();
        let mut objects = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                 /Resources << /Font << {names}>> >> /Contents {} 0 R >>",
                fonts.len() + 4
            ),
        ];
        objects.extend(fonts.iter().map(|font| (*font).to_owned()));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len() + 1
        ));
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    const HELVETICA: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

    use crate::extract::text::realdocs::block_text as all_text;

    #[test]
    fn every_text_showing_operator_produces_text() {
        // Tj, TJ, ' (next line, show) and " (spacing, next line, show): ISO 32000-1 §9.4.3.
        let bytes = pdf_with(
            HELVETICA,
            "BT /F1 12 Tf 14 TL 72 700 Td (Shown with Tj.) Tj \
             T* [(Shown with) -250 (TJ.)] TJ \
             (Shown with quote.) ' \
             1 0 (Shown with double quote.) \" ET",
        );
        let text = all_text(&extract_pdf(&bytes).unwrap());
        for line in [
            "Shown with Tj.",
            "Shown with TJ.",
            "Shown with quote.",
            "Shown with double quote.",
        ] {
            assert!(text.contains(line), "{line:?} in {text:?}");
        }
    }

    #[test]
    fn overprinted_glyphs_are_kept_once_and_spaces_come_from_positions() {
        // Fake bold: each glyph drawn three times a fraction of a point apart. Kerning moves
        // (small TJ numbers) are not spaces; a real gap is.
        let bytes = pdf_with(
            HELVETICA,
            "BT /F1 12 Tf 72 700 Td (B) Tj 0.3 0 Td (B) Tj 0.3 0 Td (B) Tj ET \
             BT /F1 12 Tf 80 700 Td (old) Tj ET \
             BT /F1 12 Tf 72 680 Td [(Ge) 30 (o) 20 (gra) 15 (p) 25 (hy) -600 (test)] TJ ET",
        );
        let text = all_text(&extract_pdf(&bytes).unwrap());
        assert!(text.contains("Bold"), "{text:?}");
        assert!(text.contains("Geography test"), "{text:?}");
    }

    #[test]
    fn a_vertical_bar_in_running_text_is_not_a_table_row() {
        let bytes = pdf_with(
            HELVETICA,
            "BT /F1 12 Tf 72 700 Td (People search for journeys, not for railways. Each station has its) Tj ET \
             BT /F1 12 Tf 72 686 Td (own page titled Station name | Fennick Valley Rail, and each walk) Tj ET \
             BT /F1 12 Tf 72 672 Td (is named after the place it leads to, such as the viaduct walk.) Tj ET",
        );
        let document = extract_pdf(&bytes).unwrap();
        let blocks: Vec<(&BlockKind, &str)> = document.pages[0]
            .blocks
            .iter()
            .map(|block| (&block.kind, block.text.as_str()))
            .collect();
        assert_eq!(blocks.len(), 1, "{blocks:?}");
        assert_eq!(*blocks[0].0, BlockKind::Paragraph, "{blocks:?}");
        assert!(blocks[0]
            .1
            .contains("Station name | Fennick Valley Rail, and each walk is named"));
    }

    #[test]
    fn right_to_left_lines_are_stored_in_logical_order() {
        // Glyphs placed in visual order (left to right on the page), as generators write them.
        let visual: String = "שלום עולם".chars().rev().collect();
        assert_eq!(logical_order(&visual), "שלום עולם");
        assert_eq!(logical_order("plain text"), "plain text");
    }

    #[test]
    fn glyphs_that_map_to_nothing_are_refused_with_a_reason() {
        // Private glyph names and control codes: no Unicode anywhere.
        let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica \
                    /Encoding << /Type /Encoding /Differences [1 /g1 /g2 /g3 /g4] >> >>";
        let bytes = pdf_with(font, "BT /F1 12 Tf 72 700 Td <0102030401020304> Tj ET");
        match extract_pdf(&bytes) {
            Err(ExtractError::Unmapped { glyphs, percent }) => {
                assert_eq!((glyphs, percent), (8, 100));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fonts_sharing_a_substitute_program_keep_their_own_text_and_widths() {
        // Three dictionaries drawn with hayro's one Helvetica program: the standard font, one
        // that re-encodes `A` as `B`, and an unembedded font with its own, wider widths. Each
        // line must read with its own font's text and spacing, also after the first font's
        // glyphs were looked up and cached.
        let helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
        let reencoded = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica \
                         /Encoding << /Type /Encoding /Differences [65 /B] >> >>";
        let wide = "<< /Type /Font /Subtype /Type1 /BaseFont /ArialMT /FirstChar 65 \
                    /LastChar 65 /Widths [1000] /FontDescriptor << /Type /FontDescriptor \
                    /FontName /ArialMT /Flags 32 /ItalicAngle 0 /Ascent 905 /Descent -212 \
                    /CapHeight 716 /StemV 80 /FontBBox [-665 -325 2000 1040] >> >>";
        let bytes = pdf_with_fonts(
            &[helvetica, reencoded, wide],
            "BT /F1 12 Tf 72 700 Td (AAAA) Tj ET \
             BT /F2 12 Tf 72 600 Td (AAAA) Tj ET \
             BT /F3 12 Tf 72 500 Td (AAAA) Tj ET \
             BT /F1 12 Tf 72 400 Td (AAAA) Tj ET",
        );
        let text = page_texts(&bytes).unwrap().join("\n");
        let lines: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
        assert_eq!(lines, ["AAAA", "BBBB", "AAAA", "AAAA"], "{text}");
    }

    #[test]
    fn realdocs_pdfs_read_like_poppler() {
        let read = |name: &str| {
            std::fs::read(format!("{SAMPLES}/../realdocs/{name}"))
                .ok()
                .map(|bytes| page_texts(&bytes).unwrap().join("\n"))
        };
        let Some(japanese) = read("pdfjs-issue16538.pdf") else {
            brandstream_domain::testing::skip("shared", "../shared/realdocs not found");
            return;
        };
        // A CID font without ToUnicode, read through Adobe-Japan1.
        assert!(japanese.contains("マーケットモデル"), "{japanese}");
        // Hebrew in logical order.
        assert!(read("pdfjs-issue11656.pdf").unwrap().contains("שלום עולם"));
        // The ' operator and a damaged Flate stream: all 19 lines.
        let zen = read("pdfminer-zen_of_python_corrupted.pdf").unwrap();
        assert!(zen.contains("Beautiful is better than ugly."), "{zen}");
        assert!(
            zen.contains("Namespaces are one honking great idea"),
            "{zen}"
        );
        // Overprinted glyphs once.
        let bold = read("pdfjs-bug900822.pdf").unwrap();
        assert!(
            !bold.contains("TTTT") && bold.contains("Test test test"),
            "{bold}"
        );
    }

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

    #[test]
    fn the_sample_pdf_keeps_pages_and_headings_without_footers() {
        let Ok(bytes) = std::fs::read(format!("{SAMPLES}/northwind-coffee-roasters.pdf")) else {
            brandstream_domain::testing::skip("shared", "../shared/samples not found");
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
            brandstream_domain::testing::skip("shared", "../shared/samples not found");
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
            brandstream_domain::testing::skip("shared", "../shared/samples not found");
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

    /// The blocks of one of the books in `testdata/brands`, in reading order.
    fn book_blocks(slug: &str) -> Vec<(BlockKind, String)> {
        let path = format!(
            "{}/../../testdata/brands/{slug}.pdf",
            env!("CARGO_MANIFEST_DIR")
        );
        let document = extract_pdf(&std::fs::read(path).unwrap()).unwrap();
        document
            .pages
            .into_iter()
            .flat_map(|page| page.blocks)
            .map(|block| (block.kind, block.text))
            .collect()
    }

    #[test]
    fn a_title_directly_above_a_section_heading_is_its_chapter() {
        let blocks = book_blocks("brackenholt-credit-union");
        let blocks: Vec<(BlockKind, &str)> = blocks
            .iter()
            .map(|(kind, text)| (*kind, text.as_str()))
            .collect();
        // Chapter titles in the book's own words, each directly followed by its first
        // section's heading.
        for (chapter, section) in [
            (
                "5. Sounding like a neighbour",
                "Good with money, easy to talk to",
            ),
            ("7. How we look on the high street", "The lid mark"),
        ] {
            assert!(
                blocks.contains(&(BlockKind::Heading(2), chapter)),
                "{chapter}: {blocks:?}"
            );
            assert!(
                blocks.contains(&(BlockKind::Heading(3), section)),
                "{section}: {blocks:?}"
            );
        }
        // A signature above the next numbered chapter is no chapter of its own.
        let signature = "Dilys Marchbank, Chief Executive";
        assert!(
            blocks
                .iter()
                .any(|(kind, text)| *text == signature && !matches!(kind, BlockKind::Heading(_))),
            "{blocks:?}"
        );
    }

    #[test]
    fn chapters_numbered_like_an_earlier_chapter_are_chapters() {
        let blocks = book_blocks("quenby-botanic-garden");
        let headings: Vec<(BlockKind, &str)> = blocks
            .iter()
            .filter(|(kind, _)| matches!(kind, BlockKind::Heading(_)))
            .map(|(kind, text)| (*kind, text.as_str()))
            .collect();
        // "2." heads sections, so it is a chapter; "3." and "4." follow its last section
        // with body text of their own, and are chapters all the same, not its sections.
        for chapter in [
            "2. The garden through a lens",
            "3. A guide, not a lecturer",
            "4. When the weather turns",
        ] {
            assert!(
                headings.contains(&(BlockKind::Heading(2), chapter)),
                "{chapter}: {headings:?}"
            );
        }
        assert!(headings.contains(&(BlockKind::Heading(3), "Assignments")));
        assert!(chapter_numbered("12. Voice") && chapter_numbered("3) Colour"));
        assert!(!chapter_numbered("3.1 Colour") && !chapter_numbered("2025 in review"));
    }

    #[test]
    fn text_wrapped_in_narrow_columns_stays_one_paragraph() {
        // A book set in two columns: wrapped prose, wrapped headings and question headings.
        let blocks = book_blocks("ferrisford-recycles");
        let find = |start: &str| {
            blocks
                .iter()
                .find(|(_, text)| text.starts_with(start))
                .unwrap_or_else(|| panic!("{start}: {blocks:?}"))
        };
        let (kind, text) = find("Before the rules, the answers.");
        assert_eq!(*kind, BlockKind::Paragraph);
        assert!(text.ends_with("extension 4410."), "{text}");
        for heading in [
            "Questions we get asked a lot",
            "So what is it actually for?",
            "Can a contractor put our logo on their van?",
        ] {
            assert!(
                matches!(find(heading), (BlockKind::Heading(_), text) if text == heading),
                "{heading}"
            );
        }
        // A numbered question is a checklist's item, not a heading.
        let checklist = book_blocks("kestrelford-pools-leisure");
        assert!(!checklist
            .iter()
            .any(|(kind, text)| matches!(kind, BlockKind::Heading(_))
                && numbered(text)
                && text.ends_with('?')));
        // Short lines that each start a sentence stay a list; wrapped ones are one text.
        assert!(!wrapped_prose(&["Names", "Dates", "Prices"]));
        assert!(wrapped_prose(&[
            "We write the way",
            "our leader talks,",
            "warmly"
        ]));
        assert_eq!(
            heading_text(&["Colours residents", "already know"]).as_deref(),
            Some("Colours residents already know")
        );
        assert_eq!(heading_text(&["Names", "Dates"]), None);
    }

    #[test]
    fn section_numbers_are_recognised() {
        for line in ["3. Why", "12 Lean in", "2) Two", "3.1 Colour"] {
            assert!(numbered(line), "{line}");
        }
        for line in [
            "Why the tin",
            "2026",
            "Dilys Marchbank, Chief Executive",
            "",
        ] {
            assert!(!numbered(line), "{line}");
        }
    }
}
