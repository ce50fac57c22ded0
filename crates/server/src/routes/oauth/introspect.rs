//! `POST /oauth/introspect`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Json;
use brandstream_auth::service::Introspection;

use super::{State, TokenRequest};
use crate::error::OAuthError;

/// Describes a token (RFC 7662). The caller authenticates as a credential; tokens of other
/// organisations, and invalid, expired or revoked tokens, are `{"active": false}`.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "OAuth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token, plus client authentication as for /oauth/token"),
    responses(
        (status = 200, description = "RFC 7662 description; {\"active\": false} for anything not valid"),
        (status = 400, description = "invalid_request", body = crate::error::OAuthErrorBody),
        (status = 401, description = "invalid_client", body = crate::error::OAuthErrorBody),
    )
)]
pub async fn introspect(
    axum::extract::State(state): State,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Result<Json<Introspection>, OAuthError> {
    let request = TokenRequest::read(&state, peer, request).await?;
    Ok(Json(
        state
            .tokens
            .introspect(&request.caller, &request.token)
            .await,
    ))
}
