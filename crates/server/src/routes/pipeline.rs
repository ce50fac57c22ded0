//! The Pipeline API (reference §2C): start brand ingestion and section enrichment runs, and —
//! beyond the hosted service — follow, list and cancel them.

use crate::error::responses;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use brandstream_domain::{RunId, Scope};
use brandstream_store::{RunQuery, RunRecord, RunStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::{timestamp, ApiJson, Caller, Page, PathIds, QueryParams};
use crate::error::ApiError;
use crate::services::pipeline::PipelineKind;
use crate::AppState;

/// The ingestion pipeline's id.
const BRAND_INGESTION: &str = PipelineKind::BrandIngestion.id();
/// The enrichment pipeline's id.
const ENRICH_SECTIONS: &str = PipelineKind::EnrichSections.id();

/// `POST …/pipeline/{pipelineId}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PipelineRequest {
    /// The run's parameters: `brand_kit_id` (required); for ingestion `populateSections`
    /// (default true) and `documentIdsList` (comma-separated ids; default every unprocessed
    /// document of the kit); for enrichment `sectionId` and `fieldId`.
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

/// A pipeline run (CreatePipelineRunResponse, plus progress).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResponse {
    id: String,
    pipeline_id: String,
    #[schema(value_type = Object)]
    parameters: Value,
    /// Queued, InProgress, Canceling, Cancelled, Succeeded or Failed.
    status: String,
    message: String,
    /// `{stage, documentsDone, documentsTotal}` while it runs and after; an ingestion run adds
    /// `documentsSucceeded`, `documentsFailed` and `failedDocuments` (`[{id, reason}]`, the
    /// first 100) once its documents are read (a run ends `Failed` only when all failed), and
    /// `chunksEmbedded`/`chunksTotal` while embeddings are computed.
    #[schema(value_type = Object)]
    progress: Value,
    run_start: Option<String>,
    run_end: Option<String>,
    duration_in_ms: i64,
    created_on: String,
    created_by: String,
    updated_on: String,
    updated_by: String,
}

impl From<&RunRecord> for RunResponse {
    fn from(run: &RunRecord) -> Self {
        Self {
            id: run.id.to_string(),
            pipeline_id: run.pipeline_id.clone(),
            parameters: run.parameters.clone(),
            status: run.status.as_str().to_owned(),
            message: run.message.clone(),
            progress: run.progress.clone(),
            run_start: run.run_start.map(timestamp),
            run_end: run.run_end.map(timestamp),
            duration_in_ms: run.duration_ms,
            created_on: timestamp(run.stamp.created_at),
            created_by: run.stamp.created_by.clone(),
            updated_on: timestamp(run.stamp.updated_at),
            updated_by: run.stamp.updated_by.clone(),
        }
    }
}

/// Starts brand ingestion: read, chunk and index the kit's documents, then (unless
/// `populateSections` is false) fill its subsections.
#[utoipa::path(
    post,
    path = "/api/data/v1/organizations/{organizationId}/pipeline/BrandIngestionPipeline",
    tag = "Pipeline",
    params(("organizationId" = String, Path)),
    request_body(content = PipelineRequest, example = json!({"parameters": {"brand_kit_id": "98689dd5-1684-48cb-a339-d9610dbd7986", "populateSections": true, "documentIdsList": "30e73070-8d4f-4b1c-9a34-2d1f0c4b5e6a"}})),
    responses(
        (status = 201, description = "Queued", body = RunResponse),
        (status = 400, description = "Invalid request (unknown documents, nothing to ingest)", body = crate::error::HttpError),
        responses::AuthErrors,
        (status = 404, description = "Brand kit not found", body = crate::error::HttpError),
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn start_ingestion(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    ApiJson(request): ApiJson<PipelineRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let run = state
        .runs
        .queue_ingestion(&org, caller.subject(), request.parameters)
        .await?;
    Ok((StatusCode::CREATED, Json(RunResponse::from(&run))).into_response())
}

/// Starts section enrichment: fill the kit's unlocked, AI-editable subsections (all, one
/// section's, or one) from the knowledge already ingested.
#[utoipa::path(
    post,
    path = "/api/data/v1/organizations/{organizationId}/pipeline/EnrichSectionsPipeline",
    tag = "Pipeline",
    params(("organizationId" = String, Path)),
    request_body(content = PipelineRequest, example = json!({"parameters": {"brand_kit_id": "98689dd5-1684-48cb-a339-d9610dbd7986", "sectionId": "b2f2e1a1-4a3b-4c5d-8e9f-0a1b2c3d4e5f"}})),
    responses(
        (status = 201, description = "Queued", body = RunResponse),
        (status = 400, description = "Invalid request (no brand knowledge yet)", body = crate::error::HttpError),
        responses::AuthErrors,
        (status = 404, description = "Brand kit, section or subsection not found", body = crate::error::HttpError),
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn start_enrichment(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    ApiJson(request): ApiJson<PipelineRequest>,
) -> Result<Response, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let run = state
        .runs
        .queue_enrichment(&org, caller.subject(), request.parameters)
        .await?;
    Ok((StatusCode::CREATED, Json(RunResponse::from(&run))).into_response())
}

/// One run, with its progress.
#[utoipa::path(
    get,
    path = "/api/data/v1/organizations/{organizationId}/pipeline/runs/{runId}",
    tag = "Pipeline",
    params(("organizationId" = String, Path), ("runId" = uuid::Uuid, Path)),
    responses(
        (status = 200, description = "The run", body = RunResponse),
        responses::AuthErrors,
        (status = 404, description = "Run not found", body = crate::error::HttpError),
    ),
    security(("bearer" = [])),
)]
pub async fn get_run(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<Json<RunResponse>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let [id] = path.uuids(["runId"])?;
    let run = state.runs.get_run(&org, &RunId::from(id)).await?;
    Ok(Json(RunResponse::from(&run)))
}

/// Runs, newest first.
#[utoipa::path(
    get,
    path = "/api/data/v1/organizations/{organizationId}/pipeline/runs",
    tag = "Pipeline",
    params(
        ("organizationId" = String, Path),
        ("brand_kit_id" = Option<uuid::Uuid>, Query), ("status" = Option<String>, Query), ("pipelineId" = Option<String>, Query),
        ("pageNumber" = Option<i64>, Query), ("pageSize" = Option<i64>, Query, description = "1–100, default 50"),
    ),
    responses(
        (status = 200, description = "A page of runs", body = Page<RunResponse>),
        responses::AuthErrors,
        responses::Invalid,
    ),
    security(("bearer" = [])),
)]
pub async fn list_runs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
    mut query: QueryParams,
) -> Result<Json<Page<RunResponse>>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsRead)?;
    let kit_id = query.uuid_list("brand_kit_id", 1).into_iter().next();
    let status = query
        .choice("status", &RunStatus::ALL.map(RunStatus::as_str))
        .and_then(RunStatus::parse);
    let pipeline_id = query
        .choice("pipelineId", &[BRAND_INGESTION, ENRICH_SECTIONS])
        .map(str::to_owned);
    let page_number = query.int("pageNumber", 1, 1, 100_000);
    let page_size = query.int("pageSize", 50, 1, 100);
    query.finish()?;
    let (total, runs) = state
        .runs
        .list_runs(
            &org,
            &RunQuery {
                kit_id,
                status,
                pipeline_id,
                offset: (page_number - 1) * page_size,
                limit: page_size,
            },
        )
        .await?;
    Ok(Json(Page {
        total_count: total,
        page_size,
        page_number,
        data: runs.iter().map(RunResponse::from).collect(),
    }))
}

/// Cancels a run: a queued run is Cancelled at once; a running one becomes Canceling and stops
/// (Cancelled) at its next step. Finished runs are returned unchanged.
#[utoipa::path(
    post,
    path = "/api/data/v1/organizations/{organizationId}/pipeline/runs/{runId}/cancel",
    tag = "Pipeline",
    params(("organizationId" = String, Path), ("runId" = uuid::Uuid, Path)),
    responses(
        (status = 200, description = "The run after the request", body = RunResponse),
        responses::AuthErrors,
        (status = 404, description = "Run not found", body = crate::error::HttpError),
    ),
    security(("bearer" = [])),
)]
pub async fn cancel_run(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: PathIds,
) -> Result<Json<RunResponse>, ApiError> {
    let org = caller.authorize(path.organization(), Scope::BrandsWrite)?;
    let [id] = path.uuids(["runId"])?;
    let run = state
        .runs
        .cancel_run(&org, &RunId::from(id), caller.subject())
        .await?;
    Ok(Json(RunResponse::from(&run)))
}

/// The Pipeline routes with their OpenAPI entries.
pub fn router() -> utoipa_axum::router::OpenApiRouter<Arc<AppState>> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(start_ingestion))
        .routes(routes!(start_enrichment))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
}
