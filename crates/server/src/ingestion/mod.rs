//! Background ingestion: workers that claim pipeline runs from the database, read documents
//! in a sandbox, index their chunks and fill brand-kit subsections.

mod embedding;
pub mod extractor;
mod filling;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use brandstream_ingest::ExtractLimits;
use brandstream_store::{Blobs, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::services::pipeline::RunQueued;

pub use extractor::Extractor;

/// What the workers need.
pub struct Pipeline {
    store: Arc<dyn Store>,
    blobs: Blobs,
    extractor: Extractor,
    limits: ExtractLimits,
    lease: Duration,
    workers: usize,
    queued: RunQueued,
    /// Identifies this process's claims (`<host>-<pid>-<random>`).
    owner: String,
    /// The embedding model for filling by meaning and the embedding stage (none: headings
    /// only, full-text search only).
    semantics: Option<Arc<crate::meaning::Semantics>>,
    /// Woken when a document's chunks are stored (the embedding stage has work).
    chunks_stored: Arc<tokio::sync::Notify>,
}

impl Pipeline {
    /// A pipeline over `store` and `blobs`.
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Blobs,
        extractor: Extractor,
        limits: ExtractLimits,
        lease: Duration,
        workers: usize,
        queued: RunQueued,
    ) -> Self {
        let owner = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Self {
            store,
            blobs,
            extractor,
            limits,
            lease,
            workers,
            queued,
            owner,
            semantics: None,
            chunks_stored: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Fills brand kits by meaning with `model` (see `brandstream_ingest::fill`) and embeds
    /// every chunk with it (the embedding stage).
    #[must_use]
    pub fn with_semantics(mut self, model: Option<Arc<crate::meaning::Semantics>>) -> Self {
        self.semantics = model;
        self
    }

    /// This process's identity in run claims and cluster leases.
    pub fn node_id(&self) -> &str {
        &self.owner
    }

    /// Starts the workers; they stop (handing unfinished runs back to the queue) when
    /// `shutdown` turns true.
    /// With a model, the embedding stage runs beside them.
    pub fn spawn(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks: Vec<JoinHandle<()>> = (0..self.workers)
            .map(|index| {
                let pipeline = Arc::clone(self);
                let shutdown = shutdown.clone();
                tokio::spawn(async move { pipeline.work(index, shutdown).await })
            })
            .collect();
        if let Some(semantics) = &self.semantics {
            let pipeline = Arc::clone(self);
            let semantics = Arc::clone(semantics);
            tasks.push(tokio::spawn(async move {
                pipeline.embed_chunks(&semantics, shutdown).await;
            }));
        }
        tasks
    }
}
