//! Portal sessions: random tokens in `HttpOnly; SameSite=Strict` cookies (stored only as a
//! SHA-256 hash), idle and absolute expiry, a CSRF token per session, and sign-in throttling.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use brandstream_domain::OrgId;
use brandstream_store::{Membership, SessionRecord, UserRecord};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "bs_session";
/// The pre-sign-in CSRF cookie (double submit on the login form).
pub const LOGIN_CSRF_COOKIE: &str = "bs_login";

pub use crate::services::sessions::{random_token, token_hash};

/// Constant-time equality of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether the request arrived over HTTPS (directly or, with `trust_forwarded_for`, through
/// our proxy), so cookies get `Secure`.
pub fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    let forwarded = state.settings.trust_forwarded_for
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    forwarded
        || state
            .settings
            .issuer
            .as_deref()
            .is_some_and(|issuer| issuer.starts_with("https://"))
}

/// A `Set-Cookie` value for `name`; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/portal; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Sign-in throttles: attempts per account and per address.
pub struct LoginLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    /// Limits from the portal settings (0 is treated as 1).
    pub fn new(per_account: u32, per_address: u32) -> Self {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
            Quota::per_minute(n).allow_burst(n)
        };
        Self {
            per_account: DefaultKeyedRateLimiter::keyed(quota(per_account)),
            per_address: DefaultKeyedRateLimiter::keyed(quota(per_address)),
        }
    }

    /// Counts an attempt from `address`; false when over the limit.
    pub fn attempt_from(&self, address: IpAddr) -> bool {
        self.per_address.check_key(&address).is_ok()
    }

    /// Counts a sign-in attempt for `username`; false when over the limit.
    pub fn attempt_for(&self, username: &str) -> bool {
        self.per_account.check_key(&username.to_lowercase()).is_ok()
    }
}

/// A signed-in portal user in their current organisation.
#[derive(Debug, Clone)]
pub struct PortalUser {
    /// The user.
    pub user: UserRecord,
    /// All their organisations.
    pub memberships: Vec<Membership>,
    /// The organisation being worked in.
    pub org: OrgId,
    /// Their role there.
    pub role: String,
    /// The session (for its CSRF token).
    pub session: SessionRecord,
}

impl PortalUser {
    /// Whether they administer the current organisation.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// Who did it, for the audit trail.
    pub fn actor(&self) -> String {
        format!("user:{}", self.user.username)
    }

    /// The CSRF token for forms.
    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

/// Why a page cannot be shown yet.
pub enum SignInRequired {
    /// Not signed in (or the session expired).
    SignIn,
    /// Signed in with a one-time password that must be changed first.
    ChangePassword,
}

impl IntoResponse for SignInRequired {
    fn into_response(self) -> Response {
        match self {
            SignInRequired::SignIn => Redirect::to("/portal/login").into_response(),
            SignInRequired::ChangePassword => Redirect::to("/portal/password").into_response(),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for PortalUser {
    type Rejection = SignInRequired;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // Several extractors of one request need the user (`AdminUser`, `CsrfForm`): look the
        // session up once.
        if let Some(user) = parts.extensions.get::<PortalUser>() {
            return Ok(user.clone());
        }
        let user = signed_in_user(parts, state).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl OptionalFromRequestParts<Arc<AppState>> for PortalUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <PortalUser as FromRequestParts<Arc<AppState>>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// The user of the request's session cookie, checking expiry and the forced password change.
async fn signed_in_user(parts: &Parts, state: &AppState) -> Result<PortalUser, SignInRequired> {
    let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(SignInRequired::SignIn)?;
    let resumed = state
        .sessions
        .resume(&token)
        .await
        .ok_or(SignInRequired::SignIn)?;
    // A one-time password must be replaced before anything else.
    let path = parts.uri.path();
    if resumed.user.must_change && path != "/portal/password" && path != "/portal/logout" {
        return Err(SignInRequired::ChangePassword);
    }
    Ok(PortalUser {
        user: resumed.user,
        memberships: resumed.memberships,
        org: resumed.membership.org_id,
        role: resumed.membership.role,
        session: resumed.session,
    })
}

/// Why [`check_csrf`] refused a state-changing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfRejection {
    /// The browser's `Origin` names another site.
    ForeignOrigin,
    /// The form's token is missing or is not this session's.
    BadToken,
}

impl CsrfRejection {
    /// The sentence shown on the `403` page.
    pub fn message(self) -> &'static str {
        match self {
            CsrfRejection::ForeignOrigin => "The request came from another site.",
            CsrfRejection::BadToken => {
                "The form expired or did not come from this site. Go back, reload and try again."
            }
        }
    }
}

/// Rejects a state-changing request whose CSRF token does not match, or whose `Origin` is
/// another site's. The one check behind every portal form (`CsrfForm`, the upload, the
/// credential form and sign-in).
pub fn check_csrf(headers: &HeaderMap, expected: &str, sent: &str) -> Result<(), CsrfRejection> {
    // The browser's Origin must name this site: the Host it asked, or the public host a proxy
    // forwarded (browsers never let a cross-site page set X-Forwarded-Host, so accepting it
    // cannot help an attacker; the CSRF token below is the main defence either way).
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        let ours = [header::HOST.as_str(), "x-forwarded-host"]
            .iter()
            .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
            .flat_map(|value| value.split(','))
            .any(|host| host.trim() == origin_host);
        let known = headers.contains_key(header::HOST) || headers.contains_key("x-forwarded-host");
        if origin != "null" && known && !ours {
            return Err(CsrfRejection::ForeignOrigin);
        }
    }
    if expected.is_empty() || !same_token(expected, sent) {
        return Err(CsrfRejection::BadToken);
    }
    Ok(())
}
