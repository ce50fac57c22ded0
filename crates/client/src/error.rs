//! The SDK's error: what went wrong, with the server's words and request id when it answered.

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status.
    #[error("{status}: {message}{}", request_id.as_deref().map(|id| format!(" (request {id})")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// The OAuth `error` code, for token-endpoint errors.
        error: Option<String>,
        /// The server's explanation: `error_description`, or `detail` (validation details
        /// joined as `field: message`).
        message: String,
        /// The whole error body, as JSON.
        body: serde_json::Value,
        /// The `x-request-id` of the response.
        request_id: Option<String>,
    },
    /// The server could not be reached, or the connection failed.
    #[error("cannot reach the server: {0}")]
    Http(String),
    /// The response was not what this SDK expects.
    #[error("unexpected response: {0}")]
    Decode(String),
    /// The client is misconfigured.
    #[error("{0}")]
    Config(String),
    /// A local file could not be read.
    #[error("{0}")]
    Io(String),
}

impl Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn from_body(status: u16, body: &[u8], request_id: Option<String>) -> Self {
        let json: serde_json::Value =
            serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        let error = json
            .get("error")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let message = match (json.get("error_description"), json.get("detail")) {
            (Some(serde_json::Value::String(text)), _) => text.clone(),
            (_, Some(serde_json::Value::String(text))) => text.clone(),
            (_, Some(serde_json::Value::Array(issues))) => issues
                .iter()
                .map(|issue| {
                    let field = issue
                        .get("loc")
                        .and_then(|loc| loc.as_array())
                        .and_then(|loc| loc.last())
                        .map(|last| last.to_string().trim_matches('"').to_owned())
                        .unwrap_or_default();
                    let msg = issue
                        .get("msg")
                        .or_else(|| issue.get("detail"))
                        .and_then(|m| m.as_str())
                        .unwrap_or("invalid");
                    if field.is_empty() {
                        msg.to_owned()
                    } else {
                        format!("{field}: {msg}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => error.clone().unwrap_or_else(|| {
                String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
            }),
        };
        Error::Api {
            status,
            error,
            message,
            body: json,
            request_id,
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(error: reqwest::Error) -> Self {
        // reqwest's messages name the URL, never headers or bodies: no secret can leak here.
        if error.is_decode() {
            return Error::Decode(error.to_string());
        }
        // The server's origin (scheme, host, port: no path or query) and the whole cause chain,
        // e.g. "http://127.0.0.1:9 (error sending request: … Connection refused)".
        let origin = error.url().map(|url| url.origin().ascii_serialization());
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            causes.push(inner.to_string());
            source = inner.source();
        }
        let mut message = error.without_url().to_string();
        for cause in causes {
            if !message.contains(&cause) {
                message = format!("{message}: {cause}");
            }
        }
        Error::Http(match origin {
            Some(origin) => format!("{origin} ({message})"),
            None => message,
        })
    }
}
