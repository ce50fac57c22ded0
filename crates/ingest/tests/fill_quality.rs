//! Quality of the section filler on the sample brand guidelines: every brand in every format
//! must place at least 90 % of the expected facts into the right subsection.
//!
//! Run with `cargo test -p brandstream-ingest --test fill_quality -- --nocapture` to see the
//! figures and the missed facts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use brandstream_domain::brand::{FieldType, GLOSSARY_SECTION};
use brandstream_ingest::extract::{docx, html, markdown, pdf};
use brandstream_ingest::{
    chunk_document, fill_fields, glossary_terms, ChunkSettings, Extracted, FieldTarget, Filled,
    GlossaryTerm, KnowledgeChunk,
};
use serde_json::Value;

const BRANDS: &[&str] = &["northwind-coffee-roasters", "tidewater-outdoor-gear"];
const FORMATS: &[&str] = &["pdf", "docx", "html", "md"];
const REQUIRED: f64 = 90.0;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples")
}

fn collapse(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn extract(format: &str, bytes: &[u8]) -> Extracted {
    match format {
        "pdf" => pdf::extract_pdf(bytes),
        "docx" => docx::extract_docx(bytes, 200 * 1024 * 1024),
        "html" => html::extract_html(bytes),
        _ => markdown::extract_markdown(bytes),
    }
    .unwrap_or_else(|error| panic!("{format}: {error}"))
}

/// The text a fact is checked against: a text value, or all entries' name, tags and
/// restrictions.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(entries) => {
            let mut parts: Vec<String> = Vec::new();
            for entry in entries {
                for key in ["name", "term", "restrictions"] {
                    if let Some(text) = entry.get(key).and_then(Value::as_str) {
                        parts.push(text.to_owned());
                    }
                }
                if let Some(tags) = entry.get("tags").and_then(Value::as_array) {
                    parts.extend(tags.iter().filter_map(Value::as_str).map(str::to_owned));
                }
            }
            parts.join(" ")
        }
        _ => String::new(),
    }
}

fn check_shapes(targets: &[FieldTarget], filled: &[Filled]) {
    for f in filled {
        let target = targets.iter().find(|t| t.id == f.field_id).unwrap();
        match target.field_type {
            FieldType::Text => assert!(f.value.as_str().is_some_and(|s| !s.is_empty())),
            FieldType::Array => {
                for entry in f.value.as_array().unwrap() {
                    assert!(entry["name"].as_str().is_some_and(|s| !s.is_empty()));
                }
            }
            FieldType::RichArray => {
                for entry in f.value.as_array().unwrap() {
                    assert!(entry["name"].as_str().is_some());
                    assert!(entry["tags"].as_array().is_some());
                    assert!(entry["restrictions"].as_str().is_some());
                }
            }
        }
        assert!(!f.chunk_ids.is_empty(), "{}", f.field_id);
    }
}

struct Score {
    found: usize,
    total: usize,
    missed: Vec<String>,
}

fn score(
    expected: &Value,
    targets: &[FieldTarget],
    filled: &[Filled],
    glossary: &[GlossaryTerm],
) -> Score {
    let facts = expected["facts"].as_array().unwrap();
    let mut found = 0;
    let mut missed = Vec::new();
    for fact in facts {
        let section = fact["section"].as_str().unwrap();
        let subsection = fact["subsection"].as_str().unwrap();
        let must: Vec<&str> = fact["must_contain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        let haystack = if section == GLOSSARY_SECTION {
            glossary
                .iter()
                .find(|term| collapse(&term.term) == collapse(subsection))
                .map(|term| {
                    term.translations
                        .iter()
                        .map(|(text, _)| text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
        } else {
            targets
                .iter()
                .find(|t| t.section == section && t.name == subsection)
                .and_then(|t| filled.iter().find(|f| f.field_id == t.id))
                .map(|f| value_text(&f.value))
        };
        let haystack = collapse(&haystack.unwrap_or_default());
        let missing: Vec<&str> = must
            .iter()
            .copied()
            .filter(|m| !haystack.contains(&collapse(m)))
            .collect();
        if missing.is_empty() {
            found += 1;
        } else {
            missed.push(format!("{section} / {subsection}: missing {missing:?}"));
        }
    }
    Score {
        found,
        total: facts.len(),
        missed,
    }
}

#[test]
fn sample_facts_land_in_their_subsections() {
    let dir = samples();
    if !dir.join(format!("{}.expected.json", BRANDS[0])).exists() {
        eprintln!("skipped: samples not found at {}", dir.display());
        return;
    }
    let targets = FieldTarget::catalogue();
    let mut failures = Vec::new();
    for brand in BRANDS {
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{brand}.expected.json"))).unwrap(),
        )
        .unwrap();
        for format in FORMATS {
            let bytes = std::fs::read(dir.join(format!("{brand}.{format}"))).unwrap();
            let document = extract(format, &bytes);
            let document_id = format!("{brand}.{format}");
            let chunks: Vec<KnowledgeChunk> = chunk_document(&document, ChunkSettings::default())
                .iter()
                .map(|chunk| {
                    KnowledgeChunk::from_chunk(
                        &document_id,
                        format!("{document_id}#{}", chunk.ordinal),
                        chunk,
                    )
                })
                .collect();
            let filled = fill_fields(&targets, &chunks);
            let glossary = glossary_terms(&chunks);
            check_shapes(&targets, &filled);
            let result = score(&expected, &targets, &filled, &glossary);
            let percent = 100.0 * result.found as f64 / result.total as f64;
            eprintln!(
                "{brand}.{format}: {}/{} facts ({percent:.1} %), {} fields filled, {} glossary terms",
                result.found,
                result.total,
                filled.len(),
                glossary.len()
            );
            for miss in &result.missed {
                eprintln!("    missed {miss}");
            }
            if std::env::var_os("FILL_DUMP").is_some() {
                for f in &filled {
                    eprintln!("  [{}] {}", f.field_id, f.value);
                }
                for g in &glossary {
                    eprintln!("  glossary {:?} {:?}", g.term, g.translations);
                }
            }
            if percent < REQUIRED {
                failures.push(format!("{brand}.{format}: {percent:.1} %"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "below {REQUIRED} %: {}",
        failures.join(", ")
    );
}
