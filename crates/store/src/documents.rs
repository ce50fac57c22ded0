//! Records and queries of brand documents, knowledge chunks and pipeline runs.

use async_trait::async_trait;
use brandstream_domain::OrgId;
use serde_json::Value;

use crate::brand::FieldRecord;
use crate::StoreResult;

/// A brand document's metadata (the file itself is a blob). Times are Unix microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    /// UUID.
    pub id: String,
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
    pub references: Value,
    /// Whether its chunks are indexed.
    pub chunked: bool,
    /// Whether it has a summary.
    pub summarized: bool,
    /// Why processing failed (empty otherwise).
    pub message: String,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// Creation time.
    pub created_at: i64,
    /// Creating client.
    pub created_by: String,
    /// Last change time.
    pub updated_at: i64,
    /// Last changing client.
    pub updated_by: String,
    /// Deletion time.
    pub deleted_at: Option<i64>,
    /// The charset its sender declared for a textual file (the `charset` parameter of the
    /// upload part's or fetched response's Content-Type, by its WHATWG Encoding Standard name),
    /// used to read the file when the file names none itself.
    pub charset: Option<String>,
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

/// A knowledge chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    /// UUID.
    pub id: String,
    /// Its document.
    pub document_id: String,
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

/// A pipeline run, which is also the durable job that executes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// UUID.
    pub id: String,
    /// Owning organisation.
    pub org_id: OrgId,
    /// `BrandIngestionPipeline` or `EnrichSectionsPipeline`.
    pub pipeline_id: String,
    /// The brand kit it works on.
    pub kit_id: String,
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
    /// Creation time.
    pub created_at: i64,
    /// Creator.
    pub created_by: String,
    /// Last change time.
    pub updated_at: i64,
    /// Last changer.
    pub updated_by: String,
}

/// A brand document's status (reference §2B), stored and sent by its Stream API name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentStatus {
    /// Uploaded, not read yet (`pending`).
    Pending,
    /// Read, chunked and indexed (`processed`).
    Processed,
    /// `draft`, set by clients.
    Draft,
    /// `active`, set by clients.
    Active,
    /// `archived`, set by clients.
    Archived,
    /// `edited`, set by clients.
    Edited,
    /// Could not be read; the document's message says why (`failed`).
    Failed,
}

impl DocumentStatus {
    /// Every status, in the reference's order.
    pub const ALL: [DocumentStatus; 7] = [
        DocumentStatus::Pending,
        DocumentStatus::Processed,
        DocumentStatus::Draft,
        DocumentStatus::Active,
        DocumentStatus::Archived,
        DocumentStatus::Edited,
        DocumentStatus::Failed,
    ];

    /// The wire and stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Processed => "processed",
            DocumentStatus::Draft => "draft",
            DocumentStatus::Active => "active",
            DocumentStatus::Archived => "archived",
            DocumentStatus::Edited => "edited",
            DocumentStatus::Failed => "failed",
        }
    }

    /// The status named `name` (exactly as stored), if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

impl std::fmt::Display for DocumentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored document status read back: a name no version of this server writes is a corrupt
/// row.
pub(crate) fn document_status_column(name: &str) -> StoreResult<DocumentStatus> {
    DocumentStatus::parse(name)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("unknown document status {name:?}")))
}

/// A pipeline run's status, stored and sent by its Stream API name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Waiting for a worker (`Queued`).
    Queued,
    /// A worker runs it (`InProgress`).
    InProgress,
    /// Cancellation requested while running (`Canceling`).
    Canceling,
    /// Stopped on request (`Cancelled`).
    Cancelled,
    /// Finished (`Succeeded`).
    Succeeded,
    /// Finished without result (`Failed`).
    Failed,
}

impl RunStatus {
    /// Every status, in a run's life order.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::InProgress,
        RunStatus::Canceling,
        RunStatus::Cancelled,
        RunStatus::Succeeded,
        RunStatus::Failed,
    ];

    /// The wire and stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::InProgress => "InProgress",
            RunStatus::Canceling => "Canceling",
            RunStatus::Cancelled => "Cancelled",
            RunStatus::Succeeded => "Succeeded",
            RunStatus::Failed => "Failed",
        }
    }

    /// The status named `name` (exactly as stored), if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// Whether the run has ended (Cancelled, Succeeded or Failed).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Cancelled | RunStatus::Succeeded | RunStatus::Failed
        )
    }
}

/// A stored status read back: a name no version of this server writes is a corrupt row.
pub(crate) fn run_status_column(name: &str) -> StoreResult<RunStatus> {
    RunStatus::parse(name)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("unknown run status {name:?}")))
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// Claims the oldest queued run, or a running one whose lease expired before `now`, for
    /// `owner` until `lease_until`. Exactly one caller gets a given run.
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
