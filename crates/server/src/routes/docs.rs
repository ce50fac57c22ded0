//! The API reference: the OpenAPI document and Swagger UI, vendored into the binary (nothing
//! is loaded from the internet; the page's scripts are files of ours, not inline).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::{Modify, OpenApi};

use crate::AppState;

/// The document's fixed parts; paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Brandstream",
        description = "Self-hosted Stream APIs. Brand Management: brand kits, their sections and subsections. Document Management: upload, list, search (full-text, vector, hybrid) and delete brand documents. Pipeline: brand ingestion and section enrichment runs. Every call carries `Authorization: Bearer <token>`; the token service issues them: POST /oauth/token (OAuth 2.0 client credentials, RFC 6749 §4.4, form-encoded with an audience) returns a signed JWT, with introspection (RFC 7662), revocation (RFC 7009), discovery (/.well-known/openid-configuration) and the JWKS.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerSecurity),
    // The error bodies the shared responses (`crate::error::responses`) refer to.
    components(schemas(
        crate::error::HttpError,
        crate::error::ValidationError,
        crate::error::FieldIssue,
        crate::api::schemas::BadRequestBody,
        crate::api::schemas::DuplicateError,
    )),
    paths(
        crate::routes::oauth::token::issue_token,
        crate::routes::oauth::introspect::introspect,
        crate::routes::oauth::revoke::revoke,
        crate::routes::wellknown::jwks,
        crate::routes::wellknown::oauth_metadata,
        crate::routes::wellknown::openid_configuration,
        crate::routes::ops::healthz,
        crate::routes::ops::readyz,
        crate::routes::ops::metrics,
    ),
    tags(
        (name = "Brand kits", description = "Brand kits (v1)"),
        (name = "Sections", description = "Brand-kit sections (v1)"),
        (name = "Subsections", description = "Brand-kit subsections (v2, paginated list v3)"),
        (name = "OAuth", description = "Client-credentials tokens, introspection and revocation"),
        (name = "Operations", description = "Health, readiness and metrics")
    )
)]
pub struct ApiDoc;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Brandstream API reference</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/docs.js"></script>
</body>
</html>
"#;

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The interactive reference page.
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
                ),
            ),
        ],
        PAGE,
    )
        .into_response()
}

/// The OpenAPI document.
pub async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.to_string(),
    )
        .into_response()
}

/// Swagger UI's script bundle.
pub async fn bundle() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    )
}

/// Swagger UI's stylesheet.
pub async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    )
}

/// Our start-up script for Swagger UI.
pub async fn starter() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/docs.js"),
    )
}
