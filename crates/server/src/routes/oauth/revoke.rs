//! `POST /oauth/revoke`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};

use super::{State, TokenRequest};
use crate::error::OAuthError;

/// Revokes an access token (RFC 7009). The caller authenticates as a credential of the
/// token's organisation. Answers `200` with an empty body whether or not the token was valid,
/// as the RFC requires.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "OAuth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token, plus client authentication as for /oauth/token"),
    responses(
        (status = 200, description = "Revoked, or not a token of the caller's organisation (RFC 7009)"),
        (status = 400, description = "invalid_request", body = crate::error::OAuthErrorBody),
        (status = 401, description = "invalid_client", body = crate::error::OAuthErrorBody),
    )
)]
pub async fn revoke(
    axum::extract::State(state): State,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Result<StatusCode, OAuthError> {
    let request = TokenRequest::read(&state, peer, request).await?;
    state
        .tokens
        .revoke(&request.caller, &request.token, request.source)
        .await?;
    Ok(StatusCode::OK)
}
