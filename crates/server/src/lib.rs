//! The Brandstream HTTP application: configuration, routes, middleware, start-up and
//! background upkeep. `brandstream serve` is a thin wrapper around [`run::Server`].

pub mod api;
pub mod app;
pub mod config;
pub mod error;
pub mod fetch;
pub mod ingestion;
pub mod meaning;
pub mod portal;
pub mod routes;
pub mod run;
pub mod services;
pub mod telemetry;

pub use app::{router, AppState};
pub use config::{Overrides, Settings};
pub use run::{
    load_master_key, open_store, open_store_migrating, shutdown_signal, ServeError, Server,
};
