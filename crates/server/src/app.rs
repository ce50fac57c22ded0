//! The application: shared state and the router with its middleware.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use brandstream_auth::TokenService;
use brandstream_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::error::{ApiError, OAuthError};
use crate::routes::{docs, oauth, ops, wellknown};

/// State shared by every handler.
pub struct AppState {
    /// The token service (and through it the keyring).
    pub tokens: Arc<TokenService>,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Effective configuration.
    pub settings: Arc<Settings>,
    /// Brand kits, sections and subsections.
    pub brands: crate::services::brands::BrandService,
    /// Brand documents.
    pub documents: crate::services::documents::DocumentService,
    /// Pipeline runs.
    pub runs: crate::services::pipeline::PipelineService,
    /// Organisation memberships (portal).
    pub members: crate::services::members::MemberService,
    /// Portal sessions.
    pub sessions: crate::services::sessions::SessionService,
    /// The audit trail (portal).
    pub audit: crate::services::audit::AuditService,
    /// The OpenAPI document, serialised once.
    pub openapi: Arc<str>,
    /// Prometheus handle, when this process installed the recorder.
    pub metrics: Option<PrometheusHandle>,
    /// Original document files.
    pub blobs: brandstream_store::Blobs,
    /// Whether the embedding model is loaded (semantic features on).
    pub semantic: bool,
    /// The ingestion workers (to wake them when a run is queued).
    pub pipeline: Arc<crate::ingestion::Pipeline>,
    /// Organisation and credential administration (portal).
    pub admin: Arc<brandstream_auth::CredentialAdmin>,
    /// Portal users and password sign-in.
    pub users: Arc<brandstream_auth::Users>,
    /// The one-time link that creates the first portal user (see `portal::setup`).
    pub setup: Arc<crate::portal::setup::SetupLink>,
    /// Portal sign-in throttles.
    pub login_limits: crate::portal::session::LoginLimits,
}

/// Longest time one request may take, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The OpenAPI document of every documented route.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let (_, document) = utoipa_axum::router::OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .merge(crate::routes::brands::router())
        .merge(crate::routes::documents::router())
        .merge(crate::routes::pipeline::router())
        .split_for_parts();
    document
}

/// Builds the router. Callable from tests without a socket (but the OAuth handlers need
/// `ConnectInfo`, which `axum::serve` with `into_make_service_with_connect_info` provides).
pub fn router(state: Arc<AppState>) -> Router {
    let oauth_routes = Router::new()
        .route(
            "/oauth/token",
            post(oauth::token::issue_token).fallback(oauth_method_not_allowed),
        )
        .route(
            "/oauth/introspect",
            post(oauth::introspect::introspect).fallback(oauth_method_not_allowed),
        )
        .route(
            "/oauth/revoke",
            post(oauth::revoke::revoke).fallback(oauth_method_not_allowed),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ));

    // The APIs answer on our paths and under the hosted service's prefixes, so a script
    // configured with a hosted base URL needs only its host changed.
    let (brand_routes, _) = crate::routes::brands::router().split_for_parts();
    let (document_routes, _) = crate::routes::documents::router().split_for_parts();
    // Uploads carry whole files: the body limit is the file limit plus room for the form.
    let upload_limit = usize::try_from(state.settings.documents.max_file_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    let document_routes = document_routes.layer(axum::extract::DefaultBodyLimit::max(upload_limit));
    let (pipeline_routes, _) = crate::routes::pipeline::router().split_for_parts();
    let mut api_routes = Router::new()
        .merge(brand_routes.clone())
        .merge(document_routes.clone())
        .merge(pipeline_routes.clone());
    for prefix in ["/stream/ai-brands-api", "/ai/ai-brands-api"] {
        api_routes = api_routes.nest(prefix, brand_routes.clone());
    }
    for prefix in [
        "/stream/ai-document-api",
        "/stream/ai-documents-api",
        "/ai/ai-document-api",
        "/ai/ai-documents-api",
    ] {
        api_routes = api_routes.nest(prefix, document_routes.clone());
    }
    for prefix in ["/stream/ai-pipeline-api", "/ai/ai-pipeline-api"] {
        api_routes = api_routes.nest(prefix, pipeline_routes.clone());
    }

    Router::new()
        .merge(oauth_routes)
        .merge(crate::portal::router(upload_limit))
        .merge(api_routes)
        .route("/.well-known/jwks.json", get(wellknown::jwks))
        .route("/.well-known/openid-configuration", get(wellknown::openid_configuration))
        .route("/.well-known/oauth-authorization-server", get(wellknown::oauth_metadata))
        .route("/api/docs", get(docs::page))
        .route("/api/docs/openapi.json", get(docs::openapi))
        .route("/api/docs/swagger-ui-bundle.js", get(docs::bundle))
        .route("/api/docs/swagger-ui.css", get(docs::stylesheet))
        .route("/api/docs/docs.js", get(docs::starter))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(middleware::from_fn(refuse_nul_in_url))
        .layer(middleware::from_fn(record_metrics))
        // No request may hold a connection and a task forever (slow bodies, stuck handlers).
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let matched = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
                let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok());
                tracing::debug_span!("request", method = %request.method(), path = matched, request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({"detail": "Internal Server Error"})))
                .into_response()
        }))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// The OAuth endpoints accept only POST (RFC 6749 §3.2); other methods get an RFC 6749 error.
async fn oauth_method_not_allowed() -> Response {
    let mut response = OAuthError::method_not_allowed().into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// Refuses a URL whose path or query holds an encoded NUL (`%00`): no id, filter or search
/// term contains one, and PostgreSQL could not even compare it. 400 in the APIs' shape.
async fn refuse_nul_in_url(request: Request, next: Next) -> Response {
    let holds_nul = request
        .uri()
        .path_and_query()
        .is_some_and(|target| target.as_str().as_bytes().windows(3).any(|w| w == b"%00"));
    if holds_nul {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "The URL must not contain NUL (%00) characters",
        )
        .into_response();
    }
    next.run(request).await
}

/// Counts requests and their latency by method, matched route and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Labels without per-request copies where they are fixed: the method is one of a few
    // static names and the route is shared between the two series.
    let path: Arc<str> = request.extensions().get::<MatchedPath>().map_or_else(
        || Arc::from("unmatched"),
        |matched| Arc::from(matched.as_str()),
    );
    let method = method_label(request.method());
    // The request id is copied only when the access log is on.
    let request_id = tracing::enabled!(target: "access", tracing::Level::INFO).then(|| {
        request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    });
    let response = next.run(request).await;
    let elapsed: Duration = started.elapsed();
    let status = response.status().as_u16().to_string();
    if let Some(request_id) = request_id {
        // The access log names the matched route, never the raw URI: query strings and paths
        // can carry things that must not reach logs.
        tracing::info!(
            target: "access",
            method,
            path = %path,
            status = %status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            request_id = %request_id,
            "request"
        );
    }
    metrics::counter!("brandstream_http_requests_total", "method" => method, "path" => Arc::clone(&path), "status" => status)
        .increment(1);
    metrics::histogram!("brandstream_http_request_duration_seconds", "method" => method, "path" => path)
        .record(elapsed.as_secs_f64());
    response
}

/// The method as a static metric label (`OTHER` for extension methods, which no route has).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
