//! Background ingestion: workers that claim pipeline runs from the database, read documents
//! in a sandbox, index their chunks and fill brand-kit subsections.

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
    /// The embedding model for filling by meaning (none: headings only).
    meaning: Option<Arc<brandstream_ingest::MeaningModel>>,
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
            meaning: None,
        }
    }

    /// Fills brand kits by meaning with `model` (see `brandstream_ingest::fill`).
    #[must_use]
    pub fn with_meaning(mut self, model: Option<Arc<brandstream_ingest::MeaningModel>>) -> Self {
        self.meaning = model;
        self
    }

    /// This process's identity in run claims and cluster leases.
    pub fn node_id(&self) -> &str {
        &self.owner
    }

    /// Starts the workers; they stop (handing unfinished runs back to the queue) when
    /// `shutdown` turns true.
    pub fn spawn(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        (0..self.workers)
            .map(|index| {
                let pipeline = Arc::clone(self);
                let shutdown = shutdown.clone();
                tokio::spawn(async move { pipeline.work(index, shutdown).await })
            })
            .collect()
    }
}
