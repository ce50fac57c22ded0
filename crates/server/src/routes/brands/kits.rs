//! Brand kits: create, list, get, update, delete.

use crate::error::responses;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use brandstream_domain::brand::{KitStatus, NAME_MAX, TEXT_MAX};
use brandstream_domain::Scope;
use brandstream_store::{KitQuery, KitRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::present;
use crate::api::{timestamp, ApiJson, Caller, IfMatch, Page, PathIds, QueryParams};
use crate::error::ApiError;
use crate::services::brands::{Issues, KitChanges, NewKit};
use crate::AppState;

/// Longest URL accepted for a logo.
const URL_MAX: usize = 2048;

/// `POST …/brandkits` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateBrandKitRequest {
    /// Kit name, unique in the organisation.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Industry, e.g. `retail`.
    #[serde(default)]
    pub industry: Option<String>,
    /// Brand name.
    #[serde(default)]
    pub brand_name: Option<String>,
    /// Company name, if different from the brand.
    #[serde(default)]
    pub company_name: Option<String>,
    /// URL of a PNG logo.
    #[serde(default)]
    pub logo: Option<String>,
}

/// `PATCH …/brandkits/{id}` body: every key optional; only keys sent change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBrandKitRequest {
    #[serde(default, deserialize_with = "present")]
    status: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    parent_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    parent_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    industry: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<crate::api::schemas::KitTag>>)]
    tags: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    brand_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    company_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    logo: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    locked: Option<Option<bool>>,
}

/// A brand kit as every kit endpoint returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrandKitResponse {
    organization_id: String,
    id: String,
    name: String,
    description: Option<String>,
    brand_name: Option<String>,
    company_name: Option<String>,
    logo: Option<String>,
    status: String,
    parent_id: Option<String>,
    parent_type: Option<String>,
    industry: Option<String>,
    #[schema(value_type = Vec<crate::api::schemas::KitTag>)]
    tags: Value,
    #[schema(value_type = Vec<crate::api::schemas::Reference>)]
    references: Value,
    locked: bool,
    created_on: String,
    created_by: String,
    updated_on: String,
    updated_by: String,
    deleted_at: Option<String>,
}

impl From<&KitRecord> for BrandKitResponse {
    fn from(kit: &KitRecord) -> Self {
        Self {
            organization_id: kit.org_id.to_string(),
            id: kit.id.to_string(),
            name: kit.name.clone(),
            description: kit.description.clone(),
            brand_name: kit.brand_name.clone(),
            company_name: kit.company_name.clone(),
            logo: kit.logo.clone(),
            status: kit.status.clone(),
            parent_id: kit.parent_id.clone(),
            parent_type: kit.parent_type.clone(),
            industry: kit.industry.clone(),
            tags: kit.tags.clone(),
            references: kit.references.clone(),
            locked: kit.locked,
            created_on: timestamp(kit.stamp.created_at),
            created_by: kit.stamp.created_by.clone(),
            updated_on: timestamp(kit.stamp.updated_at),
            updated_by: kit.stamp.updated_by.clone(),
            deleted_at: kit.deleted_at.map(timestamp),
        }
    }
}

/// The kit as JSON with its ETag.
fn with_etag(status: StatusCode, kit: &KitRecord) -> Response {
    crate::api::format::json_with_etag(status, BrandKitResponse::from(kit), &kit.id, kit.version)
}

fn check_optional(
    issues: &mut Issues,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    issues.text(field, value, max)
}

/// Creates a brand kit with the predefined, empty sections and subsections of the catalogue.
#[utoipa::path(
    post,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits",
    tag = "Brand kits",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456")),
    request_body = CreateBrandKitRequest,
    responses(
        (status = 201, description = "Created, with the catalogue sections", body = BrandKitResponse),
        responses::BadRequest,
        responses::AuthErrors,
        responses::BodyTooLarge,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn create_kit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    ApiJson(request): ApiJson<CreateBrandKitRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let mut issues = Issues::default();
    let new = NewKit {
        name: issues.name("name", &request.name),
        description: check_optional(&mut issues, "description", request.description, TEXT_MAX),
        industry: check_optional(&mut issues, "industry", request.industry, NAME_MAX),
        brand_name: check_optional(&mut issues, "brandName", request.brand_name, NAME_MAX),
        company_name: check_optional(&mut issues, "companyName", request.company_name, NAME_MAX),
        logo: check_optional(&mut issues, "logo", request.logo, URL_MAX),
    };
    issues.finish()?;
    let kit = state.brands.create_kit(&org, caller.subject(), new).await?;
    Ok(with_etag(StatusCode::CREATED, &kit))
}

/// Lists the organisation's brand kits (metadata only), paginated.
#[utoipa::path(
    get,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits",
    tag = "Brand kits",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("pageNumber" = Option<i64>, Query, description = "Page, from 1 (default 1)"), ("pageSize" = Option<i64>, Query, description = "Items per page, 1-100 (default 50)"), ("search" = Option<String>, Query, description = "Substring of name or description"), ("status" = Option<String>, Query, description = "draft, inprocess, published or failed"), ("parentId" = Option<String>, Query), ("sortBy" = Option<String>, Query, description = "createdOn (default) or updatedOn"), ("sortType" = Option<String>, Query, description = "desc (default) or asc"), ("includeDeleted" = Option<bool>, Query), ("brandkitIds" = Option<Vec<uuid::Uuid>>, Query, description = "At most 10")),
    responses(
        (status = 200, description = "A page of kits", body = Page<BrandKitResponse>),
        responses::AuthErrors,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn list_kits(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Json<Page<BrandKitResponse>>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let page_number = query.int("pageNumber", 1, 1, 1_000_000);
    let page_size = query.int("pageSize", 50, 1, 100);
    let search = query.text("search", NAME_MAX);
    let status = query
        .text("status", 32)
        .and_then(|raw| match KitStatus::parse(&raw) {
            Some(status) => Some(status),
            None => {
                query.issue(
                    "status",
                    "Input should be 'draft', 'inprocess', 'published' or 'failed'",
                    "enum",
                );
                None
            }
        });
    let parent_id = query.text("parentId", 64);
    let sort_by = query.choice("sortBy", &["createdOn", "updatedOn"]);
    let sort_type = query.choice("sortType", &["asc", "desc"]);
    let include_deleted = query.bool("includeDeleted", false);
    let ids = query.uuid_list("brandkitIds", 10);
    query.finish()?;
    let kit_query = KitQuery {
        offset: (page_number - 1) * page_size,
        limit: page_size,
        search,
        status: status.map(|s| s.as_str().to_owned()),
        parent_id,
        ids,
        include_deleted,
        sort_by_updated: sort_by == Some("updatedOn"),
        descending: sort_type != Some("asc"),
    };
    let (total, kits) = state.brands.list_kits(&org, &kit_query).await?;
    Ok(Json(Page {
        total_count: total,
        page_size,
        page_number,
        data: kits.iter().map(BrandKitResponse::from).collect(),
    }))
}

/// Retrieves one brand kit (metadata only), with its ETag.
#[utoipa::path(
    get,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}",
    tag = "Brand kits",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("includeDeleted" = Option<bool>, Query)),
    responses(
        (status = 200, description = "The kit, with its ETag", body = BrandKitResponse),
        responses::AuthErrors,
        responses::NotFound,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn get_kit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let kit_id = path.kit()?;
    let include_deleted = query.bool("includeDeleted", false);
    query.finish()?;
    let kit = state.brands.get_kit(&org, &kit_id, include_deleted).await?;
    Ok(with_etag(StatusCode::OK, &kit))
}

/// Partially updates a brand kit (only the keys sent change). `If-Match` makes it
/// conditional; a locked kit accepts only `locked`.
#[utoipa::path(
    patch,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}",
    tag = "Brand kits",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id"), ("If-Match" = Option<String>, Header, description = "ETag the update is conditional on")),
    request_body = UpdateBrandKitRequest,
    responses(
        (status = 200, description = "Updated", body = BrandKitResponse),
        responses::UpdateErrors,
    ),
    security(("bearer" = [])),
)]
pub async fn update_kit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    precondition: IfMatch,
    ApiJson(request): ApiJson<UpdateBrandKitRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let kit_id = path.kit()?;
    let mut issues = Issues::default();
    let text = |issues: &mut Issues, field: &str, value: Option<Option<String>>, max: usize| {
        value.map(|inner| issues.text(field, inner, max))
    };
    let status = match request.status {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => match KitStatus::parse(&raw) {
            Some(status) => Some(Some(status)),
            None => {
                issues.add(
                    "status",
                    "Input should be 'draft', 'inprocess', 'published' or 'failed'",
                    "enum",
                );
                None
            }
        },
    };
    let name = match request.name {
        Some(Some(name)) => Some(Some(issues.name("name", &name))),
        Some(None) => {
            issues.add("name", "Input should be a valid string", "string_type");
            None
        }
        None => None,
    };
    let tags = request
        .tags
        .map(|tags| tags.map(|tags| check_tags(&mut issues, tags)));
    let changes = KitChanges {
        status,
        name,
        description: text(&mut issues, "description", request.description, TEXT_MAX),
        parent_id: text(&mut issues, "parentId", request.parent_id, 64),
        parent_type: text(&mut issues, "parentType", request.parent_type, 32),
        industry: text(&mut issues, "industry", request.industry, NAME_MAX),
        tags,
        brand_name: text(&mut issues, "brandName", request.brand_name, NAME_MAX),
        company_name: text(&mut issues, "companyName", request.company_name, NAME_MAX),
        logo: text(&mut issues, "logo", request.logo, URL_MAX),
        locked: request.locked,
    };
    issues.finish()?;
    let kit = state
        .brands
        .update_kit(&org, &kit_id, caller.subject(), changes, &precondition)
        .await?;
    Ok(with_etag(StatusCode::OK, &kit))
}

/// Checks kit tags: `[{"category": string, "values": [string]}]`.
fn check_tags(issues: &mut Issues, tags: Value) -> Value {
    let Value::Array(entries) = &tags else {
        issues.add("tags", "Input should be a valid list", "list_type");
        return tags;
    };
    if entries.len() > 100 {
        issues.add("tags", "List should have at most 100 items", "too_long");
    }
    for (index, entry) in entries.iter().enumerate() {
        let category_ok = entry
            .get("category")
            .is_some_and(|c| c.as_str().is_some_and(|c| c.chars().count() <= NAME_MAX));
        let values_ok = entry.get("values").is_none_or(|values| {
            values.as_array().is_some_and(|values| {
                values.len() <= 100
                    && values
                        .iter()
                        .all(|v| v.as_str().is_some_and(|v| v.chars().count() <= NAME_MAX))
            })
        });
        if !category_ok || !values_ok {
            issues.add_at(
                vec![Value::from("tags"), Value::from(index)],
                "Each tag is {\"category\": string, \"values\": [string]}",
                "model_type",
            );
        }
    }
    tags
}

/// Soft-deletes a brand kit (`204`). It is hidden from lists unless `includeDeleted=true`.
#[utoipa::path(
    delete,
    path = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}",
    tag = "Brand kits",
    params(("organizationId" = String, Path, description = "Organization id, e.g. org_ABCDef123456"), ("brandkitId" = uuid::Uuid, Path, description = "Brand kit id")),
    responses(
        (status = 204, description = "Deleted (soft)"),
        responses::AuthErrors,
        responses::NotFound,
        responses::Locked,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn delete_kit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<StatusCode, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let kit_id = path.kit()?;
    state
        .brands
        .delete_kit(&org, &kit_id, caller.subject())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
