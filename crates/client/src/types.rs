//! Request and response types of the Stream APIs. Responses keep fields this SDK does not
//! know in `extra`, so nothing the server sends is lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A paginated list: `{totalCount, pageSize, pageNumber, data}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// Matching items over all pages.
    pub total_count: i64,
    /// Page size used.
    pub page_size: i64,
    /// Page number (1-based).
    pub page_number: i64,
    /// This page.
    pub data: Vec<T>,
}

/// A brand kit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrandKit {
    /// UUID.
    pub id: String,
    /// Owning organisation.
    pub organization_id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// draft | inprocess | published | failed.
    pub status: String,
    /// Whether it refuses changes.
    #[serde(default)]
    pub locked: bool,
    /// Creation time.
    #[serde(default)]
    pub created_on: String,
    /// Last change.
    #[serde(default)]
    pub updated_on: String,
    /// Everything else (brandName, tags, references, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A kit to create.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewKit {
    /// Name, unique in the organisation.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Industry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Brand name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand_name: Option<String>,
    /// Company name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Logo URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

impl NewKit {
    /// A kit with just a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// A section of a kit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Position.
    pub order: i64,
    /// Whether it may be deleted.
    #[serde(default)]
    pub deletable: bool,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A subsection (field).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// text | array | richArray.
    #[serde(rename = "type")]
    pub field_type: String,
    /// The value (a string, or a list of entries).
    #[serde(default)]
    pub value: Value,
    /// What belongs here.
    #[serde(default)]
    pub intent: Option<String>,
    /// Sources (`documentChunk` references).
    #[serde(default)]
    pub references: Vec<Value>,
    /// Whether ingestion may overwrite the value.
    #[serde(default)]
    pub ai_editable: bool,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A subsection to create.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewField {
    /// Name.
    pub name: String,
    /// text | array | richArray.
    #[serde(rename = "type")]
    pub field_type: String,
    /// Initial value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// What belongs here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Whether ingestion may overwrite it (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_editable: Option<bool>,
    /// Whether people may delete it (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletable: Option<bool>,
}

/// A brand document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// UUID.
    pub id: String,
    /// pending | processed | failed | …
    pub status: String,
    /// Title.
    pub title: String,
    /// MIME type detected from the bytes.
    pub file_type: String,
    /// Size in bytes (a string, as the service sends it).
    pub size: String,
    /// Pages (0 until processed).
    #[serde(default)]
    pub number_of_pages: i64,
    /// Whether its chunks are indexed.
    #[serde(default)]
    pub chunked: bool,
    /// Whether it has a summary.
    #[serde(default)]
    pub summarized: bool,
    /// Extractive summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Why processing failed.
    #[serde(default)]
    pub message: String,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Metadata of an upload (`create_request`).
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// Title (default: the file name).
    pub title: Option<String>,
    /// Kind, e.g. `brand guidelines`.
    pub doc_type: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Brand kits the document belongs to.
    pub kit_ids: Vec<String>,
}

/// A pipeline run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// UUID.
    pub id: String,
    /// BrandIngestionPipeline | EnrichSectionsPipeline.
    pub pipeline_id: String,
    /// Queued | InProgress | Canceling | Cancelled | Succeeded | Failed.
    pub status: String,
    /// Outcome, failures.
    #[serde(default)]
    pub message: String,
    /// The parameters, as echoed.
    #[serde(default)]
    pub parameters: Value,
    /// `{stage, documentsDone, documentsTotal}`.
    #[serde(default)]
    pub progress: Value,
    /// Duration in milliseconds.
    #[serde(default)]
    pub duration_in_ms: i64,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Run {
    /// Whether the run has ended.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "Succeeded" | "Failed" | "Cancelled")
    }
}

/// A knowledge chunk, possibly from a search.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    /// UUID.
    pub id: String,
    /// Its document.
    pub document_id: String,
    /// First page.
    pub page: i64,
    /// Innermost heading.
    #[serde(default)]
    pub heading: String,
    /// The text.
    pub text: String,
    /// Relevance (searches).
    #[serde(default)]
    pub score: Option<f64>,
    /// Excerpt with `<mark>` around matches (searches).
    #[serde(default)]
    pub snippet: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token introspection (RFC 7662).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Introspection {
    /// Whether the token is valid now.
    pub active: bool,
    /// Everything else (scope, client_id, exp, org_id, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
