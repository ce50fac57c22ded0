//! Fetching a document from a URL for the URL form of an upload, with a size and time limit,
//! and — unless configured otherwise — refusing addresses inside the server's own networks
//! (loopback, private, link-local, …), checked on the resolved address that is then used, so
//! DNS cannot point the fetch elsewhere between the check and the connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;

/// Most redirects followed.
const REDIRECTS_MAX: usize = 5;

/// Why a fetch failed; the text is the `detail` of a 400.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Whether `ip` is somewhere a server-side fetch must not reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xff00) == 0xff00 // multicast
        }
    }
}

/// A fetched file.
pub struct Fetched {
    /// The bytes.
    pub bytes: Bytes,
    /// The response's Content-Type, if any.
    pub content_type: Option<String>,
    /// The last path segment of the final URL.
    pub file_name: Option<String>,
}

/// Fetches `url` (http or https), at most `max_bytes`, within `timeout`.
pub async fn fetch(
    url: &str,
    max_bytes: u64,
    timeout: Duration,
    allow_internal: bool,
) -> Result<Fetched, FetchError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut current = reqwest::Url::parse(url)
        .map_err(|_| FetchError("url is not a valid absolute URL".into()))?;
    for _ in 0..=REDIRECTS_MAX {
        if !matches!(current.scheme(), "http" | "https") {
            return Err(FetchError("url must use http or https".into()));
        }
        let host = current
            .host_str()
            .ok_or_else(|| FetchError("url has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = current.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> =
            tokio::time::timeout_at(deadline, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| FetchError("fetching url timed out".into()))?
                .map_err(|_| FetchError(format!("cannot resolve the host {host}")))?
                .collect();
        let Some(address) = addresses
            .iter()
            .copied()
            .find(|address| allow_internal || !is_internal(address.ip()))
        else {
            return Err(FetchError(
                "url points to a loopback, private or link-local address, which this server does not fetch from".into(),
            ));
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, address)
            .timeout(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .user_agent(concat!("brandstream/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError(format!("cannot fetch url: {e}")))?;
        let mut response = client
            .get(current.clone())
            .send()
            .await
            .map_err(|e| FetchError(describe(&e)))?;
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| FetchError("url redirected without a location".into()))?;
            current = current
                .join(location)
                .map_err(|_| FetchError("url redirected to an invalid location".into()))?;
            continue;
        }
        if !response.status().is_success() {
            return Err(FetchError(format!(
                "fetching url failed with HTTP status {}",
                response.status().as_u16()
            )));
        }
        if response
            .content_length()
            .is_some_and(|length| length > max_bytes)
        {
            return Err(FetchError(format!(
                "the file at url is larger than the limit of {max_bytes} bytes"
            )));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(piece) = response
            .chunk()
            .await
            .map_err(|e| FetchError(describe(&e)))?
        {
            if body.len() as u64 + piece.len() as u64 > max_bytes {
                return Err(FetchError(format!(
                    "the file at url is larger than the limit of {max_bytes} bytes"
                )));
            }
            body.extend_from_slice(&piece);
        }
        let file_name = current
            .path_segments()
            .and_then(|mut segments| segments.next_back().map(str::to_owned))
            .filter(|name| !name.is_empty());
        return Ok(Fetched {
            bytes: Bytes::from(body),
            content_type,
            file_name,
        });
    }
    Err(FetchError("url redirected too many times".into()))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "fetching url timed out".into()
    } else if error.is_connect() {
        "cannot connect to the host of url".into()
    } else {
        "fetching url failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for external in ["8.8.8.8", "151.101.1.69", "2a00:1450:4001:80b::200e"] {
            assert!(!is_internal(external.parse().unwrap()), "{external}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let error = fetch(
            "http://127.0.0.1:9/file.pdf",
            1024,
            Duration::from_secs(2),
            false,
        )
        .await
        .err()
        .unwrap();
        assert!(error.0.contains("loopback"), "{error}");
        let error = fetch("ftp://example.com/x", 1024, Duration::from_secs(2), false)
            .await
            .err()
            .unwrap();
        assert!(error.0.contains("http"), "{error}");
    }
}
