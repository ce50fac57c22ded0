//! Step 4 of the ingestion engine: filling brand-kit subsections from knowledge chunks.
//!
//! Pure functions, no I/O. Chunks of one document are first re-assembled into *passages*
//! (consecutive chunks with the same heading path, with the chunker's overlap removed). Each
//! passage is then given to at most one field:
//!
//! 1. a heading that names a subsection (exactly, or with the same content words once case,
//!    punctuation, plurals and generic words such as "guidelines" are ignored) wins decisively;
//!    a heading that names a section hands the passage to the best subsection of that section;
//! 2. a passage whose innermost heading names nothing (a sub-topic such as "When apologising
//!    to a customer", or a table row a PDF mistook for a heading) inherits from a heading that
//!    was left dangling at the end of the previous passage (PDF heading loss), else continues the
//!    previous passage's field when it sits at the same depth under the same parent, else falls
//!    back to the nearest matching ancestor heading;
//! 3. otherwise the passage is scored against every field: fuzzy heading similarity (with
//!    synonyms), topic vocabulary (HEX codes, "clear space", WCAG, "Oxford comma", …) and the
//!    words of the field's intent; the best field wins if the score is convincing.
//!
//! Values are then built per type: `text` condenses the passages, `array` has one entry per
//! list item, sentence, table row or colour, `richArray` one entry per scenario or rule with
//! the situation as tags and any constraint as restrictions. Glossary tables (a header row
//! naming languages or locales) give [`GlossaryTerm`]s.
//!
//! Chunk text keeps each block (paragraph, list item, table row) on a line of its own, so
//! items and table rows (cells joined by ` | `) are read line by line; a repeated table header
//! (a table continued on a new page) is skipped. Text without line breaks (chunks stored before
//! blocks kept their lines) is still handled heuristically: sentence ends, `N.` list markers,
//! and for pipe tables the column count implied by the number of separators plus the shape of
//! the header row.

mod semantic;

use std::collections::{HashMap, HashSet};

pub use semantic::{MeaningModel, SentenceEmbedder};

use brandstream_domain::brand::{FieldType, CATALOGUE, ENTRIES_MAX, GLOSSARY_SECTION, NAME_MAX};
use serde_json::{json, Value};

/// A subsection to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTarget {
    /// The subsection's id (returned in [`Filled::field_id`]).
    pub id: String,
    /// Its section's name.
    pub section: String,
    /// Its name.
    pub name: String,
    /// Its value type.
    pub field_type: FieldType,
    /// What belongs in it.
    pub intent: Option<String>,
}

impl FieldTarget {
    /// Every non-glossary subsection of the catalogue, with `"<section>/<name>"` as id.
    pub fn catalogue() -> Vec<FieldTarget> {
        CATALOGUE
            .iter()
            .filter(|section| section.name != GLOSSARY_SECTION)
            .flat_map(|section| {
                section.subsections.iter().map(move |sub| FieldTarget {
                    id: format!("{}/{}", section.name, sub.name),
                    section: section.name.to_owned(),
                    name: sub.name.to_owned(),
                    field_type: sub.field_type,
                    intent: Some(sub.intent.to_owned()),
                })
            })
            .collect()
    }
}

/// A knowledge chunk as the filler sees it (the server loads them from the DB). Chunks of a
/// document must come in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeChunk {
    /// The chunk's id.
    pub id: String,
    /// The document it comes from.
    pub document_id: String,
    /// Its text.
    pub text: String,
    /// The headings it sits under, outermost first.
    pub headings: Vec<String>,
    /// First page.
    pub page_start: u32,
    /// Last page.
    pub page_end: u32,
}

impl KnowledgeChunk {
    /// Wraps a chunk produced by [`crate::chunk_document`].
    pub fn from_chunk(document_id: &str, id: impl Into<String>, chunk: &crate::Chunk) -> Self {
        Self {
            id: id.into(),
            document_id: document_id.to_owned(),
            text: chunk.text.clone(),
            headings: chunk.headings.clone(),
            page_start: chunk.page_start,
            page_end: chunk.page_end,
        }
    }
}

/// A value for one field plus the chunk ids it came from (in order of use).
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    /// The target's id.
    pub field_id: String,
    /// The value, shaped for the target's type (entries carry no ids; validation adds them).
    pub value: Value,
    /// Source chunks, in order of use.
    pub chunk_ids: Vec<String>,
}

/// A glossary term found in the knowledge: English term, translations as (term, locale),
/// source chunk ids. No translations means "do not translate".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlossaryTerm {
    /// The source (English) term, as written.
    pub term: String,
    /// (translation, locale) pairs, e.g. `("Röstdatum", "de-DE")`.
    pub translations: Vec<(String, String)>,
    /// Source chunks.
    pub chunk_ids: Vec<String>,
}

/// Fewest words of an introduction to a list (a line ending in a colon) kept as an entry.
const LEAD_IN_WORDS: usize = 9;
/// Longest `text` value produced, in characters.
const TEXT_CAP: usize = 4_000;
/// Longest array entry name produced, in characters.
const ENTRY_CAP: usize = 2_000;
/// Most tags on a rich entry.
const TAGS_CAP: usize = 50;
/// Score a passage needs to be given to a field on content alone.
const FALLBACK_MIN: f32 = 1.3;
/// Score a section-level passage needs to be given to one of the section's fields.
const SECTION_MIN: f32 = 1.0;

// ---------------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------------

/// Words that carry no topic.
const STOP: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "at", "by", "with", "our",
    "your", "we", "you", "it", "is", "are", "be", "this", "that", "these", "those", "how", "what",
    "from", "as", "into", "per", "about", "all", "any", "each", "every", "when", "which", "who",
    "its", "their", "they", "them", "do's", "s", "than", "not", "no", "can", "should", "must",
    "will", "one", "use", "used",
];

/// Words that are too generic to tell subsections apart in headings.
const GENERIC: &[&str] = &[
    "brand",
    "guideline",
    "guidance",
    "guide",
    "value",
    "section",
    "overview",
    "general",
];

/// Minor words allowed in lower case inside Title Case.
const MINOR: &[&str] = &[
    "a", "an", "the", "and", "or", "nor", "but", "for", "of", "in", "on", "at", "by", "to", "with",
    "as", "vs", "de", "du", "la", "le", "von", "van", "der",
];

/// Synonym groups: a heading word matches a target word of the same group.
const GROUPS: &[(&str, &[&str])] = &[
    ("colour", &["colour", "palette", "swatch", "hue", "tint"]),
    (
        "logo",
        &[
            "logo",
            "logotype",
            "wordmark",
            "lockup",
            "emblem",
            "monogram",
            "signature",
        ],
    ),
    (
        "dodont",
        &["do", "dont", "rule", "avoid", "never", "always"],
    ),
    (
        "image",
        &[
            "image",
            "imagery",
            "photo",
            "photograph",
            "photography",
            "picture",
            "illustration",
        ],
    ),
    ("tone", &["tone", "voice", "personality", "sound"]),
    (
        "scenario",
        &[
            "scenario",
            "situation",
            "moment",
            "occasion",
            "example",
            "case",
        ],
    ),
    (
        "grammar",
        &[
            "grammar",
            "spelling",
            "punctuation",
            "capitalisation",
            "capitalization",
            "mechanic",
            "editorial",
        ],
    ),
    ("checklist", &["checklist", "check", "qa", "preflight"]),
    ("seo", &["seo", "search", "keyword", "metadata"]),
    ("access", &["accessibility", "accessible", "a11y", "wcag"]),
    (
        "diversity",
        &[
            "diversity",
            "inclusion",
            "inclusive",
            "inclusivity",
            "representation",
            "equity",
        ],
    ),
    (
        "mandatory",
        &[
            "mandatory",
            "requirement",
            "required",
            "compliance",
            "legal",
        ],
    ),
    (
        "life",
        &["life", "social", "channel", "online", "community"],
    ),
    ("purpose", &["purpose", "mission", "why", "reason"]),
    (
        "history",
        &[
            "history",
            "heritage",
            "story",
            "founding",
            "timeline",
            "milestone",
            "past",
        ],
    ),
    (
        "ambition",
        &["ambition", "vision", "goal", "aspiration", "future", "aim"],
    ),
    (
        "consumer",
        &[
            "consumer", "audience", "customer", "persona", "shopper", "user", "target",
        ],
    ),
    ("benefit", &["benefit", "advantage", "promise"]),
    (
        "context",
        &[
            "context",
            "market",
            "landscape",
            "competition",
            "category",
            "competitor",
        ],
    ),
    ("idea", &["idea", "platform", "theme", "storytelling"]),
    ("essence", &["essence", "dna", "core", "nutshell", "mantra"]),
    (
        "talent",
        &[
            "talent",
            "ambassador",
            "influencer",
            "spokesperson",
            "casting",
            "athlete",
            "creator",
        ],
    ),
    ("concept", &["concept", "pillar"]),
    ("belief", &["belief", "believe", "conviction"]),
    (
        "visual",
        &[
            "visual",
            "layout",
            "typography",
            "typeface",
            "font",
            "grid",
            "design",
            "identity",
        ],
    ),
    ("pack", &["pack", "packaging", "label", "box", "carton"]),
    ("digital", &["digital", "web", "website", "app", "email"]),
];

/// Vocabulary that signals a topic in body text (lower-case substrings).
const CUES: &[(&str, &[&str])] = &[
    (
        "colour",
        &[
            "rgb",
            "cmyk",
            "pantone",
            "hex",
            "primary colour",
            "secondary colour",
            "accent colour",
            "palette",
        ],
    ),
    (
        "logo",
        &[
            "logo",
            "clear space",
            "clearspace",
            "exclusion zone",
            "minimum size",
            "minimum width",
            "wordmark",
            "lockup",
            "favicon",
            "smallest",
            "keep clear",
            "stacked",
        ],
    ),
    ("dodont", &["do:", "don't:", "avoid", "never"]),
    (
        "image",
        &[
            "photograph",
            "photo",
            "lighting",
            "natural light",
            "shot",
            "shoot",
            "composition",
            "filter",
            "colour grade",
            "depth of field",
            "camera",
            "illustration",
            "crop",
            "frame",
        ],
    ),
    (
        "tone",
        &[
            "we sound",
            "tone",
            "voice",
            "we are not",
            "personality",
            "plain-spoken",
            "warm",
            "friendly",
        ],
    ),
    (
        "scenario",
        &[
            "example:",
            "situation",
            "scenario",
            "for example",
            "e-commerce",
            "campaign",
        ],
    ),
    (
        "grammar",
        &[
            "oxford comma",
            "punctuation",
            "capitalis",
            "capitaliz",
            "sentence case",
            "title case",
            "spelling",
            "spell out",
            "exclamation",
            "numerals",
            "contraction",
            "ampersand",
            "abbreviat",
            "apostrophe",
            "hyphen",
            "grammar",
            "british english",
            "american english",
        ],
    ),
    (
        "checklist",
        &[
            "before publishing",
            "before anything",
            "check that",
            "checked",
            "signed off",
            "checklist",
            "has been",
            "have been",
            "approved",
            "verified",
            "is accurate",
            "are credited",
            "make sure",
            "ensure",
        ],
    ),
    (
        "seo",
        &[
            "seo",
            "keyword",
            "meta description",
            "title tag",
            "h1",
            "url",
            "structured data",
            "canonical",
            "search engine",
            "search result",
        ],
    ),
    (
        "access",
        &[
            "wcag",
            "contrast",
            "alt text",
            "screen reader",
            "caption",
            "keyboard",
            "accessib",
            "legib",
            "dyslex",
        ],
    ),
    (
        "diversity",
        &[
            "divers",
            "inclus",
            "represent",
            "ethnicit",
            "abilities",
            "ages",
            "gender",
            "body types",
            "disabilit",
            "stereotyp",
            "colonial",
        ],
    ),
    (
        "mandatory",
        &[
            "must",
            "cookie",
            "privacy",
            "gdpr",
            "unsubscribe",
            "required",
            "mandatory",
            "every page",
            "footer",
            "legal",
            "consent",
        ],
    ),
    (
        "life",
        &[
            "instagram",
            "tiktok",
            "facebook",
            "linkedin",
            "youtube",
            "social",
            "newsletter",
            "online",
            "webshop",
            "channel",
            "community",
        ],
    ),
    (
        "purpose",
        &[
            "exists to",
            "our purpose",
            "mission",
            "why we",
            "reason we",
            "we exist",
        ],
    ),
    (
        "history",
        &[
            "founded", "began", "since", "history", "heritage", "started",
        ],
    ),
    (
        "ambition",
        &[
            "ambition",
            "we want to",
            "we aim",
            "our goal",
            "vision",
            "become the",
            "will be",
        ],
    ),
    (
        "consumer",
        &[
            "audience",
            "consumer",
            "customer",
            "persona",
            "aged",
            "typically",
            "they want",
            "they care",
        ],
    ),
    ("benefit", &["benefit", "functional", "emotional"]),
    (
        "context",
        &[
            "market",
            "competitor",
            "compete",
            "category",
            "landscape",
            "rival",
            "stands apart",
            "set us apart",
        ],
    ),
    (
        "idea",
        &[
            "content idea",
            "creative idea",
            "every piece of content",
            "stories",
            "storytelling",
        ],
    ),
    ("essence", &["essence", "in a few words", "in short"]),
    (
        "talent",
        &[
            "ambassador",
            "talent",
            "influencer",
            "athlete",
            "model",
            "casting",
            "consent",
            "sponsor",
            "spokes",
        ],
    ),
    ("concept", &["pillar", "concept"]),
    ("belief", &["we believe", "belief", "believe"]),
    (
        "visual",
        &[
            "grid",
            "typeface",
            "font",
            "typography",
            "layout",
            "margin",
            "headline",
            "serif",
            "sans",
            "white space",
            "spacing",
        ],
    ),
    (
        "pack",
        &[
            "pack",
            "packaging",
            "front panel",
            "back panel",
            "label",
            "hang tag",
            "box",
            "shelf",
        ],
    ),
    (
        "digital",
        &[
            "website", "web", "app", "email", "page", "online", "digital",
        ],
    ),
];

/// Headers that name a colour-table column rather than a colour.
const COLOUR_HEADER_WORDS: &[&str] = &[
    "use", "usage", "role", "name", "colour", "color", "hex", "rgb", "cmyk", "pantone", "code",
    "notes", "note", "swatch",
];

/// Lower-cases, drops apostrophes, and splits on anything that is not a letter or digit.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if matches!(c, '\'' | '’' | '‘' | '`') {
            continue;
        }
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Exact comparison key: words joined by single spaces.
fn key(text: &str) -> String {
    words(text).join(" ")
}

/// A crude English stem: plurals off, US colour spelling folded.
fn stem(word: &str) -> String {
    let mut w = word.to_owned();
    let len = w.chars().count();
    if len > 4 && w.ends_with("ies") {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if len >= 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        w.pop();
    }
    match w.as_str() {
        "color" => "colour".into(),
        "colouring" | "coloring" => "colour".into(),
        "capitalization" => "capitalisation".into(),
        _ => w,
    }
}

/// Stemmed words minus stop words.
fn tokens(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| !STOP.contains(&w.as_str()))
        .map(|w| stem(&w))
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// Stemmed words minus stop words and generic words.
fn content_tokens(text: &str) -> Vec<String> {
    tokens(text)
        .into_iter()
        .filter(|w| !GENERIC.contains(&w.as_str()))
        .collect()
}

fn group_of(token: &str) -> Option<&'static str> {
    GROUPS
        .iter()
        .find(|(_, members)| members.iter().any(|m| token_match_plain(m, token) >= 0.85))
        .map(|(name, _)| *name)
}

/// Word similarity without synonyms: equal, one a prefix of the other, or a long common stem.
fn token_match_plain(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.chars().count() >= 4 && long.starts_with(short) {
        return 0.9;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    if common >= 6 {
        return 0.85;
    }
    0.0
}

fn token_match(a: &str, b: &str) -> f32 {
    let plain = token_match_plain(a, b);
    if plain > 0.0 {
        return plain;
    }
    match (group_of(a), group_of(b)) {
        (Some(x), Some(y)) if x == y => 0.7,
        _ => 0.0,
    }
}

/// How well a heading's tokens cover a target's tokens (0..1).
fn similarity(heading: &[String], target: &[String]) -> f32 {
    if heading.is_empty() || target.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for t in target {
        total += heading
            .iter()
            .map(|h| token_match(h, t))
            .fold(0.0f32, f32::max);
    }
    let used = heading
        .iter()
        .filter(|h| target.iter().any(|t| token_match(h, t) > 0.0))
        .count();
    let coverage = used as f32 / heading.len() as f32;
    (total / target.len() as f32) * (0.6 + 0.4 * coverage)
}

fn same_set(a: &[String], b: &[String]) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let a: HashSet<&String> = a.iter().collect();
    let b: HashSet<&String> = b.iter().collect();
    a == b
}

fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// At most `limit` characters, cut at a sentence end or else a space when possible.
fn cap_text(text: &str, limit: usize) -> String {
    if char_len(text) <= limit {
        return text.to_owned();
    }
    let cut = text
        .char_indices()
        .nth(limit)
        .map_or(text.len(), |(index, _)| index);
    let window = &text[..cut];
    let sentence = [". ", "! ", "? ", ".\n", "!\n", "?\n"]
        .iter()
        .filter_map(|end| window.rfind(end))
        .max()
        .filter(|index| *index > cut / 2)
        .map(|index| index + 1);
    let end = sentence
        .or_else(|| window.rfind(char::is_whitespace))
        .unwrap_or(cut);
    text[..end].trim_end().to_owned()
}

fn is_hex_code(word: &str) -> bool {
    let trimmed = word.trim_end_matches(|c: char| !c.is_alphanumeric());
    let Some(digits) = trimmed.strip_prefix('#') else {
        return false;
    };
    matches!(digits.len(), 3 | 6) && digits.chars().all(|c| c.is_ascii_hexdigit())
}

fn starts_upper_or_digit(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

// ---------------------------------------------------------------------------------------------
// Sentences and list items
// ---------------------------------------------------------------------------------------------

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "no", "st", "dr", "mr", "mrs", "ms", "approx", "incl", "fig", "p",
    "pp", "ca", "cf",
];

/// Splits prose into sentences (or list items that end with punctuation), keeping quotations
/// whole and `1.` list markers with their item. Markers are stripped from the result.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        split_line(line, &mut out);
    }
    out.into_iter()
        .map(|s| strip_marker(&s).to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn split_line(line: &str, out: &mut Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut start = 0usize;
    let mut in_quote = false;
    let mut i = 0usize;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            '"' => in_quote = !in_quote,
            '“' => in_quote = true,
            '”' => in_quote = false,
            '.' | '!' | '?' => {
                let mut j = i + 1;
                let mut closes = false;
                while j < chars.len() && matches!(chars[j].1, '"' | '”' | ')' | '’' | '\'') {
                    if matches!(chars[j].1, '"' | '”') {
                        closes = true;
                    }
                    j += 1;
                }
                let boundary =
                    j + 1 < chars.len() && chars[j].1 == ' ' && (!in_quote || closes) && {
                        let next = chars[j + 1].1;
                        next.is_uppercase()
                            || next.is_ascii_digit()
                            || matches!(next, '"' | '“' | '(' | '#' | '@' | '/')
                    };
                if boundary {
                    let so_far = line[start..pos].trim();
                    let last_word = so_far
                        .rsplit(' ')
                        .next()
                        .unwrap_or("")
                        .trim_start_matches(['(', '"'])
                        .to_lowercase();
                    let marker = so_far.len() <= 3 && so_far.chars().all(|c| c.is_alphanumeric());
                    let abbreviation = c == '.'
                        && (ABBREVIATIONS.contains(&last_word.as_str())
                            || (last_word.chars().count() == 1
                                && last_word.chars().all(char::is_alphabetic)));
                    if !marker && !abbreviation {
                        let end = chars[j].0;
                        let sentence = line[start..end].trim();
                        if !sentence.is_empty() {
                            out.push(sentence.to_owned());
                        }
                        start = end;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    let rest = line[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
}

/// Drops a leading list marker ("1.", "2)", "-", "•", "a)").
fn strip_marker(item: &str) -> &str {
    let item = item.trim();
    for bullet in ["• ", "- ", "* ", "– ", "· ", "▪ ", "— "] {
        if let Some(rest) = item.strip_prefix(bullet) {
            return rest.trim_start();
        }
    }
    let mut chars = item.char_indices();
    let mut digits = 0;
    for (index, c) in chars.by_ref() {
        if c.is_ascii_digit() && digits < 3 {
            digits += 1;
            continue;
        }
        if digits > 0 && matches!(c, '.' | ')') {
            let rest = &item[index + 1..];
            if rest.starts_with(' ') {
                return rest.trim_start();
            }
        }
        break;
    }
    item
}

// ---------------------------------------------------------------------------------------------
// Pipe tables
// ---------------------------------------------------------------------------------------------

/// A table recovered from chunk text, where cells are joined by " | " and rows by " ".
#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    prefix: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    suffix: String,
}

/// Whether `words` reads as one cell in sentence case or Title Case.
fn cell_shaped(words: &[&str]) -> bool {
    let rest = &words[1..];
    let sentence = rest.iter().all(|w| !starts_upper(w));
    let title = rest.iter().all(|w| {
        starts_upper_or_digit(w)
            || MINOR.contains(&w.to_lowercase().as_str())
            || !w.chars().next().is_some_and(char::is_alphabetic)
    });
    sentence || title
}

/// Splits "last cell of a row" + " " + "first cell of the next" into the two. A split point
/// is a capitalised word or a number that starts a cell in sentence case or Title Case; among
/// several, the one that gives both cells a length closest to the other cells of their rows
/// (`before` and `after`, mean word counts) wins, else the earliest. `None` when no split point
/// exists (the previous row's last cell was then empty).
fn split_merged(
    segment: &str,
    before: Option<f32>,
    after: Option<f32>,
) -> Option<(String, String)> {
    let words: Vec<&str> = segment.split_whitespace().collect();
    // A short token after a number is its unit or suffix ("2965 C", "30 mm"), not a new cell.
    let candidates: Vec<usize> = (1..words.len())
        .filter(|i| starts_upper_or_digit(words[*i]))
        .filter(|i| {
            !(char_len(words[*i]) <= 2
                && words[*i - 1]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_digit()))
        })
        .collect();
    let valid: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|i| cell_shaped(&words[*i..]))
        .collect();
    let cost = |i: usize| {
        let end = before.map_or(0.0, |mean| (i as f32 - mean).abs());
        let start = after.map_or(0.0, |mean| ((words.len() - i) as f32 - mean).abs());
        end + start
    };
    let chosen = if before.is_some() || after.is_some() {
        valid
            .iter()
            .copied()
            .min_by(|a, b| cost(*a).total_cmp(&cost(*b)).then(a.cmp(b)))
    } else {
        valid.first().copied()
    }
    .or_else(|| candidates.last().copied())?;
    Some((words[..chosen].join(" "), words[chosen..].join(" ")))
}

/// Mean word count of the given cells, if any.
fn mean_words(cells: &[&str]) -> Option<f32> {
    if cells.is_empty() {
        return None;
    }
    let total: usize = cells.iter().map(|c| c.split_whitespace().count()).sum();
    Some(total as f32 / cells.len() as f32)
}

/// Splits the last cell of a table from prose that follows it.
fn split_trailing(segment: &str) -> (String, String) {
    let words: Vec<&str> = segment.split_whitespace().collect();
    for i in 1..words.len() {
        let first = words[i].chars().next().unwrap_or('a');
        let candidate = first.is_uppercase()
            || first.is_ascii_digit()
            || !(first.is_alphanumeric() || matches!(first, '(' | '"' | '\'' | '“' | ','));
        if !candidate {
            continue;
        }
        let tail = &words[i..];
        let last = tail.last().map_or("", |w| *w);
        if tail.len() >= 4 && last.ends_with(['.', '!', '?']) {
            return (words[..i].join(" "), tail.join(" "));
        }
    }
    (segment.trim().to_owned(), String::new())
}

/// Splits the first table segment into prose before the table and the header's first cell.
/// The flag says whether that first cell is empty (a column with no header, e.g. swatches).
fn split_leading(segment: &str) -> (String, String, bool) {
    let segment = segment.trim();
    if segment.is_empty() {
        return (String::new(), String::new(), true);
    }
    if segment.ends_with(['.', '!', '?', ':']) {
        return (segment.to_owned(), String::new(), true);
    }
    let boundary = [". ", "! ", "? ", ": "]
        .iter()
        .filter_map(|end| segment.rfind(end).map(|index| index + 1))
        .max();
    if let Some(index) = boundary {
        let cell = segment[index..].trim();
        if cell.split_whitespace().count() <= 6 {
            return (segment[..index].trim().to_owned(), cell.to_owned(), false);
        }
    }
    let words: Vec<&str> = segment.split_whitespace().collect();
    if words.len() <= 6 {
        return (String::new(), segment.to_owned(), false);
    }
    let start = (words.len() - 4..words.len())
        .find(|i| starts_upper_or_digit(words[*i]))
        .unwrap_or(words.len() - 1);
    (words[..start].join(" "), words[start..].join(" "), false)
}

fn header_like(cell: &str) -> bool {
    let cell = cell.trim();
    !cell.is_empty()
        && cell.split_whitespace().count() <= 6
        && char_len(cell) <= 60
        && !cell.ends_with(['.', '!', '?', ';'])
        && !cell.contains('#')
        && cell.chars().any(char::is_alphabetic)
}

/// Recovers a pipe table from chunk text. Rows are joined by a space, so the last cell of a
/// row and the first of the next share a segment: the column count is the smallest one that
/// fits the number of separators, splits every shared segment plausibly and gives a header row
/// of short labels. A table whose first column is empty (colour swatches) has no shared
/// segments; there the largest column count with a plausible header wins.
fn parse_table(text: &str) -> Option<Table> {
    let segments: Vec<&str> = text.split('|').map(str::trim).collect();
    let pipes = segments.len().checked_sub(1)?;
    if pipes < 2 {
        return None;
    }
    let counts: Vec<usize> = (2..=12usize)
        .filter(|columns| pipes % (columns - 1) == 0 && pipes / (columns - 1) >= 2)
        .collect();
    let (_, _, first_empty) = split_leading(segments[0]);
    let merged = counts
        .iter()
        .find_map(|columns| build_table(&segments, *columns, false, first_empty));
    if merged.is_some() || !first_empty {
        return merged;
    }
    counts
        .iter()
        .rev()
        .find_map(|columns| build_table(&segments, *columns, true, first_empty))
}

/// Builds a table of `columns` columns. `empty_first`: the first column is empty in every row,
/// so no segment is shared. `strict`: every shared segment must split.
fn build_table(
    segments: &[&str],
    columns: usize,
    empty_first: bool,
    strict: bool,
) -> Option<Table> {
    let step = columns - 1;
    let (prefix, first, first_empty) = split_leading(segments[0]);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut current = vec![first];
    let last = segments.len() - 1;
    let mut suffix = String::new();
    for (index, segment) in segments.iter().enumerate().skip(1) {
        if index == last {
            let (cell, rest) = split_trailing(segment);
            current.push(cell);
            rows.push(std::mem::take(&mut current));
            suffix = rest;
        } else if index % step == 0 {
            let (end, start) = if empty_first {
                ((*segment).to_owned(), String::new())
            } else {
                let before = mean_words(&segments[index + 1 - step..index]);
                let after = mean_words(&segments[index + 1..(index + step).min(last)]);
                match split_merged(segment, before, after) {
                    Some(split) => split,
                    None if strict => return None,
                    None => (String::new(), (*segment).to_owned()),
                }
            };
            current.push(end);
            rows.push(std::mem::replace(&mut current, vec![start]));
        } else {
            current.push((*segment).to_owned());
        }
    }
    let header = rows.first()?.clone();
    let plausible = header
        .iter()
        .enumerate()
        .all(|(i, cell)| (i == 0 && first_empty && cell.is_empty()) || header_like(cell));
    if !plausible || rows.len() < 2 || rows.iter().any(|row| row.len() != columns) {
        return None;
    }
    Some(Table {
        prefix,
        header,
        rows: rows[1..].to_vec(),
        suffix,
    })
}

// ---------------------------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------------------------

/// One unit of content found in a passage.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A sentence or list item.
    Line(String),
    /// A table row with its header.
    Row {
        header: Vec<String>,
        cells: Vec<String>,
    },
}

/// Whether a line is (probably) one table row: cells joined by " | ".
fn is_row_line(line: &str) -> bool {
    line.contains(" | ") || (line.starts_with("| ") && line.len() > 2)
}

fn row_cells(line: &str) -> Vec<String> {
    line.split('|').map(|cell| cell.trim().to_owned()).collect()
}

/// Tables whose rows are lines of their own (two or more consecutive row lines); the first
/// row is the header when all its cells are short labels. Returns (first line, end line,
/// table) for each, so callers can walk the prose around them.
fn line_tables(lines: &[&str]) -> Vec<(usize, usize, Table)> {
    let mut out = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if !is_row_line(lines[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < lines.len() && is_row_line(lines[index]) {
            index += 1;
        }
        if index - start < 2 {
            continue;
        }
        let first = row_cells(lines[start]);
        let header_row = first
            .iter()
            .enumerate()
            .all(|(i, cell)| (i == 0 && cell.is_empty()) || header_like(cell))
            && first.iter().any(|cell| !cell.is_empty());
        let (header, body_start) = if header_row {
            (first, start + 1)
        } else {
            (Vec::new(), start)
        };
        let rows: Vec<Vec<String>> = lines[body_start..index]
            .iter()
            .map(|line| {
                let mut cells = row_cells(line);
                // Empty trailing cells may have been trimmed away.
                while cells.len() < header.len() {
                    cells.push(String::new());
                }
                cells
            })
            // A header repeated on a new page is not a row.
            .filter(|cells| header.is_empty() || *cells != header)
            .collect();
        out.push((
            start,
            index,
            Table {
                prefix: String::new(),
                header,
                rows,
                suffix: String::new(),
            },
        ));
    }
    out
}

/// The tables in a passage: rows on lines of their own, or, for text that lost its line
/// breaks, one table recovered from the joined rows.
fn tables_of(text: &str) -> Vec<Table> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > 1 {
        return line_tables(&lines).into_iter().map(|(_, _, t)| t).collect();
    }
    parse_table(text).into_iter().collect()
}

/// Items of prose. `whole_line`: the text is one block (a list item or a paragraph), kept as
/// one item unless it is long; otherwise it is cut into sentences.
fn prose_items(text: &str, whole_line: bool) -> Vec<Item> {
    let hexes = text.split_whitespace().filter(|w| is_hex_code(w)).count();
    if hexes >= 2 {
        return colour_rows(text);
    }
    let pieces = if whole_line && char_len(text) <= 400 {
        vec![strip_marker(text).to_owned()]
    } else {
        sentences(text)
    };
    pieces
        .into_iter()
        // "Use them as follows:" introduces items; it is not one. A longer introduction
        // ("The brand rests on four pillars, one for each season:") says something of its own.
        .filter_map(|piece| match piece.strip_suffix(':') {
            None => Some(piece),
            Some(lead) if lead.split_whitespace().count() >= LEAD_IN_WORDS => {
                Some(lead.trim_end().to_owned())
            }
            Some(_) => None,
        })
        .map(Item::Line)
        .collect()
}

fn table_items(table: Table) -> Vec<Item> {
    let mut out: Vec<Item> = sentences(&table.prefix)
        .into_iter()
        .map(Item::Line)
        .collect();
    out.extend(table.rows.into_iter().map(|cells| Item::Row {
        header: table.header.clone(),
        cells,
    }));
    out.extend(sentences(&table.suffix).into_iter().map(Item::Line));
    out
}

fn items_of(text: &str) -> Vec<Item> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() <= 1 {
        // Text without line breaks (older chunks): recover what can be recovered.
        if let Some(table) = parse_table(text) {
            return table_items(table);
        }
        return prose_items(text, false);
    }
    let mut out = Vec::new();
    let mut position = 0;
    for (start, end, table) in line_tables(&lines) {
        for line in &lines[position..start] {
            out.extend(prose_items(line, true));
        }
        out.extend(table_items(table));
        position = end;
    }
    for line in &lines[position..] {
        out.extend(prose_items(line, true));
    }
    out
}

/// Cuts unseparated colour-table text ("Roast Green #1B4D3E 27, 77, 62 Primary … Crema
/// #F3E6D0 …") into one line per colour: each starts at the capitalised name before a code.
fn colour_rows(text: &str) -> Vec<Item> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut starts = Vec::new();
    for (index, word) in words.iter().enumerate() {
        if !is_hex_code(word) {
            continue;
        }
        let mut start = index;
        while start > 0 && index - start < 4 {
            let previous = words[start - 1];
            let bare = previous.trim_matches(|c: char| !c.is_alphanumeric());
            let header_word = COLOUR_HEADER_WORDS.contains(&bare.to_lowercase().as_str());
            let all_caps = bare.len() >= 2 && bare.chars().all(|c| c.is_uppercase());
            if !starts_upper(previous)
                || header_word
                || all_caps
                || previous.ends_with(['.', ':', ','])
            {
                break;
            }
            start -= 1;
        }
        if starts.last().is_none_or(|last| *last < start) {
            starts.push(start);
        }
    }
    let mut out: Vec<Item> = match starts.first() {
        Some(first) => sentences(&words[..*first].join(" "))
            .into_iter()
            .map(Item::Line)
            .collect(),
        None => Vec::new(),
    };
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(words.len());
        let segment = words[*start..end].join(" ");
        if n + 1 == starts.len() {
            // The last colour may be followed by prose.
            let sentences = sentences(&segment);
            let mut iter = sentences.into_iter();
            if let Some(first) = iter.next() {
                out.push(Item::Line(first));
            }
            out.extend(iter.map(Item::Line));
        } else {
            out.push(Item::Line(segment));
        }
    }
    out
}

fn is_polarity(cell: &str) -> bool {
    let k = key(cell);
    matches!(
        k.as_str(),
        "do" | "dos"
            | "dont"
            | "donts"
            | "do not"
            | "avoid"
            | "never"
            | "always"
            | "yes"
            | "no"
            | "right"
            | "wrong"
            | "correct"
            | "incorrect"
            | "instead of"
            | "say"
            | "dont say"
            | "we say"
            | "we dont say"
            | "use"
            | "dont use"
            | "prefer"
    )
}

/// Array entry names for one item.
fn entry_names(item: &Item) -> Vec<String> {
    match item {
        Item::Line(line) => vec![line.clone()],
        Item::Row { header, cells } => {
            let labelled = !header.is_empty()
                && header.len() == cells.len()
                && header
                    .iter()
                    .filter(|h| !h.is_empty())
                    .all(|h| is_polarity(h));
            if labelled {
                header
                    .iter()
                    .zip(cells)
                    .filter(|(_, cell)| !is_empty_cell(cell))
                    .map(|(h, cell)| {
                        if h.is_empty() {
                            cell.clone()
                        } else {
                            format!("{h}: {cell}")
                        }
                    })
                    .collect()
            } else {
                let joined = cells
                    .iter()
                    .filter(|cell| !is_empty_cell(cell))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | ");
                vec![joined]
            }
        }
    }
}

fn is_empty_cell(cell: &str) -> bool {
    matches!(cell.trim(), "" | "-" | "—" | "–" | "n/a" | "N/A")
}

const CONSTRAINT_STARTS: &[&str] = &[
    "never",
    "avoid",
    "dont",
    "do not",
    "must not",
    "no",
    "not",
    "without",
    "only",
    "cannot",
    "may not",
    "should not",
    "shouldnt",
];

/// Sentences or clauses that state a constraint.
fn constraints(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for sentence in sentences(text) {
        let k = key(&sentence);
        if CONSTRAINT_STARTS
            .iter()
            .any(|start| k == *start || k.starts_with(&format!("{start} ")))
        {
            out.push(sentence);
            continue;
        }
        for clause in sentence.split([',', ';']) {
            let clause = clause.trim();
            let k = key(clause);
            let hit = ["never", "avoid", "dont", "do not", "must not"]
                .iter()
                .any(|start| k.starts_with(&format!("{start} ")));
            if hit {
                out.push(clause.trim_end_matches(['.', '!']).to_owned());
            }
        }
    }
    out.join(" ")
}

/// "Label: rest" with a short label.
fn label_split(line: &str) -> Option<(String, String)> {
    let (label, rest) = line.split_once(": ")?;
    let label = label.trim();
    let words = label.split_whitespace().count();
    if (1..=6).contains(&words)
        && !label.contains(['.', '"', '“'])
        && !rest.trim().is_empty()
        && char_len(label) <= NAME_MAX
    {
        Some((label.to_owned(), rest.trim().to_owned()))
    } else {
        None
    }
}

fn cap_tag(tag: &str) -> String {
    cap_text(tag.trim(), NAME_MAX)
}

// ---------------------------------------------------------------------------------------------
// Passages
// ---------------------------------------------------------------------------------------------

/// Consecutive chunks of one document with one heading path, overlap removed.
#[derive(Debug, Clone)]
struct Passage {
    doc: String,
    headings: Vec<String>,
    text: String,
    chunk_ids: Vec<String>,
    /// A heading that ended up as the last words of the text (PDF heading inference).
    dangling: Option<String>,
}

/// Collapses spaces within lines and drops empty lines; line breaks (block boundaries) stay.
fn normalise_lines(text: &str) -> String {
    text.lines()
        .map(crate::normalise)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Appends `next` to `text`, dropping the overlap the chunker repeats from the end of `text`.
fn append_without_overlap(text: &mut String, next: &str) {
    let next = normalise_lines(next);
    if next.is_empty() || (next.len() >= 8 && text.ends_with(&next)) {
        return;
    }
    // The longest start of `next`, ending before a space or line break, that ends `text`.
    let mut cut: Option<usize> = None;
    for (index, c) in next.char_indices() {
        if index > 600 {
            break;
        }
        if c.is_whitespace() && index >= 8 && text.ends_with(&next[..index]) {
            cut = Some(index);
        }
    }
    let (separator, rest) = match cut {
        Some(index) => {
            let separator = if next[index..].starts_with('\n') {
                '\n'
            } else {
                ' '
            };
            (separator, next[index..].trim_start())
        }
        // No overlap: a new block if the text so far ends a sentence.
        None if text.ends_with(['.', '!', '?', ':', '"']) => ('\n', next.as_str()),
        None => (' ', next.as_str()),
    };
    if rest.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(separator);
    }
    text.push_str(rest);
}

fn build_passages(chunks: &[KnowledgeChunk]) -> Vec<Passage> {
    let mut out: Vec<Passage> = Vec::new();
    for chunk in chunks {
        if let Some(last) = out.last_mut() {
            if last.doc == chunk.document_id && last.headings == chunk.headings {
                append_without_overlap(&mut last.text, &chunk.text);
                last.chunk_ids.push(chunk.id.clone());
                continue;
            }
        }
        out.push(Passage {
            doc: chunk.document_id.clone(),
            headings: chunk.headings.clone(),
            text: normalise_lines(&chunk.text),
            chunk_ids: vec![chunk.id.clone()],
            dangling: None,
        });
    }
    out
}

/// Removes a known heading left at the end of a passage's text (a chapter title a PDF put at
/// the foot of the previous page) and records it.
fn strip_dangling(passage: &mut Passage, names: &[String]) {
    let text = passage.text.trim_end();
    // Its own last line…
    if let Some((before, last)) = text.rsplit_once('\n') {
        let last_key = key(last);
        if let Some(name) = names.iter().find(|name| key(name) == last_key) {
            if starts_upper(last.trim()) {
                passage.text = before.trim_end().to_owned();
                passage.dangling = Some(name.clone());
                return;
            }
        }
    }
    // …or the last words of a text without line breaks.
    let words: Vec<(usize, &str)> = text
        .split_whitespace()
        .map(|word| (word.as_ptr() as usize - text.as_ptr() as usize, word))
        .collect();
    let mut best: Option<(usize, &String)> = None;
    for name in names {
        let count = name.split_whitespace().count();
        if count == 0 || count > words.len() {
            continue;
        }
        let first = words.len() - count;
        let tail: Vec<&str> = words[first..].iter().map(|(_, w)| *w).collect();
        if key(&tail.join(" ")) != key(name) || !starts_upper(words[first].1) {
            continue;
        }
        let separated = first == 0
            || words[first - 1].1.ends_with(['.', '!', '?', ':', '"', ')'])
            || count >= 2;
        if separated && best.is_none_or(|(c, _)| count > c) {
            best = Some((count, name));
        }
    }
    if let Some((count, name)) = best {
        let offset = words[words.len() - count].0;
        passage.text = text[..offset].trim_end().to_owned();
        passage.dangling = Some(name.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

struct Target<'a> {
    target: &'a FieldTarget,
    key: String,
    tokens: Vec<String>,
    section_key: String,
    section_tokens: Vec<String>,
    intent_tokens: Vec<String>,
    groups: Vec<&'static str>,
}

/// What a heading names.
#[derive(Debug, Default)]
struct HeadingMatch {
    targets: Vec<usize>,
    sections: Vec<String>,
}

impl HeadingMatch {
    fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.sections.is_empty()
    }
}

/// How a passage was attributed.
#[derive(Debug, Clone)]
struct Assignment {
    target: usize,
    passage: usize,
    /// Headings between the matched heading and the passage (sub-topics, or content a PDF
    /// mistook for a heading), outermost first.
    sub: Vec<String>,
    /// Whether a heading on the passage's path names the target itself (not merely its
    /// section, a neighbour or the content): such an attribution is kept as it is.
    decisive: bool,
}

struct Matcher<'a> {
    targets: Vec<Target<'a>>,
}

impl<'a> Matcher<'a> {
    fn new(targets: &'a [FieldTarget]) -> Self {
        let targets = targets
            .iter()
            .map(|target| {
                let tokens = content_tokens(&target.name);
                let mut groups: Vec<&'static str> =
                    tokens.iter().filter_map(|t| group_of(t)).collect();
                if groups.is_empty() {
                    if let Some(intent) = &target.intent {
                        groups = content_tokens(intent)
                            .iter()
                            .filter_map(|t| group_of(t))
                            .collect();
                    }
                }
                groups.sort_unstable();
                groups.dedup();
                Target {
                    target,
                    key: key(&target.name),
                    tokens,
                    section_key: key(&target.section),
                    section_tokens: content_tokens(&target.section),
                    intent_tokens: target
                        .intent
                        .as_deref()
                        .map(content_tokens)
                        .unwrap_or_default(),
                    groups,
                }
            })
            .collect();
        Self { targets }
    }

    fn sections(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.targets {
            if !out.iter().any(|(k, _)| *k == t.section_key) {
                out.push((t.section_key.clone(), t.target.section.clone()));
            }
        }
        let glossary = key(GLOSSARY_SECTION);
        if !out.iter().any(|(k, _)| *k == glossary) {
            out.push((glossary, GLOSSARY_SECTION.to_owned()));
        }
        out
    }

    /// The targets and sections a heading names, exactly or else by content words.
    fn match_heading(&self, heading: &str) -> HeadingMatch {
        let k = key(heading);
        let sections = self.sections();
        let mut exact = HeadingMatch {
            targets: (0..self.targets.len())
                .filter(|i| self.targets[*i].key == k)
                .collect(),
            sections: sections
                .iter()
                .filter(|(sk, _)| *sk == k)
                .map(|(sk, _)| sk.clone())
                .collect(),
        };
        if !exact.is_empty() {
            return exact;
        }
        let tokens = content_tokens(heading);
        exact.targets = (0..self.targets.len())
            .filter(|i| same_set(&self.targets[*i].tokens, &tokens))
            .collect();
        exact.sections = sections
            .iter()
            .filter(|(sk, _)| same_set(&content_tokens(sk), &tokens))
            .map(|(sk, _)| sk.clone())
            .collect();
        exact
    }

    fn targets_in_section(&self, section_key: &str) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|i| self.targets[*i].section_key == section_key)
            .collect()
    }

    /// Content score of a passage (with the given heading path) for a target.
    fn score(&self, headings: &[String], text: &str, t: usize) -> f32 {
        let target = &self.targets[t];
        let mut heading_score = 0.0f32;
        let mut weight = 1.0f32;
        let mut section_score = 0.0f32;
        // A heading that is really content (a table row promoted by a PDF) counts as text.
        let mut text = text.to_owned();
        for heading in headings.iter().filter(|h| content_like(h)) {
            text.push(' ');
            text.push_str(heading);
        }
        let text = text.as_str();
        for heading in headings.iter().rev().filter(|h| !content_like(h)) {
            let tokens = content_tokens(heading);
            heading_score = heading_score.max(weight * similarity(&tokens, &target.tokens));
            section_score = section_score.max(similarity(&tokens, &target.section_tokens));
            weight *= 0.6;
        }
        let lower = text.to_lowercase();
        let cue = cue_score(&lower, text, headings, &target.groups);
        let intent = if target.intent_tokens.is_empty() {
            0.0
        } else {
            let text_tokens: HashSet<String> = tokens(text).into_iter().collect();
            let hits = target
                .intent_tokens
                .iter()
                .filter(|t| {
                    text_tokens.contains(*t)
                        || text_tokens.iter().any(|w| token_match_plain(w, t) >= 0.85)
                })
                .count();
            hits as f32 / target.intent_tokens.len() as f32
        };
        2.5 * heading_score + 0.7 * section_score + 1.5 * cue + 0.8 * intent
    }

    fn best(&self, headings: &[String], text: &str, among: &[usize]) -> Option<(usize, f32)> {
        among
            .iter()
            .map(|t| (*t, self.score(headings, text, *t)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// How strongly body text (and sub-headings) speak of the given topics (0..1).
fn cue_score(lower: &str, text: &str, headings: &[String], groups: &[&str]) -> f32 {
    let mut hits = 0.0f32;
    for group in groups {
        if let Some((_, cues)) = CUES.iter().find(|(name, _)| name == group) {
            hits += cues.iter().filter(|cue| lower.contains(*cue)).count() as f32;
        }
        match *group {
            "colour" => {
                let codes = text.split_whitespace().filter(|w| is_hex_code(w)).count();
                hits += (2.0 * codes as f32).min(4.0);
            }
            "dodont" => {
                let rules = sentences(text)
                    .iter()
                    .filter(|s| {
                        let k = key(s);
                        ["do ", "dont ", "do not ", "avoid ", "never ", "always "]
                            .iter()
                            .any(|p| k.starts_with(p))
                    })
                    .count();
                hits += (rules as f32).min(4.0);
            }
            "scenario" => {
                let situational = headings.iter().any(|h| {
                    let k = key(h);
                    ["when ", "if ", "during ", "after ", "before ", "for "]
                        .iter()
                        .any(|p| k.starts_with(p))
                });
                if situational {
                    hits += 2.0;
                }
            }
            // Years tell of the past, except a deadline ("by 2030"), which tells of plans.
            "history" => {
                let (past, _) = years(text);
                hits += (past as f32 / 2.0).min(2.0);
            }
            "ambition" => {
                let (_, deadlines) = years(text);
                hits += (deadlines as f32).min(2.0);
            }
            _ => {}
        }
    }
    (hits / 4.0).min(1.0)
}

/// Four-digit years (19xx, 20xx) in `text`: (others, deadlines — those right after "by").
fn years(text: &str) -> (usize, usize) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut past = 0;
    let mut deadlines = 0;
    for (index, word) in words.iter().enumerate() {
        let digits = word.trim_matches(|c: char| !c.is_ascii_digit());
        if digits.len() != 4
            || !(digits.starts_with("19") || digits.starts_with("20"))
            || !word.starts_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        let after_by = index > 0 && words[index - 1].eq_ignore_ascii_case("by");
        if after_by {
            deadlines += 1;
        } else {
            past += 1;
        }
    }
    (past, deadlines)
}

/// Whether a heading is really content (a table row or a sentence a PDF promoted).
fn content_like(heading: &str) -> bool {
    // A chapter number ("3.", "10)") is numbering, not content.
    let heading = strip_marker(heading);
    heading
        .chars()
        .any(|c| c.is_ascii_digit() || c == '#' || c == '|')
        || heading.split_whitespace().count() > 9
        || heading.ends_with(['.', ';', ','])
}

struct Attribution {
    assignments: Vec<Assignment>,
}

fn attribute(matcher: &Matcher<'_>, passages: &[Passage]) -> Attribution {
    let all: Vec<usize> = (0..matcher.targets.len()).collect();
    // Heading names that appear twice in a row in some path of a document ("Brand Context" >
    // "Brand context"): there, a path with the name once is the section, not the subsection.
    let mut doubles: HashSet<(String, String)> = HashSet::new();
    for p in passages {
        for pair in p.headings.windows(2) {
            if key(&pair[0]) == key(&pair[1]) {
                doubles.insert((p.doc.clone(), key(&pair[0])));
            }
        }
    }
    let mut assignments = Vec::new();
    // Per document: the previous passage's target, depth and parent path; a dangling heading.
    // (target, depth, parent path, whether a heading named the target)
    let mut previous: HashMap<String, (Option<usize>, usize, Vec<String>, bool)> = HashMap::new();
    let mut pending: HashMap<String, String> = HashMap::new();

    // Resolves what a heading at `index` of a path names into one target (or none).
    // `true` with the target when the heading names it directly.
    let resolve =
        |p: &Passage, path: &[String], index: usize, m: &HeadingMatch| -> Option<(usize, bool)> {
            let text = &p.text;
            if !m.targets.is_empty() {
                let chosen = if m.targets.len() == 1 {
                    m.targets[0]
                } else {
                    let in_path: Vec<usize> = m
                        .targets
                        .iter()
                        .copied()
                        .filter(|t| {
                            path.iter()
                                .any(|h| key(h) == matcher.targets[*t].section_key)
                        })
                        .collect();
                    let among = if in_path.is_empty() {
                        &m.targets
                    } else {
                        &in_path
                    };
                    matcher.best(path, text, among).map(|(t, _)| t)?
                };
                let section = &matcher.targets[chosen].section_key;
                let heading_key = key(&path[index]);
                let is_double_here = index > 0 && key(&path[index - 1]) == heading_key
                    || path.get(index + 1).is_some_and(|h| key(h) == heading_key);
                // A heading naming both a section and its same-named subsection ("Brand Context"
                // and "Brand context"): where the document nests one in the other, a path with the
                // name once is the section; elsewhere only the exact spelling can tell them apart.
                let ambiguous = m.sections.contains(section);
                let spelled_as_section = {
                    let heading = path[index].trim();
                    let target = matcher.targets[chosen].target;
                    heading == target.section.trim() && heading != target.name.trim()
                };
                let section_level = ambiguous
                    && if doubles.contains(&(p.doc.clone(), heading_key)) {
                        !is_double_here
                    } else {
                        spelled_as_section
                    };
                if !section_level {
                    return Some((chosen, true));
                }
                let among = matcher.targets_in_section(section);
                return matcher
                    .best(&path[index + 1..], text, &among)
                    .filter(|(_, score)| *score >= SECTION_MIN)
                    .map(|(t, _)| (t, false));
            }
            let mut among: Vec<usize> = Vec::new();
            for section in &m.sections {
                among.extend(matcher.targets_in_section(section));
            }
            match among.len() {
                0 => None,
                1 => Some((among[0], false)),
                _ => matcher
                    .best(&path[index + 1..], text, &among)
                    .filter(|(_, score)| *score >= SECTION_MIN)
                    .map(|(t, _)| (t, false)),
            }
        };

    for (index, p) in passages.iter().enumerate() {
        let path = &p.headings;
        let depth = path.len().saturating_sub(1);
        let parent: Vec<String> = path[..depth].to_vec();
        let matches: Vec<HeadingMatch> = path.iter().map(|h| matcher.match_heading(h)).collect();
        let innermost_matched = matches.last().is_some_and(|m| !m.is_empty());
        let mut decision: Option<(usize, Vec<String>, bool)> = None;
        if innermost_matched {
            pending.remove(&p.doc);
            decision =
                resolve(p, path, depth, &matches[depth]).map(|(t, named)| (t, Vec::new(), named));
        } else {
            let sub: Vec<String> = path.last().cloned().into_iter().collect();
            // 1. A heading left dangling at the end of the previous passage.
            if let Some(heading) = pending.remove(&p.doc) {
                let m = matcher.match_heading(&heading);
                let mut extended = parent.clone();
                extended.push(heading.clone());
                let at = extended.len() - 1;
                if let Some((t, named)) = resolve(p, &extended, at, &m) {
                    decision = Some((t, sub.clone(), named));
                }
            }
            // 2. Continuation of the previous passage at the same depth under the same parent.
            if decision.is_none() && !path.is_empty() {
                if let Some((Some(t), prev_depth, prev_parent, prev_named)) = previous.get(&p.doc) {
                    if *prev_depth == depth && *prev_parent == parent {
                        // Judge on the passage's own heading and text: its ancestors are
                        // shared with the previous passage and say nothing new.
                        let own_path = &path[depth..];
                        let own = matcher.score(own_path, &p.text, *t);
                        let other = matcher.best(own_path, &p.text, &all);
                        let chosen = match other {
                            Some((b, s)) if b != *t && s >= FALLBACK_MIN && s >= own + 0.6 => b,
                            _ => *t,
                        };
                        // A sibling continuing a named subsection is as good as named.
                        decision = Some((chosen, sub.clone(), *prev_named && chosen == *t));
                    }
                }
            }
            // 3. The nearest ancestor heading that names something.
            if decision.is_none() {
                if let Some(at) = (0..path.len()).rev().find(|i| !matches[*i].is_empty()) {
                    decision = resolve(p, path, at, &matches[at])
                        .map(|(t, named)| (t, path[at + 1..].to_vec(), named));
                    if decision.is_none() {
                        // A section with nothing for this passage: leave it.
                        previous.insert(p.doc.clone(), (None, depth, parent, false));
                        if let Some(d) = &p.dangling {
                            pending.insert(p.doc.clone(), d.clone());
                        }
                        continue;
                    }
                }
            }
            // 4. Content alone.
            if decision.is_none() && !p.text.is_empty() {
                decision = matcher
                    .best(path, &p.text, &all)
                    .filter(|(_, score)| *score >= FALLBACK_MIN)
                    .map(|(t, _)| (t, sub.clone(), false));
            }
        }
        previous.insert(
            p.doc.clone(),
            (
                decision.as_ref().map(|(t, _, _)| *t),
                depth,
                parent,
                decision.as_ref().is_some_and(|(_, _, named)| *named),
            ),
        );
        if let Some(d) = &p.dangling {
            pending.insert(p.doc.clone(), d.clone());
        }
        if let Some((target, sub, decisive)) = decision {
            if !p.text.is_empty() || sub.iter().any(|h| content_like(h)) {
                assignments.push(Assignment {
                    target,
                    passage: index,
                    sub,
                    decisive,
                });
            }
        }
    }
    Attribution { assignments }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// The passage's text with content-like sub-headings put back in front.
fn body(passage: &Passage, sub: &[String]) -> String {
    let mut out = String::new();
    for heading in sub.iter().filter(|h| content_like(h)) {
        out.push_str(heading);
        out.push('\n');
    }
    out.push_str(&passage.text);
    out.trim().to_owned()
}

fn label_of(sub: &[String]) -> Option<String> {
    sub.iter().rev().find(|h| !content_like(h)).cloned()
}

fn text_value(parts: &[(&Passage, &[String])]) -> Option<Value> {
    let mut out = String::new();
    for (passage, sub) in parts {
        let mut piece = String::new();
        if let Some(label) = label_of(sub) {
            piece.push_str(&label);
            piece.push('\n');
        }
        // Bullet glyphs a PDF left in are noise in prose; numbering ("1.") is kept.
        for line in body(passage, sub).lines() {
            let line = line.trim();
            let line = ["• ", "▪ ", "· ", "◦ "]
                .iter()
                .find_map(|bullet| line.strip_prefix(bullet))
                .unwrap_or(line);
            piece.push_str(line);
            piece.push('\n');
        }
        let piece = piece.trim();
        if piece.is_empty() || out.contains(piece) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(piece);
        if char_len(&out) >= TEXT_CAP {
            break;
        }
    }
    let out = cap_text(&out, TEXT_CAP);
    (!out.trim().is_empty()).then_some(Value::String(out))
}

fn push_entry(entries: &mut Vec<Value>, seen: &mut HashSet<String>, entry: Value, name: &str) {
    let k = key(name);
    if k.is_empty() || entries.len() >= ENTRIES_MAX || !seen.insert(k) {
        return;
    }
    entries.push(entry);
}

fn array_value(parts: &[(&Passage, &[String])], target_tokens: &[String]) -> Option<Value> {
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for (passage, sub) in parts {
        let items = items_of(&body(passage, sub));
        let label = label_of(sub).filter(|label| {
            // A label that only repeats the field's topic ("Do / Don't") adds nothing.
            let tokens = content_tokens(label);
            !tokens
                .iter()
                .all(|t| target_tokens.iter().any(|x| token_match(t, x) > 0.0))
        });
        let single = items.len() == 1;
        for item in &items {
            for name in entry_names(item) {
                let name = match (&label, single) {
                    (Some(label), true) => format!("{label}: {name}"),
                    _ => name,
                };
                let name = cap_text(&name, ENTRY_CAP);
                push_entry(&mut entries, &mut seen, json!({ "name": name }), &name);
            }
        }
    }
    (!entries.is_empty()).then_some(Value::Array(entries))
}

fn restriction_column(header: &str) -> bool {
    let k = key(header);
    [
        "avoid",
        "dont",
        "do not",
        "never",
        "restriction",
        "constraint",
        "not",
        "we are not",
        "instead of",
        "dont say",
    ]
    .iter()
    .any(|w| k == *w || k.starts_with(&format!("{w} ")) || k.ends_with(&format!(" {w}")))
}

fn rich_value(parts: &[(&Passage, &[String])]) -> Option<Value> {
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    let any_labelled = parts.iter().any(|(_, sub)| label_of(sub).is_some());
    for (passage, sub) in parts {
        let text = body(passage, sub);
        if let Some(label) = label_of(sub) {
            let name = cap_text(&text, ENTRY_CAP);
            if name.is_empty() {
                continue;
            }
            let entry = json!({
                "name": name,
                "tags": [cap_tag(&label)],
                "restrictions": constraints(&name),
            });
            push_entry(&mut entries, &mut seen, entry, &name);
            continue;
        }
        let items = items_of(&text);
        // Where some items name their situation, the others are introductions.
        let some_labelled = items.iter().any(|item| match item {
            Item::Row { .. } => true,
            Item::Line(line) => label_split(line).is_some(),
        });
        for item in items {
            let (name, tags, restrictions) = match &item {
                Item::Row { header, cells } => {
                    let situation = cells.first().cloned().unwrap_or_default();
                    let mut name_parts = Vec::new();
                    let mut limits = Vec::new();
                    for (h, cell) in header.iter().zip(cells).skip(1) {
                        if is_empty_cell(cell) {
                            continue;
                        }
                        if restriction_column(h) {
                            limits.push(cell.clone());
                        } else {
                            name_parts.push(cell.clone());
                        }
                    }
                    let name = name_parts.join(" | ");
                    let mut restrictions = limits.join(" ");
                    if restrictions.is_empty() {
                        restrictions = constraints(&name);
                    }
                    let tags: Vec<String> = if situation.is_empty() {
                        Vec::new()
                    } else {
                        vec![cap_tag(&situation)]
                    };
                    (name, tags, restrictions)
                }
                Item::Line(line) => match label_split(line) {
                    Some((label, rest)) => {
                        let restrictions = constraints(&rest);
                        (rest, vec![cap_tag(&label)], restrictions)
                    }
                    None if any_labelled || some_labelled => continue,
                    None => (line.clone(), Vec::new(), constraints(line)),
                },
            };
            let name = cap_text(&name, ENTRY_CAP);
            if name.is_empty() {
                continue;
            }
            let tags: Vec<String> = tags.into_iter().take(TAGS_CAP).collect();
            let entry = json!({ "name": name, "tags": tags, "restrictions": restrictions });
            push_entry(&mut entries, &mut seen, entry, &name);
        }
    }
    (!entries.is_empty()).then_some(Value::Array(entries))
}

/// Fills the targets from the chunks. Returns only fields for which something relevant was
/// found, in target order. Glossary-section targets (one per term) are filled from
/// [`glossary_terms`].
pub fn fill_fields(targets: &[FieldTarget], chunks: &[KnowledgeChunk]) -> Vec<Filled> {
    fill_fields_with(targets, chunks, None).0
}

/// [`fill_fields`], placing the passages no heading names by meaning when a model is given
/// (see [`semantic`]). Returns the values and, when the model failed (the headings' placement
/// is used then), its error for the log.
pub fn fill_fields_with(
    targets: &[FieldTarget],
    chunks: &[KnowledgeChunk],
    meaning: Option<&MeaningModel>,
) -> (Vec<Filled>, Option<String>) {
    let glossary_key = key(GLOSSARY_SECTION);
    let (glossary_targets, field_targets): (Vec<&FieldTarget>, Vec<&FieldTarget>) = targets
        .iter()
        .partition(|t| key(&t.section) == glossary_key);
    let field_targets: Vec<FieldTarget> = field_targets.into_iter().cloned().collect();
    let matcher = Matcher::new(&field_targets);

    let mut passages = build_passages(chunks);
    let mut names: Vec<String> = field_targets.iter().map(|t| t.name.clone()).collect();
    names.extend(matcher.sections().into_iter().map(|(_, name)| name));
    for passage in &mut passages {
        strip_dangling(passage, &names);
    }
    let mut attribution = attribute(&matcher, &passages);
    let mut model_error = None;
    if let Some(model) = meaning {
        // Glossary tables are terms, not content of a field.
        let terms = glossary_terms(chunks);
        let skip: Vec<bool> = passages
            .iter()
            .map(|p| {
                terms
                    .iter()
                    .any(|term| term.chunk_ids.iter().any(|id| p.chunk_ids.contains(id)))
            })
            .collect();
        let cascade = std::mem::take(&mut attribution.assignments);
        let (assignments, error) =
            semantic::reassign(&matcher, &mut passages, cascade, &skip, model);
        attribution.assignments = assignments;
        model_error = error;
    }

    let mut filled_by_id: HashMap<String, Filled> = HashMap::new();
    for (t, target) in field_targets.iter().enumerate() {
        let mine: Vec<&Assignment> = attribution
            .assignments
            .iter()
            .filter(|a| a.target == t)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let parts: Vec<(&Passage, &[String])> = mine
            .iter()
            .map(|a| (&passages[a.passage], a.sub.as_slice()))
            .collect();
        let value = match target.field_type {
            FieldType::Text => text_value(&parts),
            FieldType::Array => array_value(&parts, &matcher.targets[t].tokens),
            FieldType::RichArray => rich_value(&parts),
        };
        let Some(value) = value else { continue };
        let mut chunk_ids: Vec<String> = Vec::new();
        for a in &mine {
            for id in &passages[a.passage].chunk_ids {
                if !chunk_ids.contains(id) {
                    chunk_ids.push(id.clone());
                }
            }
        }
        filled_by_id.insert(
            target.id.clone(),
            Filled {
                field_id: target.id.clone(),
                value,
                chunk_ids,
            },
        );
    }

    if !glossary_targets.is_empty() {
        let terms = glossary_terms(chunks);
        for target in glossary_targets {
            let wanted = key(&target.name);
            if let Some(term) = terms.iter().find(|term| key(&term.term) == wanted) {
                let value = Value::Array(
                    term.translations
                        .iter()
                        .map(|(text, locale)| json!({ "term": text, "locale": locale }))
                        .collect(),
                );
                filled_by_id.insert(
                    target.id.clone(),
                    Filled {
                        field_id: target.id.clone(),
                        value,
                        chunk_ids: term.chunk_ids.clone(),
                    },
                );
            }
        }
    }

    let filled = targets
        .iter()
        .filter_map(|t| filled_by_id.remove(&t.id))
        .collect();
    (filled, model_error)
}

// ---------------------------------------------------------------------------------------------
// Glossary
// ---------------------------------------------------------------------------------------------

const LANGUAGES: &[(&str, &str)] = &[
    ("english", "en-GB"),
    ("french", "fr-FR"),
    ("francais", "fr-FR"),
    ("français", "fr-FR"),
    ("german", "de-DE"),
    ("deutsch", "de-DE"),
    ("spanish", "es-ES"),
    ("espanol", "es-ES"),
    ("español", "es-ES"),
    ("italian", "it-IT"),
    ("italiano", "it-IT"),
    ("dutch", "nl-NL"),
    ("nederlands", "nl-NL"),
    ("flemish", "nl-BE"),
    ("portuguese", "pt-PT"),
    ("portugues", "pt-PT"),
    ("português", "pt-PT"),
    ("brazilian", "pt-BR"),
    ("japanese", "ja-JP"),
    ("chinese", "zh-CN"),
    ("mandarin", "zh-CN"),
    ("cantonese", "zh-HK"),
    ("korean", "ko-KR"),
    ("swedish", "sv-SE"),
    ("svenska", "sv-SE"),
    ("danish", "da-DK"),
    ("dansk", "da-DK"),
    ("norwegian", "nb-NO"),
    ("norsk", "nb-NO"),
    ("finnish", "fi-FI"),
    ("suomi", "fi-FI"),
    ("polish", "pl-PL"),
    ("polski", "pl-PL"),
    ("russian", "ru-RU"),
    ("turkish", "tr-TR"),
    ("arabic", "ar-SA"),
    ("czech", "cs-CZ"),
    ("greek", "el-GR"),
    ("hungarian", "hu-HU"),
    ("romanian", "ro-RO"),
    ("hebrew", "he-IL"),
    ("hindi", "hi-IN"),
    ("thai", "th-TH"),
    ("vietnamese", "vi-VN"),
    ("indonesian", "id-ID"),
    ("ukrainian", "uk-UA"),
    ("catalan", "ca-ES"),
    ("icelandic", "is-IS"),
    ("irish", "ga-IE"),
    ("welsh", "cy-GB"),
];

const CODES: &[(&str, &str)] = &[
    ("en", "en-GB"),
    ("fr", "fr-FR"),
    ("de", "de-DE"),
    ("es", "es-ES"),
    ("it", "it-IT"),
    ("nl", "nl-NL"),
    ("pt", "pt-PT"),
    ("ja", "ja-JP"),
    ("jp", "ja-JP"),
    ("zh", "zh-CN"),
    ("cn", "zh-CN"),
    ("ko", "ko-KR"),
    ("sv", "sv-SE"),
    ("se", "sv-SE"),
    ("da", "da-DK"),
    ("dk", "da-DK"),
    ("no", "nb-NO"),
    ("nb", "nb-NO"),
    ("fi", "fi-FI"),
    ("pl", "pl-PL"),
    ("ru", "ru-RU"),
    ("tr", "tr-TR"),
    ("ar", "ar-SA"),
    ("cs", "cs-CZ"),
    ("el", "el-GR"),
    ("hu", "hu-HU"),
    ("ro", "ro-RO"),
];

/// A locale tag such as "fr-FR" or "pt_br" inside a header cell.
fn locale_tag(cell: &str) -> Option<String> {
    for raw in cell.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        let mut parts = raw.split(['-', '_']);
        let (Some(lang), Some(region), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let lang_ok =
            (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphabetic());
        let region_ok = (region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()))
            || (region.len() == 3 && region.chars().all(|c| c.is_ascii_digit()));
        if lang_ok && region_ok {
            return Some(format!(
                "{}-{}",
                lang.to_ascii_lowercase(),
                region.to_ascii_uppercase()
            ));
        }
    }
    None
}

/// The locale a glossary header cell names, if any.
fn header_locale(cell: &str) -> Option<String> {
    if let Some(tag) = locale_tag(cell) {
        return Some(tag);
    }
    let ws = words(cell);
    if ws.len() == 1 {
        if let Some((_, locale)) = CODES.iter().find(|(code, _)| *code == ws[0]) {
            // Bare codes only when written as codes ("FR"), not as words ("no").
            if cell.trim().chars().all(|c| c.is_ascii_uppercase()) {
                return Some((*locale).to_owned());
            }
        }
    }
    ws.iter().find_map(|w| {
        LANGUAGES
            .iter()
            .find(|(name, _)| name == w)
            .map(|(_, locale)| (*locale).to_owned())
    })
}

fn is_english(locale: &str) -> bool {
    locale.starts_with("en-") || locale == "en"
}

fn no_translation(cell: &str) -> bool {
    let k = key(cell);
    is_empty_cell(cell)
        || matches!(
            k.as_str(),
            "do not translate"
                | "dont translate"
                | "not translated"
                | "untranslated"
                | "none"
                | "na"
                | "n a"
                | "same"
                | "no translation"
        )
}

/// Glossary terms from tables whose header row names languages or locales.
pub fn glossary_terms(chunks: &[KnowledgeChunk]) -> Vec<GlossaryTerm> {
    let mut out: Vec<GlossaryTerm> = Vec::new();
    for passage in build_passages(chunks) {
        for table in tables_of(&passage.text) {
            add_glossary_table(&mut out, &table, &passage.chunk_ids);
        }
    }
    out
}

/// Adds the rows of a table whose header names languages or locales.
fn add_glossary_table(out: &mut Vec<GlossaryTerm>, table: &Table, chunk_ids: &[String]) {
    let locales: Vec<Option<String>> = table.header.iter().map(|h| header_locale(h)).collect();
    let translated: Vec<usize> = (0..locales.len())
        .filter(|i| locales[*i].as_deref().is_some_and(|l| !is_english(l)))
        .collect();
    if translated.is_empty() {
        return;
    }
    let columns = table.header.len();
    let source = (0..columns)
        .find(|i| locales[*i].as_deref().is_some_and(is_english))
        .or_else(|| {
            (0..columns).find(|i| {
                locales[*i].is_none() && {
                    let k = key(&table.header[*i]);
                    [
                        "term", "source", "word", "phrase", "english", "en", "original",
                    ]
                    .iter()
                    .any(|w| k.split(' ').any(|x| x == *w || x == format!("{w}s")))
                }
            })
        })
        .or_else(|| (0..columns).find(|i| locales[*i].is_none() && !table.header[*i].is_empty()));
    let Some(source) = source else { return };
    for row in &table.rows {
        let Some(term) = row.get(source).map(|t| t.trim()) else {
            continue;
        };
        if term.is_empty() || char_len(term) > NAME_MAX {
            continue;
        }
        let mut translations: Vec<(String, String)> = Vec::new();
        for column in &translated {
            let cell = row.get(*column).map_or("", |c| c.trim());
            if no_translation(cell) || char_len(cell) > NAME_MAX {
                continue;
            }
            if let Some(locale) = &locales[*column] {
                translations.push((cell.to_owned(), locale.clone()));
            }
        }
        let k = key(term);
        if let Some(existing) = out.iter_mut().find(|g| key(&g.term) == k) {
            for pair in translations {
                if !existing.translations.contains(&pair) {
                    existing.translations.push(pair);
                }
            }
            for id in chunk_ids {
                if !existing.chunk_ids.contains(id) {
                    existing.chunk_ids.push(id.clone());
                }
            }
        } else {
            out.push(GlossaryTerm {
                term: term.to_owned(),
                translations,
                chunk_ids: chunk_ids.to_vec(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &str, headings: &[&str], text: &str) -> KnowledgeChunk {
        KnowledgeChunk {
            id: id.into(),
            document_id: "doc".into(),
            text: text.into(),
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
            page_start: 1,
            page_end: 1,
        }
    }

    fn value_of<'a>(filled: &'a [Filled], id: &str) -> Option<&'a Value> {
        filled.iter().find(|f| f.field_id == id).map(|f| &f.value)
    }

    fn names(value: &Value) -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn sentences_keep_quotes_and_numbered_items() {
        let got = sentences(
            "Intro: read this. 1. First step here. 2. Second \"quoted. Still quoted.\" Done. See e.g. Acme. Last",
        );
        assert_eq!(
            got,
            [
                "Intro: read this.",
                "First step here.",
                "Second \"quoted. Still quoted.\"",
                "Done.",
                "See e.g. Acme.",
                "Last"
            ]
        );
    }

    #[test]
    fn pipe_tables_are_recovered_from_joined_rows() {
        let table = parse_table(
            "Our shades are below. Shade | HEX | CMYK | Pantone Ocean Night | #102030 | 90, 60, 0, 70 | 2965 C Coral Pink | #FF7F7F | 0, 50, 40, 0 | 1775 C",
        )
        .unwrap();
        assert_eq!(table.prefix, "Our shades are below.");
        assert_eq!(table.header, ["Shade", "HEX", "CMYK", "Pantone"]);
        assert_eq!(
            table.rows,
            [
                ["Ocean Night", "#102030", "90, 60, 0, 70", "2965 C"],
                ["Coral Pink", "#FF7F7F", "0, 50, 40, 0", "1775 C"]
            ]
        );
        assert!(parse_table("Title tags like \"Name | Brand\" work.").is_none());
    }

    #[test]
    fn a_colour_table_under_our_colours_fills_the_palette() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk("c1", &["Acme Style Book", "Look and feel", "Our colours"], "Two shades carry the identity. Shade | HEX | Pantone Ocean Night | #102030 | 2965 C Coral Pink | #FF7F7F | 1775 C"),
            chunk("c2", &["Acme Style Book", "Look and feel", "Type"], "Set headlines in Acme Grotesk and body copy in Acme Text; keep a generous layout grid with wide margins."),
        ];
        let filled = fill_fields(&targets, &chunks);
        let palette = value_of(&filled, "Visual Guidelines/Colour palettes").unwrap();
        let all = names(palette).join(" ");
        assert!(all.contains("Ocean Night | #102030 | 2965 C"), "{all}");
        assert!(all.contains("Coral Pink | #FF7F7F"), "{all}");
        let visual = value_of(&filled, "Visual Guidelines/Visual guidance").unwrap();
        assert!(visual.as_str().unwrap().contains("Acme Grotesk"));
        let palette_ids = &filled
            .iter()
            .find(|f| f.field_id == "Visual Guidelines/Colour palettes")
            .unwrap()
            .chunk_ids;
        assert_eq!(palette_ids, &["c1"]);

        // The same with one block per line, as the chunker writes it.
        let lines = vec![chunk(
            "l1",
            &["Our colours"],
            "Two shades carry the identity.\nShade | HEX | Pantone\nOcean Night | #102030 | 2965 C\nCoral Pink | #FF7F7F | 1775 C",
        )];
        let filled = fill_fields(&targets, &lines);
        let palette = value_of(&filled, "Visual Guidelines/Colour palettes").unwrap();
        assert_eq!(
            names(palette),
            [
                "Two shades carry the identity.",
                "Ocean Night | #102030 | 2965 C",
                "Coral Pink | #FF7F7F | 1775 C"
            ]
        );
    }

    #[test]
    fn do_and_dont_rules_under_writing_rules_fill_dos_and_donts() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![chunk(
            "w1",
            &["Writing rules"],
            "Do keep sentences short. Do address the reader as you. Don't use jargon without a gloss. Avoid exclamation marks in headlines. Never promise delivery dates we cannot keep.",
        )];
        let filled = fill_fields(&targets, &chunks);
        let dos = value_of(&filled, "Dos and Dont's/Dos and dont's").unwrap();
        let got = names(dos);
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got.contains(&"Don't use jargon without a gloss.".to_owned()));
        // The chunk went to one field only.
        assert_eq!(filled.len(), 1, "{filled:?}");
    }

    #[test]
    fn situations_become_tags_and_constraints_restrictions() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk("t1", &["Voice", "Voice in practice"], "How we adapt."),
            chunk(
                "t2",
                &["Voice", "Voice in practice", "If a delivery is late"],
                "Say sorry first and give a new date. Never blame the courier.",
            ),
            chunk(
                "t3",
                &["Voice", "Voice in practice", "If someone praises us"],
                "Thank them by name and share the credit with the team.",
            ),
        ];
        let filled = fill_fields(&targets, &chunks);
        let scenarios = value_of(&filled, "Tone of Voice/Tone scenarios").unwrap();
        let entries = scenarios.as_array().unwrap();
        assert_eq!(entries.len(), 2, "{scenarios}");
        assert_eq!(entries[0]["tags"][0], "If a delivery is late");
        assert_eq!(entries[0]["restrictions"], "Never blame the courier.");
        assert_eq!(entries[1]["restrictions"], "");
    }

    #[test]
    fn a_spanish_glossary_table_gives_terms_and_do_not_translate() {
        let chunks = vec![chunk(
            "g1",
            &["Localisation"],
            "Use these terms in Spain. Term | Spanish (es-ES) | FR Gift card | tarjeta regalo | carte cadeau Acme Plus | do not translate | — Store pickup | recogida en tienda | retrait en magasin",
        )];
        let terms = glossary_terms(&chunks);
        assert_eq!(terms.len(), 3, "{terms:?}");
        assert_eq!(terms[0].term, "Gift card");
        assert_eq!(
            terms[0].translations,
            [
                ("tarjeta regalo".to_owned(), "es-ES".to_owned()),
                ("carte cadeau".to_owned(), "fr-FR".to_owned())
            ]
        );
        assert_eq!(terms[1].term, "Acme Plus");
        assert!(terms[1].translations.is_empty());
        assert_eq!(terms[2].chunk_ids, ["g1"]);

        let target = FieldTarget {
            id: "gift".into(),
            section: GLOSSARY_SECTION.into(),
            name: "gift card".into(),
            field_type: FieldType::Array,
            intent: None,
        };
        let filled = fill_fields(&[target], &chunks);
        assert_eq!(
            filled[0].value,
            json!([{"term": "tarjeta regalo", "locale": "es-ES"}, {"term": "carte cadeau", "locale": "fr-FR"}])
        );
    }

    #[test]
    fn a_heading_left_dangling_by_a_pdf_is_recovered() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk(
                "a",
                &["Checklist"],
                "Every image has alt text. Links are tested. Grammar Guidelines",
            ),
            chunk(
                "b",
                &["Checklist", "Commas and caps"],
                "Use the Oxford comma. Write headings in sentence case.",
            ),
        ];
        let filled = fill_fields(&targets, &chunks);
        let checklist = value_of(&filled, "Checklist/Checklist values").unwrap();
        assert_eq!(
            names(checklist),
            ["Every image has alt text.", "Links are tested."]
        );
        let grammar = value_of(&filled, "Grammar Guidelines/Grammar guidelines values").unwrap();
        assert!(names(grammar).contains(&"Use the Oxford comma.".to_owned()));
    }

    #[test]
    fn blocks_on_lines_keep_items_rows_and_repeated_headers_apart() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk("p1", &["Guide", "Voice rules"], "Follow these everywhere:\nDo | Avoid\nWrite like you talk | Corporate filler words\nLead with the benefit | Passive voice"),
            // The chunker repeats the end of the previous chunk; a new page repeats the header.
            chunk("p2", &["Guide", "Voice rules"], "Lead with the benefit | Passive voice\nDo | Avoid\nUse numbers | Vague claims such as \"best ever\""),
            chunk("g1", &["Guide", "Words in other markets"], "EN | FR | DE | IT\nGift card | carte cadeau | Gutschein | —\nAcme Plus | do not translate | - |"),
        ];
        let filled = fill_fields(&targets, &chunks);
        let dos = value_of(&filled, "Dos and Dont's/Dos and dont's").unwrap();
        assert_eq!(
            names(dos),
            [
                "Do: Write like you talk",
                "Avoid: Corporate filler words",
                "Do: Lead with the benefit",
                "Avoid: Passive voice",
                "Do: Use numbers",
                "Avoid: Vague claims such as \"best ever\""
            ]
        );
        let terms = glossary_terms(&chunks);
        assert_eq!(terms.len(), 2, "{terms:?}");
        assert_eq!(
            terms[0].translations,
            [
                ("carte cadeau".to_owned(), "fr-FR".to_owned()),
                ("Gutschein".to_owned(), "de-DE".to_owned())
            ]
        );
        assert!(terms[1].translations.is_empty());
    }

    #[test]
    fn a_chapter_title_left_at_the_foot_of_a_page_moves_on() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk(
                "a",
                &["Talent guidance"],
                "We cast real people.\nTone of Voice",
            ),
            chunk(
                "b",
                &["Talent guidance", "Tone scenarios"],
                "Intro.\nWhen we are late: say sorry first; never blame the weather.",
            ),
        ];
        let filled = fill_fields(&targets, &chunks);
        let talent = value_of(&filled, "Brand Context/Talent guidance").unwrap();
        assert_eq!(talent, "We cast real people.");
        let scenarios = value_of(&filled, "Tone of Voice/Tone scenarios").unwrap();
        assert_eq!(scenarios[0]["tags"][0], "When we are late");
        assert_eq!(scenarios[0]["restrictions"], "never blame the weather");
    }

    #[test]
    fn unrelated_text_fills_nothing() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![chunk(
            "x",
            &["Appendix"],
            "Printed on recycled paper. Contact the studio for source files.",
        )];
        assert!(fill_fields(&targets, &chunks).is_empty());
    }

    #[test]
    fn overlap_between_chunks_is_removed() {
        let mut text = "Alpha beta gamma delta epsilon zeta.".to_owned();
        append_without_overlap(&mut text, "delta epsilon zeta. Eta theta.");
        assert_eq!(text, "Alpha beta gamma delta epsilon zeta. Eta theta.");
    }
}
