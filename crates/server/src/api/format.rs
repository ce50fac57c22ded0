//! Response formatting shared by the APIs: timestamps, ETags and paged lists.

use serde::Serialize;

/// RFC 3339 UTC with microseconds, as the hosted service writes times
/// (`2025-06-18T12:46:12.718310Z`).
pub fn timestamp(micros: i64) -> String {
    let nanos = i128::from(micros) * 1_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond()
        ),
        Err(_) => String::new(),
    }
}

pub use crate::services::now_micros;

/// The strong ETag of a versioned resource.
pub fn etag(id: &str, version: i64) -> String {
    format!("\"{}-{version}\"", &id[..id.len().min(8)])
}

/// A JSON response carrying the ETag of the resource it represents.
pub fn json_with_etag<T: Serialize>(
    status: axum::http::StatusCode,
    body: T,
    id: &str,
    version: i64,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&etag(id, version)) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, value);
    }
    response
}

/// A page of a paginated list: `{totalCount, pageSize, pageNumber, data}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// Items matching the filters, over all pages.
    pub total_count: i64,
    /// Requested page size.
    pub page_size: i64,
    /// Requested page number (1-based).
    pub page_number: i64,
    /// This page.
    pub data: Vec<T>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds_and_z() {
        assert_eq!(
            timestamp(1_750_250_772_718_310),
            "2025-06-18T12:46:12.718310Z"
        );
        assert_eq!(etag("8271dec7-0c30", 3), "\"8271dec7-3\"");
    }
}
