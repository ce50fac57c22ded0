//! Brand-kit sections: list, create, get, update, delete.

use crate::error::responses;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use brandstream_domain::Scope;
use brandstream_store::SectionRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::present;
use crate::api::{timestamp, ApiJson, Caller, IfMatch, PathIds, QueryParams};
use crate::error::ApiError;
use crate::services::brands::{Issues, NewSection, SectionChanges};
use crate::AppState;

/// `POST …/sections` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSectionRequest {
    /// Section name.
    pub name: String,
    /// Position (default: after the last section).
    #[serde(default)]
    pub order: Option<i64>,
    /// Whether it may be deleted (default true).
    #[serde(default)]
    pub deletable: Option<bool>,
    /// Free-form properties object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Option<Value>,
}

/// `PATCH …/sections/{id}` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSectionRequest {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    order: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    deletable: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Object)]
    properties: Option<Option<Value>>,
}

/// A section as the section endpoints return it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectionResponse {
    id: String,
    name: String,
    order: i64,
    deletable: bool,
    created_on: String,
    created_by: String,
    updated_on: String,
    updated_by: String,
    deleted_at: Option<String>,
    #[schema(value_type = Object)]
    properties: Value,
}

impl From<&SectionRecord> for SectionResponse {
    fn from(section: &SectionRecord) -> Self {
        Self {
            id: section.id.to_string(),
            name: section.name.clone(),
            order: section.order,
            deletable: section.deletable,
            created_on: timestamp(section.stamp.created_at),
            created_by: section.stamp.created_by.clone(),
            updated_on: timestamp(section.stamp.updated_at),
            updated_by: section.stamp.updated_by.clone(),
            deleted_at: section.deleted_at.map(timestamp),
            properties: section.properties.clone(),
        }
    }
}

fn with_etag(status: StatusCode, section: &SectionRecord) -> Response {
    crate::api::format::json_with_etag(
        status,
        SectionResponse::from(section),
        &section.id,
        section.version,
    )
}

fn check_properties(issues: &mut Issues, properties: &Option<Value>) {
    if let Some(value) = properties {
        if !value.is_object() {
            issues.add(
                "properties",
                "Input should be a valid dictionary",
                "dict_type",
            );
        } else if value.to_string().len() > 64 * 1024 {
            issues.add(
                "properties",
                "Properties should be at most 64 KiB",
                "too_long",
            );
        }
    }
}

fn check_order(issues: &mut Issues, order: Option<i64>) {
    if order.is_some_and(|order| !(0..=100_000).contains(&order)) {
        issues.add(
            "order",
            "Input should be between 0 and 100000",
            "less_than_equal",
        );
    }
}

/// Lists a kit's sections as a bare array (optionally only `sectionIds`).
#[utoipa::path(
    get,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}/sections",
    tag = "Sections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionIds" = Option<Vec<uuid::Uuid>>, Query), ("includeDeleted" = Option<bool>, Query)),
    responses(
        (status = 200, description = "Sections, by order", body = Vec<SectionResponse>),
        responses::AuthErrors,
        responses::NotFound,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn list_sections(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Json<Vec<SectionResponse>>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let kit_id = path.kit()?;
    let ids = query.uuid_list("sectionIds", 100);
    let include_deleted = query.bool("includeDeleted", false);
    query.finish()?;
    let sections = state
        .brands
        .list_sections(&org, &kit_id, &ids, include_deleted)
        .await?;
    Ok(Json(sections.iter().map(SectionResponse::from).collect()))
}

/// Adds a custom section to a kit.
#[utoipa::path(
    post,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}/sections",
    tag = "Sections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id")),
    request_body = CreateSectionRequest,
    responses(
        (status = 201, description = "Created", body = SectionResponse),
        responses::AuthErrors,
        responses::NotFound,
        responses::Locked,
        responses::BodyTooLarge,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn create_section(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    ApiJson(request): ApiJson<CreateSectionRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let kit_id = path.kit()?;
    let mut issues = Issues::default();
    let name = issues.name("name", &request.name);
    check_order(&mut issues, request.order);
    check_properties(&mut issues, &request.properties);
    issues.finish()?;
    let new = NewSection {
        name,
        order: request.order,
        deletable: request.deletable,
        properties: request.properties,
    };
    let section = state
        .brands
        .create_section(&org, &kit_id, caller.subject(), new)
        .await?;
    Ok(with_etag(StatusCode::CREATED, &section))
}

/// Retrieves one section.
#[utoipa::path(
    get,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}",
    tag = "Sections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id")),
    responses(
        (status = 200, description = "The section", body = SectionResponse),
        responses::AuthErrors,
        responses::NotFound,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn get_section(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let (kit_id, section_id) = path.section()?;
    let section = state.brands.get_section(&org, &kit_id, &section_id).await?;
    Ok(with_etag(StatusCode::OK, &section))
}

/// Partially updates a section.
#[utoipa::path(
    patch,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}",
    tag = "Sections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id"), ("If-Match" = Option<String>, Header, description = "ETag the update is conditional on")),
    request_body = UpdateSectionRequest,
    responses(
        (status = 200, description = "Updated", body = SectionResponse),
        responses::UpdateErrors,
    ),
    security(("bearer" = [])),
)]
pub async fn update_section(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    precondition: IfMatch,
    ApiJson(request): ApiJson<UpdateSectionRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let (kit_id, section_id) = path.section()?;
    let mut issues = Issues::default();
    let name = request
        .name
        .map(|name| name.map(|name| issues.name("name", &name)));
    check_order(&mut issues, request.order.flatten());
    check_properties(&mut issues, &request.properties.clone().flatten());
    issues.finish()?;
    let changes = SectionChanges {
        name,
        order: request.order,
        deletable: request.deletable,
        properties: request.properties,
    };
    let section = state
        .brands
        .update_section(
            &org,
            &kit_id,
            &section_id,
            caller.subject(),
            changes,
            &precondition,
        )
        .await?;
    Ok(with_etag(StatusCode::OK, &section))
}

/// Deletes a custom section (`204`); predefined sections answer `400`.
#[utoipa::path(
    delete,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}",
    tag = "Sections",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("sectionId" = uuid::Uuid, Path, description = "Section id")),
    responses(
        (status = 204, description = "Deleted (soft)"),
        responses::BadRequest,
        responses::AuthErrors,
        responses::NotFound,
        responses::Locked,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn delete_section(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<StatusCode, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let (kit_id, section_id) = path.section()?;
    state
        .brands
        .delete_section(&org, &kit_id, &section_id, caller.subject())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
