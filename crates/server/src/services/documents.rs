//! Brand documents: the rules of an upload (reference §2B, D1) shared by the API and the
//! portal — validation, fetching a URL, recognising the type from the bytes, storing the file
//! and the document.

use std::sync::Arc;

use brandstream_domain::{ChunkId, DocumentId, OrgId};
use brandstream_ingest::{detect_kind, FileKind};
use brandstream_store::{
    Blobs, ChunkQuery, ChunkRecord, DocumentQuery, DocumentRecord, DocumentStatus, Stamp, Store,
};
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::brands::{BrandService, Patch};
use super::now_micros;
use crate::config::DocumentSettings;
use crate::error::{FieldIssue, ServiceError};

/// Longest title.
pub(crate) const TITLE_MAX: usize = 500;
/// Longest type, tag or reference field.
pub(crate) const SHORT_MAX: usize = 200;
/// Most tags or references.
pub(crate) const LIST_MAX: usize = 100;
/// Longest summary a client may set.
pub(crate) const SUMMARY_MAX: usize = 20_000;
/// Longest URL.
pub(crate) const URL_MAX: usize = 2048;

fn invalid_file_type(why: &str) -> ServiceError {
    ServiceError::Rejected(format!("Invalid file type: {why}"))
}

/// Checks every declared type against the detected one.
pub(crate) fn check_declared(
    kind: FileKind,
    declared: &[(&str, Option<&str>)],
) -> Result<(), ServiceError> {
    for (what, value) in declared {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let generic = value.starts_with("application/octet-stream");
        if generic && *what != "fileType" {
            continue;
        }
        match FileKind::from_declared(value) {
            Some(declared_kind) if kind.agrees_with(declared_kind) => {}
            Some(declared_kind) => {
                return Err(invalid_file_type(&format!(
                    "the content is {} but the {what} says {}",
                    kind.mime(),
                    declared_kind.mime()
                )))
            }
            None if *what == "file name" => {}
            None => {
                return Err(invalid_file_type(&format!(
                    "the content is {} but the {what} says {value}",
                    kind.mime()
                )))
            }
        }
    }
    Ok(())
}

/// The extension of a file name, if it has one.
pub(crate) fn extension(name: &str) -> Option<&str> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.')
        .map(|(_, extension)| extension)
        .filter(|e| !e.is_empty())
}

pub(crate) fn check_text(
    issues: &mut Vec<FieldIssue>,
    field: &str,
    value: Option<&str>,
    max: usize,
) {
    if value.is_some_and(|value| value.chars().count() > max) {
        issues.push(FieldIssue::new(
            vec![json!("body"), json!(field)],
            format!("String should have at most {max} characters"),
            "string_too_long",
        ));
    }
}

pub(crate) fn check_tags(issues: &mut Vec<FieldIssue>, tags: &[String]) {
    if tags.len() > LIST_MAX {
        issues.push(FieldIssue::new(
            vec![json!("body"), json!("tags")],
            format!("List should have at most {LIST_MAX} items"),
            "too_long",
        ));
    }
    for (index, tag) in tags.iter().enumerate() {
        if tag.chars().count() > SHORT_MAX {
            issues.push(FieldIssue::new(
                vec![json!("body"), json!("tags"), json!(index)],
                format!("String should have at most {SHORT_MAX} characters"),
                "string_too_long",
            ));
        }
    }
}

/// Validates references and checks that referenced kits exist; returns them normalised.
pub(crate) async fn references(
    brands: &BrandService,
    org: &brandstream_domain::OrgId,
    references: &[Value],
) -> Result<Value, ServiceError> {
    if references.len() > LIST_MAX {
        return Err(ServiceError::Invalid(vec![FieldIssue::new(
            vec![json!("body"), json!("references")],
            format!("List should have at most {LIST_MAX} items"),
            "too_long",
        )]));
    }
    let mut normalised = Vec::with_capacity(references.len());
    for (index, reference) in references.iter().enumerate() {
        let at = |key: &str| vec![json!("body"), json!("references"), json!(index), json!(key)];
        let text = |key: &str| reference.get(key).and_then(Value::as_str).map(str::trim);
        let kind = text("type").unwrap_or("brandkit").to_owned();
        let Some(id) = text("id").filter(|id| !id.is_empty()) else {
            return Err(ServiceError::Invalid(vec![FieldIssue::new(
                at("id"),
                "Field required",
                "missing",
            )]));
        };
        if kind.chars().count() > SHORT_MAX || id.chars().count() > SHORT_MAX {
            return Err(ServiceError::Invalid(vec![FieldIssue::new(
                at("id"),
                format!("String should have at most {SHORT_MAX} characters"),
                "string_too_long",
            )]));
        }
        let mut id = id.to_owned();
        if kind == "brandkit" {
            let Ok(parsed) = uuid::Uuid::try_parse(&id) else {
                return Err(ServiceError::Invalid(vec![FieldIssue::new(
                    at("id"),
                    "Input should be a valid UUID",
                    "uuid_parsing",
                )]));
            };
            id = parsed.hyphenated().to_string();
            brands
                .get_kit(
                    org,
                    &brandstream_domain::BrandKitId::from(id.clone()),
                    false,
                )
                .await?;
        }
        let path = text("path")
            .filter(|path| !path.is_empty() && path.len() <= URL_MAX)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if kind == "brandkit" {
                    format!("/api/brands/v1/organizations/{org}/brandkits/{id}/references")
                } else {
                    String::new()
                }
            });
        normalised.push(json!({"type": kind, "id": id, "path": path}));
    }
    Ok(Value::Array(normalised))
}

/// A file as uploaded: bytes, file name, declared Content-Type.
pub type UploadedFile = (Bytes, Option<String>, Option<String>);

/// What a new document is made of, besides its file: the typed fields of `create_request`.
#[derive(Debug, Default, Clone)]
pub struct NewDocument {
    /// URL to fetch the file from when no file is sent.
    pub url: Option<String>,
    /// Kind of document (default `brand guidelines`).
    pub doc_type: Option<String>,
    /// Declared MIME type; must agree with the content.
    pub file_type: Option<String>,
    /// First page to process (1-based).
    pub page_range_from: Option<i64>,
    /// Last page to process.
    pub page_range_to: Option<i64>,
    /// Title (default: the file name).
    pub title: Option<String>,
    /// Summary (default: computed during ingestion).
    pub summary: Option<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// References to brand kits: `{"type": "brandkit", "id", "path"}`.
    pub references: Option<Vec<Value>>,
}

/// Document fields a PATCH may change: `None` keeps a field, `Some(None)` is the wire's
/// `null` (the type goes back to its default, the summary and tags are cleared; a `null`
/// title or status is refused or kept as the API says).
#[derive(Debug, Default, Clone)]
pub struct DocumentChanges {
    /// New title (never empty).
    pub title: Patch<String>,
    /// New kind (`null`: `brand guidelines`).
    pub doc_type: Patch<String>,
    /// New summary.
    pub summary: Patch<String>,
    /// New status by its wire name (`null` keeps the current one).
    pub status: Patch<String>,
    /// New tags.
    pub tags: Patch<Vec<String>>,
    /// New references to brand kits (`{"type": "brandkit", "id", "path"}`).
    pub references: Patch<Vec<Value>>,
}

/// The document service: uploads, over the store, the blob storage and the kits.
#[derive(Clone)]
pub struct DocumentService {
    pub(super) store: Arc<dyn Store>,
    blobs: Blobs,
    brands: BrandService,
    settings: DocumentSettings,
    /// The embedding model, for vector and hybrid search (see [`super::search`]).
    pub(super) semantics: Option<Arc<crate::meaning::Semantics>>,
}

impl DocumentService {
    /// A service over `store` and `blobs`, checking references through `brands`, with the
    /// Document Management API's limits.
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Blobs,
        brands: BrandService,
        settings: DocumentSettings,
    ) -> Self {
        Self {
            store,
            blobs,
            brands,
            settings,
            semantics: None,
        }
    }

    /// A page of the organisation's documents matching `query`, with the total.
    pub async fn list(
        &self,
        org: &OrgId,
        query: &DocumentQuery,
    ) -> Result<(i64, Vec<DocumentRecord>), ServiceError> {
        Ok(self.store.list_documents(org, query).await?)
    }

    /// One document; a deleted one only with `include_deleted`.
    pub async fn get(
        &self,
        org: &OrgId,
        id: &DocumentId,
        include_deleted: bool,
    ) -> Result<DocumentRecord, ServiceError> {
        match self.store.get_document(org, id).await? {
            Some(document) if include_deleted || document.deleted_at.is_none() => Ok(document),
            _ => Err(ServiceError::NotFound("Document")),
        }
    }

    /// The chunks in `scope`, in document and reading order, with the total.
    pub async fn list_chunks(
        &self,
        org: &OrgId,
        scope: &ChunkQuery,
    ) -> Result<(i64, Vec<ChunkRecord>), ServiceError> {
        Ok(self.store.list_chunks(org, scope).await?)
    }

    /// One chunk.
    pub async fn get_chunk(&self, org: &OrgId, id: &ChunkId) -> Result<ChunkRecord, ServiceError> {
        self.store
            .get_chunk(org, id)
            .await?
            .ok_or(ServiceError::NotFound("Chunk"))
    }

    /// Changes a document's metadata (reference §2B): the values are checked first (one `422`
    /// naming every problem), then written as a versioned update, retried when another writer
    /// got in first (`409` after three tries).
    pub async fn update_document(
        &self,
        org: &OrgId,
        id: &DocumentId,
        actor: &str,
        changes: DocumentChanges,
    ) -> Result<DocumentRecord, ServiceError> {
        let mut issues = Vec::new();
        let flat = |value: &Patch<String>| value.clone().flatten();
        check_text(
            &mut issues,
            "title",
            flat(&changes.title).as_deref(),
            TITLE_MAX,
        );
        check_text(
            &mut issues,
            "type",
            flat(&changes.doc_type).as_deref(),
            SHORT_MAX,
        );
        check_text(
            &mut issues,
            "summary",
            flat(&changes.summary).as_deref(),
            SUMMARY_MAX,
        );
        if let Some(Some(tags)) = &changes.tags {
            check_tags(&mut issues, tags);
        }
        if let Some(status) = flat(&changes.status) {
            if DocumentStatus::parse(&status).is_none() {
                let names: Vec<&str> = DocumentStatus::ALL.iter().map(|s| s.as_str()).collect();
                issues.push(FieldIssue::new(
                    vec![json!("body"), json!("status")],
                    format!("Input should be one of {}", names.join(", ")),
                    "enum",
                ));
            }
        }
        if matches!(changes.title, Some(None))
            || flat(&changes.title).is_some_and(|t| t.trim().is_empty())
        {
            issues.push(FieldIssue::new(
                vec![json!("body"), json!("title")],
                "String should have at least 1 character",
                "string_too_short",
            ));
        }
        if !issues.is_empty() {
            return Err(ServiceError::Invalid(issues));
        }
        let new_references = match &changes.references {
            Some(given) => {
                Some(references(&self.brands, org, given.as_deref().unwrap_or(&[])).await?)
            }
            None => None,
        };
        for _ in 0..3 {
            let current = self.get(org, id, false).await?;
            let mut document = current.clone();
            if let Some(Some(title)) = &changes.title {
                document.title = title.trim().to_owned();
            }
            if let Some(doc_type) = &changes.doc_type {
                document.doc_type = doc_type
                    .clone()
                    .unwrap_or_else(|| "brand guidelines".into());
            }
            if let Some(summary) = &changes.summary {
                document.summary = summary.clone();
            }
            if let Some(status) = &changes.status {
                document.status = status
                    .as_deref()
                    .and_then(DocumentStatus::parse)
                    .unwrap_or(current.status);
            }
            if let Some(tags) = &changes.tags {
                document.tags = json!(tags.clone().unwrap_or_default());
            }
            if let Some(references) = &new_references {
                document.references = references.clone();
            }
            document.version += 1;
            document.stamp.touch(now_micros(), actor);
            if self
                .store
                .update_document(&document, current.version)
                .await?
            {
                return Ok(document);
            }
        }
        Err(ServiceError::Conflict(
            "The document is being changed by another request; try again".into(),
        ))
    }

    /// Deletes a document irreversibly: its row, its chunks and subsection references to them
    /// (one transaction), then its file — a file left behind is logged, not failed.
    pub async fn delete_document(
        &self,
        org: &OrgId,
        id: &DocumentId,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let deleted = self
            .store
            .delete_document(org, id, now_micros(), actor)
            .await
            .map_err(|error| {
                tracing::error!(%error, "deleting a document failed");
                ServiceError::Failed("Failed to delete document".into())
            })?;
        let document = deleted.ok_or(ServiceError::NotFound("Document"))?;
        if let Err(error) = self.blobs.delete(&document.file_id).await {
            tracing::warn!(%error, document = %document.id, "deleting a document's file failed");
        }
        Ok(())
    }

    /// Validates an upload (or fetches its URL), stores the file and the document: the rules of
    /// D1, shared by the API and the portal.
    pub async fn create_document(
        &self,
        org: &OrgId,
        actor: &str,
        create: NewDocument,
        file: Option<UploadedFile>,
    ) -> Result<DocumentRecord, ServiceError> {
        let mut issues = Vec::new();
        check_text(&mut issues, "title", create.title.as_deref(), TITLE_MAX);
        check_text(&mut issues, "type", create.doc_type.as_deref(), SHORT_MAX);
        check_text(
            &mut issues,
            "summary",
            create.summary.as_deref(),
            SUMMARY_MAX,
        );
        check_text(&mut issues, "url", create.url.as_deref(), URL_MAX);
        check_text(
            &mut issues,
            "fileType",
            create.file_type.as_deref(),
            SHORT_MAX,
        );
        let tags = create.tags.clone().unwrap_or_default();
        check_tags(&mut issues, &tags);
        for (name, value) in [
            ("pageRangeFrom", create.page_range_from),
            ("pageRangeTo", create.page_range_to),
        ] {
            if value.is_some_and(|page| page < 1) {
                issues.push(FieldIssue::new(
                    vec![json!("body"), json!(name)],
                    "Input should be greater than or equal to 1",
                    "greater_than_equal",
                ));
            }
        }
        if let (Some(from), Some(to)) = (create.page_range_from, create.page_range_to) {
            if from > to {
                issues.push(FieldIssue::new(
                    vec![json!("body"), json!("pageRangeTo")],
                    "pageRangeTo should not be before pageRangeFrom",
                    "value_error",
                ));
            }
        }
        if !issues.is_empty() {
            return Err(ServiceError::Invalid(issues));
        }
        let references = references(
            &self.brands,
            org,
            create.references.as_deref().unwrap_or(&[]),
        )
        .await?;

        let settings = &self.settings;
        let source_url = create
            .url
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .to_owned();
        let (bytes, file_name, part_type, url) = match file {
            Some((bytes, name, declared)) => (bytes, name, declared, String::new()),
            None if !source_url.is_empty() => {
                let fetched = crate::fetch::fetch(
                    &source_url,
                    settings.max_file_bytes,
                    std::time::Duration::from_secs(settings.fetch_timeout_seconds),
                    settings.allow_private_urls,
                )
                .await
                .map_err(|error| ServiceError::Rejected(error.0))?;
                (
                    fetched.bytes,
                    fetched.file_name,
                    fetched.content_type,
                    source_url,
                )
            }
            None => {
                return Err(ServiceError::Invalid(vec![FieldIssue::new(
                    vec![json!("body"), json!("file")],
                    "Send a file part, or a url in create_request",
                    "missing",
                )]))
            }
        };
        if bytes.is_empty() {
            return Err(invalid_file_type("the file is empty"));
        }
        let Some(kind) = detect_kind(&bytes) else {
            return Err(invalid_file_type(
                "the content is not PDF, DOCX, HTML, Markdown or plain text",
            ));
        };
        let declared = [
            ("fileType", create.file_type.as_deref()),
            ("file name", file_name.as_deref().and_then(extension)),
            ("Content-Type", part_type.as_deref()),
        ];
        check_declared(kind, &declared)?;
        // Markdown and plain text cannot always be told apart from the bytes: a textual file
        // keeps the textual type its sender declared.
        let kind = declared
            .iter()
            .filter_map(|(_, value)| value.and_then(FileKind::from_declared))
            .find(|declared| kind.agrees_with(*declared))
            .unwrap_or(kind);
        // A textual file is read in the charset its Content-Type declared, when it names none.
        let charset = match kind {
            FileKind::Html | FileKind::Markdown | FileKind::Text => part_type
                .as_deref()
                .and_then(brandstream_ingest::declared_charset)
                .map(str::to_owned),
            FileKind::Pdf | FileKind::Docx => None,
        };

        let now = now_micros();
        let id = DocumentId::generate();
        let file_id = format!("{org}/{id}/original");
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as i64;
        self.blobs.put(&file_id, bytes).await.map_err(|error| {
            tracing::error!(%error, "storing an uploaded file failed");
            ServiceError::Failed("File upload failed".into())
        })?;
        let title = create
            .title
            .as_deref()
            .map(str::trim)
            .filter(|title| !title.is_empty())
            .map(str::to_owned)
            .or_else(|| file_name.clone())
            .unwrap_or_else(|| "Untitled document".to_owned());
        let document = DocumentRecord {
            id,
            org_id: org.clone(),
            status: DocumentStatus::Pending,
            doc_type: create
                .doc_type
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "brand guidelines".into()),
            title,
            summary: create.summary.filter(|s| !s.trim().is_empty()),
            url,
            file_id,
            file_type: kind.mime().into(),
            file_name,
            size,
            sha256,
            number_of_pages: 0,
            page_range_from: create.page_range_from,
            page_range_to: create.page_range_to,
            tags: json!(tags),
            references,
            chunked: false,
            summarized: false,
            message: String::new(),
            version: 1,
            stamp: Stamp::new(now, actor),
            deleted_at: None,
            charset,
        };
        if let Err(error) = self.store.insert_document(&document).await {
            let _ = self.blobs.delete(&document.file_id).await;
            return Err(ServiceError::from(error));
        }
        metrics::counter!("brandstream_documents_uploaded_total", "type" => kind.short_name())
            .increment(1);
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_must_agree() {
        assert!(check_declared(FileKind::Pdf, &[("fileType", Some("application/pdf"))]).is_ok());
        assert!(check_declared(FileKind::Text, &[("file name", Some("pdf"))]).is_err());
        assert!(
            check_declared(FileKind::Markdown, &[("Content-Type", Some("text/plain"))]).is_ok()
        );
        assert!(check_declared(
            FileKind::Pdf,
            &[("Content-Type", Some("application/octet-stream"))]
        )
        .is_ok());
        assert!(check_declared(FileKind::Pdf, &[("fileType", Some("image/png"))]).is_err());
        assert!(check_declared(FileKind::Pdf, &[("file name", Some("bin"))]).is_ok());
    }
}
