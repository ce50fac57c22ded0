//! Records and queries of brand documents, knowledge chunks and pipeline runs.

use async_trait::async_trait;
use brandstream_domain::{BrandKitId, ChunkId, DocumentId, OrgId, RunId};
use serde_json::Value;

use std::collections::HashMap;

use crate::brand::{collated, insert_fields, like_pattern, FieldRecord};
use crate::record::{named_enum, stored_record, Column, Stamp, Stored};
use crate::rows::{
    binds, chunk_columns, chunk_insert_columns, chunk_values, Bind, SqlRow, DOCUMENTS, RUNS,
};
use crate::sql::{Backend, Conn, Dialect, Tx};
use crate::{StoreError, StoreResult};

stored_record! {
    /// A brand document's metadata (the file itself is a blob). Times are Unix microseconds.
    #[derive(Debug, Clone, PartialEq)]
    pub struct DocumentRecord {
        /// UUID.
        pub id: DocumentId,
        /// Owning organisation.
        pub org_id: OrgId,
        /// Where it is: pending until read, then processed or failed (clients may set others).
        pub status: DocumentStatus,
        /// Free-form kind, e.g. `brand guidelines`.
        pub doc_type: String,
        /// Title.
        pub title: String,
        /// Extractive summary, once summarised.
        pub summary: Option<String>,
        /// Where the file was fetched from (empty for uploads).
        pub url: String,
        /// Blob key of the original file.
        pub file_id: String,
        /// MIME type detected from the bytes.
        pub file_type: String,
        /// The uploaded file's name, if it had one.
        pub file_name: Option<String>,
        /// Size in bytes.
        pub size: i64,
        /// SHA-256 of the bytes, hex.
        pub sha256: String,
        /// Pages (0 until read).
        pub number_of_pages: i64,
        /// First page to process (1-based).
        pub page_range_from: Option<i64>,
        /// Last page to process.
        pub page_range_to: Option<i64>,
        /// Tags.
        pub tags: Value,
        /// `[{"type": "brandkit", "id", "path"}]`.
        pub references: Value as "refs",
        /// Whether its chunks are indexed.
        pub chunked: bool,
        /// Whether it has a summary.
        pub summarized: bool,
        /// Why processing failed (empty otherwise).
        pub message: String,
        /// Incremented on every change; the ETag.
        pub version: i64,
        /// Deletion time.
        pub deleted_at: Option<i64>,
        /// The charset its sender declared for a textual file (the `charset` parameter of the
        /// upload part's or fetched response's Content-Type, by its WHATWG Encoding Standard name),
        /// used to read the file when the file names none itself.
        pub charset: Option<String>,
        /// Who made it and changed it last, and when.
        pub stamp: Stamp,
    }
}

/// Filters and page of a document listing.
#[derive(Debug, Clone, Default)]
pub struct DocumentQuery {
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
    /// Case-insensitive substring of title, summary or tags.
    pub search: Option<String>,
    /// Exact type.
    pub doc_type: Option<String>,
    /// Exact status.
    pub status: Option<DocumentStatus>,
    /// Exact creator.
    pub created_by: Option<String>,
    /// Reference type (e.g. `brandkit`).
    pub reference_type: Option<String>,
    /// Referenced id (e.g. a kit id).
    pub reference_id: Option<String>,
    /// Exact MIME type.
    pub file_type: Option<String>,
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// Include deleted documents.
    pub include_deleted: bool,
}

stored_record! {
    /// A knowledge chunk.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ChunkRecord {
        /// UUID.
        pub id: ChunkId,
        /// Its document.
        pub document_id: DocumentId,
        /// Owning organisation.
        pub org_id: OrgId,
        /// Position in the document, from 0.
        pub ordinal: i64,
        /// The headings above it, outermost first.
        pub headings: Vec<String>,
        /// The text.
        pub text: String,
        /// First page.
        pub page_start: i64,
        /// Last page.
        pub page_end: i64,
        /// Creation time.
        pub created_at: i64,
        /// Where its extracted blocks lie in `text`: JSON triples `[kind, start, end]` as
        /// brandstream-ingest's `ChunkBlock` writes them; `None` for chunks stored before
        /// layouts were kept.
        pub blocks: Option<String>,
    }
}

/// Words shown in a search hit's snippet (both backends make snippets the same way, from the
/// stored text: [`brandstream_domain::text::snippet`]).
pub(crate) const SNIPPET_WORDS: usize = 24;

/// A chunk found by a search, with its rank.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkHit {
    /// The chunk.
    pub chunk: ChunkRecord,
    /// Relevance, higher is better.
    pub score: f64,
    /// An excerpt with the matching terms between `<mark>` and `</mark>`.
    pub snippet: String,
}

/// Which chunks a search or listing covers.
#[derive(Debug, Clone, Default)]
pub struct ChunkQuery {
    /// Only chunks of documents referencing this id (a brand kit).
    pub reference_id: Option<String>,
    /// Only chunks of this document.
    pub document_id: Option<String>,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

stored_record! {
    /// A pipeline run, which is also the durable job that executes it.
    #[derive(Debug, Clone, PartialEq)]
    pub struct RunRecord {
        /// UUID.
        pub id: RunId,
        /// Owning organisation.
        pub org_id: OrgId,
        /// `BrandIngestionPipeline` or `EnrichSectionsPipeline`.
        pub pipeline_id: String,
        /// The brand kit it works on.
        pub kit_id: BrandKitId,
        /// The parameters as echoed to clients.
        pub parameters: Value,
        /// Where it is in its life.
        pub status: RunStatus,
        /// Outcome or failures, for people.
        pub message: String,
        /// `{"stage", "documentsDone", "documentsTotal"}`.
        pub progress: Value,
        /// When a worker first started it.
        pub run_start: Option<i64>,
        /// When it ended.
        pub run_end: Option<i64>,
        /// Time spent running.
        pub duration_ms: i64,
        /// How many times a worker claimed it.
        pub attempts: i64,
        /// The worker holding it.
        pub lease_owner: Option<String>,
        /// Until when the lease holds.
        pub lease_until: Option<i64>,
        /// Who made it and changed it last, and when.
        pub stamp: Stamp,
    }
}

named_enum! {
    /// A brand document's status (reference §2B), stored and sent by its Stream API name.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum DocumentStatus {
        /// Uploaded, not read yet (`pending`).
        Pending = "pending",
        /// Read, chunked and indexed (`processed`).
        Processed = "processed",
        /// `draft`, set by clients.
        Draft = "draft",
        /// `active`, set by clients.
        Active = "active",
        /// `archived`, set by clients.
        Archived = "archived",
        /// `edited`, set by clients.
        Edited = "edited",
        /// Could not be read; the document's message says why (`failed`).
        Failed = "failed",
    }
}

named_enum! {
    /// A pipeline run's status, stored and sent by its Stream API name.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum RunStatus {
        /// Waiting for a worker (`Queued`).
        Queued = "Queued",
        /// A worker runs it (`InProgress`).
        InProgress = "InProgress",
        /// Cancellation requested while running (`Canceling`).
        Canceling = "Canceling",
        /// Stopped on request (`Cancelled`).
        Cancelled = "Cancelled",
        /// Finished (`Succeeded`).
        Succeeded = "Succeeded",
        /// Finished without result (`Failed`).
        Failed = "Failed",
    }
}

impl RunStatus {
    /// Whether the run has ended (Cancelled, Succeeded or Failed).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Cancelled | RunStatus::Succeeded | RunStatus::Failed
        )
    }
}

/// Filters of a run listing.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Only runs on this kit.
    pub kit_id: Option<String>,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only this pipeline.
    pub pipeline_id: Option<String>,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// A field changed by the section filler, with the version it was read at.
#[derive(Debug, Clone)]
pub struct FieldChange {
    /// The new state (version already incremented).
    pub field: FieldRecord,
    /// The version it must still have; `None` inserts a new field.
    pub expected_version: Option<i64>,
}

/// Document, chunk and run storage.
#[async_trait]
pub trait DocumentStore {
    /// Stores a new document.
    async fn insert_document(&self, document: &DocumentRecord) -> StoreResult<()>;
    /// One document of the organisation (deleted ones too).
    async fn get_document(&self, org: &OrgId, id: &str) -> StoreResult<Option<DocumentRecord>>;
    /// One page of documents, newest first, and the total matching.
    async fn list_documents(
        &self,
        org: &OrgId,
        query: &DocumentQuery,
    ) -> StoreResult<(i64, Vec<DocumentRecord>)>;
    /// Replaces a document if its stored version is `expected_version`.
    async fn update_document(
        &self,
        document: &DocumentRecord,
        expected_version: i64,
    ) -> StoreResult<bool>;
    /// Marks a document deleted, deletes its chunks and removes references to them from
    /// subsections, in one transaction. Returns the document as it was, or `None` when it did
    /// not exist or was already deleted.
    async fn delete_document(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<DocumentRecord>>;
    /// Replaces a document's chunks and updates the document, in one transaction.
    async fn replace_chunks(
        &self,
        document: &DocumentRecord,
        chunks: &[ChunkRecord],
    ) -> StoreResult<()>;
    /// Ranked full-text search over an organisation's chunks.
    async fn search_chunks(
        &self,
        org: &OrgId,
        terms: &[String],
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkHit>)>;
    /// Chunks in document order (no search).
    async fn list_chunks(
        &self,
        org: &OrgId,
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkRecord>)>;
    /// One chunk.
    async fn get_chunk(&self, org: &OrgId, id: &str) -> StoreResult<Option<ChunkRecord>>;

    /// Stores a new run (status Queued).
    async fn insert_run(&self, run: &RunRecord) -> StoreResult<()>;
    /// One run of the organisation.
    async fn get_run(&self, org: &OrgId, id: &str) -> StoreResult<Option<RunRecord>>;
    /// Runs, newest first, and the total matching.
    async fn list_runs(&self, org: &OrgId, query: &RunQuery) -> StoreResult<(i64, Vec<RunRecord>)>;
    /// Claims the oldest queued run, or a running one whose lease expired before `now`
    /// (microseconds) or whose holder's node lease ([`crate::node_lease_name`], seconds)
    /// expired — that process stopped — for `owner` until `lease_until`. A holder belongs to
    /// node `N` when it is `N` or starts with `N-` (a node's workers claim as `N-w0`, `N-w1`,
    /// …). Exactly one caller gets a given run.
    async fn claim_run(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RunRecord>>;
    /// Extends the lease and records progress, if `owner` still holds the run. Returns the
    /// run's status (so the worker sees a cancellation), or `None` when the lease was lost.
    async fn heartbeat_run(
        &self,
        id: &str,
        owner: &str,
        progress: &Value,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RunStatus>>;
    /// Ends a run held by `owner`. Returns false when the lease was lost.
    async fn finish_run(
        &self,
        id: &str,
        owner: &str,
        status: RunStatus,
        message: &str,
        progress: &Value,
        now: i64,
    ) -> StoreResult<bool>;
    /// Gives a run held by `owner` back to the queue (shutdown). Returns false when the lease
    /// was lost.
    async fn release_run(&self, id: &str, owner: &str, now: i64) -> StoreResult<bool>;
    /// Gives every run any process holds back to the queue (running ones become Queued,
    /// canceling ones stay Canceling), whatever its lease: for a process that knows no other
    /// can be running them — the embedded server at start, holding the data dir's lock —
    /// so runs a crash left behind resume at once instead of after their lease. Returns how
    /// many it released.
    async fn release_all_runs(&self, now: i64) -> StoreResult<u64>;
    /// Requests cancellation: a queued run becomes Cancelled, a running one Canceling.
    /// Returns the run afterwards; finished runs are returned unchanged.
    async fn cancel_run(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<RunRecord>>;
    /// Applies the section filler's changes in one transaction. A change whose field moved on
    /// (version differs), or that is no longer AI-editable, is skipped. Returns how many applied.
    async fn apply_field_changes(&self, changes: &[FieldChange]) -> StoreResult<usize>;
}

/// Full-text search over chunks, each engine its own: FTS5 with bm25 (SQLite), a weighted
/// `tsvector` with `ts_rank` (PostgreSQL).
#[async_trait]
pub trait FullTextSearch {
    /// The chunks in `query`'s scope matching any of `terms` (non-empty), best first, with
    /// the total matching.
    async fn search_chunk_text(
        &self,
        org: &OrgId,
        terms: &[String],
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkHit>)>;
}

/// A WHERE clause of fixed SQL with every value bound, numbered `$1`, `$2`, … in the order
/// bound.
pub(crate) struct Clause<'a> {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Bind<'a>>,
}

impl<'a> Clause<'a> {
    pub(crate) fn new() -> Self {
        Self {
            sql: String::new(),
            binds: Vec::new(),
        }
    }

    /// Binds a value; returns its placeholder (`$n`).
    pub(crate) fn bind(&mut self, value: impl Into<Bind<'a>>) -> String {
        self.binds.push(value.into());
        format!("${}", self.binds.len())
    }

    /// Adds a condition.
    pub(crate) fn and(&mut self, condition: &str) {
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        self.sql.push_str(condition);
    }

    /// Adds a condition on one newly bound value; `condition` gets its placeholder.
    pub(crate) fn and_bound(
        &mut self,
        value: impl Into<Bind<'a>>,
        condition: impl FnOnce(&str) -> String,
    ) {
        let placeholder = self.bind(value);
        self.and(&condition(&placeholder));
    }

    /// Adds `name = value` for each pair whose value is given.
    pub(crate) fn and_equal<const N: usize>(&mut self, pairs: [(&str, Option<&'a str>); N]) {
        for (name, value) in pairs {
            if let Some(value) = value {
                self.and_bound(value, |placeholder| format!("{name} = {placeholder}"));
            }
        }
    }

    /// `LIMIT` and `OFFSET` placeholders numbered after the bound values, for
    /// `count_and_page`.
    pub(crate) fn page(&self) -> String {
        let next = self.binds.len() + 1;
        format!("LIMIT ${next} OFFSET ${}", next + 1)
    }

    /// Requires that the JSON array in `column` holds one element with the given `type` and
    /// `id` (either may be absent).
    fn and_reference(
        &mut self,
        dialect: Dialect,
        column: &str,
        kind: Option<&'a str>,
        id: Option<&'a str>,
    ) {
        match dialect {
            Dialect::Sqlite => {
                let mut condition =
                    format!("EXISTS (SELECT 1 FROM json_each({column}) r WHERE 1 = 1");
                for (key, value) in [("type", kind), ("id", id)] {
                    if let Some(value) = value {
                        let placeholder = self.bind(value);
                        condition.push_str(&format!(
                            " AND json_extract(r.value, '$.{key}') = {placeholder}"
                        ));
                    }
                }
                condition.push(')');
                self.and(&condition);
            }
            Dialect::Postgres => {
                let mut element = serde_json::Map::new();
                for (key, value) in [("type", kind), ("id", id)] {
                    if let Some(value) = value {
                        element.insert(key.to_owned(), Value::from(value));
                    }
                }
                let pattern = Value::Array(vec![Value::Object(element)]).to_string();
                self.and_bound(pattern, |placeholder| {
                    format!("{column}::jsonb @> CAST({placeholder}::text AS jsonb)")
                });
            }
        }
    }
}

/// A page as SQLite reads it: a negative limit means no limit and a negative offset none
/// (PostgreSQL would reject both).
fn page_bounds(limit: i64, offset: i64) -> (i64, i64) {
    (if limit < 0 { i64::MAX } else { limit }, offset.max(0))
}

/// Adds a chunk scope (organisation, kit, document) to `clause`, over chunks `c` joined to
/// their documents `d`.
pub(crate) fn chunk_scope<'a>(
    clause: &mut Clause<'a>,
    dialect: Dialect,
    org: &'a OrgId,
    query: &'a ChunkQuery,
) {
    clause.and_bound(org.as_str(), |placeholder| {
        format!("c.org_id = {placeholder}")
    });
    clause.and("d.deleted_at IS NULL");
    if let Some(kit) = &query.reference_id {
        clause.and_reference(dialect, "d.refs", None, Some(kit));
    }
    if let Some(document) = &query.document_id {
        clause.and_bound(document.as_str(), |placeholder| {
            format!("c.document_id = {placeholder}")
        });
    }
}

/// A page of the chunks in `query`'s scope of `org`, with the total: rows of `source` (chunks
/// `c` joined to their documents `d`, and whatever else the caller joins) under `clause`'s
/// conditions and the scope's, selected as `select` in `order`.
pub(crate) async fn chunk_page<'a, T>(
    conn: &mut Conn<'_>,
    (org, query): (&'a OrgId, &'a ChunkQuery),
    mut clause: Clause<'a>,
    source: &str,
    (select, order): (&str, &str),
    map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
) -> StoreResult<(i64, Vec<T>)> {
    chunk_scope(&mut clause, conn.dialect(), org, query);
    let from = format!("FROM {source} WHERE {}", clause.sql);
    let page = (query.limit, query.offset);
    count_and_page_of(conn, &from, clause, page, (select, order), map).await
}

/// A page of full-text hits: [`chunk_page`] with `score` (higher is better) as the hit's
/// score and snippets that mark `terms`.
pub(crate) async fn hit_page<'a>(
    conn: &mut Conn<'_>,
    scope: (&'a OrgId, &'a ChunkQuery),
    (clause, source): (Clause<'a>, &str),
    (score, order): (&str, &str),
    terms: &[String],
) -> StoreResult<(i64, Vec<ChunkHit>)> {
    let select = format!("{}, {score} AS score", chunk_columns());
    chunk_page(conn, scope, clause, source, (&select, order), |row| {
        let chunk = ChunkRecord::from_row(row)?;
        Ok(ChunkHit {
            snippet: brandstream_domain::text::snippet(&chunk.text, terms, SNIPPET_WORDS),
            chunk,
            score: row.real("score")?,
        })
    })
    .await
}

/// A listing's total and page, `(limit, offset)` read as SQLite reads them.
pub(crate) async fn count_and_page_of<T>(
    conn: &mut Conn<'_>,
    from: &str,
    clause: Clause<'_>,
    (limit, offset): (i64, i64),
    select_order: (&str, &str),
    map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
) -> StoreResult<(i64, Vec<T>)> {
    let (select, order) = select_order;
    let page_sql = collated(
        conn.dialect(),
        &format!("SELECT {select} {from} ORDER BY {order} {}", clause.page()),
    )
    .into_owned();
    conn.count_and_page(
        &format!("SELECT COUNT(*) AS count {from}"),
        clause.binds,
        page_bounds(limit, offset),
        &page_sql,
        map,
    )
    .await
}

/// A page of `table`'s rows matching `clause`, newest first (ties by id), with the total.
async fn newest_first<T>(
    conn: &mut Conn<'_>,
    (table, columns): (&str, &str),
    clause: Clause<'_>,
    page: (i64, i64),
    map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
) -> StoreResult<(i64, Vec<T>)> {
    let from = format!("FROM {table} WHERE {}", clause.sql);
    let order = (columns, "created_at DESC, id COLLATE \"C\"");
    count_and_page_of(conn, &from, clause, page, order, map).await
}

/// Removes references to the document's chunks from every field of the organisation that
/// cites them, keeping the other references verbatim and in order. On PostgreSQL the fields
/// are locked in id order first, as `apply_field_changes` locks them, so the two cannot
/// deadlock over the same fields. Binds: `$1` document, `$2` organisation, `$3` time, `$4` by.
const DROP_CHUNK_REFERENCES_SQLITE: &str = "UPDATE brand_fields SET \
       refs = (SELECT COALESCE(json_group_array(json(r.value)), '[]') \
               FROM json_each(brand_fields.refs) r \
               WHERE COALESCE(json_extract(r.value, '$.id'), '') NOT IN \
                     (SELECT id FROM chunks WHERE document_id = $1)), \
       version = version + 1, updated_at = $3, updated_by = $4 \
     WHERE kit_id IN (SELECT id FROM brand_kits WHERE org_id = $2) \
       AND EXISTS (SELECT 1 FROM json_each(brand_fields.refs) r \
                   WHERE json_extract(r.value, '$.id') IN \
                         (SELECT id FROM chunks WHERE document_id = $1))";
const DROP_CHUNK_REFERENCES_POSTGRES: &str = "UPDATE brand_fields SET \
       refs = COALESCE((SELECT '[' || string_agg(r.value::text, ',' ORDER BY r.position) || ']' \
                        FROM json_array_elements(brand_fields.refs::json) \
                             WITH ORDINALITY AS r(value, position) \
                        WHERE COALESCE(r.value ->> 'id', '') NOT IN \
                              (SELECT id FROM chunks WHERE document_id = $1)), '[]'), \
       version = version + 1, updated_at = $3, updated_by = $4 \
     WHERE id IN ( \
         SELECT f.id FROM brand_fields f \
         WHERE f.kit_id IN (SELECT id FROM brand_kits WHERE org_id = $2) \
           AND EXISTS (SELECT 1 FROM json_array_elements(f.refs::json) AS r(value) \
                       WHERE r.value ->> 'id' IN (SELECT id FROM chunks WHERE document_id = $1)) \
         ORDER BY f.id COLLATE \"C\" FOR UPDATE)";

async fn drop_chunk_references(
    tx: &mut Tx<'_>,
    org: &OrgId,
    document_id: &str,
    now: i64,
    by: &str,
) -> StoreResult<()> {
    // A document read for the first time has no chunks anyone could cite: skip the scan of
    // every field of the organisation.
    let has_chunks = tx
        .query_opt(
            "SELECT id FROM chunks WHERE document_id = $1 LIMIT 1",
            &binds![document_id],
            |row| row.text("id"),
        )
        .await?
        .is_some();
    if !has_chunks {
        return Ok(());
    }
    let sql = tx
        .dialect()
        .pick(DROP_CHUNK_REFERENCES_SQLITE, DROP_CHUNK_REFERENCES_POSTGRES);
    tx.execute(sql, &binds![document_id, org.as_str(), now, by])
        .await
        .map(drop)
}

async fn update_document_in(
    tx: &mut Tx<'_>,
    document: &DocumentRecord,
    expected_version: i64,
) -> StoreResult<bool> {
    tx.update_row(&DOCUMENTS.update(
        document,
        document.org_id.as_str(),
        &document.id,
        expected_version,
    ))
    .await
}

/// ` FOR UPDATE` on PostgreSQL (lock the rows read until commit); nothing on SQLite, whose
/// `BEGIN IMMEDIATE` already holds the write lock.
fn for_update(dialect: Dialect) -> &'static str {
    dialect.pick("", " FOR UPDATE")
}

/// Chunk rows per insert statement: SQLite's full-text index (filled by trigger) flushes its
/// pending terms at every statement boundary, so few large statements write few index
/// segments. Ten values a row: within SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHUNK_ROWS_PER_STATEMENT: usize = 3_000;

#[async_trait]
impl<B: Backend + FullTextSearch> DocumentStore for B {
    async fn insert_document(&self, document: &DocumentRecord) -> StoreResult<()> {
        DOCUMENTS.insert_one(self, document).await
    }

    async fn get_document(&self, org: &OrgId, id: &str) -> StoreResult<Option<DocumentRecord>> {
        DOCUMENTS.get(self, org.as_str(), id).await
    }

    async fn list_documents(
        &self,
        org: &OrgId,
        query: &DocumentQuery,
    ) -> StoreResult<(i64, Vec<DocumentRecord>)> {
        let mut conn = self.reader().await?;
        let dialect = conn.dialect();
        let mut clause = Clause::new();
        clause.and_bound(org.as_str(), |placeholder| {
            format!("org_id = {placeholder}")
        });
        if !query.include_deleted {
            clause.and("deleted_at IS NULL");
        }
        if let Some(search) = &query.search {
            // Case-insensitive on both (SQLite's LIKE is). The JSON text of the tags is
            // searched (it is the same text on both).
            let like = dialect.pick("LIKE", "ILIKE");
            clause.and_bound(like_pattern(search), |p| {
                format!(
                    "(title {like} {p} ESCAPE '\\' OR COALESCE(summary, '') {like} {p} ESCAPE '\\' \
                     OR tags {like} {p} ESCAPE '\\')"
                )
            });
        }
        let status = query.status.map(DocumentStatus::as_str);
        clause.and_equal([
            ("doc_type", query.doc_type.as_deref()),
            ("status", status),
            ("created_by", query.created_by.as_deref()),
            ("file_type", query.file_type.as_deref()),
        ]);
        if query.reference_type.is_some() || query.reference_id.is_some() {
            clause.and_reference(
                dialect,
                "refs",
                query.reference_type.as_deref(),
                query.reference_id.as_deref(),
            );
        }
        if !query.tags.is_empty() {
            // Every requested tag must be present, compared case-insensitively. The tags
            // travel as one JSON array, so the statement text is the same for any number of
            // tags (statements are cached per connection; one per tag count would let clients
            // grow that cache without bound).
            let wanted = serde_json::to_string(&query.tags)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            clause.and_bound(wanted, |p| match dialect {
                Dialect::Sqlite => format!(
                    "NOT EXISTS (SELECT 1 FROM json_each({p}) wanted WHERE NOT EXISTS \
                     (SELECT 1 FROM json_each(tags) t WHERE lower(t.value) = lower(wanted.value)))"
                ),
                Dialect::Postgres => format!(
                    "NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(CAST({p}::text AS jsonb)) \
                     AS wanted(tag) WHERE NOT EXISTS (SELECT 1 FROM \
                     jsonb_array_elements_text(tags::jsonb) AS t(value) \
                     WHERE lower(t.value) = lower(wanted.tag)))"
                ),
            });
        }
        newest_first(
            &mut conn,
            ("documents", DocumentRecord::columns()),
            clause,
            (query.limit, query.offset),
            DocumentRecord::from_row,
        )
        .await
    }

    async fn update_document(
        &self,
        document: &DocumentRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let update = DOCUMENTS.update(
            document,
            document.org_id.as_str(),
            &document.id,
            expected_version,
        );
        self.writer().await?.update_row(&update).await
    }

    async fn delete_document(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<DocumentRecord>> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        // Locked on PostgreSQL: of two concurrent deletes the second waits, then finds it
        // deleted.
        let sql = format!(
            "SELECT {columns} FROM documents \
             WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL{}",
            for_update(tx.dialect()),
            columns = DocumentRecord::columns()
        );
        let Some(document) = tx
            .query_opt(&sql, &binds![org.as_str(), id], DocumentRecord::from_row)
            .await?
        else {
            return Ok(None);
        };
        drop_chunk_references(&mut tx, org, id, now, by).await?;
        tx.execute("DELETE FROM chunks WHERE document_id = $1", &binds![id])
            .await?;
        tx.execute(
            "UPDATE documents SET deleted_at = $1, chunked = FALSE, version = version + 1, \
             updated_at = $1, updated_by = $2 WHERE id = $3",
            &binds![now, by, id],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(document))
    }

    async fn replace_chunks(
        &self,
        document: &DocumentRecord,
        chunks: &[ChunkRecord],
    ) -> StoreResult<()> {
        let store = self.clone();
        let document = document.clone();
        let chunks = chunks.to_vec();
        // A large document's chunks are many rows: written off the runtime threads.
        self.off_runtime(Box::pin(async move {
            let mut conn = store.writer().await?;
            let mut tx = conn.begin().await?;
            // Lock the document first: a concurrent replacement or delete waits for this one,
            // and then its version check fails, instead of the two interleaving their chunks.
            let sql = format!(
                "SELECT id FROM documents WHERE org_id = $1 AND id = $2{}",
                for_update(tx.dialect())
            );
            tx.query_opt(
                &sql,
                &binds![document.org_id.as_str(), &document.id],
                |row| row.text("id"),
            )
            .await?;
            drop_chunk_references(
                &mut tx,
                &document.org_id,
                &document.id,
                document.stamp.updated_at,
                &document.stamp.updated_by,
            )
            .await?;
            tx.execute(
                "DELETE FROM chunks WHERE document_id = $1",
                &binds![&document.id],
            )
            .await?;
            tx.insert_rows_by(
                "chunks",
                chunk_insert_columns(),
                &chunks,
                CHUNK_ROWS_PER_STATEMENT,
                chunk_values,
            )
            .await?;
            if !update_document_in(&mut tx, &document, document.version - 1).await? {
                return Err(StoreError::Conflict(
                    "the document changed while it was processed".to_owned(),
                ));
            }
            tx.commit().await
        }))
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
        self.search_chunk_text(org, terms, query).await
    }

    async fn list_chunks(
        &self,
        org: &OrgId,
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkRecord>)> {
        let mut conn = self.reader().await?;
        chunk_page(
            &mut conn,
            (org, query),
            Clause::new(),
            "chunks c JOIN documents d ON d.id = c.document_id",
            (
                chunk_columns(),
                "d.created_at, c.document_id COLLATE \"C\", c.ordinal",
            ),
            ChunkRecord::from_row,
        )
        .await
    }

    async fn get_chunk(&self, org: &OrgId, id: &str) -> StoreResult<Option<ChunkRecord>> {
        let sql = format!(
            "SELECT {} FROM chunks c WHERE c.org_id = $1 AND c.id = $2",
            chunk_columns()
        );
        let mut conn = self.reader().await?;
        conn.query_opt(&sql, &binds![org.as_str(), id], ChunkRecord::from_row)
            .await
    }

    async fn insert_run(&self, run: &RunRecord) -> StoreResult<()> {
        RUNS.insert_one(self, run).await
    }

    async fn get_run(&self, org: &OrgId, id: &str) -> StoreResult<Option<RunRecord>> {
        RUNS.get(self, org.as_str(), id).await
    }

    async fn list_runs(&self, org: &OrgId, query: &RunQuery) -> StoreResult<(i64, Vec<RunRecord>)> {
        let mut conn = self.reader().await?;
        let mut clause = Clause::new();
        clause.and_bound(org.as_str(), |placeholder| {
            format!("org_id = {placeholder}")
        });
        let status = query.status.map(RunStatus::as_str);
        clause.and_equal([
            ("kit_id", query.kit_id.as_deref()),
            ("status", status),
            ("pipeline_id", query.pipeline_id.as_deref()),
        ]);
        newest_first(
            &mut conn,
            ("pipeline_runs", RunRecord::columns()),
            clause,
            (query.limit, query.offset),
            RunRecord::from_row,
        )
        .await
    }

    async fn claim_run(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RunRecord>> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        // SQLite: one writer at a time, so the select and update cannot interleave with
        // another claim. PostgreSQL: the row lock, held until commit, makes the claim
        // exclusive; SKIP LOCKED lets a worker on another node pass over a run being claimed
        // right now and take the next one instead of waiting. A run claimed and committed
        // meanwhile is re-checked against the condition (PostgreSQL re-reads a locked row's
        // newest version) and no longer qualifies.
        let sql = collated(
            tx.dialect(),
            &format!(
                "SELECT id FROM pipeline_runs \
                 WHERE status = $1 OR (status IN ($2, $3) AND (lease_until < $4 \
                   OR EXISTS (SELECT 1 FROM leases l \
                              WHERE l.name = $5 || l.owner AND l.until < $6 \
                                AND (pipeline_runs.lease_owner = l.owner \
                                     OR substr(pipeline_runs.lease_owner, 1, length(l.owner) + 1) \
                                        = l.owner || '-')))) \
                 ORDER BY created_at, id COLLATE \"C\" LIMIT 1{}",
                tx.dialect().pick("", " FOR UPDATE SKIP LOCKED")
            ),
        )
        .into_owned();
        let candidate = tx
            .query_opt(
                &sql,
                &binds![
                    RunStatus::Queued.as_str(),
                    RunStatus::InProgress.as_str(),
                    RunStatus::Canceling.as_str(),
                    now,
                    crate::NODE_LEASE_PREFIX,
                    now.div_euclid(1_000_000),
                ],
                |row| row.text("id"),
            )
            .await?;
        let Some(id) = candidate else {
            return Ok(None);
        };
        let run = tx
            .query_opt(
                &format!(
                    "UPDATE pipeline_runs SET \
                       status = CASE status WHEN $1 THEN $2 ELSE status END, \
                       run_start = COALESCE(run_start, $3), attempts = attempts + 1, \
                       lease_owner = $4, lease_until = $5, updated_at = $3 \
                     WHERE id = $6 RETURNING {columns}",
                    columns = RunRecord::columns()
                ),
                &binds![
                    RunStatus::Queued.as_str(),
                    RunStatus::InProgress.as_str(),
                    now,
                    owner,
                    lease_until,
                    &id,
                ],
                RunRecord::from_row,
            )
            .await?;
        tx.commit().await?;
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
        let mut conn = self.writer().await?;
        conn.query_opt(
            "UPDATE pipeline_runs SET progress = $1, lease_until = $2, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5 RETURNING status",
            &binds![progress.to_string(), lease_until, now, id, owner],
            |row| RunStatus::read(row, "status"),
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
        let changed = self
            .write(
                "UPDATE pipeline_runs SET status = $1, message = $2, progress = $3, \
                 run_end = $4, duration_ms = ($4 - COALESCE(run_start, $4)) / 1000, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $4 \
                 WHERE id = $5 AND lease_owner = $6",
                &binds![
                    status.as_str(),
                    message,
                    progress.to_string(),
                    now,
                    id,
                    owner
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn release_run(&self, id: &str, owner: &str, now: i64) -> StoreResult<bool> {
        let changed =
            hand_back_runs(self, now, "id = $4 AND lease_owner = $5", binds![id, owner]).await?;
        Ok(changed == 1)
    }

    async fn release_all_runs(&self, now: i64) -> StoreResult<u64> {
        hand_back_runs(
            self,
            now,
            "lease_owner IS NOT NULL AND status IN ($1, $4)",
            binds![RunStatus::Canceling.as_str()],
        )
        .await
    }

    async fn cancel_run(
        &self,
        org: &OrgId,
        id: &str,
        now: i64,
        by: &str,
    ) -> StoreResult<Option<RunRecord>> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        tx.execute(
            "UPDATE pipeline_runs SET \
               status = CASE status WHEN $1 THEN $2 ELSE $3 END, \
               run_end = CASE status WHEN $1 THEN $4 ELSE run_end END, \
               message = CASE status WHEN $1 THEN 'Cancelled before it started' ELSE message END, \
               updated_at = $4, updated_by = $5 \
             WHERE org_id = $6 AND id = $7 AND status IN ($1, $8)",
            &binds![
                RunStatus::Queued.as_str(),
                RunStatus::Cancelled.as_str(),
                RunStatus::Canceling.as_str(),
                now,
                by,
                org.as_str(),
                id,
                RunStatus::InProgress.as_str(),
            ],
        )
        .await?;
        let run = tx
            .query_opt(
                &format!(
                    "SELECT {columns} FROM pipeline_runs WHERE org_id = $1 AND id = $2",
                    columns = RunRecord::columns()
                ),
                &binds![org.as_str(), id],
                RunRecord::from_row,
            )
            .await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn apply_field_changes(&self, changes: &[FieldChange]) -> StoreResult<usize> {
        let store = self.clone();
        let changes = changes.to_vec();
        self.off_runtime(Box::pin(async move {
            let mut conn = store.writer().await?;
            let mut tx = conn.begin().await?;
            let dialect = tx.dialect();
            if dialect == Dialect::Postgres {
                // Lock the fields to change in id order (see `drop_chunk_references`).
                let ids = serde_json::to_string(
                    &changes
                        .iter()
                        .map(|c| c.field.id.as_str())
                        .collect::<Vec<_>>(),
                )
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                tx.execute(
                    "SELECT id FROM brand_fields WHERE id IN \
                     (SELECT jsonb_array_elements_text(CAST($1::text AS jsonb))) \
                     ORDER BY id COLLATE \"C\" FOR UPDATE",
                    &binds![ids],
                )
                .await?;
            }
            // Whether each kit exists and is unlocked, read once per kit; on PostgreSQL
            // FOR SHARE keeps anyone from locking it until these changes are committed.
            let kit_sql = format!(
                "SELECT locked FROM brand_kits WHERE id = $1{}",
                dialect.pick("", " FOR SHARE")
            );
            let mut writable: HashMap<BrandKitId, bool> = HashMap::new();
            let mut applied = 0;
            for change in &changes {
                let field = &change.field;
                let open = match writable.get(&field.kit_id) {
                    Some(open) => *open,
                    None => {
                        let locked = tx
                            .query_opt(&kit_sql, &binds![&field.kit_id], |row| row.flag("locked"))
                            .await?;
                        let open = locked == Some(false);
                        writable.insert(field.kit_id.clone(), open);
                        open
                    }
                };
                if !open {
                    continue;
                }
                match change.expected_version {
                    None => {
                        insert_fields(&mut tx, std::slice::from_ref(field)).await?;
                        applied += 1;
                    }
                    Some(expected) => {
                        let changed = tx
                            .execute(
                                "UPDATE brand_fields SET value = $1, refs = $2, version = $3, \
                                 updated_at = $4, updated_by = $5 \
                                 WHERE id = $6 AND version = $7 AND ai_editable",
                                &binds![
                                    field.value.to_string(),
                                    field.references.to_string(),
                                    field.version,
                                    field.stamp.updated_at,
                                    &field.stamp.updated_by,
                                    &field.id,
                                    expected,
                                ],
                            )
                            .await?;
                        applied += usize::try_from(changed)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    }
                }
            }
            tx.commit().await?;
            Ok(applied)
        }))
        .await
    }
}

/// Gives the runs matching `filter` back to the queue: running ones become Queued (canceling
/// ones stay Canceling), their lease cleared. `filter` may use `$1` (InProgress) and numbers
/// its own parameters `extra` from `$4`. Returns how many changed.
async fn hand_back_runs<B: Backend>(
    backend: &B,
    now: i64,
    filter: &str,
    extra: impl IntoIterator<Item = Bind<'_>>,
) -> StoreResult<u64> {
    let mut binds = Vec::from(binds![
        RunStatus::InProgress.as_str(),
        RunStatus::Queued.as_str(),
        now,
    ]);
    binds.extend(extra);
    backend
        .writer()
        .await?
        .execute(
            &format!(
                "UPDATE pipeline_runs SET status = CASE status WHEN $1 THEN $2 ELSE status END, \
                 lease_owner = NULL, lease_until = 0, updated_at = $3 WHERE {filter}"
            ),
            &binds,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::{DocumentStatus, RunStatus};

    #[test]
    fn document_statuses_keep_their_stream_names() {
        for status in DocumentStatus::ALL {
            assert_eq!(DocumentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DocumentStatus::Processed.to_string(), "processed");
        assert_eq!(DocumentStatus::parse("Processed"), None, "names are exact");
    }

    #[test]
    fn run_statuses_keep_their_stream_names() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(RunStatus::InProgress.as_str(), "InProgress");
        assert_eq!(RunStatus::parse("queued"), None, "names are exact");
        assert!(RunStatus::Failed.is_finished() && !RunStatus::Canceling.is_finished());
    }
}
