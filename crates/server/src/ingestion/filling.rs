//! Filling a brand kit's subsections from its knowledge: load the kit's chunks and
//! subsections, let the section filler choose values, and write them — never over a value a
//! person owns (`aiEditable` false) or into a locked kit — with references to the chunks.

use std::collections::HashMap;
use std::sync::Arc;

use brandstream_domain::brand::catalogue::GLOSSARY_SECTION;
use brandstream_domain::brand::{validate_value, FieldType};
use brandstream_ingest::fill::{
    fill_fields_with, glossary_terms, FieldTarget, KnowledgeChunk, MeaningModel,
};
use brandstream_store::{
    ChunkQuery, FieldChange, FieldRecord, KitRecord, Stamp, Store, StoreError,
};
use serde_json::{json, Value};

use crate::services::now_micros;

/// Most chunks considered for one kit.
const CHUNKS_MAX: i64 = 50_000;
/// Most references recorded on one subsection.
const REFERENCES_MAX: usize = 25;

/// Which subsections to fill (nothing: all).
#[derive(Debug, Default)]
pub struct Scope {
    /// Only this section.
    pub section_id: Option<brandstream_domain::SectionId>,
    /// Only this subsection (of `section_id`).
    pub field_id: Option<brandstream_domain::FieldId>,
}

fn references(org: &str, chunk_ids: &[String]) -> Value {
    Value::Array(
        chunk_ids
            .iter()
            .take(REFERENCES_MAX)
            .map(|id| {
                json!({
                    "type": "documentChunk",
                    "id": id,
                    "path": format!("/api/documents/v2/organizations/{org}/chunks/{id}"),
                })
            })
            .collect(),
    )
}

fn updated(field: &FieldRecord, value: Value, refs: Value, actor: &str) -> FieldChange {
    let mut next = field.clone();
    next.value = value;
    next.references = refs;
    next.version += 1;
    next.stamp.touch(now_micros(), actor);
    FieldChange {
        field: next,
        expected_version: Some(field.version),
    }
}

/// Fills the kit's subsections in `scope`, by meaning when `meaning` holds a model. Returns
/// how many subsections were written.
pub async fn fill_kit(
    store: &dyn Store,
    kit: &KitRecord,
    scope: &Scope,
    actor: &str,
    meaning: Option<Arc<MeaningModel>>,
) -> Result<usize, StoreError> {
    let org = kit.org_id.as_str();
    let (_, chunks) = store
        .list_chunks(
            &kit.org_id,
            &ChunkQuery {
                reference_id: Some(kit.id.to_string()),
                limit: CHUNKS_MAX,
                ..ChunkQuery::default()
            },
        )
        .await?;
    if chunks.is_empty() {
        return Ok(0);
    }
    let knowledge: Vec<KnowledgeChunk> = chunks
        .into_iter()
        .map(|chunk| KnowledgeChunk {
            id: chunk.id.into(),
            document_id: chunk.document_id.into(),
            text: chunk.text,
            headings: chunk.headings,
            page_start: u32::try_from(chunk.page_start).unwrap_or(0),
            page_end: u32::try_from(chunk.page_end).unwrap_or(0),
            // A layout that does not parse is read as none: the filler falls back to the text.
            blocks: chunk
                .blocks
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok()),
        })
        .collect();

    let mut targets = Vec::new();
    let mut fields: HashMap<String, FieldRecord> = HashMap::new();
    let mut glossary: Option<(String, Vec<FieldRecord>)> = None;
    for section in store.list_sections(&kit.id).await? {
        if section.deleted_at.is_some()
            || scope
                .section_id
                .as_ref()
                .is_some_and(|id| section.id != *id)
        {
            continue;
        }
        let section_fields = store.list_fields(&section.id).await?;
        if section.name == GLOSSARY_SECTION {
            glossary = Some((section.id.to_string(), section_fields));
            continue;
        }
        for field in section_fields {
            let in_scope = scope.field_id.as_ref().is_none_or(|id| field.id == *id);
            let Some(field_type) = FieldType::parse(&field.field_type) else {
                continue;
            };
            if !field.ai_editable || !in_scope {
                continue;
            }
            targets.push(FieldTarget {
                id: field.id.to_string(),
                section: section.name.clone(),
                name: field.name.clone(),
                field_type,
                intent: field.intent.clone(),
            });
            fields.insert(field.id.to_string(), field);
        }
    }

    // Matching chunks to subsections is CPU work: off the runtime's threads.
    let (filled_fields, terms) = tokio::task::spawn_blocking(move || {
        let (filled, model_error) = fill_fields_with(&targets, &knowledge, meaning.as_deref());
        if let Some(error) = model_error {
            tracing::warn!(%error, "the embedding model failed; filled by headings only");
        }
        (filled, glossary_terms(&knowledge))
    })
    .await
    .map_err(|error| StoreError::Database(format!("filling failed: {error}")))?;
    let mut changes = Vec::new();
    for filled in filled_fields {
        let Some(field) = fields.get(&filled.field_id) else {
            continue;
        };
        let Some(field_type) = FieldType::parse(&field.field_type) else {
            continue;
        };
        match validate_value(field_type, false, &filled.value) {
            Ok(value) => changes.push(updated(
                field,
                value,
                references(org, &filled.chunk_ids),
                actor,
            )),
            Err(errors) => {
                tracing::warn!(field = %field.name, ?errors, "the filler produced an invalid value; skipped")
            }
        }
    }

    if let Some((section_id, existing)) = glossary {
        let by_name: HashMap<String, &FieldRecord> = existing
            .iter()
            .map(|field| (field.name.to_lowercase(), field))
            .collect();
        let mut next_order = existing.iter().filter_map(|f| f.order).max().unwrap_or(0);
        for term in terms {
            let entries: Vec<Value> = term
                .translations
                .iter()
                .map(|(text, locale)| json!({"term": text, "locale": locale}))
                .collect();
            let Ok(value) = validate_value(FieldType::Array, true, &Value::Array(entries)) else {
                continue;
            };
            let refs = references(org, &term.chunk_ids);
            let name: String = term
                .term
                .chars()
                .take(brandstream_domain::brand::NAME_MAX)
                .collect();
            match by_name.get(&name.to_lowercase()) {
                Some(field) => {
                    let in_scope = scope.field_id.as_ref().is_none_or(|id| field.id == *id);
                    if field.ai_editable && in_scope {
                        changes.push(updated(field, value, refs, actor));
                    }
                }
                None if scope.field_id.is_none() => {
                    next_order += 1;
                    let now = now_micros();
                    changes.push(FieldChange {
                        field: FieldRecord {
                            id: brandstream_domain::FieldId::generate(),
                            section_id: section_id.clone().into(),
                            kit_id: kit.id.clone(),
                            name,
                            field_type: FieldType::Array.as_str().into(),
                            order: Some(next_order),
                            value,
                            intent: None,
                            references: refs,
                            deletable: true,
                            verified: None,
                            ai_editable: true,
                            predefined: false,
                            properties: json!({}),
                            version: 1,
                            stamp: Stamp::new(now, actor),
                        },
                        expected_version: None,
                    });
                }
                None => {}
            }
        }
    }
    store.apply_field_changes(&changes).await
}
