//! Discovery: the JWKS and the authorization-server metadata (RFC 8414, and the OpenID
//! Connect discovery document many JWT libraries read).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use brandstream_domain::ScopeSet;
use serde_json::{json, Value};

use crate::AppState;

/// The public signing keys: next, active and retired-but-unexpired.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "OAuth", responses((status = 200, description = "JWK set: next, active and unexpired retired keys")))]
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let body = state.tokens.keyring().snapshot().jwks.to_string();
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Ok(value) =
        HeaderValue::from_str(&format!("public, max-age={}", state.settings.jwks_max_age))
    {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

fn metadata(state: &AppState) -> Value {
    let issuer = &state.tokens.settings().issuer;
    let alg = state.tokens.keyring().algorithm().as_str();
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}oauth/token"),
        "jwks_uri": format!("{issuer}.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}oauth/introspect"),
        "revocation_endpoint": format!("{issuer}oauth/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ScopeSet::all().names(),
        "access_token_signing_alg_values_supported": [alg],
        "id_token_signing_alg_values_supported": [alg],
        "subject_types_supported": ["public"],
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", "azp", "client_id", "gty", "scope", "org_id"],
        "audiences_supported": state.tokens.settings().audiences,
    })
}

/// RFC 8414 authorization-server metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "OAuth", responses((status = 200, description = "RFC 8414 metadata")))]
pub async fn oauth_metadata(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut document = metadata(&state);
    if let Some(object) = document.as_object_mut() {
        object.remove("id_token_signing_alg_values_supported");
        object.remove("subject_types_supported");
        object.remove("claims_supported");
    }
    Json(document)
}

/// OpenID Connect discovery document (for JWT libraries that only read this one).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "OAuth", responses((status = 200, description = "Discovery document")))]
pub async fn openid_configuration(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(metadata(&state))
}
