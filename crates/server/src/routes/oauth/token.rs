//! `POST /oauth/token`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Json;
use brandstream_auth::{IssuedToken, TokenRequest};

use super::{client_credentials, read_params, source_address, State};
use crate::error::OAuthError;

/// The documented token request (form-encoded; JSON with the same keys is accepted too).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// The credential's client id (or use HTTP Basic).
    client_id: Option<String>,
    /// The credential's secret (or use HTTP Basic).
    client_secret: Option<String>,
    /// Always `client_credentials`.
    grant_type: String,
    /// Default `https://api.sitecorecloud.io`.
    audience: Option<String>,
    /// Space-separated subset of the granted scopes.
    scope: Option<String>,
}

/// A token response (RFC 6749 §5.1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenResponse {
    /// The JWT.
    access_token: String,
    /// Granted scopes, space-separated.
    scope: String,
    /// Lifetime in seconds (86400 by default).
    expires_in: i64,
    /// `Bearer`.
    token_type: String,
}

/// Exchanges client credentials for an access token (RFC 6749 §4.4).
///
/// Accepts `application/x-www-form-urlencoded` (as in the Stream documentation) or JSON, with
/// `client_secret_post` or `client_secret_basic`. `audience` defaults to the first configured
/// audience; `scope` narrows the granted scopes.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "OAuth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A signed JWT access token", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope", body = crate::error::OAuthErrorBody),
        (status = 401, description = "invalid_client", body = crate::error::OAuthErrorBody),
        (status = 403, description = "access_denied: unknown audience or ungranted scope", body = crate::error::OAuthErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::error::OAuthErrorBody),
        (status = 429, description = "too_many_requests, with Retry-After", body = crate::error::OAuthErrorBody),
    )
)]
pub async fn issue_token(
    axum::extract::State(state): State,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Result<Json<IssuedToken>, OAuthError> {
    let (headers, mut params) = read_params(request).await?;
    let source = source_address(&state.settings, &headers, peer);
    let credentials = client_credentials(&headers, &mut params)?;
    let token = state
        .tokens
        .issue_token(TokenRequest {
            grant_type: params.remove("grant_type"),
            credentials,
            audience: params.remove("audience"),
            scope: params.remove("scope"),
            source,
        })
        .await?;
    Ok(Json(token))
}
