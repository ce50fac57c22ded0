//! The PostgreSQL implementation of [`DocumentStore`]: documents, chunks searched through a
//! weighted `tsvector` index, and pipeline runs used as a durable job queue that workers on
//! every node claim with `SELECT … FOR UPDATE SKIP LOCKED`.
//!
//! The statements mirror `sqlite_documents`, so both backends answer the HTTP API identically:
//! the same filters, order, paging, version checks and errors. Where SQLite's single writer
//! serialised work for free, rows are locked explicitly (a document being deleted or re-chunked,
//! a run being claimed, a kit whose fields the section filler writes). Ties in text order compare
//! bytes (`COLLATE "C"`), as SQLite's BINARY collation does, whatever the database's collation.

use std::collections::HashMap;

use async_trait::async_trait;
use brandstream_domain::text::{search_form, snippet};
use brandstream_domain::OrgId;
use deadpool_postgres::GenericClient;
use serde_json::Value;

use crate::documents::{
    run_status_column, ChunkHit, ChunkQuery, ChunkRecord, DocumentQuery, DocumentRecord,
    DocumentStore, FieldChange, RunQuery, RunRecord, RunStatus, SNIPPET_WORDS,
};
use crate::pg::{column, corrupt, count_and_page, execute, params, query_one, update_row, Param};
use crate::pg_brand::insert_fields;
use crate::rows::{
    chunk_from_row, document_from_row, document_values, insert_statement, run_from_row, run_values,
    CHUNK_COLUMNS, DOCUMENTS, DOCUMENT_COLUMNS, RUN_COLUMNS,
};
use crate::sqlite_brand::like_pattern;
use crate::{PgStore, StoreError, StoreResult};

/// The text search configuration the migration creates: Porter stemming, no stop words. Query
/// text goes through `brandstream_search_fold` (accents off Latin letters), as indexed text does.
const SEARCH_CONFIG: &str = "brandstream_search";
/// `ts_rank` weights, in the order D, C, B, A: headings (A) weigh three times the body (B),
/// as `bm25(chunks_fts, 3.0, 1.0)` weighs them in SQLite. A passage under a heading that names
/// the topic is usually the answer.
const RANK_WEIGHTS: &str = "'{0, 0, 0.33333334, 1}'";
/// `ts_rank` normalisation 1 divides by the logarithm of the chunk's length, so a long chunk
/// does not win by size alone (bm25 normalises by length too).
const RANK_NORMALISATION: i32 = 1;
/// Chunks inserted per statement: a large document's chunks go in a few round trips, without
/// one enormous message.
const CHUNK_BATCH: usize = 500;

/// A WHERE clause built from fixed SQL with every value bound as a text parameter, numbered in
/// the order bound. A condition needing another type casts from text (`CAST($n::text AS jsonb)`),
/// since the values are sent as text.
struct Clause {
    sql: String,
    values: Vec<String>,
}

impl Clause {
    fn new() -> Self {
        Self {
            sql: String::new(),
            values: Vec::new(),
        }
    }

    /// Binds a value; returns its placeholder (`$n`).
    fn bind(&mut self, value: impl Into<String>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// Adds a condition without values.
    fn and(&mut self, condition: &str) {
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        self.sql.push_str(condition);
    }

    /// Adds a condition on one newly bound value; `condition` gets its placeholder.
    fn and_bound(&mut self, value: impl Into<String>, condition: impl FnOnce(&str) -> String) {
        let placeholder = self.bind(value);
        self.and(&condition(&placeholder));
    }

    fn params(&self) -> Vec<Param<'_>> {
        self.values.iter().map(|value| value as Param).collect()
    }

    /// `LIMIT` and `OFFSET` placeholders numbered after the bound values, for `count_and_page`.
    fn page(&self) -> String {
        let next = self.values.len() + 1;
        format!("LIMIT ${next} OFFSET ${}", next + 1)
    }
}

/// A page as SQLite reads it: a negative limit means no limit and a negative offset none;
/// PostgreSQL would reject both.
fn page_bounds(limit: i64, offset: i64) -> (i64, i64) {
    (if limit < 0 { i64::MAX } else { limit }, offset.max(0))
}

/// A JSON array with one element holding the given `type` and `id`: `refs::jsonb @>` it holds
/// exactly when one reference has both, as the SQLite filter over `json_each(refs)` does.
fn reference_pattern(kind: Option<&str>, id: Option<&str>) -> String {
    let mut element = serde_json::Map::new();
    if let Some(kind) = kind {
        element.insert("type".to_owned(), Value::from(kind));
    }
    if let Some(id) = id {
        element.insert("id".to_owned(), Value::from(id));
    }
    Value::Array(vec![Value::Object(element)]).to_string()
}

/// Adds a chunk scope (organisation, kit, document) to `clause`, over chunks `c` joined to
/// their documents `d`.
fn chunk_scope(clause: &mut Clause, org: &OrgId, query: &ChunkQuery) {
    clause.and_bound(org.as_str(), |placeholder| {
        format!("c.org_id = {placeholder}")
    });
    clause.and("d.deleted_at IS NULL");
    if let Some(kit) = &query.reference_id {
        clause.and_bound(reference_pattern(None, Some(kit)), |placeholder| {
            format!("d.refs::jsonb @> CAST({placeholder}::text AS jsonb)")
        });
    }
    if let Some(document) = &query.document_id {
        clause.and_bound(document.as_str(), |placeholder| {
            format!("c.document_id = {placeholder}")
        });
    }
}

/// A `to_tsquery` expression matching any of `terms`, or `None` when no term has a word.
///
/// SQLite quotes each term as an FTS5 phrase and ORs them: a term's words (runs of letters and
/// digits) must appear in order. Here the same words are joined with `<->` (followed by) and
/// the phrases with `|`. Only letters and digits reach the expression, so nothing in a term is
/// query syntax; the expression is bound as a parameter, never spliced into SQL.
fn match_expression(terms: &[String]) -> Option<String> {
    let phrases: Vec<String> = terms
        .iter()
        .filter_map(|term| {
            let term = search_form(term);
            let words: Vec<&str> = term
                .split(|character: char| !character.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .collect();
            match words.as_slice() {
                [] => None,
                [word] => Some((*word).to_owned()),
                _ => Some(format!("({})", words.join(" <-> "))),
            }
        })
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" | "))
}

/// Removes references to the document's chunks from every field of the organisation that
/// cites them. The kept references are rejoined verbatim, in order, so the stored text is what
/// SQLite's `json_group_array` writes. The fields are locked in id order first, as
/// `apply_field_changes` locks them, so the two cannot deadlock over the same fields.
async fn drop_chunk_references(
    client: &impl GenericClient,
    org: &OrgId,
    document_id: &str,
    now: i64,
    by: &str,
) -> StoreResult<()> {
    // A document read for the first time has no chunks anyone could cite: skip the scan of
    // every field of the organisation.
    let has_chunks: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM chunks WHERE document_id = $1)",
            &[&document_id],
        )
        .await?
        .get(0);
    if !has_chunks {
        return Ok(());
    }
    execute(
        client,
        "UPDATE brand_fields SET \
           refs = COALESCE((SELECT '[' || string_agg(r.value::text, ',' ORDER BY r.position) || ']' \
                            FROM json_array_elements(brand_fields.refs::json) WITH ORDINALITY AS r(value, position) \
                            WHERE COALESCE(r.value ->> 'id', '') NOT IN \
                                  (SELECT id FROM chunks WHERE document_id = $1)), '[]'), \
           version = version + 1, updated_at = $3, updated_by = $4 \
         WHERE id IN ( \
             SELECT f.id FROM brand_fields f \
             WHERE f.kit_id IN (SELECT id FROM brand_kits WHERE org_id = $2) \
               AND EXISTS (SELECT 1 FROM json_array_elements(f.refs::json) AS r(value) \
                           WHERE r.value ->> 'id' IN (SELECT id FROM chunks WHERE document_id = $1)) \
             ORDER BY f.id COLLATE \"C\" FOR UPDATE)",
        &[&document_id, &org.as_str(), &now, &by],
    )
    .await?;
    Ok(())
}

async fn update_document_in(
    client: &impl GenericClient,
    document: &DocumentRecord,
    expected_version: i64,
) -> StoreResult<bool> {
    Ok(update_row(
        client,
        &DOCUMENTS.update(
            document_values(document),
            document.org_id.as_str(),
            &document.id,
            expected_version,
        ),
    )
    .await?)
}

/// Inserts chunks with one statement per batch: columns as arrays, unnested server-side in
/// the given order, so `seq` follows the chunks' order.
async fn insert_chunks(client: &impl GenericClient, chunks: &[ChunkRecord]) -> StoreResult<()> {
    for batch in chunks.chunks(CHUNK_BATCH) {
        let ids: Vec<&str> = batch.iter().map(|chunk| chunk.id.as_str()).collect();
        let documents: Vec<&str> = batch
            .iter()
            .map(|chunk| chunk.document_id.as_str())
            .collect();
        let orgs: Vec<&str> = batch.iter().map(|chunk| chunk.org_id.as_str()).collect();
        let ordinals: Vec<i64> = batch.iter().map(|chunk| chunk.ordinal).collect();
        let heading: Vec<String> = batch
            .iter()
            .map(|chunk| chunk.headings.join(" / "))
            .collect();
        let headings = batch
            .iter()
            .map(|chunk| serde_json::to_string(&chunk.headings))
            .collect::<Result<Vec<String>, _>>()
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let texts: Vec<&str> = batch.iter().map(|chunk| chunk.text.as_str()).collect();
        let page_starts: Vec<i64> = batch.iter().map(|chunk| chunk.page_start).collect();
        let page_ends: Vec<i64> = batch.iter().map(|chunk| chunk.page_end).collect();
        let created: Vec<i64> = batch.iter().map(|chunk| chunk.created_at).collect();
        execute(
            client,
            "INSERT INTO chunks (id, document_id, org_id, ordinal, heading, headings, text, \
             page_start, page_end, created_at) \
             SELECT id, document_id, org_id, ordinal, heading, headings, text, page_start, \
                    page_end, created_at \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
                         $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[]) \
                  WITH ORDINALITY AS t(id, document_id, org_id, ordinal, heading, headings, \
                                       text, page_start, page_end, created_at, position) \
             ORDER BY position",
            &[
                &ids,
                &documents,
                &orgs,
                &ordinals,
                &heading,
                &headings,
                &texts,
                &page_starts,
                &page_ends,
                &created,
            ],
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl DocumentStore for PgStore {
    async fn insert_document(&self, document: &DocumentRecord) -> StoreResult<()> {
        let values = document_values(document);
        self.run(
            &insert_statement("documents", DOCUMENT_COLUMNS, '$'),
            &params(&values),
        )
        .await?;
        Ok(())
    }

    async fn get_document(&self, org: &OrgId, id: &str) -> StoreResult<Option<DocumentRecord>> {
        self.fetch_one(
            &format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE org_id = $1 AND id = $2"),
            &[&org.as_str(), &id],
            document_from_row,
        )
        .await
    }

    async fn list_documents(
        &self,
        org: &OrgId,
        query: &DocumentQuery,
    ) -> StoreResult<(i64, Vec<DocumentRecord>)> {
        let mut clause = Clause::new();
        clause.and_bound(org.as_str(), |placeholder| {
            format!("org_id = {placeholder}")
        });
        if !query.include_deleted {
            clause.and("deleted_at IS NULL");
        }
        if let Some(search) = &query.search {
            // ILIKE: SQLite's LIKE ignores case too. The JSON text of the tags is searched, as
            // in SQLite (it is the same text).
            clause.and_bound(like_pattern(search), |placeholder| {
                format!(
                    "(title ILIKE {placeholder} ESCAPE '\\' \
                     OR COALESCE(summary, '') ILIKE {placeholder} ESCAPE '\\' \
                     OR tags ILIKE {placeholder} ESCAPE '\\')"
                )
            });
        }
        let status = query.status.map(|status| status.as_str().to_owned());
        for (name, value) in [
            ("doc_type", &query.doc_type),
            ("status", &status),
            ("created_by", &query.created_by),
            ("file_type", &query.file_type),
        ] {
            if let Some(value) = value {
                clause.and_bound(value.as_str(), |placeholder| {
                    format!("{name} = {placeholder}")
                });
            }
        }
        if query.reference_type.is_some() || query.reference_id.is_some() {
            let pattern = reference_pattern(
                query.reference_type.as_deref(),
                query.reference_id.as_deref(),
            );
            clause.and_bound(pattern, |placeholder| {
                format!("refs::jsonb @> CAST({placeholder}::text AS jsonb)")
            });
        }
        if !query.tags.is_empty() {
            // Every requested tag must be present. The tags travel as one JSON array so the
            // statement text is the same for any number of tags (statements are cached per
            // connection; one per tag count would let clients grow that cache without bound).
            let wanted = serde_json::to_string(&query.tags).map_err(corrupt)?;
            clause.and_bound(wanted, |placeholder| {
                format!(
                    "NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(CAST({placeholder}::text AS jsonb)) \
                     AS wanted(tag) WHERE NOT EXISTS (SELECT 1 FROM \
                     jsonb_array_elements_text(tags::jsonb) AS t(value) \
                     WHERE lower(t.value) = lower(wanted.tag)))"
                )
            });
        }
        let client = self.client().await?;
        count_and_page(
            &client,
            &format!(
                "SELECT COUNT(*) AS count FROM documents WHERE {}",
                clause.sql
            ),
            &clause.params(),
            page_bounds(query.limit, query.offset),
            &format!(
                "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE {} \
                 ORDER BY created_at DESC, id COLLATE \"C\" {}",
                clause.sql,
                clause.page()
            ),
            document_from_row,
        )
        .await
    }

    async fn update_document(
        &self,
        document: &DocumentRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        update_document_in(&client, document, expected_version).await
    }

    async fn delete_document(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<DocumentRecord>> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // FOR UPDATE: of two concurrent deletes the second waits, then finds it deleted.
        let Some(document) = query_one(
            &transaction,
            &format!(
                "SELECT {DOCUMENT_COLUMNS} FROM documents \
                 WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE"
            ),
            &[&org.as_str(), &id],
            document_from_row,
        )
        .await?
        else {
            return Ok(None);
        };
        drop_chunk_references(&transaction, org, id, now, by).await?;
        execute(
            &transaction,
            "DELETE FROM chunks WHERE document_id = $1",
            &[&id],
        )
        .await?;
        execute(
            &transaction,
            "UPDATE documents SET deleted_at = $1, chunked = FALSE, version = version + 1, \
             updated_at = $1, updated_by = $2 WHERE id = $3",
            &[&now, &by, &id],
        )
        .await?;
        transaction.commit().await?;
        Ok(Some(document))
    }

    async fn replace_chunks(
        &self,
        document: &DocumentRecord,
        chunks: &[ChunkRecord],
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // Lock the document first: a concurrent replacement or delete waits for this one, and
        // then its version check fails, instead of the two interleaving their chunks.
        execute(
            &transaction,
            "SELECT 1 FROM documents WHERE org_id = $1 AND id = $2 FOR UPDATE",
            &[&document.org_id.as_str(), &document.id],
        )
        .await?;
        drop_chunk_references(
            &transaction,
            &document.org_id,
            &document.id,
            document.updated_at,
            &document.updated_by,
        )
        .await?;
        execute(
            &transaction,
            "DELETE FROM chunks WHERE document_id = $1",
            &[&document.id],
        )
        .await?;
        insert_chunks(&transaction, chunks).await?;
        if !update_document_in(&transaction, document, document.version - 1).await? {
            return Err(StoreError::Conflict(
                "the document changed while it was processed".to_owned(),
            ));
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn search_chunks(
        &self,
        org: &OrgId,
        terms: &[String],
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkHit>)> {
        let Some(expression) = match_expression(terms) else {
            return Ok((0, Vec::new()));
        };
        // `ts_rank` has no inverse document frequency: a passage with every word of the query
        // would lose to one repeating the commonest word. Passages holding all the query's
        // words (and phrases) come first; `ts_rank` orders within each group (bm25 in SQLite
        // gets close to this by weighting rare words).
        let every = expression.replace(" | ", " & ");
        let mut clause = Clause::new();
        let search = clause.bind(expression);
        let every = clause.bind(every);
        let matching = format!(
            "to_tsquery('{SEARCH_CONFIG}', brandstream_search_fold({search})) AS q \
             CROSS JOIN to_tsquery('{SEARCH_CONFIG}', brandstream_search_fold({every})) AS qa"
        );
        clause.and("c.search @@ q");
        chunk_scope(&mut clause, org, query);
        let from = format!(
            "FROM chunks c JOIN documents d ON d.id = c.document_id CROSS JOIN {matching} \
             WHERE {}",
            clause.sql
        );
        // Rank and page first; snippets are made from the page's rows (original text).
        let page_sql = format!(
            "SELECT {CHUNK_COLUMNS}, hit.score \
             FROM (SELECT c.seq, \
                          c.search @@ qa AS every, \
                          CAST(ts_rank({RANK_WEIGHTS}, c.search, q, {RANK_NORMALISATION}) \
                               AS DOUBLE PRECISION) AS score \
                   {from} ORDER BY every DESC, score DESC, c.seq {}) AS hit \
             JOIN chunks c ON c.seq = hit.seq \
             ORDER BY hit.every DESC, hit.score DESC, c.seq",
            clause.page()
        );
        let client = self.client().await?;
        count_and_page(
            &client,
            &format!("SELECT COUNT(*) AS count {from}"),
            &clause.params(),
            page_bounds(query.limit, query.offset),
            &page_sql,
            |row| {
                let chunk = chunk_from_row(row)?;
                Ok(ChunkHit {
                    snippet: snippet(&chunk.text, terms, SNIPPET_WORDS),
                    chunk,
                    score: column(row, "score")?,
                })
            },
        )
        .await
    }

    async fn list_chunks(
        &self,
        org: &OrgId,
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkRecord>)> {
        let mut clause = Clause::new();
        chunk_scope(&mut clause, org, query);
        let from = format!(
            "FROM chunks c JOIN documents d ON d.id = c.document_id WHERE {}",
            clause.sql
        );
        let client = self.client().await?;
        count_and_page(
            &client,
            &format!("SELECT COUNT(*) AS count {from}"),
            &clause.params(),
            page_bounds(query.limit, query.offset),
            &format!(
                "SELECT {CHUNK_COLUMNS} {from} \
                 ORDER BY d.created_at, c.document_id COLLATE \"C\", c.ordinal {}",
                clause.page()
            ),
            chunk_from_row,
        )
        .await
    }

    async fn get_chunk(&self, org: &OrgId, id: &str) -> StoreResult<Option<ChunkRecord>> {
        self.fetch_one(
            &format!("SELECT {CHUNK_COLUMNS} FROM chunks c WHERE c.org_id = $1 AND c.id = $2"),
            &[&org.as_str(), &id],
            chunk_from_row,
        )
        .await
    }

    async fn insert_run(&self, run: &RunRecord) -> StoreResult<()> {
        let values = run_values(run);
        self.run(
            &insert_statement("pipeline_runs", RUN_COLUMNS, '$'),
            &params(&values),
        )
        .await?;
        Ok(())
    }

    async fn get_run(&self, org: &OrgId, id: &str) -> StoreResult<Option<RunRecord>> {
        self.fetch_one(
            &format!("SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE org_id = $1 AND id = $2"),
            &[&org.as_str(), &id],
            run_from_row,
        )
        .await
    }

    async fn list_runs(&self, org: &OrgId, query: &RunQuery) -> StoreResult<(i64, Vec<RunRecord>)> {
        let mut clause = Clause::new();
        clause.and_bound(org.as_str(), |placeholder| {
            format!("org_id = {placeholder}")
        });
        let status = query.status.map(|status| status.as_str().to_owned());
        for (name, value) in [
            ("kit_id", &query.kit_id),
            ("status", &status),
            ("pipeline_id", &query.pipeline_id),
        ] {
            if let Some(value) = value {
                clause.and_bound(value.as_str(), |placeholder| {
                    format!("{name} = {placeholder}")
                });
            }
        }
        let client = self.client().await?;
        count_and_page(
            &client,
            &format!(
                "SELECT COUNT(*) AS count FROM pipeline_runs WHERE {}",
                clause.sql
            ),
            &clause.params(),
            page_bounds(query.limit, query.offset),
            &format!(
                "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE {} \
                 ORDER BY created_at DESC, id COLLATE \"C\" {}",
                clause.sql,
                clause.page()
            ),
            run_from_row,
        )
        .await
    }

    async fn claim_run(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RunRecord>> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // The row lock, held until commit, makes the claim exclusive; SKIP LOCKED lets a worker
        // on another node pass over a run being claimed right now and take the next one instead
        // of waiting. A run claimed and committed meanwhile is re-checked against the condition
        // (PostgreSQL re-reads a locked row's newest version) and no longer qualifies.
        let candidate: Option<String> = query_one(
            &transaction,
            "SELECT id FROM pipeline_runs \
             WHERE status = $1 OR (status IN ($2, $3) AND lease_until < $4) \
             ORDER BY created_at, id COLLATE \"C\" LIMIT 1 FOR UPDATE SKIP LOCKED",
            &[
                &RunStatus::Queued.as_str(),
                &RunStatus::InProgress.as_str(),
                &RunStatus::Canceling.as_str(),
                &now,
            ],
            |row| column(row, "id"),
        )
        .await?;
        let Some(id) = candidate else {
            return Ok(None);
        };
        let run = query_one(
            &transaction,
            &format!(
                "UPDATE pipeline_runs SET \
                   status = CASE status WHEN $1 THEN $2 ELSE status END, \
                   run_start = COALESCE(run_start, $3), attempts = attempts + 1, \
                   lease_owner = $4, lease_until = $5, updated_at = $3 \
                 WHERE id = $6 RETURNING {RUN_COLUMNS}"
            ),
            &[
                &RunStatus::Queued.as_str(),
                &RunStatus::InProgress.as_str(),
                &now,
                &owner,
                &lease_until,
                &id,
            ],
            run_from_row,
        )
        .await?;
        transaction.commit().await?;
        Ok(run)
    }

    async fn heartbeat_run(
        &self,
        id: &str,
        owner: &str,
        progress: &Value,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RunStatus>> {
        self.fetch_one(
            "UPDATE pipeline_runs SET progress = $1, lease_until = $2, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5 RETURNING status",
            &[&progress.to_string(), &lease_until, &now, &id, &owner],
            |row| run_status_column(&column::<String>(row, "status")?),
        )
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
        let client = self.client().await?;
        let changed = execute(
            &client,
            "UPDATE pipeline_runs SET status = $1, message = $2, progress = $3, run_end = $4, \
             duration_ms = ($4 - COALESCE(run_start, $4)) / 1000, lease_owner = NULL, \
             lease_until = NULL, updated_at = $4 WHERE id = $5 AND lease_owner = $6",
            &[
                &status.as_str(),
                &message,
                &progress.to_string(),
                &now,
                &id,
                &owner,
            ],
        )
        .await?;
        Ok(changed == 1)
    }

    async fn release_run(&self, id: &str, owner: &str, now: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let changed = execute(
            &client,
            "UPDATE pipeline_runs SET status = CASE status WHEN $1 THEN $2 ELSE status END, \
             lease_owner = NULL, lease_until = 0, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5",
            &[
                &RunStatus::InProgress.as_str(),
                &RunStatus::Queued.as_str(),
                &now,
                &id,
                &owner,
            ],
        )
        .await?;
        Ok(changed == 1)
    }

    async fn cancel_run(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<RunRecord>> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        execute(
            &transaction,
            "UPDATE pipeline_runs SET \
               status = CASE status WHEN $1 THEN $2 ELSE $3 END, \
               run_end = CASE status WHEN $1 THEN $4 ELSE run_end END, \
               message = CASE status WHEN $1 THEN 'Cancelled before it started' ELSE message END, \
               updated_at = $4, updated_by = $5 \
             WHERE org_id = $6 AND id = $7 AND status IN ($1, $8)",
            &[
                &RunStatus::Queued.as_str(),
                &RunStatus::Cancelled.as_str(),
                &RunStatus::Canceling.as_str(),
                &now,
                &by,
                &org.as_str(),
                &id,
                &RunStatus::InProgress.as_str(),
            ],
        )
        .await?;
        let run = query_one(
            &transaction,
            &format!("SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE org_id = $1 AND id = $2"),
            &[&org.as_str(), &id],
            run_from_row,
        )
        .await?;
        transaction.commit().await?;
        Ok(run)
    }

    async fn apply_field_changes(&self, changes: &[FieldChange]) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // Lock the fields to change in id order (see `drop_chunk_references`).
        let ids: Vec<&str> = changes
            .iter()
            .map(|change| change.field.id.as_str())
            .collect();
        execute(
            &transaction,
            "SELECT id FROM brand_fields WHERE id = ANY($1) ORDER BY id COLLATE \"C\" FOR UPDATE",
            &[&ids],
        )
        .await?;
        // Whether each kit exists and is unlocked, read once per kit.
        let mut writable: HashMap<&str, bool> = HashMap::new();
        let mut applied = 0;
        for change in changes {
            let field = &change.field;
            let open = match writable.get(field.kit_id.as_str()) {
                Some(open) => *open,
                None => {
                    // FOR SHARE: nobody locks the kit until these changes are committed.
                    let locked: Option<bool> = query_one(
                        &transaction,
                        "SELECT locked FROM brand_kits WHERE id = $1 FOR SHARE",
                        &[&field.kit_id],
                        |row| column(row, "locked"),
                    )
                    .await?;
                    let open = locked == Some(false);
                    writable.insert(field.kit_id.as_str(), open);
                    open
                }
            };
            if !open {
                continue;
            }
            match change.expected_version {
                None => {
                    insert_fields(&transaction, std::slice::from_ref(field)).await?;
                    applied += 1;
                }
                Some(expected) => {
                    let changed = execute(
                        &transaction,
                        "UPDATE brand_fields SET value = $1, refs = $2, version = $3, \
                         updated_at = $4, updated_by = $5 \
                         WHERE id = $6 AND version = $7 AND ai_editable",
                        &[
                            &field.value.to_string(),
                            &field.references.to_string(),
                            &field.version,
                            &field.updated_at,
                            &field.updated_by,
                            &field.id,
                            &expected,
                        ],
                    )
                    .await?;
                    applied += usize::try_from(changed).map_err(corrupt)?;
                }
            }
        }
        transaction.commit().await?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The store behaviours are in the contract suite (`crate::contract`), run on both backends.
    #[test]
    fn match_expressions_keep_only_words() {
        let terms = |list: &[&str]| {
            list.iter()
                .map(|term| (*term).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(match_expression(&terms(&[])), None);
        assert_eq!(match_expression(&terms(&["--", "'\"&|!"])), None);
        assert_eq!(
            match_expression(&terms(&["logo", "e-mail", "it's:*", "café"])).as_deref(),
            Some("logo | (e <-> mail) | (it <-> s) | café")
        );
        assert_eq!(
            match_expression(&terms(&["\"); DROP TABLE chunks; --"])).as_deref(),
            Some("(DROP <-> TABLE <-> chunks)")
        );
    }
}
