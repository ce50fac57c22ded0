//! One mapping from failures to HTTP responses. Under `/oauth` errors are RFC 6749 JSON
//! (`{"error", "error_description"}`); elsewhere they take the Stream APIs' FastAPI shape
//! (`{"detail": …}`). Internal causes are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use brandstream_auth::AuthError;
use brandstream_store::StoreError;
use serde_json::json;

/// An RFC 6749 error response.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    basic_challenge: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    /// `400 invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `413 invalid_request` for an oversized body.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("the request body exceeds {limit} bytes"),
        )
    }

    /// `405 invalid_request` for a method other than POST.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "this endpoint accepts only POST",
        )
    }

    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AuthError> for OAuthError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidRequest(message) => Self::invalid_request(message),
            AuthError::InvalidClient { basic, .. } => Self {
                basic_challenge: basic,
                ..Self::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Client authentication failed",
                )
            },
            AuthError::UnsupportedGrantType => Self::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type: only client_credentials is supported",
            ),
            AuthError::InvalidScope(message) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_scope", message)
            }
            AuthError::UnauthorizedClient(message) => {
                Self::new(StatusCode::FORBIDDEN, "unauthorized_client", message)
            }
            AuthError::AccessDenied(message) => {
                Self::new(StatusCode::FORBIDDEN, "access_denied", message)
            }
            AuthError::TooManyRequests { retry_after } => Self {
                retry_after: Some(retry_after),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    "Too many requests; retry later",
                )
            },
            AuthError::Validation(message) => Self::invalid_request(message),
            other => {
                tracing::error!(error = %other, "token service failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "The server could not complete the request",
                )
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "error_description": self.description})),
        )
            .into_response();
        let headers = response.headers_mut();
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="brandstream", charset="UTF-8""#),
            );
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The unread rest of the body makes the connection unusable: tell the client so it
            // does not send its next request on it.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// One entry of a FastAPI 422 `detail` list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldIssue {
    /// Where: `["body", "name"]`, `["path", "brandkitId"]`, `["query", "pageSize"]`.
    #[schema(value_type = Vec<crate::api::schemas::LocationPart>)]
    pub loc: Vec<serde_json::Value>,
    /// What is wrong.
    pub msg: String,
    /// Machine-readable type, in pydantic's vocabulary.
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldIssue {
    /// An issue at `loc`.
    pub fn new(
        loc: Vec<serde_json::Value>,
        msg: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        Self {
            loc,
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// What a service refuses, in the service's terms. Services (brands, documents, pipeline) return
/// it; the edges turn it into their own answer: [`ApiError`] for the REST APIs (through `From`,
/// so handlers use `?`), the error page for the portal.
#[derive(Debug)]
pub enum ServiceError {
    /// The input breaks rules: `422` with the FastAPI `detail` list.
    Invalid(Vec<FieldIssue>),
    /// The named resource does not exist (or is deleted): `404 "{what} not found"`.
    NotFound(&'static str),
    /// A brand kit of that name exists already: `400` in the hosted DuplicateHTTPError shape.
    DuplicateName,
    /// The change conflicts with the resource's state (a locked kit): `409`.
    Conflict(String),
    /// An `If-Match` precondition failed: `412` (RFC 9110 §13.1.1).
    PreconditionFailed,
    /// The caller may not do this, whatever they send: `403` with this sentence.
    Forbidden(&'static str),
    /// The request cannot be carried out as asked: `400` with the reason.
    Rejected(String),
    /// The operation failed on our side: `500` with this message for people (the cause is
    /// logged where it happened).
    Failed(String),
    /// Storage failed or refused the value.
    Store(StoreError),
}

impl ServiceError {
    /// The error as one line for people, as the API would word it.
    pub fn message(self) -> String {
        ApiError::from(self).message()
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        ServiceError::Store(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate(_) => ApiError::duplicate_name(),
            StoreError::NotFound(what) => ApiError::missing(what),
            StoreError::Unstorable => ApiError::new(
                StatusCode::BAD_REQUEST,
                "Text must not contain NUL (\\u0000) characters",
            ),
            other => ApiError::internal(&other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(issues) => ApiError::validation(issues),
            ServiceError::NotFound(what) => ApiError::missing(what),
            ServiceError::DuplicateName => ApiError::duplicate_name(),
            ServiceError::Conflict(detail) => ApiError::new(StatusCode::CONFLICT, detail),
            ServiceError::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "The resource was changed by someone else; fetch it again and retry",
            ),
            ServiceError::Rejected(detail) => ApiError::new(StatusCode::BAD_REQUEST, detail),
            ServiceError::Forbidden(detail) => ApiError::new(StatusCode::FORBIDDEN, detail),
            ServiceError::Failed(detail) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
            }
            ServiceError::Store(error) => ApiError::from(error),
        }
    }
}

/// A Stream-API error in the hosted service's FastAPI shapes: `{"detail": "…"}`, or a
/// `detail` list for validation (422) and duplicate-name (400) errors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
    challenge: Option<String>,
}

impl ApiError {
    /// An error with a status and a message.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"detail": detail.into()}),
            challenge: None,
        }
    }

    /// `404 Not Found`, as FastAPI answers an unknown path.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// `404` for a missing resource.
    pub fn missing(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// `422` with a FastAPI `detail` list.
    pub fn validation(issues: Vec<FieldIssue>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({"detail": issues}),
            challenge: None,
        }
    }

    /// `401` with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750).
    pub fn invalid_token(description: &str) -> Self {
        Self {
            challenge: Some(format!(
                r#"Bearer realm="brandstream", error="invalid_token", error_description="{description}""#
            )),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                format!("Not authenticated: {description}"),
            )
        }
    }

    /// `403` with `WWW-Authenticate: Bearer error="insufficient_scope"` naming the scope.
    pub fn insufficient_scope(scope: &str) -> Self {
        Self {
            challenge: Some(format!(
                r#"Bearer realm="brandstream", error="insufficient_scope", scope="{scope}""#
            )),
            ..Self::new(
                StatusCode::FORBIDDEN,
                format!("The token lacks the scope {scope}"),
            )
        }
    }

    /// `400` for a duplicate brand-kit name, in the hosted DuplicateHTTPError shape.
    pub fn duplicate_name() -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({"detail": [{
                "detail": "Duplicate brand kit name",
                "loc": ["body", "name"],
                "msg": "Brand name already exists.",
                "type": "value_error.duplicate",
            }]}),
            challenge: None,
        }
    }

    /// `413` for a body over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body exceeds {limit} bytes"),
        )
    }

    /// `500`; the cause is logged, never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error as one line for people (the `detail`, or the validation messages joined).
    pub fn message(&self) -> String {
        match &self.body["detail"] {
            serde_json::Value::String(detail) => detail.clone(),
            serde_json::Value::Array(issues) => issues
                .iter()
                .map(|issue| {
                    let field = issue["loc"]
                        .as_array()
                        .and_then(|loc| loc.last())
                        .map(|last| last.to_string().trim_matches('"').to_owned())
                        .unwrap_or_default();
                    let message = issue["msg"].as_str().unwrap_or("invalid");
                    if field.is_empty() {
                        message.to_owned()
                    } else {
                        format!("{field}: {message}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => self.status.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// `{"detail": "…"}`: the body of 400, 401, 403, 404, 409, 412, 413 and 500 answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct HttpError {
    /// What went wrong.
    pub detail: String,
}

/// `{"detail": [{"loc", "msg", "type"}]}`: the body of 422 answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ValidationError {
    /// One entry per problem.
    pub detail: Vec<FieldIssue>,
}

/// RFC 6749 error body of the OAuth endpoints.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `access_denied`, `too_many_requests` or `server_error`.
    pub error: String,
    /// Human-readable explanation.
    pub error_description: String,
}

/// The error answers routes share, for their OpenAPI descriptions: a route lists its own
/// success (and any error it words its own way) as tuples and these as types, in status order.
pub mod responses {
    use super::{HttpError, ValidationError};

    /// One documented error answer: its type, status, description and body.
    macro_rules! error_response {
        ($(#[$doc:meta])* $name:ident, $status:literal, $description:literal, $body:ty) => {
            $(#[$doc])*
            #[derive(utoipa::IntoResponses)]
            #[response(status = $status, description = $description)]
            pub struct $name(pub $body);
        };
    }

    error_response!(
        /// 400 with the generic description (a taken brand-kit name answers in the
        /// DuplicateHTTPError shape).
        BadRequest, 400, "Invalid request", crate::api::schemas::BadRequestBody
    );
    error_response!(
        /// 404 with the generic description.
        NotFound, 404, "Not found", HttpError
    );
    error_response!(
        /// 409: the brand kit is locked.
        Locked, 409, "Brand Kit is locked", HttpError
    );
    error_response!(
        /// 412: `If-Match` names another version.
        PreconditionFailed, 412, "If-Match precondition failed", HttpError
    );
    error_response!(
        /// 413: the JSON body is over the limit.
        BodyTooLarge, 413, "Body too large", HttpError
    );
    error_response!(
        /// 422: the request does not validate.
        Invalid, 422, "Validation error", ValidationError
    );

    /// The answers of a conditional partial update (`PATCH` with `If-Match`): 400, 401, 403,
    /// 404, 409 (locked kit), 412, 413 and 422.
    #[derive(utoipa::IntoResponses)]
    pub enum UpdateErrors {
        #[response(status = 400, description = "Invalid request")]
        BadRequest(crate::api::schemas::BadRequestBody),
        #[response(status = 401, description = "Missing or invalid bearer token")]
        Unauthorized(HttpError),
        #[response(status = 403, description = "Other organisation or missing scope")]
        Forbidden(HttpError),
        #[response(status = 404, description = "Not found")]
        NotFound(HttpError),
        #[response(status = 409, description = "Brand Kit is locked")]
        Locked(HttpError),
        #[response(status = 412, description = "If-Match precondition failed")]
        PreconditionFailed(HttpError),
        #[response(status = 413, description = "Body too large")]
        BodyTooLarge(HttpError),
        #[response(status = 422, description = "Validation error")]
        Invalid(ValidationError),
    }

    /// 401 and 403: the answers of every call that needs a bearer token.
    #[derive(utoipa::IntoResponses)]
    pub enum AuthErrors {
        #[response(status = 401, description = "Missing or invalid bearer token")]
        Unauthorized(HttpError),
        #[response(status = 403, description = "Other organisation or missing scope")]
        Forbidden(HttpError),
    }
}
