//! Services: the rules of each API area, between thin handlers and the store. Nothing here
//! knows about HTTP: inputs are typed values, errors are [`crate::error::ServiceError`]s that
//! the REST handlers turn into API errors (with `?`) and the portal into its error page.

pub mod audit;
pub mod brands;
pub mod documents;
pub mod members;
pub mod pipeline;
pub mod search;
pub mod sessions;

/// The version a caller expects a resource to be at before it changes it: an `If-Match`
/// precondition (RFC 9110 §13.1.1) for API callers, none for the portal.
pub trait Precondition: Sync {
    /// Whether the resource `id`, now at `version`, may be changed.
    fn admits(&self, id: &str, version: i64) -> bool;
}

/// No precondition: every version is admitted (internal callers such as the portal).
pub struct Unconditional;

impl Precondition for Unconditional {
    fn admits(&self, _id: &str, _version: i64) -> bool {
        true
    }
}

/// The current time in Unix microseconds, as the store keeps times.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as i64)
        .unwrap_or(0)
}
