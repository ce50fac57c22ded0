//! HTTP routes, one module per area.

pub mod oauth;
pub mod ops;
pub mod wellknown;
