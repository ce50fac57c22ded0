//! Access tokens as JWTs (RFC 9068 profile): encoding with the active key and strict
//! verification.
//!
//! Verification reads only `alg`, `typ`, `kid` and `crit` from the header; `jku`, `x5u` and
//! embedded `jwk` headers are never consulted, so a token cannot point us at a key of its
//! choosing. Only the algorithm of the key named by `kid` is accepted: `none`, `HS*` and
//! algorithm confusion are impossible by construction.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::keys::{ActiveKey, KeyringSnapshot, SigningAlgorithm};
use crate::AuthError;

/// Longest bearer token we will look at.
pub const MAX_TOKEN_LENGTH: usize = 8 * 1024;
/// Clock-skew leeway for `iat` only (a token from a node whose clock runs a little ahead).
/// `exp` and `nbf` are judged on this server's own clock with no leeway: the server is the
/// token's issuer, so a token is expired the second its `exp` has passed (RFC 7662 §2.2:
/// `active` is false for an expired token). Also how long revoked and verified tokens are
/// remembered past their `exp`.
pub const LEEWAY_SECONDS: i64 = 60;
/// The `typ` header of our access tokens (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// `<client_id>@clients`, as Auth0 sets it for machine clients.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Unique token id, used for revocation.
    pub jti: String,
    /// Authorized party: the client id.
    pub azp: String,
    /// The client id (RFC 9068).
    pub client_id: String,
    /// Grant type, `client-credentials`.
    pub gty: String,
    /// Space-separated granted scopes.
    pub scope: String,
    /// The organisation the client belongs to.
    pub org_id: String,
}

/// Claims as they may appear in a presented token: `aud` may be a string or a list, `nbf`
/// may be present, and unknown claims are ignored.
#[derive(Debug, Deserialize)]
struct PresentedClaims {
    iss: String,
    sub: String,
    aud: Audience,
    iat: i64,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
    #[serde(default)]
    azp: Option<String>,
    client_id: String,
    #[serde(default)]
    gty: Option<String>,
    #[serde(default)]
    scope: String,
    org_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Present (whatever its value, `null` included) or absent.
    #[serde(default, deserialize_with = "present")]
    crit: Option<serde_json::Value>,
}

/// `Some` for a member that is present, even as `null` (serde would read `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

/// Why a token was rejected. The text is safe to return in `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS, too long, or undecodable.
    #[error("the token is malformed")]
    Malformed,
    /// `typ` is not `at+jwt`.
    #[error("the token is not an access token")]
    WrongType,
    /// Unknown `kid`, or `alg` differs from the key's algorithm.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// Wrong issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// Wrong audience.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// Expired.
    #[error("the token has expired")]
    Expired,
    /// Not valid yet.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Revoked token or revoked credential.
    #[error("the token has been revoked")]
    Revoked,
}

/// Encodes and signs claims with the active key: `base64url(header).base64url(claims).sig`.
pub fn encode(active: &ActiveKey, claims: &AccessTokenClaims) -> Result<String, AuthError> {
    let payload = serde_json::to_vec(claims).map_err(|e| AuthError::Internal(e.to_string()))?;
    let mut token =
        String::with_capacity(active.encoded_header.len() + payload.len() * 4 / 3 + 360);
    token.push_str(&active.encoded_header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = active.signer.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

/// A token whose signature, type and time window checked out.
#[derive(Debug, Clone)]
pub struct DecodedToken {
    /// The claims, with `aud` narrowed to the audience that matched.
    pub claims: AccessTokenClaims,
    /// `nbf`, if present.
    pub not_before: Option<i64>,
    /// The signing key's id.
    pub kid: String,
}

/// Verifies signature, header, issuer, audience and time window. `audiences` lists the
/// audiences the caller accepts. Revocation is checked by the caller.
pub fn decode(
    keyring: &KeyringSnapshot,
    token: &str,
    issuer: &str,
    audiences: &[String],
    now: i64,
) -> Result<DecodedToken, TokenError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.splitn(4, '.');
    let (Some(header_part), Some(payload_part), Some(signature_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_part)
        .map_err(|_| TokenError::Malformed)?;
    let header: Header =
        serde_json::from_slice(&header_bytes).map_err(|_| TokenError::Malformed)?;
    if header.crit.is_some() {
        // RFC 7515 §4.1.11: `crit` lists extensions the recipient must understand, as a
        // non-empty array; we understand none, and anything else in it (null, an empty array,
        // a string) is invalid. Either way the token is refused.
        return Err(TokenError::Malformed);
    }
    let typ_ok = header.typ.as_deref().is_some_and(|typ| {
        typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(TokenError::WrongType);
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    let key = keyring.verifiers.get(&kid).ok_or(TokenError::UnknownKey)?;
    if SigningAlgorithm::parse(&header.alg) != Some(key.alg) {
        return Err(TokenError::UnknownKey);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_part)
        .map_err(|_| TokenError::Malformed)?;
    let signed_length = header_part.len() + 1 + payload_part.len();
    if !key.verify(&token.as_bytes()[..signed_length], &signature) {
        return Err(TokenError::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload_part)
        .map_err(|_| TokenError::Malformed)?;
    let claims: PresentedClaims =
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if claims.iss != issuer {
        return Err(TokenError::WrongIssuer);
    }
    let audience = match claims.aud {
        Audience::One(one) => audiences.iter().find(|a| **a == one).cloned(),
        Audience::Many(many) => audiences.iter().find(|a| many.contains(a)).cloned(),
    }
    .ok_or(TokenError::WrongAudience)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now) || claims.iat > now + LEEWAY_SECONDS {
        return Err(TokenError::NotYetValid);
    }
    Ok(DecodedToken {
        claims: AccessTokenClaims {
            iss: claims.iss,
            sub: claims.sub,
            aud: audience,
            iat: claims.iat,
            exp: claims.exp,
            jti: claims.jti,
            azp: claims.azp.unwrap_or_default(),
            client_id: claims.client_id,
            gty: claims.gty.unwrap_or_default(),
            scope: claims.scope,
            org_id: claims.org_id,
        },
        not_before: claims.nbf,
        kid,
    })
}
