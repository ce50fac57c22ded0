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
//!
//! The parts, in the order a fill uses them:
//!
//! - `passages`: chunks re-assembled into passages, and headings a PDF left dangling;
//! - `words`, `lexicon`: tokens, stems and word similarity, and the word lists (stop words,
//!   synonym groups, topic cues) they draw on;
//! - `scoring`: how well a heading or a passage fits a subsection;
//! - `assign`: the heading cascade that gives each passage to at most one subsection;
//! - `semantic`: the same decision by meaning, when a model is given;
//! - `sentences`, `tables`, `items`: a passage's text cut into sentences, list items and table
//!   rows;
//! - `values`: the value built for each field type;
//! - `glossary`: glossary terms from tables whose header names languages.

mod assign;
mod glossary;
mod items;
mod lexicon;
mod passages;
mod scoring;
mod semantic;
mod sentences;
mod tables;
mod values;
mod words;

use std::collections::HashMap;

pub use glossary::glossary_terms;
pub use semantic::{MeaningModel, SentenceEmbedder};

use brandstream_domain::brand::{FieldType, CATALOGUE, GLOSSARY_SECTION};
use serde_json::{json, Value};

use assign::{attribute, Assignment};
use passages::{build_passages, strip_dangling, Passage};
use scoring::Matcher;
use values::{array_value, rich_value, text_value};
use words::key;

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
    /// Where its extracted blocks lie in `text` ([`crate::Chunk::blocks`]); `None` for chunks
    /// stored before layouts were kept, whose structure the filler recovers from the text.
    pub blocks: Option<Vec<crate::ChunkBlock>>,
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
            blocks: Some(chunk.blocks.clone()),
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
        // A heading with no text of its own (the chunker keeps it as a chunk of its own) heads
        // what follows it, as a heading a PDF left at the foot of a page does: in a book whose
        // headings are all at one level, "Tone scenarios" heads the situations after it.
        if passage
            .headings
            .last()
            .is_some_and(|h| key(h) == key(&passage.text))
        {
            passage.dangling = passage.headings.last().cloned();
            passage.clear_text();
        } else {
            strip_dangling(passage, &names);
        }
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

/// Helpers shared by the modules' tests.
#[cfg(test)]
mod test_support {
    use super::*;

    /// A chunk of document "doc" on page 1.
    pub(super) fn chunk(id: &str, headings: &[&str], text: &str) -> KnowledgeChunk {
        KnowledgeChunk {
            id: id.into(),
            document_id: "doc".into(),
            text: text.into(),
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
            page_start: 1,
            page_end: 1,
            blocks: None,
        }
    }

    /// The value filled for `id`, if any.
    pub(super) fn value_of<'a>(filled: &'a [Filled], id: &str) -> Option<&'a Value> {
        filled.iter().find(|f| f.field_id == id).map(|f| &f.value)
    }

    /// The entry names of an array value.
    pub(super) fn names(value: &Value) -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    }
}
