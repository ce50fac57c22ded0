//! The platform every Stream API shares: bearer authentication and authorization, request
//! extractors that answer in the hosted FastAPI error shapes, pagination, and formatting.

pub mod auth;
pub mod extract;
pub mod format;
pub mod schemas;

pub use auth::Caller;
pub use extract::{ApiJson, IfMatch, PathIds, QueryParams};
pub use format::{etag, now_micros, timestamp, Page};

/// The caller's address: the TCP peer, or — when `trust_forwarded_for` is set because a proxy
/// of ours fronts every request — the last address in `X-Forwarded-For`, which that proxy
/// appended (earlier entries are client-controlled and ignored).
pub fn source_address(
    settings: &crate::config::Settings,
    headers: &axum::http::HeaderMap,
    peer: std::net::SocketAddr,
) -> std::net::IpAddr {
    if settings.trust_forwarded_for {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|item| item.trim().parse::<std::net::IpAddr>().ok())
            .next_back();
        if let Some(address) = forwarded {
            return address;
        }
    }
    peer.ip()
}
