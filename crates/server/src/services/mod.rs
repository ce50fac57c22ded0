//! Services: the rules of each API area, between thin handlers and the store. Nothing here
//! knows about HTTP requests; errors are [`crate::error::ApiError`]s because every caller is an
//! API handler or the portal rendering the same messages.

pub mod brands;
