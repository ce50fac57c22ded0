//! Background ingestion: workers that claim pipeline runs from the database, read documents
//! in a sandbox, index their chunks and fill brand-kit subsections.

pub mod extractor;
pub mod fetch;
mod filling;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use brandstream_ingest::ExtractLimits;
use brandstream_store::{Blobs, Store};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use extractor::Extractor;

/// What the workers need.
pub struct Pipeline {
    store: Arc<dyn Store>,
    blobs: Blobs,
    extractor: Extractor,
    limits: ExtractLimits,
    lease: Duration,
    workers: usize,
    wake: Notify,
    /// Identifies this process's claims (`<host>-<pid>-<random>`).
    owner: String,
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
            wake: Notify::new(),
            owner,
        }
    }

    /// This process's identity in run claims and cluster leases.
    pub fn node_id(&self) -> &str {
        &self.owner
    }

    /// Tells an idle worker that a run was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
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
