//! HTTP routes, one module per area.

pub mod brands;
pub mod oauth;
pub mod ops;
pub mod wellknown;
