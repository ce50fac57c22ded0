//! `POST /oauth/token`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Json;
use brandstream_auth::{IssuedToken, TokenRequest};

use super::{client_credentials, read_params, source_address, State};
use crate::error::OAuthError;

/// Exchanges client credentials for an access token (RFC 6749 §4.4).
///
/// Accepts `application/x-www-form-urlencoded` (as in the Stream documentation) or JSON, with
/// `client_secret_post` or `client_secret_basic`. `audience` defaults to the first configured
/// audience; `scope` narrows the granted scopes.
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
