//! The audit trail, written off the hot path.
//!
//! Token requests hand events (and last-use times) to a bounded channel and move on; one
//! background task writes them in batches (at most every 200 ms, or 512 at a time), so a burst
//! of token requests costs one transaction, not one per token. If the channel is full the event
//! is dropped and counted (`brandstream_audit_events_dropped_total`) rather than slowing token
//! issuance. On shutdown the task drains the channel before returning.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use brandstream_domain::{ClientId, UnixSeconds};
use brandstream_store::{AuditEvent, Store};
use tokio::sync::{mpsc, oneshot};

const CHANNEL_CAPACITY: usize = 65_536;
const BATCH_SIZE: usize = 512;
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

enum Command {
    Event(AuditEvent),
    Used(ClientId, UnixSeconds),
    Flush(oneshot::Sender<()>),
}

/// The sending side, cheap to clone.
#[derive(Clone)]
pub struct AuditSink {
    sender: mpsc::Sender<Command>,
}

/// The writer task's handle; await [`AuditWriter::run`] to drain on shutdown.
pub struct AuditWriter {
    receiver: mpsc::Receiver<Command>,
    store: Arc<dyn Store>,
}

/// Creates a sink and the writer that must be spawned.
pub fn audit_channel(store: Arc<dyn Store>) -> (AuditSink, AuditWriter) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    (AuditSink { sender }, AuditWriter { receiver, store })
}

impl AuditSink {
    /// Queues an event without waiting.
    pub fn record(&self, event: AuditEvent) {
        if self.sender.try_send(Command::Event(event)).is_err() {
            metrics::counter!("brandstream_audit_events_dropped_total").increment(1);
        }
    }

    /// Queues a last-use time for a credential without waiting.
    pub fn used(&self, client_id: ClientId, at: UnixSeconds) {
        let _ = self.sender.try_send(Command::Used(client_id, at));
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

impl AuditWriter {
    /// Writes batches until every sink is dropped, then writes what is left.
    pub async fn run(mut self) {
        let mut events = Vec::with_capacity(BATCH_SIZE);
        let mut uses: HashMap<ClientId, UnixSeconds> = HashMap::new();
        let mut waiting = Vec::new();
        loop {
            let first = self.receiver.recv().await;
            let closed = first.is_none();
            if let Some(command) = first {
                absorb(command, &mut events, &mut uses, &mut waiting);
                // Gather what arrives within the flush interval, up to a batch.
                let deadline = tokio::time::Instant::now() + FLUSH_INTERVAL;
                while events.len() < BATCH_SIZE && waiting.is_empty() {
                    match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                        Ok(Some(command)) => absorb(command, &mut events, &mut uses, &mut waiting),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            self.write(&mut events, &mut uses).await;
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
            if closed {
                return;
            }
        }
    }

    async fn write(&self, events: &mut Vec<AuditEvent>, uses: &mut HashMap<ClientId, UnixSeconds>) {
        if !events.is_empty() {
            let count = events.len();
            let batch = std::mem::replace(events, Vec::with_capacity(count));
            match self.store.append_audit_events(batch).await {
                Ok(()) => metrics::counter!("brandstream_audit_events_written_total")
                    .increment(count as u64),
                Err(error) => {
                    metrics::counter!("brandstream_audit_events_dropped_total")
                        .increment(count as u64);
                    tracing::error!(%error, count, "writing audit events failed");
                }
            }
        }
        if !uses.is_empty() {
            let batch: Vec<(ClientId, UnixSeconds)> = uses.drain().collect();
            if let Err(error) = self.store.touch_clients(&batch).await {
                tracing::warn!(%error, "recording credential last-use times failed");
            }
        }
    }
}

fn absorb(
    command: Command,
    events: &mut Vec<AuditEvent>,
    uses: &mut HashMap<ClientId, UnixSeconds>,
    waiting: &mut Vec<oneshot::Sender<()>>,
) {
    match command {
        Command::Event(event) => events.push(event),
        Command::Used(client_id, at) => {
            let entry = uses.entry(client_id).or_insert(at);
            *entry = (*entry).max(at);
        }
        Command::Flush(done) => waiting.push(done),
    }
}
