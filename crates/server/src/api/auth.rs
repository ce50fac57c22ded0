//! Bearer authentication for the Stream APIs.
//!
//! [`Caller`] verifies `Authorization: Bearer <jwt>` with the token service's verifier, for the
//! Stream APIs' own audience only. Every failure — no header, another scheme, a malformed,
//! forged, expired or revoked token — is a `401` with `WWW-Authenticate: Bearer
//! error="invalid_token"`; nothing in the header can cause a 500. [`Caller::authorize`] then
//! checks that the path's organisation is the token's and that the token carries the scope.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::StatusCode;
use brandstream_auth::VerifiedToken;
use brandstream_domain::{OrgId, Scope};

use crate::error::ApiError;
use crate::AppState;

/// An authenticated API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The verified token.
    pub token: VerifiedToken,
}

impl Caller {
    /// The caller's identity for `createdBy` / `updatedBy`: the token's `sub`.
    pub fn subject(&self) -> &str {
        &self.token.claims.sub
    }

    /// Checks that `organization_id` (from the path) is the token's organisation and that the
    /// token grants `scope` (`ai.org:admin` grants every scope). Returns the organisation.
    pub fn authorize(&self, organization_id: &str, scope: Scope) -> Result<OrgId, ApiError> {
        if organization_id != self.token.org_id.as_str() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "The token does not grant access to this organization",
            ));
        }
        if !self.token.grants(scope) {
            return Err(ApiError::insufficient_scope(scope.as_str()));
        }
        Ok(self.token.org_id.clone())
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::invalid_token("a single bearer token is required"));
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::invalid_token("the Authorization header is malformed"))?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::invalid_token("a bearer token is required"));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(ApiError::invalid_token("a bearer token is required"));
        }
        let audiences = &state.tokens.settings().audiences[..1];
        match state.tokens.verify(token, audiences).await {
            Ok(token) => Ok(Caller { token }),
            Err(error) => {
                metrics::counter!("brandstream_bearer_rejections_total", "reason" => format!("{error:?}")).increment(1);
                Err(ApiError::invalid_token(&error.to_string()))
            }
        }
    }
}
