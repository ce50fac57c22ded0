//! Operations endpoints: liveness, readiness and Prometheus metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::AppState;

/// 200 once the server accepts requests.
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, description = "Accepting requests")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "Operations", responses((status = 200, description = "The database answers; `semantic` says whether the embedding model is loaded"), (status = 503, description = "The database does not answer")))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({
            "status": "ok",
            "database": state.store.backend(),
            "semantic": semantic_status(state.semantic),
        }))
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
                .into_response()
        }
    }
}

/// `/readyz`'s word on the semantic features: on, or off with how to turn them on.
fn semantic_status(on: bool) -> serde_json::Value {
    if on {
        json!({"status": "on"})
    } else {
        json!({"status": "off", "enable": crate::meaning::ENABLE_HINT})
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "Operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let body = state
        .metrics
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
