//! The Brandstream HTTP application: configuration, routes, middleware, start-up and
//! background upkeep. `brandstream serve` is a thin wrapper around [`run::Server`].

pub mod api;
pub mod app;
pub mod config;
pub mod error;
pub mod ingestion;
pub mod portal;
pub mod routes;
pub mod run;
pub mod services;
pub mod telemetry;

pub use app::{router, AppState};
pub use config::{Overrides, Settings};
pub use run::{open_store, shutdown_signal, ServeError, Server};
