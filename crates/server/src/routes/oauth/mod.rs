//! The OAuth 2.0 endpoints: token (RFC 6749 §4.4), introspection (RFC 7662) and revocation
//! (RFC 7009). Every response carries `Cache-Control: no-store` and `Pragma: no-cache`.

pub mod introspect;
pub mod params;
pub mod revoke;
pub mod token;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use brandstream_auth::{AuthMethod, ClientCredentials};
use secrecy::SecretString;

use crate::error::OAuthError;
use params::{decode_component, parse_form, parse_json, Params};

/// Largest accepted body of an OAuth request.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Reads and parses the parameters of an OAuth POST: refuses credentials in the query
/// string, oversized bodies and unknown content types.
pub async fn read_params(request: Request<Body>) -> Result<(HeaderMap, Params), OAuthError> {
    let (parts, body) = request.into_parts();
    if let Some(query) = parts.uri.query() {
        let query =
            parse_form(query.as_bytes()).map_err(|e| OAuthError::invalid_request(e.to_string()))?;
        if query.contains_key("client_secret") || query.contains_key("client_id") {
            return Err(OAuthError::invalid_request(
                "client credentials must be sent in the request body or the Authorization header, never in the URL",
            ));
        }
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT as u64) {
        return Err(OAuthError::too_large(BODY_LIMIT));
    }
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| OAuthError::too_large(BODY_LIMIT))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let params =
        match content_type.as_str() {
            "application/x-www-form-urlencoded" => parse_form(&bytes),
            "application/json" => parse_json(&bytes),
            "" if bytes.is_empty() => Ok(Params::new()),
            _ => return Err(OAuthError::invalid_request(
                "the Content-Type must be application/x-www-form-urlencoded or application/json",
            )),
        }
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    Ok((parts.headers, params))
}

/// Extracts client credentials from `Authorization: Basic` or the body, refusing two methods
/// at once (RFC 6749 §2.3). Removes them from `params`.
pub fn client_credentials(
    headers: &HeaderMap,
    params: &mut Params,
) -> Result<Option<ClientCredentials>, OAuthError> {
    let body_id = params.remove("client_id");
    let body_secret = params.remove("client_secret");
    let authorization = match headers.get_all(header::AUTHORIZATION).iter().count() {
        0 => None,
        1 => headers.get(header::AUTHORIZATION),
        _ => {
            return Err(OAuthError::invalid_request(
                "the Authorization header is repeated",
            ))
        }
    };
    if let Some(value) = authorization {
        let value = value
            .to_str()
            .map_err(|_| OAuthError::invalid_request("the Authorization header is malformed"))?;
        let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(OAuthError::invalid_request(
                "only HTTP Basic client authentication is supported in the Authorization header",
            ));
        }
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: HTTP Basic or client_secret in the body, not both",
            ));
        }
        let malformed = || OAuthError::invalid_request("the Basic credentials are malformed");
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let colon = decoded
            .iter()
            .position(|byte| *byte == b':')
            .ok_or_else(malformed)?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        let client_id = decode_component(&decoded[..colon]).map_err(|_| malformed())?;
        let secret = decode_component(&decoded[colon + 1..]).map_err(|_| malformed())?;
        if body_id.as_deref().is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the Basic credentials",
            ));
        }
        return Ok(Some(ClientCredentials {
            client_id,
            secret: SecretString::from(secret),
            method: AuthMethod::Basic,
        }));
    }
    Ok(match (body_id, body_secret) {
        (Some(client_id), Some(secret)) => Some(ClientCredentials {
            client_id,
            secret: SecretString::from(secret),
            method: AuthMethod::Post,
        }),
        _ => None,
    })
}

pub use crate::api::source_address;

/// The shared state type, re-exported for the handlers.
pub type State = axum::extract::State<Arc<crate::AppState>>;

/// A request about a token (introspection, RFC 7662 §2.1; revocation, RFC 7009 §2.1): the
/// credential that authenticated it (as for `/oauth/token`; none is `invalid_client`), the
/// non-empty `token` parameter (else `invalid_request`) and the caller's address.
pub(crate) struct TokenRequest {
    pub(crate) caller: Arc<brandstream_store::ClientRecord>,
    pub(crate) token: String,
    pub(crate) source: std::net::IpAddr,
}

impl TokenRequest {
    /// Reads and authenticates the request.
    pub(crate) async fn read(
        state: &crate::AppState,
        peer: std::net::SocketAddr,
        request: Request<Body>,
    ) -> Result<Self, OAuthError> {
        let (headers, mut params) = read_params(request).await?;
        let source = source_address(&state.settings, &headers, peer);
        let credentials = client_credentials(&headers, &mut params)?.ok_or(
            brandstream_auth::AuthError::InvalidClient {
                reason: "no_credentials",
                basic: false,
            },
        )?;
        let caller = state.tokens.authenticate(&credentials, source).await?;
        let token = params
            .remove("token")
            .filter(|token| !token.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("the token parameter is required"))?;
        Ok(TokenRequest {
            caller,
            token,
            source,
        })
    }
}
