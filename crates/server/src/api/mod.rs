//! The platform every Stream API shares: bearer authentication and authorization, request
//! extractors that answer in the hosted FastAPI error shapes, pagination, and formatting.

pub mod auth;
pub mod extract;
pub mod format;

pub use auth::Caller;
pub use extract::{ApiJson, IfMatch, PathIds, QueryParams};
pub use format::{etag, now_micros, timestamp, Page};
