//! Subsections (fields): list (v2 bare array, v3 paginated), create, get, update, delete.

use crate::error::responses;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use brandstream_domain::brand::{FieldType, TEXT_MAX};
use brandstream_domain::Scope;
use brandstream_store::FieldRecord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::present;
use crate::api::{timestamp, ApiJson, Caller, IfMatch, Page, PathIds, QueryParams};
use crate::error::ApiError;
use crate::services::brands::{FieldChanges, Issues, NewField};
use crate::AppState;

/// Most references on one subsection.
const REFERENCES_MAX: usize = 200;

/// `POST …/fields` body (v2).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateFieldRequest {
    /// Subsection name (for glossary terms: the term).
    pub name: String,
    /// `text`, `array` or `richArray`.
    #[serde(rename = "type")]
    pub field_type: String,
    /// Position in the section.
    #[serde(default)]
    pub order: Option<i64>,
    /// Value matching the type.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::schemas::FieldValue>)]
    pub value: Option<Value>,
    /// What belongs in this subsection (guides ingestion).
    #[serde(default)]
    pub intent: Option<String>,
    /// Sources: `[{"id", "path", "type": "documentChunk" | "webpage"}]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::api::schemas::Reference>>)]
    pub references: Option<Value>,
    /// Whether it may be deleted (default false).
    #[serde(default)]
    pub deletable: Option<bool>,
    /// Verified by a person.
    #[serde(default)]
    pub verified: Option<bool>,
    /// Whether ingestion may overwrite the value (default true).
    #[serde(default)]
    pub ai_editable: Option<bool>,
    /// Free-form properties object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Option<Value>,
}

/// `PATCH …/fields/{id}` body (v2): only keys sent change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateFieldRequest {
    #[serde(default, deserialize_with = "present")]
    deletable: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    verified: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    order: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::api::schemas::FieldValue>)]
    value: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    intent: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    ai_editable: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Object)]
    properties: Option<Option<Value>>,
}

/// A subsection as the field endpoints return it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldResponse {
    id: String,
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    order: Option<i64>,
    #[schema(value_type = crate::api::schemas::FieldValue)]
    value: Value,
    intent: Option<String>,
    #[schema(value_type = Vec<crate::api::schemas::Reference>)]
    references: Value,
    deletable: bool,
    verified: Option<bool>,
    ai_editable: bool,
    created_on: String,
    created_by: String,
    updated_on: String,
    updated_by: String,
    #[schema(value_type = Object)]
    properties: Value,
}

impl From<&FieldRecord> for FieldResponse {
    fn from(field: &FieldRecord) -> Self {
        Self {
            id: field.id.to_string(),
            name: field.name.clone(),
            field_type: field.field_type.clone(),
            order: field.order,
            value: field.value.clone(),
            intent: field.intent.clone(),
            references: field.references.clone(),
            deletable: field.deletable,
            verified: field.verified,
            ai_editable: field.ai_editable,
            created_on: timestamp(field.stamp.created_at),
            created_by: field.stamp.created_by.clone(),
            updated_on: timestamp(field.stamp.updated_at),
            updated_by: field.stamp.updated_by.clone(),
            properties: field.properties.clone(),
        }
    }
}

fn with_etag(status: StatusCode, field: &FieldRecord) -> Response {
    crate::api::format::json_with_etag(status, FieldResponse::from(field), &field.id, field.version)
}

/// Checks `[{"id", "path", "type"}]` references.
fn check_references(issues: &mut Issues, references: &Value) {
    let Value::Array(entries) = references else {
        issues.add("references", "Input should be a valid list", "list_type");
        return;
    };
    if entries.len() > REFERENCES_MAX {
        issues.add(
            "references",
            format!("List should have at most {REFERENCES_MAX} items"),
            "too_long",
        );
        return;
    }
    for (index, entry) in entries.iter().enumerate() {
        let loc = |key: &str| vec![json!("references"), json!(index), json!(key)];
        let text = |key: &str, max: usize| {
            entry
                .get(key)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty() && v.len() <= max)
        };
        if text("id", 100).is_none() {
            issues.add_at(
                loc("id"),
                "Input should be a string of 1 to 100 characters",
                "string_type",
            );
        }
        let path_ok = text("path", 2048)
            .is_some_and(|path| !path.chars().any(|c| c.is_whitespace() || c.is_control()));
        if !path_ok {
            issues.add_at(
                loc("path"),
                "Input should be a URI path without spaces",
                "string_pattern_mismatch",
            );
        }
        if !matches!(
            entry.get("type").and_then(Value::as_str),
            Some("documentChunk" | "webpage")
        ) {
            issues.add_at(
                loc("type"),
                "Input should be 'documentChunk' or 'webpage'",
                "enum",
            );
        }
    }
}

fn check_common(
    issues: &mut Issues,
    order: Option<i64>,
    intent: &Option<String>,
    properties: &Option<Value>,
) {
    if order.is_some_and(|order| !(0..=100_000).contains(&order)) {
        issues.add(
            "order",
            "Input should be between 0 and 100000",
            "less_than_equal",
        );
    }
    if intent
        .as_ref()
        .is_some_and(|intent| intent.chars().count() > TEXT_MAX)
    {
        issues.add(
            "intent",
            format!("String should have at most {TEXT_MAX} characters"),
            "string_too_long",
        );
    }
    if properties.as_ref().is_some_and(|p| !p.is_object()) {
        issues.add(
            "properties",
            "Input should be a valid dictionary",
            "dict_type",
        );
    }
}

/// Lists a section's subsections with their values, as a bare array (v2).
#[utoipa::path(
    get,
    path = "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields",
    tag = "Subsections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id")),
    responses(
        (status = 200, description = "Subsections with values", body = Vec<FieldResponse>),
        responses::AuthErrors,
        responses::NotFound,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn list_fields(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<Json<Vec<FieldResponse>>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let (kit_id, section_id) = path.section()?;
    let fields = state.brands.list_fields(&org, &kit_id, &section_id).await?;
    Ok(Json(fields.iter().map(FieldResponse::from).collect()))
}

/// Lists a section's subsections, paginated (v3).
#[utoipa::path(
    get,
    path = "/api/brands/v3/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields",
    tag = "Subsections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id"), ("pageNumber" = Option<i64>, Query, description = "Page, from 1 (default 1)"), ("pageSize" = Option<i64>, Query, description = "Items per page, 1-100 (default 50)")),
    responses(
        (status = 200, description = "A page of subsections", body = Page<FieldResponse>),
        responses::AuthErrors,
        responses::NotFound,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn page_fields(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Json<Page<FieldResponse>>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let (kit_id, section_id) = path.section()?;
    let page_number = query.int("pageNumber", 1, 1, 1_000_000);
    let page_size = query.int("pageSize", 50, 1, 100);
    query.finish()?;
    let (total, fields) = state
        .brands
        .page_fields(
            &org,
            &kit_id,
            &section_id,
            (page_number - 1) * page_size,
            page_size,
        )
        .await?;
    Ok(Json(Page {
        total_count: total,
        page_size,
        page_number,
        data: fields.iter().map(FieldResponse::from).collect(),
    }))
}

/// Creates a custom subsection (or, in Glossary and Localization, a term).
#[utoipa::path(
    post,
    path = "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields",
    tag = "Subsections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id")),
    request_body = CreateFieldRequest,
    responses(
        (status = 201, description = "Created", body = FieldResponse),
        responses::AuthErrors,
        responses::NotFound,
        responses::Locked,
        responses::BodyTooLarge,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn create_field(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    ApiJson(request): ApiJson<CreateFieldRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let (kit_id, section_id) = path.section()?;
    let mut issues = Issues::default();
    let name = issues.name("name", &request.name);
    let field_type = FieldType::parse(&request.field_type);
    if field_type.is_none() {
        issues.add(
            "type",
            "Input should be 'text', 'array' or 'richArray'",
            "enum",
        );
    }
    check_common(
        &mut issues,
        request.order,
        &request.intent,
        &request.properties,
    );
    if let Some(references) = &request.references {
        check_references(&mut issues, references);
    }
    issues.finish()?;
    let new = NewField {
        name,
        field_type,
        order: request.order,
        value: request.value,
        intent: request.intent,
        references: request.references,
        deletable: request.deletable,
        verified: request.verified,
        ai_editable: request.ai_editable,
        properties: request.properties,
    };
    let field = state
        .brands
        .create_field(&org, &kit_id, &section_id, caller.subject(), new)
        .await?;
    Ok(with_etag(StatusCode::CREATED, &field))
}

/// Retrieves one subsection, with its ETag.
#[utoipa::path(
    get,
    path = "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields/{fieldId}",
    tag = "Subsections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id"), ("fieldId" = uuid::Uuid, Path, description = "Subsection id")),
    responses(
        (status = 200, description = "The subsection, with its ETag", body = FieldResponse),
        responses::AuthErrors,
        responses::NotFound,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn get_field(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let (kit_id, section_id, field_id) = path.field()?;
    let field = state
        .brands
        .get_field(&org, &kit_id, &section_id, &field_id)
        .await?;
    Ok(with_etag(StatusCode::OK, &field))
}

/// Partially updates a subsection: only the keys sent change. A `value` must match the
/// subsection's type (422 otherwise); `If-Match` makes the update conditional (412).
#[utoipa::path(
    patch,
    path = "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields/{fieldId}",
    tag = "Subsections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id"), ("fieldId" = uuid::Uuid, Path, description = "Subsection id"), ("If-Match" = Option<String>, Header, description = "ETag the update is conditional on")),
    request_body = UpdateFieldRequest,
    responses(
        (status = 200, description = "Updated", body = FieldResponse),
        responses::UpdateErrors,
    ),
    security(("bearer" = [])),
)]
pub async fn update_field(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    precondition: IfMatch,
    ApiJson(request): ApiJson<UpdateFieldRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let (kit_id, section_id, field_id) = path.field()?;
    let mut issues = Issues::default();
    let name = request
        .name
        .map(|name| name.map(|name| issues.name("name", &name)));
    check_common(
        &mut issues,
        request.order.flatten(),
        &request.intent.clone().flatten(),
        &request.properties.clone().flatten(),
    );
    issues.finish()?;
    let changes = FieldChanges {
        deletable: request.deletable,
        name,
        verified: request.verified,
        order: request.order,
        value: request.value,
        intent: request.intent,
        ai_editable: request.ai_editable,
        properties: request.properties,
    };
    let field = state
        .brands
        .update_field(
            &org,
            &kit_id,
            &section_id,
            &field_id,
            caller.subject(),
            changes,
            &precondition,
        )
        .await?;
    Ok(with_etag(StatusCode::OK, &field))
}

/// Deletes a custom subsection (`204`); predefined ones answer `400`.
#[utoipa::path(
    delete,
    path = "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields/{fieldId}",
    tag = "Subsections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id"), ("fieldId" = uuid::Uuid, Path, description = "Subsection id")),
    responses(
        (status = 204, description = "Deleted"),
        responses::BadRequest,
        responses::AuthErrors,
        responses::NotFound,
        responses::Locked,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn delete_field(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<StatusCode, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let (kit_id, section_id, field_id) = path.field()?;
    state
        .brands
        .delete_field(&org, &kit_id, &section_id, &field_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
