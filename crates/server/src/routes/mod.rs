//! HTTP routes, one module per area.

pub mod brands;
pub mod docs;
pub mod documents;
pub mod oauth;
pub mod ops;
pub mod pipeline;
pub mod wellknown;
