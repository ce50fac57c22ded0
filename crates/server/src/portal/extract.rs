//! The portal's extractors, so handlers start after authorization: [`AdminUser`] (a signed-in
//! administrator of the current organisation) and [`CsrfForm`] (a form whose CSRF token and
//! `Origin` were checked against the session).

use std::sync::Arc;

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::errors::PortalError;
use super::session::{check_csrf, PortalUser};
use crate::AppState;

/// A signed-in user who administers their current organisation. Anyone else gets what a
/// `PortalUser` handler would give them (the sign-in redirects), or the `403` page.
pub struct AdminUser(pub PortalUser);

impl FromRequestParts<Arc<AppState>> for AdminUser {
    type Rejection = PortalError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let user = PortalUser::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(AdminUser(user))
        } else {
            Err(PortalError::Forbidden(
                "Only administrators of this organisation can open this page.",
            ))
        }
    }
}

/// A form with no fields but the CSRF token (sign-out, revoke, remove…).
#[derive(Deserialize)]
pub struct NoFields {}

/// An urlencoded form of the signed-in user whose `csrf` field matched their session (and whose
/// `Origin`, if sent, is ours) before the handler runs. `T` holds the other fields, all
/// strings (they are read through `#[serde(flatten)]`, which urlencoded forms only support for
/// strings).
pub struct CsrfForm<T = NoFields>(pub T);

/// The form as sent: the token and the handler's fields.
#[derive(Deserialize)]
struct Signed<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

impl<T> FromRequest<Arc<AppState>> for CsrfForm<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = PortalError;

    async fn from_request(
        request: Request,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let user = PortalUser::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        // The body is parsed before the token is compared, as when handlers took `Form`.
        let Form(form) =
            Form::<Signed<T>>::from_request(Request::from_parts(parts, body), state).await?;
        check_csrf(&headers, user.csrf(), &form.csrf)?;
        Ok(CsrfForm(form.fields))
    }
}
