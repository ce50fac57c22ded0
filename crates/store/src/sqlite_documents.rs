//! The SQLite implementation of [`DocumentStore`]: documents, chunks with an FTS5 index, and
//! pipeline runs used as a durable job queue.

use async_trait::async_trait;
use brandstream_domain::text::{search_form, snippet};
use brandstream_domain::OrgId;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};
use serde_json::Value;

use crate::documents::{
    run_status_column, ChunkHit, ChunkQuery, ChunkRecord, DocumentQuery, DocumentRecord,
    DocumentStore, FieldChange, RunQuery, RunRecord, RunStatus, SNIPPET_WORDS,
};
use crate::rows::{
    chunk_from_row, chunk_values, document_from_row, document_values, insert_rows_statement,
    insert_statement, run_from_row, run_values, CHUNK_COLUMNS, CHUNK_INSERT_COLUMNS, DOCUMENTS,
    DOCUMENT_COLUMNS, RUN_COLUMNS,
};
use crate::sqlite::{count_and_page, query_one, update_row};
use crate::sqlite_brand::{insert_field_in, like_pattern};
use crate::{SqliteStore, StoreError, StoreResult};

/// The WHERE clause and parameters of a chunk scope (organisation, kit, document).
/// Chunk rows per INSERT statement: ten parameters each, within SQLite's limit of 32,766
/// parameters per statement.
const CHUNK_ROWS_PER_STATEMENT: usize = 3_000;

fn chunk_scope(org: &OrgId, query: &ChunkQuery) -> (String, Vec<SqlValue>) {
    let mut clause = String::from("c.org_id = ? AND d.deleted_at IS NULL AND d.id = c.document_id");
    let mut values = vec![SqlValue::Text(org.as_str().to_owned())];
    if let Some(kit) = &query.reference_id {
        clause.push_str(
            " AND EXISTS (SELECT 1 FROM json_each(d.refs) r WHERE json_extract(r.value, '$.id') = ?)",
        );
        values.push(SqlValue::Text(kit.clone()));
    }
    if let Some(document) = &query.document_id {
        clause.push_str(" AND c.document_id = ?");
        values.push(SqlValue::Text(document.clone()));
    }
    (clause, values)
}

/// An FTS5 query matching any of `terms`, each in its search form and quoted (a phrase: the
/// characters of a CJK word must follow each other), so nothing in it is syntax.
fn match_expression(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{}\"", search_form(term).trim().replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Removes `chunk_ids` from the references of every field of the organisation that cites them.
fn drop_chunk_references(
    connection: &Connection,
    org: &OrgId,
    document_id: &str,
    now: i64,
    by: &str,
) -> StoreResult<()> {
    // A document read for the first time has no chunks anyone could cite: skip the scan of
    // every field of the organisation.
    let has_chunks: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM chunks WHERE document_id = ?1)",
        [document_id],
        |row| row.get(0),
    )?;
    if !has_chunks {
        return Ok(());
    }
    connection.execute(
        "UPDATE brand_fields SET \
           refs = (SELECT COALESCE(json_group_array(json(r.value)), '[]') FROM json_each(brand_fields.refs) r \
                   WHERE COALESCE(json_extract(r.value, '$.id'), '') NOT IN (SELECT id FROM chunks WHERE document_id = ?1)), \
           version = version + 1, updated_at = ?3, updated_by = ?4 \
         WHERE kit_id IN (SELECT id FROM brand_kits WHERE org_id = ?2) \
           AND EXISTS (SELECT 1 FROM json_each(brand_fields.refs) r \
                       WHERE json_extract(r.value, '$.id') IN (SELECT id FROM chunks WHERE document_id = ?1))",
        params![document_id, org.as_str(), now, by],
    )?;
    Ok(())
}

fn update_document_in(
    connection: &Connection,
    document: &DocumentRecord,
    expected_version: i64,
) -> StoreResult<bool> {
    Ok(update_row(
        connection,
        &DOCUMENTS.update(
            document_values(document),
            document.org_id.as_str(),
            &document.id,
            expected_version,
        ),
    )?)
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn insert_document(&self, document: &DocumentRecord) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                &insert_statement("documents", DOCUMENT_COLUMNS, '?'),
                params_from_iter(document_values(document)),
            )?;
            Ok(())
        })
        .await
    }

    async fn get_document(&self, org: &OrgId, id: &str) -> StoreResult<Option<DocumentRecord>> {
        self.read(|c| {
            query_one(
                c,
                &format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE org_id = ?1 AND id = ?2"),
                params![org.as_str(), id],
                |row| document_from_row(row),
            )
        })
    }

    async fn list_documents(
        &self,
        org: &OrgId,
        query: &DocumentQuery,
    ) -> StoreResult<(i64, Vec<DocumentRecord>)> {
        let mut clause = String::from("org_id = ?");
        let mut values = vec![SqlValue::Text(org.as_str().to_owned())];
        if !query.include_deleted {
            clause.push_str(" AND deleted_at IS NULL");
        }
        if let Some(search) = &query.search {
            clause.push_str(
                " AND (title LIKE ? ESCAPE '\\' OR COALESCE(summary, '') LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\')",
            );
            let pattern = like_pattern(search);
            values.extend(std::iter::repeat_n(SqlValue::Text(pattern), 3));
        }
        let status = query.status.map(|status| status.as_str().to_owned());
        for (column, value) in [
            ("doc_type", &query.doc_type),
            ("status", &status),
            ("created_by", &query.created_by),
            ("file_type", &query.file_type),
        ] {
            if let Some(value) = value {
                clause.push_str(&format!(" AND {column} = ?"));
                values.push(SqlValue::Text(value.clone()));
            }
        }
        if query.reference_type.is_some() || query.reference_id.is_some() {
            clause.push_str(" AND EXISTS (SELECT 1 FROM json_each(refs) r WHERE 1 = 1");
            if let Some(kind) = &query.reference_type {
                clause.push_str(" AND json_extract(r.value, '$.type') = ?");
                values.push(SqlValue::Text(kind.clone()));
            }
            if let Some(id) = &query.reference_id {
                clause.push_str(" AND json_extract(r.value, '$.id') = ?");
                values.push(SqlValue::Text(id.clone()));
            }
            clause.push(')');
        }
        for tag in &query.tags {
            clause.push_str(
                " AND EXISTS (SELECT 1 FROM json_each(tags) t WHERE lower(t.value) = lower(?))",
            );
            values.push(SqlValue::Text(tag.clone()));
        }
        self.read(|c| {
            let (total, documents) = count_and_page(
                c,
                &format!("SELECT COUNT(*) FROM documents WHERE {clause}"),
                &values,
                (query.limit, query.offset),
                &format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE {clause} \
                     ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
                ),
                |row| document_from_row(row),
            )?;
            Ok((total, documents))
        })
    }

    async fn update_document(
        &self,
        document: &DocumentRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        self.write(|c| update_document_in(c, document, expected_version))
            .await
    }

    async fn delete_document(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<DocumentRecord>> {
        self.transact(|t| {
            let Some(document) = query_one(
                t,
                &format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE org_id = ?1 AND id = ?2 AND deleted_at IS NULL"
                ),
                params![org.as_str(), id],
                |row| document_from_row(row),
            )?
            else {
                return Ok(None);
            };
            drop_chunk_references(t, org, id, now, by)?;
            t.execute("DELETE FROM chunks WHERE document_id = ?1", [id])?;
            t.execute(
                "UPDATE documents SET deleted_at = ?1, chunked = 0, version = version + 1, updated_at = ?1, \
                 updated_by = ?2 WHERE id = ?3",
                params![now, by, id],
            )?;
            Ok(Some(document))
        })
        .await
    }

    async fn replace_chunks(
        &self,
        document: &DocumentRecord,
        chunks: &[ChunkRecord],
    ) -> StoreResult<()> {
        let document = document.clone();
        let chunks = chunks.to_vec();
        let id = document.id.clone();
        let org_id = document.org_id.clone();
        // A large document's chunks are many rows: commit them off the runtime threads.
        self.transact_in_background(move |t| {
            drop_chunk_references(t, &org_id, &id, document.updated_at, &document.updated_by)?;
            t.execute("DELETE FROM chunks WHERE document_id = ?1", [&id])?;
            // Few statements for all rows: the full-text index (filled by trigger) flushes
            // its pending terms at every statement boundary inside a transaction, so
            // row-by-row inserts would write one index segment per chunk and spend their time
            // merging. Rows go in as one multi-row VALUES list per batch, bound as parameters.
            for batch in chunks.chunks(CHUNK_ROWS_PER_STATEMENT) {
                let mut values = Vec::with_capacity(batch.len() * 10);
                for chunk in batch {
                    values.extend(chunk_values(chunk)?);
                }
                t.execute(
                    &insert_rows_statement("chunks", CHUNK_INSERT_COLUMNS, batch.len(), '?'),
                    params_from_iter(values),
                )?;
            }
            let version = document.version - 1;
            if !update_document_in(t, &document, version)? {
                return Err(StoreError::Conflict(
                    "the document changed while it was processed".to_owned(),
                ));
            }
            Ok(())
        })
        .await
    }

    async fn search_chunks(
        &self,
        org: &OrgId,
        terms: &[String],
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkHit>)> {
        if terms.is_empty() {
            return Ok((0, Vec::new()));
        }
        let (scope, scope_values) = chunk_scope(org, query);
        let mut values = vec![SqlValue::Text(match_expression(terms))];
        values.extend(scope_values);
        self.read(|c| {
            let from = format!(
                "FROM chunks_fts f JOIN chunks c ON c.seq = f.rowid, documents d \
                 WHERE chunks_fts MATCH ? AND {scope}"
            );
            // Headings weigh three times the body: a passage under a heading that names the
            // topic is usually the answer.
            let (total, hits) = count_and_page(
                c,
                &format!("SELECT COUNT(*) {from}"),
                &values,
                (query.limit, query.offset),
                &format!(
                    "SELECT {CHUNK_COLUMNS}, bm25(chunks_fts, 3.0, 1.0) AS rank \
                     {from} ORDER BY rank, c.seq LIMIT ? OFFSET ?"
                ),
                |row| {
                    let rank: f64 = row.get("rank")?;
                    let chunk = chunk_from_row(row)?;
                    Ok(ChunkHit {
                        snippet: snippet(&chunk.text, terms, SNIPPET_WORDS),
                        chunk,
                        score: -rank,
                    })
                },
            )?;
            Ok((total, hits))
        })
    }

    async fn list_chunks(
        &self,
        org: &OrgId,
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkRecord>)> {
        let (scope, values) = chunk_scope(org, query);
        self.read(|c| {
            let (total, chunks) = count_and_page(
                c,
                &format!("SELECT COUNT(*) FROM chunks c, documents d WHERE {scope}"),
                &values,
                (query.limit, query.offset),
                &format!(
                    "SELECT {CHUNK_COLUMNS} FROM chunks c, documents d WHERE {scope} \
                     ORDER BY d.created_at, c.document_id, c.ordinal LIMIT ? OFFSET ?"
                ),
                |row| chunk_from_row(row),
            )?;
            Ok((total, chunks))
        })
    }

    async fn get_chunk(&self, org: &OrgId, id: &str) -> StoreResult<Option<ChunkRecord>> {
        self.read(|c| {
            query_one(
                c,
                &format!("SELECT {CHUNK_COLUMNS} FROM chunks c WHERE c.org_id = ?1 AND c.id = ?2"),
                params![org.as_str(), id],
                |row| chunk_from_row(row),
            )
        })
    }

    async fn insert_run(&self, run: &RunRecord) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                &insert_statement("pipeline_runs", RUN_COLUMNS, '?'),
                params_from_iter(run_values(run)),
            )?;
            Ok(())
        })
        .await
    }

    async fn get_run(&self, org: &OrgId, id: &str) -> StoreResult<Option<RunRecord>> {
        self.read(|c| {
            query_one(
                c,
                &format!("SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE org_id = ?1 AND id = ?2"),
                params![org.as_str(), id],
                |row| run_from_row(row),
            )
        })
    }

    async fn list_runs(&self, org: &OrgId, query: &RunQuery) -> StoreResult<(i64, Vec<RunRecord>)> {
        let mut clause = String::from("org_id = ?");
        let mut values = vec![SqlValue::Text(org.as_str().to_owned())];
        let status = query.status.map(|status| status.as_str().to_owned());
        for (column, value) in [
            ("kit_id", &query.kit_id),
            ("status", &status),
            ("pipeline_id", &query.pipeline_id),
        ] {
            if let Some(value) = value {
                clause.push_str(&format!(" AND {column} = ?"));
                values.push(SqlValue::Text(value.clone()));
            }
        }
        self.read(|c| {
            let (total, runs) = count_and_page(
                c,
                &format!("SELECT COUNT(*) FROM pipeline_runs WHERE {clause}"),
                &values,
                (query.limit, query.offset),
                &format!(
                    "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE {clause} \
                     ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
                ),
                |row| run_from_row(row),
            )?;
            Ok((total, runs))
        })
    }

    async fn claim_run(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RunRecord>> {
        // One writer at a time: the select and update below cannot interleave with another
        // claim, so a run is never handed to two workers.
        self.transact(|t| {
            let candidate: Option<String> = query_one(
                t,
                "SELECT id FROM pipeline_runs \
                 WHERE status = ?1 OR (status IN (?2, ?3) AND lease_until < ?4) \
                 ORDER BY created_at, id LIMIT 1",
                params![
                    RunStatus::Queued.as_str(),
                    RunStatus::InProgress.as_str(),
                    RunStatus::Canceling.as_str(),
                    now
                ],
                |row| Ok(row.get(0)?),
            )?;
            let Some(id) = candidate else {
                return Ok(None);
            };
            t.execute(
                "UPDATE pipeline_runs SET \
                   status = CASE status WHEN ?1 THEN ?2 ELSE status END, \
                   run_start = COALESCE(run_start, ?3), attempts = attempts + 1, lease_owner = ?4, \
                   lease_until = ?5, updated_at = ?3 WHERE id = ?6",
                params![
                    RunStatus::Queued.as_str(),
                    RunStatus::InProgress.as_str(),
                    now,
                    owner,
                    lease_until,
                    id
                ],
            )?;
            query_one(
                t,
                &format!("SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE id = ?1"),
                [&id],
                |row| run_from_row(row),
            )
        })
        .await
    }

    async fn heartbeat_run(
        &self,
        id: &str,
        owner: &str,
        progress: &Value,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RunStatus>> {
        self.transact(|t| {
            let changed = t.execute(
                "UPDATE pipeline_runs SET progress = ?1, lease_until = ?2, updated_at = ?3 \
                 WHERE id = ?4 AND lease_owner = ?5",
                params![progress.to_string(), lease_until, now, id, owner],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            query_one(
                t,
                "SELECT status FROM pipeline_runs WHERE id = ?1",
                [id],
                |row| run_status_column(&row.get::<_, String>(0)?),
            )
        })
        .await
    }

    async fn finish_run(
        &self,
        id: &str,
        owner: &str,
        status: RunStatus,
        message: &str,
        progress: &Value,
        now: i64,
    ) -> StoreResult<bool> {
        self.write(|c| {
            let changed = c.execute(
                "UPDATE pipeline_runs SET status = ?1, message = ?2, progress = ?3, run_end = ?4, \
                 duration_ms = (?4 - COALESCE(run_start, ?4)) / 1000, lease_owner = NULL, lease_until = NULL, \
                 updated_at = ?4 WHERE id = ?5 AND lease_owner = ?6",
                params![status.as_str(), message, progress.to_string(), now, id, owner],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_run(&self, id: &str, owner: &str, now: i64) -> StoreResult<bool> {
        self.write(|c| {
            let changed = c.execute(
                "UPDATE pipeline_runs SET status = CASE status WHEN ?1 THEN ?2 ELSE status END, \
                 lease_owner = NULL, lease_until = 0, updated_at = ?3 WHERE id = ?4 AND lease_owner = ?5",
                params![
                    RunStatus::InProgress.as_str(),
                    RunStatus::Queued.as_str(),
                    now,
                    id,
                    owner
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn cancel_run(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<RunRecord>> {
        self.transact(|t| {
            t.execute(
                "UPDATE pipeline_runs SET \
                   status = CASE status WHEN ?1 THEN ?2 ELSE ?3 END, \
                   run_end = CASE status WHEN ?1 THEN ?4 ELSE run_end END, \
                   message = CASE status WHEN ?1 THEN 'Cancelled before it started' ELSE message END, \
                   updated_at = ?4, updated_by = ?5 \
                 WHERE org_id = ?6 AND id = ?7 AND status IN (?1, ?8)",
                params![
                    RunStatus::Queued.as_str(),
                    RunStatus::Cancelled.as_str(),
                    RunStatus::Canceling.as_str(),
                    now,
                    by,
                    org.as_str(),
                    id,
                    RunStatus::InProgress.as_str()
                ],
            )?;
            query_one(
                t,
                &format!("SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE org_id = ?1 AND id = ?2"),
                params![org.as_str(), id],
                |row| run_from_row(row),
            )
        })
        .await
    }

    async fn apply_field_changes(&self, changes: &[FieldChange]) -> StoreResult<usize> {
        let changes = changes.to_vec();
        self.transact_in_background(move |t| {
            let mut applied = 0;
            for change in &changes {
                let field = &change.field;
                let locked: Option<i64> = query_one(
                    t,
                    "SELECT locked FROM brand_kits WHERE id = ?1",
                    [&field.kit_id],
                    |row| Ok(row.get(0)?),
                )?;
                if locked != Some(0) {
                    continue;
                }
                match change.expected_version {
                    None => {
                        insert_field_in(t, field)?;
                        applied += 1;
                    }
                    Some(expected) => {
                        applied += t.execute(
                            "UPDATE brand_fields SET value = ?1, refs = ?2, version = ?3, updated_at = ?4, \
                             updated_by = ?5 WHERE id = ?6 AND version = ?7 AND ai_editable = 1",
                            params![
                                field.value.to_string(),
                                field.references.to_string(),
                                field.version,
                                field.updated_at,
                                field.updated_by,
                                field.id,
                                expected
                            ],
                        )?;
                    }
                }
            }
            Ok(applied)
        })
        .await
    }
}
