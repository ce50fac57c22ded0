//! Request extractors whose rejections take the hosted FastAPI shapes: 422 with a `detail`
//! list whose `loc` says where (`body`, `path`, `query`), and 413 for oversized bodies.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use brandstream_domain::{BrandKitId, FieldId, SectionId};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, FieldIssue};
use crate::AppState;

/// A JSON body of type `T`, at most `api_body_limit` bytes.
pub struct ApiJson<T>(pub T);

fn body_issue(path: &serde_path_to_error::Path, error: &serde_json::Error) -> FieldIssue {
    let mut loc = vec![Value::from("body")];
    let syntax = matches!(
        error.classify(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof
    );
    if syntax {
        return FieldIssue::new(
            loc,
            format!(
                "JSON decode error: {}",
                error.to_string().split(" at line ").next().unwrap_or("")
            ),
            "json_invalid",
        );
    }
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => loc.push(Value::from(*index)),
            serde_path_to_error::Segment::Map { key } => loc.push(Value::from(key.as_str())),
            serde_path_to_error::Segment::Enum { variant } => {
                loc.push(Value::from(variant.as_str()))
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    let message = error.to_string();
    // serde_json appends " at line L column C"; the location is already in `loc`.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let missing = message.starts_with("missing field");
    let kind = match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "json_invalid",
        _ if message.starts_with("missing field") => "missing",
        _ if message.starts_with("unknown variant") => "enum",
        _ => "value_error",
    };
    if missing {
        if let Some(name) = message.split('`').nth(1) {
            loc.push(Value::from(name));
        }
        return FieldIssue::new(loc, "Field required", kind);
    }
    FieldIssue::new(loc, message, kind)
}

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(
        request: Request,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let limit = state.settings.api_body_limit;
        let json_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|value| value == "application/json" || value.ends_with("+json"));
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(ApiError::too_large(limit));
        }
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| ApiError::too_large(limit))?;
        if !json_type {
            return Err(ApiError::validation(vec![FieldIssue::new(
                vec![Value::from("body")],
                "The body must be JSON (Content-Type: application/json)",
                "model_attributes_type",
            )]));
        }
        if has_nul_escape(&bytes) {
            return Err(nul_in_body());
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value: T = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| ApiError::validation(vec![body_issue(error.path(), error.inner())]))?;
        deserializer.end().map_err(|error| {
            ApiError::validation(vec![FieldIssue::new(
                vec![Value::from("body")],
                error.to_string(),
                "json_invalid",
            )])
        })?;
        Ok(ApiJson(value))
    }
}

/// Whether JSON text holds a `\u0000` escape (a NUL character once decoded; raw NULs are
/// already invalid JSON). Neither backend should be asked to store one: PostgreSQL cannot.
pub(crate) fn has_nul_escape(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (index, &byte) in json.iter().enumerate() {
        if byte == b'\\' {
            backslashes += 1;
            continue;
        }
        // An odd run of backslashes escapes this character: `\u0000` starts an escape.
        if byte == b'u' && backslashes % 2 == 1 && json[index + 1..].starts_with(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// The 422 for a NUL character in a JSON body.
pub(crate) fn nul_in_body() -> ApiError {
    ApiError::validation(vec![FieldIssue::new(
        vec![Value::from("body")],
        "Text must not contain NUL (\\u0000) characters",
        "string_nul",
    )])
}

/// The path parameters, parsed by name with 422s that name the parameter.
pub struct PathIds(HashMap<String, String>);

impl FromRequestParts<Arc<AppState>> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::validation(vec![FieldIssue::new(
                    vec![Value::from("path")],
                    "Invalid path",
                    "value_error",
                )])
            })?;
        Ok(Self(
            raw.iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        ))
    }
}

impl PathIds {
    /// The organisation id as given (authorization compares it with the token's).
    pub fn organization(&self) -> &str {
        self.0
            .get("organizationId")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The brand kit of a `…/brandkits/{brandkitId}` path.
    pub fn kit(&self) -> Result<BrandKitId, ApiError> {
        let [kit] = self.uuids(["brandkitId"])?;
        Ok(kit.into())
    }

    /// The kit and section of a `…/brandkits/{brandkitId}/sections/{sectionId}` path.
    pub fn section(&self) -> Result<(BrandKitId, SectionId), ApiError> {
        let [kit, section] = self.uuids(["brandkitId", "sectionId"])?;
        Ok((kit.into(), section.into()))
    }

    /// The kit, section and subsection of a `…/sections/{sectionId}/fields/{fieldId}` path.
    pub fn field(&self) -> Result<(BrandKitId, SectionId, FieldId), ApiError> {
        let [kit, section, field] = self.uuids(["brandkitId", "sectionId", "fieldId"])?;
        Ok((kit.into(), section.into(), field.into()))
    }

    /// The named parameters as canonical (lower-case, hyphenated) UUIDs, all checked at once.
    pub fn uuids<const N: usize>(&self, names: [&str; N]) -> Result<[String; N], ApiError> {
        let mut issues = Vec::new();
        let values = names.map(|name| {
            let raw = self.0.get(name).map(String::as_str).unwrap_or("");
            match uuid::Uuid::try_parse(raw) {
                Ok(id) => id.hyphenated().to_string(),
                Err(_) => {
                    issues.push(FieldIssue::new(
                        vec![Value::from("path"), Value::from(name)],
                        "Input should be a valid UUID",
                        "uuid_parsing",
                    ));
                    String::new()
                }
            }
        });
        if issues.is_empty() {
            Ok(values)
        } else {
            Err(ApiError::validation(issues))
        }
    }
}

/// Query parameters with typed, bounded getters. Problems accumulate; [`QueryParams::finish`]
/// turns them into one 422.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    issues: Vec<FieldIssue>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        if query.len() > 8 * 1024 {
            return Err(ApiError::new(
                StatusCode::URI_TOO_LONG,
                "The query string is too long",
            ));
        }
        let pairs = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Self {
            pairs,
            issues: Vec::new(),
        })
    }
}

impl QueryParams {
    fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Records a problem with parameter `name` (for checks the typed getters do not cover).
    pub fn issue(&mut self, name: &str, msg: impl Into<String>, kind: &str) {
        self.issues.push(FieldIssue::new(
            vec![Value::from("query"), Value::from(name)],
            msg,
            kind,
        ));
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn int(&mut self, name: &str, default: i64, min: i64, max: i64) -> i64 {
        let Some(raw) = self.first(name) else {
            return default;
        };
        match raw.trim().parse::<i64>() {
            Ok(value) if value < min => {
                self.issue(
                    name,
                    format!("Input should be greater than or equal to {min}"),
                    "greater_than_equal",
                );
                default
            }
            Ok(value) if value > max => {
                self.issue(
                    name,
                    format!("Input should be less than or equal to {max}"),
                    "less_than_equal",
                );
                default
            }
            Ok(value) => value,
            Err(_) => {
                self.issue(name, "Input should be a valid integer", "int_parsing");
                default
            }
        }
    }

    /// A boolean (`true/false/1/0/yes/no/on/off`, as pydantic accepts), `default` when absent.
    pub fn bool(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.first(name) else {
            return default;
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => true,
            "false" | "0" | "no" | "off" | "f" | "n" => false,
            _ => {
                self.issue(name, "Input should be a valid boolean", "bool_parsing");
                default
            }
        }
    }

    /// A string of at most `max` characters, if present and not empty.
    pub fn text(&mut self, name: &str, max: usize) -> Option<String> {
        let raw = self.first(name)?.to_owned();
        if raw.chars().count() > max {
            self.issue(
                name,
                format!("String should have at most {max} characters"),
                "string_too_long",
            );
            return None;
        }
        (!raw.is_empty()).then_some(raw)
    }

    /// One of `allowed` (case-sensitive), if present.
    pub fn choice(&mut self, name: &str, allowed: &[&'static str]) -> Option<&'static str> {
        let raw = self.first(name)?.to_owned();
        match allowed.iter().find(|candidate| **candidate == raw) {
            Some(found) => Some(found),
            None => {
                self.issue(
                    name,
                    format!(
                        "Input should be {}",
                        allowed
                            .iter()
                            .map(|a| format!("'{a}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "enum",
                );
                None
            }
        }
    }

    /// Every value of a repeatable parameter (not split on commas: values may contain them),
    /// at most `max` items of at most `item_max` characters.
    pub fn text_list(&mut self, name: &str, max: usize, item_max: usize) -> Vec<String> {
        let Some(values) = self.list_values(name, max, |value| vec![value]) else {
            return Vec::new();
        };
        if values.iter().any(|value| value.chars().count() > item_max) {
            self.issue(
                name,
                format!("String should have at most {item_max} characters"),
                "string_too_long",
            );
            return Vec::new();
        }
        values
    }

    /// Every value of a repeatable parameter (also comma-separated), at most `max` items, each
    /// a UUID.
    pub fn uuid_list(&mut self, name: &str, max: usize) -> Vec<String> {
        let Some(values) = self.list_values(name, max, |value| value.split(',').collect()) else {
            return Vec::new();
        };
        let mut ids = Vec::with_capacity(values.len());
        for value in values {
            match uuid::Uuid::try_parse(&value) {
                Ok(id) => ids.push(id.hyphenated().to_string()),
                Err(_) => self.issue(name, "Input should be a valid UUID", "uuid_parsing"),
            }
        }
        ids
    }

    /// The non-empty, trimmed items of every value of `name` (each split into items by
    /// `items`); `None`, after noting the issue, when there are more than `max`.
    fn list_values(
        &mut self,
        name: &str,
        max: usize,
        items: impl Fn(&str) -> Vec<&str>,
    ) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .pairs
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| items(value))
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect();
        if values.len() > max {
            self.issue(
                name,
                format!("List should have at most {max} items"),
                "too_long",
            );
            return None;
        }
        Some(values)
    }

    /// The accumulated problems as one 422, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.issues))
        }
    }
}

/// The `If-Match` precondition, if the request carries one.
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    /// No precondition (internal callers such as the portal).
    pub fn any() -> Self {
        Self(None)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values: Vec<String> = parts
            .headers
            .get_all(header::IF_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|tag| tag.trim().trim_start_matches("W/").to_owned())
            .filter(|tag| !tag.is_empty())
            .collect();
        Ok(Self((!values.is_empty()).then_some(values)))
    }
}

impl IfMatch {
    /// Whether the precondition holds for the current `etag` (no header always holds).
    pub fn matches(&self, etag: &str) -> bool {
        match &self.0 {
            None => true,
            Some(tags) => tags.iter().any(|tag| tag == "*" || tag == etag),
        }
    }
}

impl crate::services::Precondition for IfMatch {
    fn admits(&self, id: &str, version: i64) -> bool {
        self.matches(&crate::api::etag(id, version))
    }
}

/// `412` when an `If-Match` precondition fails.
pub fn precondition_failed() -> ApiError {
    ApiError::from(crate::error::ServiceError::PreconditionFailed)
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(has_nul_escape(br#"{"name": "a\u0000b"}"#));
        assert!(has_nul_escape(br#"{"name": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"name": "\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"name": "\u0001 u0000"}"#));
        assert!(!has_nul_escape(b"{}"));
    }
}
