//! The Document Management API (reference §2B): upload (multipart or URL), list, get, update,
//! delete and download brand documents, and search their knowledge chunks.

use crate::error::responses;
use std::sync::Arc;

use crate::services::search::SearchType;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use brandstream_domain::{DocumentId, Scope};
use brandstream_store::{ChunkQuery, ChunkRecord, DocumentQuery, DocumentRecord, DocumentStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::brands::present;
use crate::api::{timestamp, ApiJson, Caller, Page, PathIds, QueryParams};
use crate::error::{ApiError, FieldIssue};
use crate::services::documents::{DocumentChanges, NewDocument, UploadedFile, SHORT_MAX};
use crate::AppState;

/// Longest `create_request` JSON.
const CREATE_REQUEST_MAX: usize = 64 * 1024;

/// Document statuses (reference §2B), by their wire names.
fn statuses() -> [&'static str; 7] {
    DocumentStatus::ALL.map(DocumentStatus::as_str)
}

/// The `create_request` part: a JSON string describing the document.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateDocumentRequest {
    /// URL to fetch the file from when no `file` part is sent.
    #[serde(default)]
    pub url: Option<String>,
    /// Ignored: new documents start `pending`.
    #[serde(default)]
    pub status: Option<String>,
    /// Kind of document, e.g. `brand guidelines`.
    #[serde(default, rename = "type")]
    pub doc_type: Option<String>,
    /// Declared MIME type; must agree with the content.
    #[serde(default)]
    pub file_type: Option<String>,
    /// Ignored (the server measures it).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub size: Option<Value>,
    /// Ignored (the server counts pages).
    #[serde(default)]
    pub number_of_pages: Option<i64>,
    /// First page to process (1-based).
    #[serde(default)]
    pub page_range_from: Option<i64>,
    /// Last page to process.
    #[serde(default)]
    pub page_range_to: Option<i64>,
    /// Title (default: the document's own title or file name).
    #[serde(default)]
    pub title: Option<String>,
    /// Summary (default: computed during ingestion).
    #[serde(default)]
    pub summary: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// References to brand kits: `{"type": "brandkit", "id", "path"}`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::api::schemas::Reference>>)]
    pub references: Option<Vec<Value>>,
    /// Let the server fill title and page count from the document.
    #[serde(default)]
    pub set_metadata: Option<bool>,
}

impl From<CreateDocumentRequest> for NewDocument {
    fn from(create: CreateDocumentRequest) -> Self {
        Self {
            url: create.url,
            doc_type: create.doc_type,
            file_type: create.file_type,
            page_range_from: create.page_range_from,
            page_range_to: create.page_range_to,
            title: create.title,
            summary: create.summary,
            tags: create.tags,
            references: create.references,
        }
    }
}

/// `PATCH …/documents/{id}` body; only keys sent change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDocumentRequest {
    #[serde(default, deserialize_with = "present")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present", rename = "type")]
    doc_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    status: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<Object>>)]
    references: Option<Option<Vec<Value>>>,
}

/// A document as every document endpoint returns it (DocumentModel_v2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentResponse {
    organization_id: String,
    id: String,
    status: String,
    chunked: bool,
    summarized: bool,
    url: String,
    file_id: String,
    #[serde(rename = "type")]
    doc_type: String,
    file_type: String,
    /// Bytes, as a string (as the hosted service sends it).
    size: String,
    number_of_pages: i64,
    page_range_from: Option<i64>,
    page_range_to: Option<i64>,
    title: String,
    summary: Option<String>,
    tags: Vec<String>,
    #[schema(value_type = Vec<crate::api::schemas::Reference>)]
    references: Value,
    /// Why processing failed, if it did.
    message: String,
    created_on: String,
    created_by: String,
    updated_on: String,
    updated_by: String,
    deleted_at: Option<String>,
    search_score: Option<f64>,
    record_type: &'static str,
}

impl DocumentResponse {
    fn from_record(document: &DocumentRecord) -> Self {
        let tags = document
            .tags
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|tag| tag.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            organization_id: document.org_id.to_string(),
            id: document.id.to_string(),
            status: document.status.as_str().to_owned(),
            chunked: document.chunked,
            summarized: document.summarized,
            url: if document.url.is_empty() {
                format!(
                    "/api/documents/v2/organizations/{}/documents/{}/file",
                    document.org_id, document.id
                )
            } else {
                document.url.clone()
            },
            file_id: document.id.to_string(),
            doc_type: document.doc_type.clone(),
            file_type: document.file_type.clone(),
            size: document.size.to_string(),
            number_of_pages: document.number_of_pages,
            page_range_from: document.page_range_from,
            page_range_to: document.page_range_to,
            title: document.title.clone(),
            summary: document.summary.clone(),
            tags,
            references: document.references.clone(),
            message: document.message.clone(),
            created_on: timestamp(document.stamp.created_at),
            created_by: document.stamp.created_by.clone(),
            updated_on: timestamp(document.stamp.updated_at),
            updated_by: document.stamp.updated_by.clone(),
            deleted_at: document.deleted_at.map(timestamp),
            search_score: None,
            record_type: "document",
        }
    }
}

/// A knowledge chunk.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChunkResponse {
    id: String,
    organization_id: String,
    document_id: String,
    /// Position in the document, from 0.
    ordinal: i64,
    /// First page the text comes from.
    page: i64,
    /// Last page.
    page_end: i64,
    /// The innermost heading.
    heading: String,
    /// Every heading above the text, outermost first.
    headings: Vec<String>,
    text: String,
    /// Relevance (searches only; higher is better).
    score: Option<f64>,
    /// The text around the matches, with matches in `<mark>` (searches only).
    snippet: Option<String>,
    created_on: String,
}

impl ChunkResponse {
    fn from_record(chunk: &ChunkRecord, score: Option<f64>, snippet: Option<String>) -> Self {
        Self {
            id: chunk.id.to_string(),
            organization_id: chunk.org_id.to_string(),
            document_id: chunk.document_id.to_string(),
            ordinal: chunk.ordinal,
            page: chunk.page_start,
            page_end: chunk.page_end,
            heading: chunk.headings.last().cloned().unwrap_or_default(),
            headings: chunk.headings.clone(),
            text: chunk.text.clone(),
            score,
            snippet,
            created_on: timestamp(chunk.created_at),
        }
    }
}

fn create_request_issue(msg: impl Into<String>, kind: &str) -> ApiError {
    ApiError::validation(vec![FieldIssue::new(
        vec![Value::from("body"), Value::from("create_request")],
        msg,
        kind,
    )])
}

/// The file and metadata of an upload, whichever form it came in.
struct Upload {
    create: CreateDocumentRequest,
    file: Option<UploadedFile>,
}

async fn read_upload(request: Request, state: &Arc<AppState>) -> Result<Upload, ApiError> {
    let limit = state.settings.documents.max_file_bytes;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut create_json: Option<String> = None;
    let mut file = None;
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, error.body_text()))?;
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large(limit))
                }
                Err(error) => {
                    return Err(ApiError::new(StatusCode::BAD_REQUEST, error.body_text()))
                }
            };
            match field.name() {
                Some("create_request") => {
                    let text = field.text().await.map_err(|error| {
                        create_request_issue(
                            format!("cannot read the part: {}", error.body_text()),
                            "value_error",
                        )
                    })?;
                    create_json = Some(text);
                }
                Some("file") => {
                    let name = field.file_name().map(str::to_owned);
                    let declared = field.content_type().map(str::to_owned);
                    let bytes = field.bytes().await.map_err(|error| {
                        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
                            too_large(limit)
                        } else {
                            ApiError::new(StatusCode::BAD_REQUEST, error.body_text())
                        }
                    })?;
                    file = Some((bytes, name, declared));
                }
                _ => {}
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let body = axum::body::to_bytes(request.into_body(), CREATE_REQUEST_MAX * 4)
            .await
            .map_err(|_| ApiError::too_large(CREATE_REQUEST_MAX * 4))?;
        create_json = form_urlencoded::parse(&body)
            .find(|(key, _)| key == "create_request")
            .map(|(_, value)| value.into_owned());
    } else {
        return Err(ApiError::validation(vec![FieldIssue::new(
            vec![Value::from("body")],
            "The body must be multipart/form-data or application/x-www-form-urlencoded",
            "model_attributes_type",
        )]));
    }
    if file
        .as_ref()
        .is_some_and(|(bytes, _, _)| bytes.len() as u64 > limit)
    {
        return Err(too_large(limit));
    }
    let Some(create_json) = create_json else {
        return Err(create_request_issue("Field required", "missing"));
    };
    if create_json.len() > CREATE_REQUEST_MAX {
        return Err(create_request_issue(
            format!("create_request should be at most {CREATE_REQUEST_MAX} bytes"),
            "string_too_long",
        ));
    }
    if crate::api::extract::has_nul_escape(create_json.as_bytes()) || create_json.contains('\0') {
        return Err(create_request_issue(
            "Text must not contain NUL (\\u0000) characters",
            "string_nul",
        ));
    }
    let create: CreateDocumentRequest = serde_json::from_str(&create_json).map_err(|error| {
        let message = error.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message);
        create_request_issue(format!("Invalid JSON: {message}"), "json_invalid")
    })?;
    Ok(Upload { create, file })
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The file exceeds the limit of {limit} bytes"),
    )
}

/// Uploads a brand document: `multipart/form-data` with `file` and `create_request`, or the
/// URL form (`create_request` with a `url`, multipart or form-urlencoded). The type is
/// recognised from the bytes; a declared type that contradicts them is refused.
#[utoipa::path(
    post,
    path = "/api/documents/v2/organizations/{organizationId}/documents",
    tag = "Documents",
    params(("organizationId" = String, Path, description = "Organization id")),
    request_body(content_type = "multipart/form-data", description = "`file` (binary) and `create_request` (a JSON string: url, type, fileType, title, tags, references, pageRangeFrom, pageRangeTo, setMetadata)"),
    responses(
        (status = 201, description = "Stored; status pending until a pipeline processes it", body = DocumentResponse),
        (status = 400, description = "Invalid file type, or the URL cannot be fetched", body = crate::error::HttpError),
        responses::AuthErrors,
        (status = 404, description = "A referenced brand kit does not exist", body = crate::error::HttpError),
        (status = 413, description = "The file exceeds the size limit", body = crate::error::HttpError),
        responses::Invalid,
        (status = 500, description = "File upload failed", body = crate::error::HttpError),
    ),
    security(("bearer" = [])),
)]
pub async fn upload_document(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    request: Request,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsWrite)?;
    let Upload { create, file } = read_upload(request, &state).await?;
    let document = state
        .documents
        .create_document(&org, caller.subject(), create.into(), file)
        .await?;
    Ok(document_response(StatusCode::CREATED, &document))
}

fn document_response(status: StatusCode, document: &DocumentRecord) -> Response {
    crate::api::format::json_with_etag(
        status,
        DocumentResponse::from_record(document),
        &document.id,
        document.version,
    )
}

/// Lists and searches documents (v2).
#[utoipa::path(
    get,
    path = "/api/documents/v2/organizations/{organizationId}/documents",
    tag = "Documents",
    params(
        ("organizationId" = String, Path, description = "Organization id"),
        ("pageNumber" = Option<i64>, Query, description = "≥ 1, default 1"),
        ("pageSize" = Option<i64>, Query, description = "1–100, default 50"),
        ("search" = Option<String>, Query, description = "fulltext: a case-insensitive substring of title, summary or tags (newest first); vector: documents ranked by their best chunk's similarity; hybrid and semantic: both, and the chunks' full-text ranking, fused"),
        ("searchType" = Option<String>, Query, description = "fulltext (default), vector, hybrid or semantic; vector, hybrid and semantic need an embedding model"),
        ("type" = Option<String>, Query), ("status" = Option<String>, Query), ("createdBy" = Option<String>, Query),
        ("referenceType" = Option<String>, Query), ("referenceId" = Option<String>, Query),
        ("brandkitId" = Option<String>, Query, description = "Same as referenceId"),
        ("fileType" = Option<String>, Query), ("tags" = Option<Vec<String>>, Query), ("includeDeleted" = Option<bool>, Query),
    ),
    responses(
        (status = 200, description = "A page of documents", body = Page<DocumentResponse>),
        (status = 400, description = "Vector, hybrid or semantic search without an embedding model", body = crate::error::HttpError),
        responses::AuthErrors,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn list_documents(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Json<Page<DocumentResponse>>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsRead)?;
    let page_number = query.int("pageNumber", 1, 1, 1_000_000);
    let page_size = query.int("pageSize", 50, 1, 100);
    let search_type = search_type(&mut query);
    let filters = DocumentQuery {
        offset: (page_number - 1) * page_size,
        limit: page_size,
        search: query.text("search", SHORT_MAX),
        doc_type: query.text("type", SHORT_MAX),
        status: query
            .choice("status", &statuses())
            .and_then(DocumentStatus::parse),
        created_by: query.text("createdBy", SHORT_MAX),
        reference_type: query.text("referenceType", SHORT_MAX),
        reference_id: query
            .text("referenceId", SHORT_MAX)
            .or_else(|| query.text("brandkitId", SHORT_MAX)),
        file_type: query.text("fileType", SHORT_MAX),
        tags: query.text_list("tags", 20, SHORT_MAX),
        include_deleted: query.bool("includeDeleted", false),
    };
    query.finish()?;
    let (total, documents) = state
        .documents
        .search_documents(&org, &filters, search_type)
        .await?;
    Ok(Json(Page {
        total_count: total,
        page_size,
        page_number,
        data: documents
            .iter()
            .map(DocumentResponse::from_record)
            .collect(),
    }))
}

/// The `searchType` query parameter: one of the Stream API's four values (422 otherwise).
fn search_type(query: &mut QueryParams) -> SearchType {
    query
        .choice("searchType", &SearchType::NAMES)
        .and_then(SearchType::parse)
        .unwrap_or(SearchType::FullText)
}

async fn live_document(
    state: &AppState,
    org: &brandstream_domain::OrgId,
    id: &str,
    include_deleted: bool,
) -> Result<DocumentRecord, ApiError> {
    let id = brandstream_domain::DocumentId::from(id);
    Ok(state.documents.get(org, &id, include_deleted).await?)
}

/// One document (v2), to follow its `status`, `chunked` and `summarized`.
#[utoipa::path(
    get,
    path = "/api/documents/v2/organizations/{organizationId}/documents/{documentId}",
    tag = "Documents",
    params(("organizationId" = String, Path), ("documentId" = uuid::Uuid, Path), ("includeDeleted" = Option<bool>, Query)),
    responses(
        (status = 200, description = "The document", body = DocumentResponse),
        responses::AuthErrors,
        (status = 404, description = "Document not found", body = crate::error::HttpError),
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn get_document(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsRead)?;
    let [id] = path.uuids(["documentId"])?;
    let include_deleted = query.bool("includeDeleted", false);
    query.finish()?;
    let document = live_document(&state, &org, &id, include_deleted).await?;
    Ok(document_response(StatusCode::OK, &document))
}

/// Updates a document's metadata (v2): title, type, summary, status, tags, references.
#[utoipa::path(
    patch,
    path = "/api/documents/v2/organizations/{organizationId}/documents/{documentId}",
    tag = "Documents",
    params(("organizationId" = String, Path), ("documentId" = uuid::Uuid, Path)),
    request_body = UpdateDocumentRequest,
    responses(
        (status = 200, description = "The updated document", body = DocumentResponse),
        responses::AuthErrors,
        (status = 404, description = "Document not found", body = crate::error::HttpError),
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn update_document(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    ApiJson(request): ApiJson<UpdateDocumentRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsWrite)?;
    let [id] = path.uuids(["documentId"])?;
    let changes = DocumentChanges {
        title: request.title,
        doc_type: request.doc_type,
        summary: request.summary,
        status: request.status,
        tags: request.tags,
        references: request.references,
    };
    let document = state
        .documents
        .update_document(&org, &DocumentId::from(id), caller.subject(), changes)
        .await?;
    Ok(document_response(StatusCode::OK, &document))
}

/// Deletes a document irreversibly: its file, its chunks and subsection references to them.
#[utoipa::path(
    delete,
    path = "/api/documents/v1/organizations/{organizationId}/documents/{documentId}",
    tag = "Documents",
    params(("organizationId" = String, Path), ("documentId" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        responses::AuthErrors,
        (status = 404, description = "Document not found", body = crate::error::HttpError),
        responses::Invalid,
        (status = 500, description = "Failed to delete document", body = crate::error::HttpError),
    ),
    security(("bearer" = [])),
)]
pub async fn delete_document(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<StatusCode, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsWrite)?;
    let [id] = path.uuids(["documentId"])?;
    state
        .documents
        .delete_document(&org, &DocumentId::from(id), caller.subject())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Downloads the original file.
#[utoipa::path(
    get,
    path = "/api/documents/v2/organizations/{organizationId}/documents/{documentId}/file",
    tag = "Documents",
    params(("organizationId" = String, Path), ("documentId" = uuid::Uuid, Path)),
    responses(
        (status = 200, description = "The original bytes with their detected type"),
        responses::AuthErrors,
        (status = 404, description = "Document not found", body = crate::error::HttpError),
    ),
    security(("bearer" = [])),
)]
pub async fn download_document(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsRead)?;
    let [id] = path.uuids(["documentId"])?;
    let document = live_document(&state, &org, &id, false).await?;
    let bytes = state.blobs.get(&document.file_id).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&document.file_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let name: String = document
        .file_name
        .as_deref()
        .unwrap_or("document")
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/') || *c == ' ')
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Searches an organisation's knowledge chunks, ranked, with highlighted snippets; without
/// `search`, lists chunks in document order.
#[utoipa::path(
    get,
    path = "/api/documents/v2/organizations/{organizationId}/chunks",
    tag = "Knowledge",
    params(
        ("organizationId" = String, Path),
        ("search" = Option<String>, Query, description = "Words to look for (ranked full-text search)"),
        ("referenceId" = Option<String>, Query, description = "Only documents of this brand kit"),
        ("documentId" = Option<String>, Query, description = "Only this document"),
        ("pageNumber" = Option<i64>, Query), ("pageSize" = Option<i64>, Query, description = "1–100, default 10"),
        ("searchType" = Option<String>, Query, description = "fulltext (default, BM25), vector (cosine similarity of sentence embeddings), hybrid or semantic (both fused by reciprocal rank fusion); vector, hybrid and semantic need an embedding model"),
    ),
    responses(
        (status = 200, description = "Chunks, best first", body = Page<ChunkResponse>),
        (status = 400, description = "Vector, hybrid or semantic search without an embedding model", body = crate::error::HttpError),
        responses::AuthErrors,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn search_chunks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Json<Page<ChunkResponse>>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsRead)?;
    let search = query.text("search", 1000);
    let reference_id = query
        .text("referenceId", SHORT_MAX)
        .or_else(|| query.text("brandkitId", SHORT_MAX));
    let document_id = query.uuid_list("documentId", 1).into_iter().next();
    let page_number = query.int("pageNumber", 1, 1, 100_000);
    let page_size = query.int("pageSize", 10, 1, 100);
    let search_type = search_type(&mut query);
    query.finish()?;
    state.documents.check_search_type(search_type)?;
    let scope = ChunkQuery {
        reference_id,
        document_id,
        offset: (page_number - 1) * page_size,
        limit: page_size,
    };
    let (total, data) = match search {
        Some(search) => {
            let (total, hits) = state
                .documents
                .search_chunks(&org, &search, &scope, search_type)
                .await?;
            let data = hits
                .iter()
                .map(|hit| {
                    ChunkResponse::from_record(
                        &hit.chunk,
                        Some(hit.score),
                        Some(hit.snippet.clone()),
                    )
                })
                .collect();
            (total, data)
        }
        None => {
            let (total, chunks) = state.documents.list_chunks(&org, &scope).await?;
            let data = chunks
                .iter()
                .map(|chunk| ChunkResponse::from_record(chunk, None, None))
                .collect();
            (total, data)
        }
    };
    Ok(Json(Page {
        total_count: total,
        page_size,
        page_number,
        data,
    }))
}

/// One knowledge chunk.
#[utoipa::path(
    get,
    path = "/api/documents/v2/organizations/{organizationId}/chunks/{chunkId}",
    tag = "Knowledge",
    params(("organizationId" = String, Path), ("chunkId" = uuid::Uuid, Path)),
    responses(
        (status = 200, description = "The chunk", body = ChunkResponse),
        responses::AuthErrors,
        (status = 404, description = "Chunk not found", body = crate::error::HttpError),
    ),
    security(("bearer" = [])),
)]
pub async fn get_chunk(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<Json<ChunkResponse>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::DocumentsRead)?;
    let [id] = path.uuids(["chunkId"])?;
    let chunk = state
        .documents
        .get_chunk(&org, &brandstream_domain::ChunkId::from(id))
        .await?;
    Ok(Json(ChunkResponse::from_record(&chunk, None, None)))
}

/// The Document Management routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list_documents, upload_document))
        .routes(routes!(get_document, update_document))
        .routes(routes!(delete_document))
        .routes(routes!(download_document))
        .routes(routes!(search_chunks))
        .routes(routes!(get_chunk))
}
