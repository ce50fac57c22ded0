//! Filling by meaning: where a document's headings do not name a subsection, passages are
//! placed by what they say.
//!
//! Every passage the heading cascade could not place decisively (see
//! [`super::assign::attribute`]) is embedded with a sentence-embedding model and compared with
//! each subsection's *descriptor*: its name and intent and a few generic paraphrases of what
//! such content says (`descriptors.json`, written once for the catalogue; a custom subsection
//! is described by its own name and intent). A passage with several prose parts that speak of
//! different things (a chapter of odds and ends) is split into its parts. The score of a
//! (passage, subsection) pair adds to the descriptor similarity small, named weights for the
//! lexical evidence (topic cues, intent words), for structure (lists and tables suit list
//! subsections) and for the cascade's own guess. Passages and subsections are then matched
//! globally, best pair first: a `text` subsection takes one passage (and the other parts of
//! that passage's chapter), a list subsection collects up to [`LIST_CAPACITY`], at a small
//! cost for a further passage and a larger one for a passage from another chapter than the
//! list's own (a list's items stand in one place; a passage elsewhere that suits it nearly as
//! well is more likely what an empty subsection is about); a passage closer to the
//! front-matter descriptors (how to use the guide, contents, editions) than to any subsection,
//! and a DOCX's page headers and footers, are left out.
//!
//! Deterministic: the same passages and targets give the same assignment (ties break on
//! position).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock, PoisonError};

use brandstream_domain::brand::FieldType;
use serde::Deserialize;

use super::assign::Assignment;
use super::passages::{is_row, typed_lines, Passage};
use super::scoring::{content_like, cue_score, opens_clause, Matcher, Target};
use super::sentences::strip_marker;
use super::words::key;
use crate::BlockKind;

/// Turns texts into sentence embeddings: one L2-normalised vector per text, in input order,
/// all of the same length (so a dot product is a cosine).
pub trait SentenceEmbedder: Send + Sync {
    /// Embeds `texts`; an `Err` carries a message for the log.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;
}

/// A sentence embedder plus a cache of the descriptor embeddings (they are the same for every
/// run). Share one per process.
pub struct MeaningModel {
    embedder: Box<dyn SentenceEmbedder>,
    phrases: Mutex<HashMap<String, Vec<f32>>>,
}

impl std::fmt::Debug for MeaningModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeaningModel").finish_non_exhaustive()
    }
}

impl MeaningModel {
    /// Wraps an embedder.
    pub fn new(embedder: Box<dyn SentenceEmbedder>) -> Self {
        Self {
            embedder,
            phrases: Mutex::new(HashMap::new()),
        }
    }

    /// Embeddings of descriptor phrases, computed once per process. Custom subsections bring
    /// their own phrases (name and intent, set by users), so the cache is bounded: past
    /// [`PHRASE_CACHE_MAX`] entries it starts afresh.
    fn phrases(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let mut cache = self.phrases.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() + texts.len() > PHRASE_CACHE_MAX {
            cache.clear();
        }
        let missing: Vec<&str> = texts
            .iter()
            .filter(|t| !cache.contains_key(t.as_str()))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let vectors = self.embedder.embed(&missing)?;
            for (text, vector) in missing.iter().zip(vectors) {
                cache.insert((*text).to_owned(), vector);
            }
        }
        Ok(texts
            .iter()
            .map(|t| cache.get(t.as_str()).cloned().unwrap_or_default())
            .collect())
    }
}

/// Most descriptor embeddings kept (about 1.6 KB each for 384 dimensions).
const PHRASE_CACHE_MAX: usize = 4_096;

#[derive(Debug, Default, Deserialize)]
struct Descriptors {
    none: Vec<String>,
    subsections: HashMap<String, Vec<String>>,
    /// Subsections whose content is typically one short line (a motto).
    #[serde(default)]
    one_line: Vec<String>,
}

fn descriptors() -> &'static Descriptors {
    static PARSED: OnceLock<Descriptors> = OnceLock::new();
    PARSED
        .get_or_init(|| serde_json::from_str(include_str!("descriptors.json")).unwrap_or_default())
}

/// Lowest descriptor similarity at which a passage is placed at all.
const MIN_SCORE: f32 = 0.15;
/// A passage may go to a subsection scoring at most this much below its best one (when the
/// best is taken).
const SECOND_CHOICE_MARGIN: f32 = 0.06;
/// A part of a passage is placed on its own when it scores this much better elsewhere than
/// for the passage's best subsection.
const SPLIT_MARGIN: f32 = 0.10;
/// How far a part's best subsection must lead its second for neighbouring parts with the
/// same best to be kept together after a split.
const MERGE_MARGIN: f32 = 0.10;
/// Weight of the lexical score (topic cues, intent words, heading words), capped at 1.
const LEXICAL_WEIGHT: f32 = 0.08;
/// Weight of the topic cues (HEX codes, years, WCAG, …; see `CUES` in the parent module).
const CUE_WEIGHT: f32 = 0.15;
/// Bonus for a one-line body in a subsection whose content is typically one line (and the
/// penalty for a long one there).
const ONE_LINE_WEIGHT: f32 = 0.12;
/// Most words of a one-line body.
const ONE_LINE_WORDS: usize = 15;
/// Most words of a line introducing a motto on the next line.
const LEAD_IN_WORDS: usize = 25;
/// Most words of a motto after a lead-in line (mottos are a handful of words).
const MOTTO_AFTER_LEAD_WORDS: usize = 8;
/// Words from which on a body is too long for a one-line subsection (it loses
/// [`ONE_LINE_WEIGHT`]).
const LONG_FOR_ONE_LINE: usize = 3 * ONE_LINE_WORDS;
/// Outside the front of a document, a passage is front matter only when the front-matter
/// descriptors beat every subsection by this much.
const NONE_MARGIN: f32 = 0.10;
/// At the front, a passage is front matter when the front-matter descriptors come this close
/// to its best subsection (a foreword is expected there; a book that opens with its history
/// chapter keeps it: 0.10 had taken such a chapter for front matter).
const FRONT_NONE_MARGIN: f32 = 0.05;
/// A passage scoring this much for some subsection (and [`NONE_MARGIN`] more than for front
/// matter) ends the document's front matter.
const FRONT_CONFIDENT: f32 = 0.45;
/// Bonus for the subsection the heading cascade guessed.
const CASCADE_BONUS: f32 = 0.04;
/// Bonus for list-shaped content (three or more items or rows) in a list subsection, and
/// malus for it in a text subsection.
const STRUCTURE_WEIGHT: f32 = 0.03;
/// How many words of a unit's body the model reads.
const LEAD_WORDS: usize = 90;
/// Fewest words of a paragraph that starts a part of its own.
const PARAGRAPH_WORDS: usize = 25;
/// Weight of a pair that may not be chosen.
const FORBIDDEN: i64 = -1_000_000_000;
/// Bonus for two labelled lists side by side ("Yes please:" … "No thank you:") in a do/don't
/// subsection.
const PAIRED_LISTS_WEIGHT: f32 = 0.08;
/// Bonus, instead, when one of those labels is negative and another is not ("Always:" …
/// "Never:"): the unmistakable shape of a do/don't list, whatever its items are about.
const OPPOSED_LISTS_WEIGHT: f32 = 0.20;
/// How many passages a list subsection collects.
pub(super) const LIST_CAPACITY: usize = 2;
/// How far below its best subsection a left-out passage may suit a list that took one of its
/// siblings and still join it ([`join_siblings`]).
const SIBLING_MARGIN: f32 = 0.12;
/// What a list subsection's further passage is worth less than its first, in score: a passage
/// scoring nearly as well for an empty subsection goes there instead.
const FURTHER_SLOT_COST: f32 = 0.02;
/// What a list subsection's passage from another chapter than the list's own (the chapter of
/// the passage that suits the list best) costs, in score: a list's passages come from one
/// place, and a passage elsewhere that scores nearly as well for it is more likely what an
/// empty subsection is about. Charged as this on a further slot and as this less
/// [`FURTHER_SLOT_COST`] on the first, so that the two passages cost the same in either
/// order.
const ELSEWHERE_COST: f32 = 0.08;

/// One thing to place: a whole passage or one part of it.
struct Unit {
    passage: usize,
    /// Text sent to the model: the innermost heading, then the body.
    text: String,
    /// Body only, for lexical and structure evidence.
    body: String,
    /// The body lower-cased (for the topic cues, once rather than per subsection).
    lower: String,
    /// The block kind of each line of `body`, where the chunks recorded it.
    kinds: Option<Vec<BlockKind>>,
}

/// How many lines of a body open with a list marker or look like table rows. The placement
/// scores were measured on these text shapes; counting the layout's list items instead (a
/// paragraph followed by three unmarked points) moved facts to list subsections.
fn items_in(body: &str) -> usize {
    body.lines()
        .filter(|line| is_row(line, None) || strip_marker(line) != line.trim())
        .count()
}

/// One part of a passage: its text and its lines' block kinds (where known).
type Part = (String, Option<Vec<BlockKind>>);

/// A passage's prose parts: a part starts at each paragraph, unless the paragraph before it
/// introduces what follows (ends with a colon); list items and table rows stay with the
/// paragraph they follow. Parts keep their lines' kinds; the cuts are made by the lines' text
/// shapes, as the placement scores were measured (see [`items_in`]).
fn parts(text: &str, kinds: Option<&[BlockKind]>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::new();
    let mut current = String::new();
    let mut current_kinds: Vec<BlockKind> = Vec::new();
    let known = kinds.is_some();
    // Whether `current` holds a paragraph yet (short lines before one belong to it).
    let mut has_paragraph = false;
    for (line, kind) in typed_lines(text, kinds) {
        let words = line.split_whitespace().count();
        // A long line with a single " | " is prose quoting a title, not a two-cell row.
        let row =
            is_row(line, None) && (line.matches(" | ").count() > 1 || words < PARAGRAPH_WORDS);
        let item = row || strip_marker(line) != line;
        let paragraph = !item && words >= PARAGRAPH_WORDS;
        if paragraph && has_paragraph && !current.trim_end().ends_with(':') {
            let kinds = std::mem::take(&mut current_kinds);
            out.push((std::mem::take(&mut current), known.then_some(kinds)));
        }
        has_paragraph |= paragraph;
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
        current_kinds.extend(kind);
    }
    if !current.trim().is_empty() {
        out.push((current, known.then_some(current_kinds)));
    }
    out
}

/// Most words in each header cell of a two-column table read as a pair of labelled lists.
const TABLE_LABEL_WORDS: usize = 4;

/// Words that open a negative label ("Don't:", "Never", "No thank you:", "Avoid:").
const NEGATIVE_LABEL_WORDS: &[&str] = &[
    "no",
    "not",
    "don't",
    "dont",
    "do not",
    "never",
    "avoid",
    "skip",
    "stop",
    "leave out",
];

/// The two or more lists of a body, each introduced by a short label ending in a colon, or the
/// two columns of a table headed by two short labels, not clauses (the shape of a do/don't
/// page): `None` when it has fewer than two; else whether one label is negative and
/// another is not ("Do:" … "Don't:"), which makes the pair a do/don't list.
fn paired_lists(body: &str) -> Option<bool> {
    let lines: Vec<&str> = body.lines().map(str::trim).collect();
    let labels: Vec<&str> = lines
        .windows(2)
        .filter(|pair| {
            pair[0].ends_with(':')
                && pair[0].split_whitespace().count() <= 5
                && !pair[1].is_empty()
                && !pair[1].ends_with(':')
        })
        .map(|pair| pair[0])
        .collect();
    // A two-column table headed by two short labels ("Do | Don't", "Yes | No") is the same
    // shape, its columns the two lists.
    fn cells(line: &str) -> Vec<&str> {
        line.split(" | ").map(str::trim).collect()
    }
    let header = lines.windows(3).find_map(|rows| {
        let head = cells(rows[0]);
        let short = head.iter().all(|cell| {
            let words = cell.split_whitespace().count();
            (1..=TABLE_LABEL_WORDS).contains(&words)
        });
        (head.len() == 2 && short && cells(rows[1]).len() == 2 && cells(rows[2]).len() == 2)
            .then_some(head)
    });
    let from_table = header.is_some() && labels.len() < 2;
    let labels = match header {
        Some(head) if labels.len() < 2 => head,
        _ => labels,
    };
    if labels.len() < 2 {
        return None;
    }
    let negative = |label: &str| {
        let lower = label.to_lowercase().replace('\u{2019}', "'");
        NEGATIVE_LABEL_WORDS.iter().any(|word| {
            lower.strip_prefix(word).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(|c: char| !c.is_alphanumeric())
            })
        })
    };
    let negatives = labels.iter().filter(|label| negative(label)).count();
    // A column title that opens a clause ("We believe that | Which is why", "Who | What
    // they want") heads a table of statements, not one of two lists.
    if from_table && labels.iter().any(|label| opens_clause(label)) {
        return None;
    }
    Some(negatives > 0 && negatives < labels.len())
}

/// A body that is one short line of words (a motto), not a fragment of numbers — alone, or
/// after one line that introduces it ("The line below is stamped inside every frame.").
fn one_line(body: &str) -> bool {
    let motto = |line: &str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let alphabetic = words
            .iter()
            .filter(|w| {
                w.chars()
                    .all(|c| c.is_alphabetic() || c.is_ascii_punctuation())
            })
            .filter(|w| w.chars().any(char::is_alphabetic))
            .count();
        words.len() <= ONE_LINE_WORDS && alphabetic >= 3 && alphabetic == words.len()
    };
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.as_slice() {
        [line] => motto(line),
        [lead, line] => {
            lead.split_whitespace().count() <= LEAD_IN_WORDS
                && line.split_whitespace().count() <= MOTTO_AFTER_LEAD_WORDS
                && motto(line)
        }
        _ => motto(body),
    }
}

/// Whether a body is a table of contents: most of its lines carry dot leaders ("Colour
/// . . . . 5") or end in a page number after a run of dots.
fn contents_like(body: &str) -> bool {
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    let leaders = lines
        .iter()
        .filter(|l| l.contains(". . .") || l.contains("...."))
        .count();
    !lines.is_empty() && leaders * 2 >= lines.len()
}

/// Fewest lines of a table of contents recognised by the headings it names.
const CONTENTS_MIN_LINES: usize = 3;

/// Which passages are tables of contents: most lines are dot-leader lines, or the passage has
/// at least [`CONTENTS_MIN_LINES`] lines and most of them are titles of the same document's
/// headings (numbering, list markers and page numbers aside) — a contents page set as a plain
/// or numbered list. A contents page names every chapter; none of it is content.
fn contents_pages(passages: &[Passage]) -> Vec<bool> {
    let mut titles: HashMap<&str, HashSet<String>> = HashMap::new();
    for passage in passages {
        let known = titles.entry(passage.doc.as_str()).or_default();
        for heading in passage.headings.iter().chain(&passage.dangling) {
            known.insert(key(strip_marker(heading)));
        }
    }
    passages
        .iter()
        .map(|passage| {
            if contents_like(&passage.text) {
                return true;
            }
            let Some(known) = titles.get(passage.doc.as_str()) else {
                return false;
            };
            let lines: Vec<&str> = passage
                .text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect();
            let named = lines
                .iter()
                .filter(|line| {
                    let bare = strip_marker(line);
                    let unpaged = bare.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
                    known.contains(&key(bare)) || known.contains(&key(unpaged))
                })
                .count();
            lines.len() >= CONTENTS_MIN_LINES && named * 2 > lines.len()
        })
        .collect()
}

/// How far below a text subsection's strongest claimant (the best score among units that
/// suit it best) a unit may still take it.
const CLAIMANT_MARGIN: f32 = 0.20;

/// Bonus for a checklist subsection from a list that closes its document
/// ([`closing_lists`]).
const CLOSING_LIST_WEIGHT: f32 = 0.10;

/// Whether each passage is the list that closes its document: the last chapter, with no
/// sections of its own, holding a list of at least three marked items — where a brand book
/// keeps its last checks before anything goes out. Page furniture does not count as the end.
fn closing_lists(passages: &[Passage], furniture: &[bool]) -> Vec<bool> {
    let roots = shared_roots(passages, furniture);
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (index, passage) in passages.iter().enumerate() {
        let root = roots.get(passage.doc.as_str()).copied().unwrap_or(0);
        if passage.headings.len() > root && !furniture.get(index).copied().unwrap_or(false) {
            last.insert(passage.doc.as_str(), index);
        }
    }
    let mut out = vec![false; passages.len()];
    for (doc, index) in last {
        let passage = &passages[index];
        let chapter_level = passage.headings.len() == roots.get(doc).copied().unwrap_or(0) + 1;
        // List items by their block kind (Markdown, DOCX and HTML drop the markers), or by
        // their markers (a PDF's numbered lines are not always read as list items).
        let by_kind = passage.kinds.as_ref().map_or(0, |kinds| {
            kinds.iter().filter(|k| **k == BlockKind::ListItem).count()
        });
        let by_marker = passage
            .text
            .lines()
            .filter(|line| strip_marker(line) != line.trim())
            .count();
        let items = by_kind.max(by_marker);
        out[index] = chapter_level && items >= 3;
    }
    out
}

/// Most words of a title page's text (an edition, an owner, an audience).
const TITLE_PAGE_WORDS: usize = 60;

/// How near a document's start (in passages) a contents page must stand for what precedes
/// it to be front matter.
const CONTENTS_WITHIN: usize = 4;

/// Whether each passage is a title page: short text (edition, owner, who the book is for)
/// under a document's title before its first chapter, in a document that has chapters, or
/// anywhere before its contents page (`contents`). It is front matter however its words read
/// to the model.
fn title_pages(passages: &[Passage], contents: &[bool]) -> Vec<bool> {
    let roots = shared_roots(passages, &page_furniture(passages));
    let root = |p: &Passage| roots.get(p.doc.as_str()).copied().unwrap_or(0);
    let with_chapters: HashSet<&str> = passages
        .iter()
        .filter(|p| p.headings.len() > root(p))
        .map(|p| p.doc.as_str())
        .collect();
    // Each document's contents page with dot leaders among its first passages.
    let mut first_contents: HashMap<&str, usize> = HashMap::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (index, passage) in passages.iter().enumerate() {
        let nth = position.entry(passage.doc.as_str()).or_insert(0);
        if *nth < CONTENTS_WITHIN
            && contents.get(index).copied().unwrap_or(false)
            && contents_like(&passage.text)
        {
            first_contents.entry(passage.doc.as_str()).or_insert(index);
        }
        *nth += 1;
    }
    let mut seen: HashSet<&str> = HashSet::new();
    passages
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let first = seen.insert(p.doc.as_str());
            let short = p.text.split_whitespace().count() <= TITLE_PAGE_WORDS;
            let under_title =
                first && p.headings.len() <= root(p) && with_chapters.contains(p.doc.as_str());
            let before_contents = first_contents
                .get(p.doc.as_str())
                .is_some_and(|c| index < *c);
            short && (under_title || before_contents)
        })
        .collect()
}

fn heading_of(passage: &Passage) -> String {
    passage
        .headings
        .iter()
        .rev()
        .find(|h| !content_like(h))
        .map(|h| strip_marker(h).to_owned())
        .unwrap_or_default()
}

/// What the model reads for a unit: its heading and the first [`LEAD_WORDS`] words of its
/// body (a long table would otherwise drown the sentences that say what it is about).
fn model_text(heading: &str, body: &str) -> String {
    let lead: Vec<&str> = body.split_whitespace().take(LEAD_WORDS).collect();
    let lead = lead.join(" ");
    if heading.is_empty() {
        lead
    } else {
        format!("{heading}. {lead}")
    }
}

/// How far the best score leads the second best.
fn lead(scores: &[f32]) -> f32 {
    let best = argmax(scores);
    let second = scores
        .iter()
        .enumerate()
        .filter(|(t, _)| *t != best)
        .map(|(_, s)| *s)
        .fold(f32::MIN, f32::max);
    scores.get(best).map_or(0.0, |b| b - second)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Replaces the cascade's non-decisive attributions by a global assignment on meaning.
/// `skip` holds passages that are not content of any field (glossary tables). New passages
/// (parts of split ones) are appended to `passages`. On an embedding error the cascade's
/// attributions are returned unchanged and the error is passed back for the log.
pub(super) fn reassign(
    matcher: &Matcher<'_>,
    passages: &mut Vec<Passage>,
    cascade: Vec<Assignment>,
    skip: &[bool],
    model: &MeaningModel,
) -> (Vec<Assignment>, Option<String>) {
    let contents = contents_pages(passages);
    let contents: Vec<bool> = title_pages(passages, &contents)
        .into_iter()
        .zip(&contents)
        .map(|(title, contents)| title || *contents)
        .collect();
    match place(matcher, passages, &cascade, skip, &contents, model) {
        Ok(placed) => {
            let mut out: Vec<Assignment> = cascade
                .into_iter()
                .filter(|a| a.decisive && !contents[a.passage])
                .collect();
            out.extend(placed);
            out.sort_by_key(|a| (a.passage, a.target));
            (out, None)
        }
        Err(error) => (cascade, Some(error)),
    }
}

fn place(
    matcher: &Matcher<'_>,
    passages: &mut Vec<Passage>,
    cascade: &[Assignment],
    skip: &[bool],
    contents: &[bool],
    model: &MeaningModel,
) -> Result<Vec<Assignment>, String> {
    let targets = &matcher.targets;
    let decided: Vec<bool> = (0..passages.len())
        .map(|p| cascade.iter().any(|a| a.passage == p && a.decisive) && !contents[p])
        .collect();
    let guessed: HashMap<usize, usize> = cascade
        .iter()
        .filter(|a| !a.decisive)
        .map(|a| (a.passage, a.target))
        .collect();

    // Descriptor phrases per target, then the front-matter phrases.
    let table = descriptors();
    let mut phrase_texts: Vec<String> = Vec::new();
    let mut owner: Vec<Option<usize>> = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        let field = target.target;
        let mut own = vec![match &field.intent {
            Some(intent) => format!("{}: {intent}", field.name),
            None => field.name.clone(),
        }];
        if let Some(more) = table.subsections.get(&field.name) {
            own.extend(more.iter().cloned());
        }
        for phrase in own {
            phrase_texts.push(phrase);
            owner.push(Some(t));
        }
    }
    for phrase in &table.none {
        phrase_texts.push(phrase.clone());
        owner.push(None);
    }
    let phrase_vectors = model.phrases(&phrase_texts)?;

    // Whole passages first.
    let furniture = page_furniture(passages);
    let closing = closing_lists(passages, &furniture);
    let open: Vec<usize> = (0..passages.len())
        .filter(|p| !decided[*p] && !skip.get(*p).copied().unwrap_or(false))
        .filter(|p| !passages[*p].text.trim().is_empty() && !contents[*p])
        .filter(|p| !furniture[*p])
        .collect();
    let mut units: Vec<Unit> = open
        .iter()
        .map(|p| {
            let passage = &passages[*p];
            Unit {
                passage: *p,
                text: model_text(&heading_of(passage), &passage.text),
                body: passage.text.clone(),
                lower: passage.text.to_lowercase(),
                kinds: passage.kinds.clone(),
            }
        })
        .collect();
    let texts: Vec<&str> = units.iter().map(|u| u.text.as_str()).collect();
    let vectors = model.embedder.embed(&texts)?;
    let score = |unit: &Unit, vector: &[f32], t: usize| -> f32 {
        let semantic = phrase_vectors
            .iter()
            .zip(&owner)
            .filter(|(_, o)| **o == Some(t))
            .map(|(v, _)| dot(vector, v))
            .fold(f32::MIN, f32::max);
        let passage = &passages[unit.passage];
        let lexical = matcher.score(&passage.headings, &unit.body, t).min(3.0) / 3.0;
        let cue = cue_score(
            &unit.lower,
            &unit.body,
            &passage.headings,
            &targets[t].groups,
        );
        let mut total = semantic + LEXICAL_WEIGHT * lexical + CUE_WEIGHT * cue;
        if table.one_line.contains(&targets[t].target.name) {
            // A motto is one line: a short body is what such a subsection holds, a long one
            // (a foreword that sums the brand up) is not.
            if one_line(&unit.body) {
                total += ONE_LINE_WEIGHT;
            } else if unit.body.split_whitespace().count() > LONG_FOR_ONE_LINE {
                total -= ONE_LINE_WEIGHT;
            }
        }
        if guessed.get(&unit.passage) == Some(&t) {
            total += CASCADE_BONUS;
        }
        if targets[t].groups.contains(&"dodont") {
            total += match paired_lists(&unit.body) {
                Some(true) => OPPOSED_LISTS_WEIGHT,
                Some(false) => PAIRED_LISTS_WEIGHT,
                None => 0.0,
            };
        }
        if targets[t].groups.contains(&"checklist")
            && closing.get(unit.passage).copied().unwrap_or(false)
        {
            total += CLOSING_LIST_WEIGHT;
        }
        let listy = items_in(&unit.body) >= 3;
        match targets[t].target.field_type {
            FieldType::Text if listy => total -= STRUCTURE_WEIGHT,
            FieldType::Array | FieldType::RichArray if listy => total += STRUCTURE_WEIGHT,
            _ => {}
        }
        total
    };
    let none_score = |vector: &[f32]| -> f32 {
        phrase_vectors
            .iter()
            .zip(&owner)
            .filter(|(_, o)| o.is_none())
            .map(|(v, _)| dot(vector, v))
            .fold(f32::MIN, f32::max)
    };
    let mut scores: Vec<Vec<f32>> = units
        .iter()
        .zip(&vectors)
        .map(|(u, v)| (0..targets.len()).map(|t| score(u, v, t)).collect())
        .collect();
    let mut nones: Vec<f32> = vectors.iter().map(|v| none_score(v)).collect();

    // Split passages whose parts speak of different things.
    let mut split_units: Vec<Unit> = Vec::new();
    let mut new_passages: Vec<Passage> = Vec::new();
    let mut replaced: Vec<usize> = Vec::new();
    for (u, unit) in units.iter().enumerate() {
        let pieces = parts(&unit.body, unit.kinds.as_deref());
        if pieces.len() < 2 {
            continue;
        }
        let whole_best = argmax(&scores[u]);
        let heading = heading_of(&passages[unit.passage]);
        let piece_units: Vec<Unit> = pieces
            .iter()
            .map(|(body, kinds)| Unit {
                passage: unit.passage,
                text: model_text(&heading, body),
                body: body.clone(),
                lower: body.to_lowercase(),
                kinds: kinds.clone(),
            })
            .collect();
        let texts: Vec<&str> = piece_units.iter().map(|p| p.text.as_str()).collect();
        let piece_vectors = model.embedder.embed(&texts)?;
        let piece_scores: Vec<Vec<f32>> = piece_units
            .iter()
            .zip(&piece_vectors)
            .map(|(p, v)| (0..targets.len()).map(|t| score(p, v, t)).collect())
            .collect();
        let disagrees = piece_scores.iter().any(|s| {
            let best = argmax(s);
            best != whole_best && s[best] - s[whole_best] >= SPLIT_MARGIN
        });
        if !disagrees {
            continue;
        }
        // Neighbouring parts that suit the same subsection clearly best (by MERGE_MARGIN over
        // their second choice) speak of one thing: they stay together (a history told over
        // three paragraphs is one history, not three bids for one slot).
        let mut groups: Vec<(Unit, Vec<f32>, Vec<f32>)> = Vec::new();
        let mut merged = false;
        for ((piece, vector), piece_score) in
            piece_units.into_iter().zip(piece_vectors).zip(piece_scores)
        {
            if let Some((last, _, last_score)) = groups.last_mut() {
                let agree = argmax(last_score) == argmax(&piece_score)
                    && lead(last_score) >= MERGE_MARGIN
                    && lead(&piece_score) >= MERGE_MARGIN;
                if agree {
                    last.body.push('\n');
                    last.body.push_str(&piece.body);
                    last.lower = last.body.to_lowercase();
                    last.text = model_text(&heading, &last.body);
                    if let (Some(kinds), Some(more)) = (&mut last.kinds, &piece.kinds) {
                        kinds.extend(more);
                    }
                    merged = true;
                    continue;
                }
            }
            groups.push((piece, vector, piece_score));
        }
        if merged {
            // Merged groups are scored again as the text they now are.
            let texts: Vec<&str> = groups.iter().map(|(g, _, _)| g.text.as_str()).collect();
            let vectors = model.embedder.embed(&texts)?;
            for ((group, vector, group_score), fresh) in groups.iter_mut().zip(vectors) {
                *group_score = (0..targets.len())
                    .map(|t| score(group, &fresh, t))
                    .collect();
                *vector = fresh;
            }
        }
        if groups.len() < 2 {
            continue;
        }
        replaced.push(u);
        for (piece, vector, piece_score) in groups {
            let vector = &vector;
            new_passages.push(Passage {
                doc: passages[unit.passage].doc.clone(),
                headings: passages[unit.passage].headings.clone(),
                text: piece.body.clone(),
                chunk_ids: passages[unit.passage].chunk_ids.clone(),
                dangling: None,
                kinds: piece.kinds.clone(),
            });
            split_units.push(Unit {
                passage: passages.len() + new_passages.len() - 1,
                ..piece
            });
            scores.push(piece_score);
            nones.push(none_score(vector));
        }
    }
    units.extend(split_units);
    passages.extend(new_passages);
    let alive: Vec<bool> = (0..units.len()).map(|u| !replaced.contains(&u)).collect();

    // Which (unit, target) pairs may be chosen: above the floor, near the unit's best, and
    // only for units closer to some subsection than to front matter.
    let mut allowed: HashSet<(usize, usize)> = Default::default();
    // The front of a document: passages before the first one the headings placed or that
    // speaks clearly of some subsection.
    let front_end = (0..passages.len())
        .find(|p| {
            decided.get(*p).copied().unwrap_or(false)
                || units
                    .iter()
                    .zip(&scores)
                    .zip(&nones)
                    .any(|((u, row), none)| {
                        let best = row[argmax(row)];
                        u.passage == *p && best >= FRONT_CONFIDENT && best - none >= NONE_MARGIN
                    })
        })
        .unwrap_or(0);
    // A text subsection's strongest claimant: the best score among the units that suit it
    // best of all. A unit far below it does not take that subsection's one slot (the
    // claimant would be pushed to its second choice to make room for a weak passage).
    let mut claimants: Vec<Option<f32>> = vec![None; targets.len()];
    for (u, row) in scores.iter().enumerate() {
        if alive[u] {
            let t = argmax(row);
            claimants[t] = Some(claimants[t].map_or(row[t], |c: f32| c.max(row[t])));
        }
    }
    for (u, row) in scores.iter().enumerate() {
        if !alive[u] {
            continue;
        }
        let best = row[argmax(row)];
        // Front matter is expected at the front and rare after it.
        let margin = if units[u].passage < front_end {
            -FRONT_NONE_MARGIN
        } else {
            NONE_MARGIN
        };
        if best < MIN_SCORE || nones[u] >= best + margin {
            continue;
        }
        for (t, s) in row.iter().enumerate() {
            let far_below_claimant = targets[t].target.field_type == FieldType::Text
                && claimants[t].is_some_and(|claim| *s < claim - CLAIMANT_MARGIN);
            if *s >= MIN_SCORE && *s >= best - SECOND_CHOICE_MARGIN && !far_below_claimant {
                allowed.insert((u, t));
            }
        }
    }
    // Slots: one per text subsection, LIST_CAPACITY per list subsection, minus what the
    // headings already gave them; then one "left out" slot per unit (weight 0).
    // A slot beyond a subsection's first (a list's second passage) costs
    // [`FURTHER_SLOT_COST`]: an empty subsection is filled before a list grows.
    let mut slots: Vec<usize> = Vec::new();
    let mut further: Vec<bool> = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        let held = cascade
            .iter()
            .filter(|a| a.decisive && a.target == t && decided[a.passage])
            .count();
        let capacity = match target.target.field_type {
            FieldType::Text => 1,
            FieldType::Array | FieldType::RichArray => LIST_CAPACITY,
        };
        for slot in held..capacity {
            slots.push(t);
            further.push(slot > 0);
        }
    }
    let candidates: Vec<usize> = (0..units.len()).filter(|u| alive[*u]).collect();
    let chapters = chapters(passages);
    let homes = list_homes(
        targets,
        cascade,
        &decided,
        &candidates,
        &units,
        &scores,
        &chapters,
    );
    let columns = slots.len() + candidates.len();
    let mut out: Vec<Assignment> = Vec::new();
    // Twice at most: a passage the first round gave to a text subsection while two or more of
    // its siblings went to one list it nearly suits as well (a situation that reads like a
    // belief, among situations) is held to that list in the second.
    for round in 0..2 {
        let mut weights = pathfinding::matrix::Matrix::new(candidates.len(), columns, FORBIDDEN);
        for (row, u) in candidates.iter().enumerate() {
            weights[(row, slots.len() + row)] = 0;
            for (column, t) in slots.iter().enumerate() {
                if allowed.contains(&(*u, *t)) {
                    // Gain over leaving the unit out, in millionths.
                    let elsewhere = homes[*t]
                        .as_ref()
                        .is_some_and(|home| *home != chapters[units[*u].passage]);
                    let cost = match (further[column], elsewhere) {
                        (false, false) => 0.0,
                        (true, false) => FURTHER_SLOT_COST,
                        (false, true) => ELSEWHERE_COST - FURTHER_SLOT_COST,
                        (true, true) => ELSEWHERE_COST,
                    };
                    weights[(row, column)] =
                        ((scores[*u][*t] - MIN_SCORE - cost) * 1e6).round() as i64;
                }
            }
        }
        out.clear();
        if candidates.is_empty() {
            break;
        }
        let (_, chosen) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
        for (row, column) in chosen.into_iter().enumerate() {
            let Some(t) = slots.get(column).copied() else {
                continue;
            };
            let u = candidates[row];
            let sub: Vec<String> = passages[units[u].passage]
                .headings
                .last()
                .cloned()
                .into_iter()
                .collect();
            out.push(Assignment {
                target: t,
                passage: units[u].passage,
                sub,
                decisive: false,
            });
        }
        if round > 0 {
            break;
        }
        // The siblings a list holds once left-out siblings have joined it.
        let mut provisional = out.clone();
        let evidence = (units.as_slice(), scores.as_slice(), nones.as_slice());
        join_siblings(
            &mut provisional,
            targets,
            passages,
            evidence,
            &candidates,
            &chapters,
        );
        let unit_of: HashMap<usize, usize> =
            candidates.iter().map(|u| (units[*u].passage, *u)).collect();
        let placed: Vec<(usize, usize)> = provisional
            .iter()
            .filter_map(|a| unit_of.get(&a.passage).map(|u| (*u, a.target)))
            .collect();
        let defectors = sibling_defectors(&placed, targets, passages, &units, &scores, &chapters);
        if defectors.is_empty() {
            break;
        }
        for (u, list) in defectors {
            allowed.retain(|(v, t)| *v != u || *t == list);
        }
    }
    if !candidates.is_empty() {
        let evidence = (units.as_slice(), scores.as_slice(), nones.as_slice());
        join_siblings(
            &mut out,
            targets,
            passages,
            evidence,
            &candidates,
            &chapters,
        );
    }
    Ok(out)
}

/// Whether passages `a` and `b` are sibling sections of one chapter: the same headings above,
/// each its own last heading (not chapters of one book, which all stand under its title).
fn siblings(passages: &[Passage], chapters: &[&[String]], a: usize, b: usize) -> bool {
    let (pa, pb) = (&passages[a], &passages[b]);
    pa.doc == pb.doc
        && pa.headings.len() > chapters[a].len()
        && pa.headings.len() == pb.headings.len()
        && pa.headings[..pa.headings.len() - 1] == pb.headings[..pb.headings.len() - 1]
        && pa.headings.last() != pb.headings.last()
}

/// Units the assignment `placed` ((unit, target) pairs) gave to a text subsection while at
/// least two of their siblings went to one list subsection that suits them within
/// [`SIBLING_MARGIN`] of their best: (unit, that list).
fn sibling_defectors(
    placed: &[(usize, usize)],
    targets: &[Target<'_>],
    passages: &[Passage],
    units: &[Unit],
    scores: &[Vec<f32>],
    chapters: &[&[String]],
) -> Vec<(usize, usize)> {
    let is_list = |t: usize| {
        matches!(
            targets[t].target.field_type,
            FieldType::Array | FieldType::RichArray
        )
    };
    let mut out = Vec::new();
    for (u, t) in placed {
        if is_list(*t) {
            continue;
        }
        let row = &scores[*u];
        let best = row[argmax(row)];
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for (v, list) in placed {
            if is_list(*list) && siblings(passages, chapters, units[*u].passage, units[*v].passage)
            {
                *counts.entry(*list).or_insert(0) += 1;
            }
        }
        let mut lists: Vec<(usize, usize)> = counts.into_iter().collect();
        lists.sort_unstable();
        if let Some((list, _)) = lists
            .into_iter()
            .find(|(list, count)| *count >= 2 && row[*list] >= best - SIBLING_MARGIN)
        {
            out.push((*u, list));
        }
    }
    out
}

/// Sibling passages join their list: a unit left out whose passage is a sibling of one a list
/// subsection took (the same headings above, its own last heading: four situations under
/// "When things go wrong") joins that list when it suits it within [`SIBLING_MARGIN`] of its
/// own best subsection (and closer to some subsection than to front matter, as every placed
/// unit must be). A list's slots ([`LIST_CAPACITY`]) are for passages that compete; the
/// situations of one chapter are one list's items, however many there are. Likewise a text
/// subsection takes a left-out passage nested in (or around) the one it took, below chapter
/// level, when that passage suits it best of all.
fn join_siblings(
    out: &mut Vec<Assignment>,
    targets: &[Target<'_>],
    passages: &[Passage],
    (units, scores, nones): (&[Unit], &[Vec<f32>], &[f32]),
    candidates: &[usize],
    chapters: &[&[String]],
) {
    let siblings = |a: usize, b: usize| siblings(passages, chapters, a, b);
    let nested = |a_index: usize, b_index: usize| {
        let (a, b) = (&passages[a_index], &passages[b_index]);
        let (outer, inner) = if a.headings.len() < b.headings.len() {
            (a, b)
        } else {
            (b, a)
        };
        a.doc == b.doc
            && outer.headings.len() > chapters[a_index].len().min(chapters[b_index].len())
            && inner.headings.len() > outer.headings.len()
            && inner.headings.starts_with(&outer.headings)
    };
    let mut joined = Vec::new();
    for u in candidates {
        let passage = &passages[units[*u].passage];
        if out.iter().any(|a| a.passage == units[*u].passage) {
            continue;
        }
        let row = &scores[*u];
        let best = row[argmax(row)];
        if nones[*u] >= best + NONE_MARGIN {
            continue;
        }
        let home = out.iter().find(|a| {
            let list = matches!(
                targets[a.target].target.field_type,
                FieldType::Array | FieldType::RichArray
            );
            let joins = if list {
                siblings(a.passage, units[*u].passage) && row[a.target] >= best - SIBLING_MARGIN
            } else {
                // A text subsection takes the rest of its topic: a passage nested in the
                // one it took, or the one it is nested in, that suits it best of all (a
                // history's opening paragraph above its "Milestones").
                nested(a.passage, units[*u].passage) && argmax(row) == a.target
            };
            joins && row[a.target] >= MIN_SCORE
        });
        if let Some(home) = home {
            joined.push(Assignment {
                target: home.target,
                passage: units[*u].passage,
                sub: passage.headings.last().cloned().into_iter().collect(),
                decisive: false,
            });
        }
    }
    out.extend(joined);
}

/// Whether each passage is the page furniture a DOCX's headers and footers hold (a book's
/// title, an edition line), which the extractor keeps at the end of the document under its
/// own headings ([`crate::extract::PAGE_FURNITURE_HEADINGS`]): readable text, not content.
fn page_furniture(passages: &[Passage]) -> Vec<bool> {
    let marked = |p: &Passage| {
        p.headings
            .last()
            .is_some_and(|h| crate::extract::PAGE_FURNITURE_HEADINGS.contains(&h.as_str()))
    };
    let mut furniture = vec![false; passages.len()];
    // From the end of each document back to its last passage of content.
    let mut content_after: std::collections::HashSet<&str> = Default::default();
    for (index, passage) in passages.iter().enumerate().rev() {
        if marked(passage) && !content_after.contains(passage.doc.as_str()) {
            furniture[index] = true;
        } else {
            content_after.insert(passage.doc.as_str());
        }
    }
    furniture
}

/// Each passage's chapter: its headings down to one level below what every passage of its
/// document shares (a book's title), so sections of one chapter share it.
fn chapters(passages: &[Passage]) -> Vec<&[String]> {
    let roots = shared_roots(passages, &[]);
    passages
        .iter()
        .map(|p| {
            let root = roots.get(p.doc.as_str()).copied().unwrap_or(0);
            &p.headings[..p.headings.len().min(root + 1)]
        })
        .collect()
}

/// How many leading headings all passages of each document share (its title, if any),
/// leaving out those `skip` marks (page furniture, which stands outside the title).
fn shared_roots<'a>(passages: &'a [Passage], skip: &[bool]) -> HashMap<&'a str, usize> {
    let mut shared: HashMap<&str, &[String]> = HashMap::new();
    let kept = passages
        .iter()
        .enumerate()
        .filter(|(index, _)| !skip.get(*index).copied().unwrap_or(false))
        .map(|(_, p)| p);
    for passage in kept.filter(|p| !p.headings.is_empty()) {
        let common = shared
            .entry(passage.doc.as_str())
            .or_insert(passage.headings.as_slice());
        let same = common
            .iter()
            .zip(&passage.headings)
            .take_while(|(a, b)| a == b)
            .count();
        *common = &common[..same];
    }
    shared
        .into_iter()
        .map(|(doc, common)| (doc, common.len()))
        .collect()
}

/// Each list subsection's own chapter: that of a passage the headings gave it, else that of
/// the unit scoring best for it among those that suit it best; `None` for text subsections
/// and lists nothing suits.
fn list_homes<'a>(
    targets: &[super::scoring::Target<'_>],
    cascade: &[Assignment],
    decided: &[bool],
    candidates: &[usize],
    units: &[Unit],
    scores: &[Vec<f32>],
    chapters: &[&'a [String]],
) -> Vec<Option<&'a [String]>> {
    let best: Vec<usize> = candidates.iter().map(|u| argmax(&scores[*u])).collect();
    (0..targets.len())
        .map(|t| {
            if targets[t].target.field_type == FieldType::Text {
                return None;
            }
            if let Some(held) = cascade
                .iter()
                .find(|a| a.decisive && a.target == t && decided[a.passage])
            {
                return Some(chapters[held.passage]);
            }
            candidates
                .iter()
                .zip(&best)
                .filter(|(_, best)| **best == t)
                .map(|(u, _)| u)
                .max_by(|a, b| scores[**a][t].total_cmp(&scores[**b][t]).then(b.cmp(a)))
                .map(|u| chapters[units[*u].passage])
        })
        .collect()
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_parse_and_name_catalogue_subsections() {
        let parsed: Descriptors =
            serde_json::from_str(include_str!("descriptors.json")).expect("descriptors.json");
        assert!(!parsed.none.is_empty());
        let names: Vec<&str> = brandstream_domain::brand::CATALOGUE
            .iter()
            .flat_map(|s| s.subsections.iter().map(|f| f.name))
            .collect();
        for name in parsed.subsections.keys() {
            assert!(
                names.contains(&name.as_str()),
                "{name} is not in the catalogue"
            );
        }
        for name in names {
            assert!(
                parsed.subsections.contains_key(name),
                "{name} has no descriptor"
            );
        }
    }

    fn passage(doc: &str, headings: &[&str], text: &str) -> Passage {
        Passage {
            doc: doc.into(),
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
            text: text.into(),
            chunk_ids: Vec::new(),
            dangling: None,
            kinds: None,
        }
    }

    #[test]
    fn a_motto_is_one_short_line_alone_or_after_its_lead_in() {
        assert!(one_line("Built for weather, made to last."));
        assert!(one_line(
            "The line below is stamped inside every frame.\nBuilt once. Ridden for life."
        ));
        // Two sentences of prose, numbers, or a long second line are not mottos.
        assert!(!one_line(
            "We write plainly.\nWe never use jargon, and we explain every term we have to use."
        ));
        assert!(!one_line("Print | 20 mm"));
        let long_lead = format!("{}\nBuilt once. Ridden for life.", "word ".repeat(30));
        assert!(!one_line(&long_lead));
    }

    #[test]
    fn the_short_text_under_a_title_before_its_first_chapter_is_a_title_page() {
        let passages = [
            passage("a", &["Guide"], "Issue 3, Spring 2025\nOwner: the studio"),
            passage("a", &["Guide", "Our colours"], "Teal and sand."),
            passage("a", &["Guide"], "A note at the end."),
            // A document without chapters is all content; so is a long opening.
            passage("b", &["Note"], "Just a short note."),
            passage("c", &["Book"], &"word ".repeat(TITLE_PAGE_WORDS + 1)),
            passage("c", &["Book", "Voice"], "Warm."),
        ];
        assert_eq!(
            title_pages(&passages, &[false; 6]),
            [true, false, false, false, false, false]
        );
        // Before a contents page, short text is front matter whatever its headings.
        let passages = [
            passage("a", &[], "Quenby Garden"),
            passage("a", &["Garden Notes"], "Issue 3, Spring 2025"),
            passage(
                "a",
                &["Contents"],
                "1. Hello . . . . 3\n2. Colours . . . . 5\n3. Voice . . . . 7",
            ),
            passage("a", &["1. Hello"], "Short welcome."),
        ];
        assert_eq!(
            title_pages(&passages, &[false, false, true, false]),
            [true, true, false, false]
        );
    }

    #[test]
    fn a_list_closing_its_document_as_a_chapter_of_its_own_is_a_closing_list() {
        let list = "Check:\n1. Names are right.\n2. Prices are current.\n3. Photos have consent.";
        let passages = [
            passage("a", &["Guide", "Our colours"], list),
            passage("a", &["Guide", "Last look"], list),
            passage("a", &["Headers"], "Guide"),
            // The last section of a chapter is not a chapter of its own.
            passage("b", &["Guide", "People", "Why join"], list),
            // Two items are no list of checks.
            passage("c", &["Guide", "Last look"], "1. Names.\n2. Prices."),
        ];
        let furniture = [false, false, true, false, false];
        assert_eq!(
            closing_lists(&passages, &furniture),
            [false, true, false, false, false]
        );
    }

    #[test]
    fn a_list_of_the_documents_own_headings_is_a_contents_page() {
        let passages = [
            passage(
                "a",
                &["Guide", "Contents"],
                "1. Hello, reader\n2. Our colours\n3. How we sound 7",
            ),
            passage("a", &["Guide", "Hello, reader"], "Welcome."),
            passage("a", &["Guide", "Our colours"], "Teal\nSand\nInk"),
            passage("a", &["Guide", "How we sound"], "Warm and plain."),
            // Another document's headings do not count.
            passage(
                "b",
                &["Other", "List"],
                "1. Hello, reader\n2. Our colours\n3. How we sound",
            ),
        ];
        assert_eq!(
            contents_pages(&passages),
            [true, false, false, false, false]
        );
    }

    #[test]
    fn a_chapter_is_one_level_below_what_a_document_shares() {
        let passages = [
            passage("a", &["Guide", "Pictures", "Shot list"], "x"),
            passage("a", &["Guide", "Pictures", "Mood"], "x"),
            passage("a", &["Guide", "People", "Faces"], "x"),
            passage("a", &["Guide", "Checklist"], "x"),
            // Another document without a title heading: its chapters are its top headings.
            passage("b", &["Voice", "Scenarios"], "x"),
            passage("b", &["Beliefs"], "x"),
        ];
        let chapters = chapters(&passages);
        assert_eq!(chapters[0], chapters[1]);
        assert_ne!(chapters[0], chapters[2]);
        assert_eq!(chapters[3], ["Guide", "Checklist"]);
        assert_eq!(chapters[4], ["Voice"]);
        assert_eq!(chapters[5], ["Beliefs"]);
    }

    #[test]
    fn docx_headers_and_footers_at_the_end_are_page_furniture() {
        let passages = [
            passage("a", &["Guide", "Headers"], "A chapter about page headers."),
            passage("a", &["Guide", "History"], "Founded in 1901."),
            passage("a", &["Guide", "Headers"], "Guide, second edition"),
            passage("a", &["Guide", "Footers"], "Page"),
            passage("b", &["Footers"], "Other book"),
        ];
        assert_eq!(page_furniture(&passages), [false, false, true, true, true]);
    }

    #[test]
    fn labelled_lists_of_opposite_polarity_are_a_do_and_dont_pair() {
        let opposed = "Yes please:\nSay when it is free.\nNo thank you:\nShushing pictures.";
        assert_eq!(paired_lists(opposed), Some(true));
        let curly = "Always:\nName the place.\nDon\u{2019}t:\nBlame anyone.";
        assert_eq!(paired_lists(curly), Some(true));
        let skip = "Try it:\nGuess first.\nSkip it:\nCall it magic.";
        assert_eq!(paired_lists(skip), Some(true));
        let sizes = "Print:\n28 mm wide.\nScreen:\n120 px wide.";
        assert_eq!(paired_lists(sizes), Some(false));
        // A label that merely starts with the letters of a negative word is not negative.
        let notes = "Notes:\nPrinted twice a year.\nNovelties:\nA new map.";
        assert_eq!(paired_lists(notes), Some(false));
        assert_eq!(paired_lists("Do:\nSmile."), None);
        // The columns of a table headed by two short labels are the same pair; column titles
        // that open clauses (beliefs and what they give) head statements, not lists.
        let table = "Go for it | Never\nName the place | Blame anyone\nSmile | Shout";
        assert_eq!(paired_lists(table), Some(true));
        let labels = "Fresh | Gone sour\nName the place | Blame anyone\nSmile | Shout";
        assert_eq!(paired_lists(labels), Some(false));
        let beliefs = "We believe that | Which is why\nPools matter | We teach\nFair | Cheap";
        assert_eq!(paired_lists(beliefs), None);
        // A table of sizes has longer headers or more columns; two rows are no table.
        let sizes = "Where it goes | Smallest | Space\nPrint | 20 mm | 4 mm\nWeb | 88 px | 8 px";
        assert_eq!(paired_lists(sizes), None);
        assert_eq!(paired_lists("Do | Don't\nSmile | Shout"), None);
    }

    #[test]
    fn parts_keep_lists_with_their_lead_in() {
        let text = "Our welcome pack for new customers is a sturdy folder of six printed cards that always run in the same order, whichever shop hands it over, and the order is this:\n1. Front\n2. Map\nEvery card in the pack is printed on recycled board with type that is never smaller than ten points, so that it stays readable for everyone who opens it.";
        let got = parts(text, None);
        assert_eq!(got.len(), 2);
        assert!(got[0].0.ends_with("2. Map"));
    }
}
