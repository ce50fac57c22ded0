//! Quality of the section filler on the sample brand guidelines: the share of each brand's
//! expected facts placed in the right subsection, per file, with the headings alone and (when
//! `BRANDSTREAM_TEST_MODEL_DIR` names a model) by meaning. Each must stay at or above its
//! floor in [`FLOORS`].
//!
//! Run with `cargo test -p brandstream-ingest --test fill_quality -- --nocapture` to see the
//! figures; `FILL_MISSES=1` lists the missed facts, `FILL_ONLY=brand.format` runs one file.
//! `FILL_SAMPLES=DIR` scores the books of another directory laid out like `../shared/samples`
//! (`<brand>.expected.json` with `<brand>.pdf|docx|html|md`, e.g. held-out brands or edited
//! copies of the samples): every brand there is scored, and only the known ones have floors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use brandstream_domain::brand::{FieldType, GLOSSARY_SECTION};
use brandstream_ingest::extract::{docx, html, markdown, pdf};
use brandstream_ingest::{
    chunk_document, fill_fields_with, glossary_terms, ChunkSettings, Extracted, FieldTarget,
    Filled, GlossaryTerm, KnowledgeChunk, MeaningModel, SentenceEmbedder,
};
use serde_json::Value;

const BRANDS: &[&str] = &[
    "northwind-coffee-roasters",
    "tidewater-outdoor-gear",
    "fennick-valley-rail",
    "thistlebrook-libraries",
];
const FORMATS: &[&str] = &["pdf", "docx", "html", "md"];

fn samples() -> PathBuf {
    match std::env::var_os("FILL_SAMPLES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples"),
    }
}

/// The brands to score: the samples', or those `FILL_SAMPLES` holds (sorted).
fn brands() -> Vec<String> {
    if std::env::var_os("FILL_SAMPLES").is_none() {
        return BRANDS.iter().map(|b| (*b).to_owned()).collect();
    }
    let mut found: Vec<String> = std::fs::read_dir(samples())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".expected.json").map(str::to_owned)
        })
        .collect();
    found.sort();
    found
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

struct Model(brandstream_embed::Embedder);

impl SentenceEmbedder for Model {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        self.0
            .embed_batched(texts, 16)
            .map_err(|error| error.to_string())
    }
}

/// The model from `BRANDSTREAM_TEST_MODEL_DIR` (see `.ci/run`), if any.
fn meaning_model() -> Option<MeaningModel> {
    match std::env::var_os("BRANDSTREAM_TEST_MODEL_DIR") {
        Some(dir) => {
            let embedder = brandstream_embed::Embedder::load(Path::new(&dir)).unwrap();
            Some(MeaningModel::new(Box::new(Model(embedder))))
        }
        None if std::env::var_os("BRANDSTREAM_REQUIRE_MODEL").is_some() => {
            panic!("BRANDSTREAM_REQUIRE_MODEL is set but BRANDSTREAM_TEST_MODEL_DIR is not")
        }
        None => {
            eprintln!("semantic filling skipped: BRANDSTREAM_TEST_MODEL_DIR is not set");
            None
        }
    }
}

/// Fills the catalogue from one sample file and scores it; prints the figure (and with
/// `FILL_DUMP` the values).
fn fill_sample(brand: &str, format: &str, meaning: Option<&MeaningModel>) -> f64 {
    let bytes = std::fs::read(samples().join(format!("{brand}.{format}"))).unwrap();
    fill_bytes(&samples(), brand, format, format, &bytes, meaning)
}

/// Fills the catalogue from `bytes` (a `format` file of `brand`, shown as `name`) and scores it
/// against the brand's expected facts (`dir/<brand>.expected.json`).
fn fill_bytes(
    dir: &Path,
    brand: &str,
    name: &str,
    format: &str,
    bytes: &[u8],
    meaning: Option<&MeaningModel>,
) -> f64 {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{brand}.expected.json"))).unwrap())
            .unwrap();
    let targets = FieldTarget::catalogue();
    let document = extract(format, bytes);
    let document_id = format!("{brand}.{name}");
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
    let (filled, error) = fill_fields_with(&targets, &chunks, meaning);
    assert!(error.is_none(), "{error:?}");
    let glossary = glossary_terms(&chunks);
    check_shapes(&targets, &filled);
    let result = score(&expected, &targets, &filled, &glossary);
    let percent = 100.0 * result.found as f64 / result.total as f64;
    let mode = if meaning.is_some() {
        "meaning"
    } else {
        "headings"
    };
    eprintln!(
        "{mode:>8} {brand}.{name}: {}/{} facts ({percent:.1} %), {} fields filled, {} glossary terms",
        result.found,
        result.total,
        filled.len(),
        glossary.len()
    );
    if std::env::var_os("FILL_MISSES").is_some() {
        for miss in &result.missed {
            eprintln!("    missed {miss}");
        }
    }
    if std::env::var_os("FILL_DUMP").is_some() {
        for f in &filled {
            eprintln!("  [{}] {}", f.field_id, f.value);
        }
    }
    percent
}

/// The least share of facts (in %) each brand must keep, per file: with the headings alone,
/// and with filling by meaning (the model). The first two brands, whose headings follow the
/// catalogue, keep everything either way. The last two are written like real brand books;
/// their floors are the lowest figures measured over their four files (issue 14's target is
/// 90 %), so a change can only raise them.
const FLOORS: &[(&str, f64, f64)] = &[
    ("northwind-coffee-roasters", 100.0, 100.0),
    ("tidewater-outdoor-gear", 100.0, 100.0),
    ("fennick-valley-rail", 35.0, 100.0),
    ("thistlebrook-libraries", 34.0, 94.0),
];

#[test]
fn sample_facts_land_in_their_subsections() {
    let brands = brands();
    if brands.is_empty()
        || !samples()
            .join(format!("{}.expected.json", brands[0]))
            .exists()
    {
        brandstream_domain::testing::skip(
            "shared",
            &format!("samples not found at {}", samples().display()),
        );
        return;
    }
    let meaning = meaning_model();
    let mut failures = Vec::new();
    for brand in &brands {
        for format in FORMATS {
            // FILL_ONLY=brand.format runs one file (while tuning).
            if std::env::var("FILL_ONLY").is_ok_and(|only| only != format!("{brand}.{format}")) {
                continue;
            }
            if !samples().join(format!("{brand}.{format}")).exists() {
                continue;
            }
            // Brands of another directory (FILL_SAMPLES) are scored, not held to a floor.
            let (headings_floor, meaning_floor) = FLOORS
                .iter()
                .find(|(b, _, _)| b == brand)
                .map_or((0.0, 0.0), |(_, h, m)| (*h, *m));
            let percent = fill_sample(brand, format, None);
            if percent < headings_floor {
                failures.push(format!(
                    "headings only, {brand}.{format}: {percent:.1} % < {headings_floor} %"
                ));
            }
            if let Some(model) = &meaning {
                let percent = fill_sample(brand, format, Some(model));
                if percent < meaning_floor {
                    failures.push(format!(
                        "by meaning, {brand}.{format}: {percent:.1} % < {meaning_floor} %"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Books in the samples' format written by someone who had not seen the filler's rules
/// (`testdata/brands` at the repository root, see its README), with the least share of facts
/// (in %) each keeps in every format, headings only and by meaning: the figures measured when
/// they arrived, after the fixes they prompted, so a change can only raise them.
const WRITTEN_APART: &[(&str, f64, f64)] = &[
    ("brackenholt-credit-union", 32.0, 92.0),
    ("whirligig-science-house", 32.0, 89.0),
    ("pennacott-farm-dairy", 47.0, 89.0),
    ("kestrelford-pools-leisure", 34.0, 87.0),
    ("tarrow-cycle-works", 34.0, 87.0),
    ("quenby-botanic-garden", 34.0, 82.0),
    ("corvenna-chamber-orchestra", 32.0, 75.0),
    ("ferrisford-recycles", 32.0, 60.0),
];

#[test]
fn books_written_apart_keep_their_floors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/brands");
    let meaning = meaning_model();
    let mut failures = Vec::new();
    for (brand, headings_floor, meaning_floor) in WRITTEN_APART {
        for format in FORMATS {
            let bytes = std::fs::read(dir.join(format!("{brand}.{format}"))).unwrap();
            let percent = fill_bytes(&dir, brand, format, format, &bytes, None);
            if percent < *headings_floor {
                failures.push(format!("headings only, {brand}.{format}: {percent:.1} %"));
            }
            if let Some(model) = &meaning {
                let percent = fill_bytes(&dir, brand, format, format, &bytes, Some(model));
                if percent < *meaning_floor {
                    failures.push(format!("by meaning, {brand}.{format}: {percent:.1} %"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A book of invented chapters, none named like a catalogue subsection.
const CUSTOM_BOOK: &str = "# Field Notes\n\n\
## Lighter footsteps\n\n\
By 2028 every one of our shops will run on renewable electricity, our delivery vans will be \
electric and nothing we sell will come in single-use plastic. We publish our carbon footprint \
every spring and have it checked by an independent auditor.\n\n\
## Where we started\n\n\
The first shop opened in 1994 above a bicycle repair workshop. Ten years later there were \
twelve, and in 2015 the founders handed the business to its employees.\n\n\
## How we speak\n\n\
We sound like a friend who happens to know a lot: relaxed, precise and never smug. We use short \
sentences and everyday words.\n";

/// A subsection a user added (name and intent of their own) is filled by meaning like a
/// catalogue one, and filling is deterministic: the same input gives the same values, byte for
/// byte.
/// A sample's Markdown with its heading structure changed: `flat`, every heading below the
/// title at one level (a document styled with one heading style); `notitle`, no title and
/// every other heading one level up (see also `bench/fill-variants.py`).
fn variant(markdown: &str, kind: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in markdown.lines() {
        let level = line.chars().take_while(|c| *c == '#').count();
        let is_heading = level > 0 && line[level..].starts_with(' ');
        out.push(match (kind, is_heading) {
            ("flat", true) if level >= 2 => format!("##{}", &line[level..]),
            ("notitle", true) if level == 1 => continue,
            ("notitle", true) => line[1..].to_owned(),
            _ => line.to_owned(),
        });
    }
    out.join("\n")
}

/// Held-out books differ in structure as much as in wording: the samples with all headings at
/// one level, and without their title, keep (nearly) all their facts. Floors: the figures
/// measured when this test arrived (a heading with no text of its own followed by siblings
/// had been lost, and "Tone scenarios" of the flat Tidewater book with it).
#[test]
fn facts_survive_a_changed_heading_structure() {
    if !samples().join(format!("{}.md", BRANDS[0])).exists() {
        brandstream_domain::testing::skip("shared", "samples not found");
        return;
    }
    let meaning = meaning_model();
    let mut failures = Vec::new();
    for kind in ["flat", "notitle"] {
        for brand in BRANDS {
            let markdown = std::fs::read_to_string(samples().join(format!("{brand}.md"))).unwrap();
            let bytes = variant(&markdown, kind);
            let (headings_floor, meaning_floor) = match *brand {
                "fennick-valley-rail" | "thistlebrook-libraries" => (33.0, 94.0),
                _ => (100.0, 100.0),
            };
            let name = format!("{kind}.md");
            let percent = fill_bytes(&samples(), brand, &name, "md", bytes.as_bytes(), None);
            if percent < headings_floor {
                failures.push(format!("headings only, {brand} {kind}: {percent:.1} %"));
            }
            if let Some(model) = &meaning {
                let percent = fill_bytes(
                    &samples(),
                    brand,
                    &name,
                    "md",
                    bytes.as_bytes(),
                    Some(model),
                );
                if percent < meaning_floor {
                    failures.push(format!("by meaning, {brand} {kind}: {percent:.1} %"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn custom_subsections_are_filled_by_meaning_and_deterministically() {
    let Some(model) = meaning_model() else { return };
    let mut targets = FieldTarget::catalogue();
    targets.push(FieldTarget {
        id: "custom/Sustainability".into(),
        section: "Brand Context".into(),
        name: "Sustainability".into(),
        field_type: brandstream_domain::brand::FieldType::Text,
        intent: Some(
            "Our environmental commitments: emissions, energy, packaging and how we report on them."
                .into(),
        ),
    });
    let document = extract("md", CUSTOM_BOOK.as_bytes());
    let chunks: Vec<KnowledgeChunk> = chunk_document(&document, ChunkSettings::default())
        .iter()
        .map(|chunk| KnowledgeChunk::from_chunk("book", format!("book#{}", chunk.ordinal), chunk))
        .collect();
    let (first, error) = fill_fields_with(&targets, &chunks, Some(&model));
    assert!(error.is_none(), "{error:?}");
    let value_of = |id: &str| {
        first
            .iter()
            .find(|f| f.field_id == id)
            .map(|f| f.value.to_string())
            .unwrap_or_default()
    };
    assert!(
        value_of("custom/Sustainability").contains("renewable electricity"),
        "{first:?}"
    );
    assert!(
        value_of("Brand Context/Brand history").contains("1994"),
        "{first:?}"
    );
    assert!(
        value_of("Tone of Voice/Tone of voice").contains("friend"),
        "{first:?}"
    );
    let (second, _) = fill_fields_with(&targets, &chunks, Some(&model));
    assert_eq!(
        serde_json::to_string(
            &first
                .iter()
                .map(|f| (&f.field_id, &f.value, &f.chunk_ids))
                .collect::<Vec<_>>()
        )
        .unwrap(),
        serde_json::to_string(
            &second
                .iter()
                .map(|f| (&f.field_id, &f.value, &f.chunk_ids))
                .collect::<Vec<_>>()
        )
        .unwrap()
    );
}
