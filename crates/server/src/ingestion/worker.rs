//! The worker loop: claim a run, keep its lease alive, execute it step by step (checking for
//! cancellation and shutdown between steps), and record the outcome.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brandstream_domain::{BrandKitId, DocumentId, OrgId};
use brandstream_ingest::summary::summarize;
use brandstream_ingest::{chunk_document, detect_kind, ChunkSettings, FileKind};
use brandstream_store::{
    ChunkRecord, DocumentRecord, DocumentStatus, RunRecord, RunStatus, StoreError,
};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::Pipeline;
use crate::services::now_micros;
use crate::services::pipeline::RunSpec;

/// How a run ended, from the worker's point of view.
pub(super) enum Outcome {
    /// Finished with a status and message.
    Finished(RunStatus, String),
    /// Stopped on request.
    Cancelled(String),
    /// Another worker took the run over (this one lost its lease).
    Lost,
}

/// A document read and cut into chunks, not yet stored.
struct ReadDocument {
    /// The extracted text (only the selected page range).
    extracted: brandstream_ingest::Extracted,
    /// Pages in the whole document.
    pages: usize,
    /// Its chunks.
    chunks: Vec<brandstream_ingest::Chunk>,
    /// Its extractive summary.
    summary: Option<String>,
}

/// State shared between a run and its heartbeat.
pub(super) struct Tracker {
    progress: Mutex<Value>,
    /// Keys every later progress carries (the documents' outcome once they are read).
    outcome: Mutex<serde_json::Map<String, Value>>,
    cancel: AtomicBool,
    lost: AtomicBool,
}

/// Most failed documents a run's progress lists (the counts are exact).
const FAILED_DOCUMENTS_LISTED: usize = 100;

impl Tracker {
    fn new(progress: Value, cancel: bool) -> Self {
        Self {
            progress: Mutex::new(progress),
            outcome: Mutex::new(serde_json::Map::new()),
            cancel: AtomicBool::new(cancel),
            lost: AtomicBool::new(false),
        }
    }

    /// Sets the progress, with the documents' outcome once it is known.
    pub(super) fn set(&self, mut progress: Value) {
        if let Value::Object(fields) = &mut progress {
            let outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
            fields.extend(outcome.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = progress;
    }

    /// Records how the documents of an ingestion run went, machine-readably: from now on the
    /// progress carries `documentsSucceeded`, `documentsFailed` and `failedDocuments`
    /// (`[{"id", "reason"}]`, the first 100).
    fn record_documents(&self, total: usize, failures: &[(String, String)]) {
        let listed: Vec<Value> = failures
            .iter()
            .take(FAILED_DOCUMENTS_LISTED)
            .map(|(id, reason)| json!({"id": id, "reason": reason}))
            .collect();
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        outcome.insert("documentsSucceeded".into(), json!(total - failures.len()));
        outcome.insert("documentsFailed".into(), json!(failures.len()));
        outcome.insert("failedDocuments".into(), Value::Array(listed));
    }

    fn snapshot(&self) -> Value {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn stopped(&self) -> Option<Outcome> {
        if self.lost.load(Ordering::SeqCst) {
            Some(Outcome::Lost)
        } else if self.cancel.load(Ordering::SeqCst) {
            Some(Outcome::Cancelled("Cancelled on request".into()))
        } else {
            None
        }
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl Pipeline {
    pub(super) async fn work(self: Arc<Self>, index: usize, mut shutdown: watch::Receiver<bool>) {
        let owner = format!("{}-w{index}", self.owner);
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Leases are compared on the database's clock, which every node shares.
            let now = self
                .store
                .clock_micros()
                .await
                .unwrap_or_else(|_| now_micros());
            match self
                .store
                .claim_run(&owner, now, now + micros(self.lease))
                .await
            {
                Ok(Some(run)) => self.execute(&owner, run, &mut shutdown).await,
                Ok(None) => {
                    tokio::select! {
                        () = self.queued.wait() => {}
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "claiming a pipeline run failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn execute(&self, owner: &str, run: RunRecord, shutdown: &mut watch::Receiver<bool>) {
        let started = std::time::Instant::now();
        tracing::info!(run = %run.id, pipeline = %run.pipeline_id, attempt = run.attempts, "pipeline run started");
        let tracker = Arc::new(Tracker::new(
            run.progress.clone(),
            run.status == RunStatus::Canceling,
        ));
        let heartbeat = {
            let store = Arc::clone(&self.store);
            let tracker = Arc::clone(&tracker);
            let id = run.id.clone();
            let owner = owner.to_owned();
            let lease = self.lease;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(lease / 3);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let now = store.clock_micros().await.unwrap_or_else(|_| now_micros());
                    match store
                        .heartbeat_run(&id, &owner, &tracker.snapshot(), now, now + micros(lease))
                        .await
                    {
                        Ok(Some(RunStatus::Canceling)) => {
                            tracker.cancel.store(true, Ordering::SeqCst);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            tracker.lost.store(true, Ordering::SeqCst);
                            break;
                        }
                        Err(error) => tracing::warn!(%error, "pipeline heartbeat failed"),
                    }
                }
            })
        };
        let outcome = tokio::select! {
            outcome = self.run_pipeline(&run, owner, &tracker) => Some(outcome),
            _ = shutdown.wait_for(|stop| *stop) => None,
        };
        heartbeat.abort();
        let now = self
            .store
            .clock_micros()
            .await
            .unwrap_or_else(|_| now_micros());
        let progress = tracker.snapshot();
        let (status, message) = match outcome {
            None => {
                // Shutting down: hand the run back so this or another node resumes it.
                match self.store.release_run(&run.id, owner, now).await {
                    Ok(_) => tracing::info!(run = %run.id, "pipeline run handed back for later"),
                    Err(error) => {
                        tracing::warn!(%error, run = %run.id, "handing a run back failed; its lease will expire")
                    }
                }
                return;
            }
            Some(Outcome::Lost) => {
                tracing::warn!(run = %run.id, "lost the lease on a pipeline run; another worker continues it");
                return;
            }
            Some(Outcome::Cancelled(message)) => (RunStatus::Cancelled, message),
            Some(Outcome::Finished(status, message)) => (status, message),
        };
        match self
            .store
            .finish_run(&run.id, owner, status, &message, &progress, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(run = %run.id, "a pipeline run was taken over before it finished")
            }
            Err(error) => {
                tracing::error!(%error, run = %run.id, "recording a pipeline run's end failed")
            }
        }
        metrics::counter!("brandstream_pipeline_runs_finished_total", "status" => status.as_str())
            .increment(1);
        tracing::info!(run = %run.id, status = status.as_str(), elapsed_ms = started.elapsed().as_millis() as u64, "pipeline run ended");
    }

    async fn run_pipeline(&self, run: &RunRecord, owner: &str, tracker: &Tracker) -> Outcome {
        let kit = match self.store.get_kit(&run.org_id, &run.kit_id).await {
            Ok(Some(kit)) if kit.deleted_at.is_none() => kit,
            Ok(_) => {
                return Outcome::Finished(
                    RunStatus::Failed,
                    "The brand kit no longer exists".into(),
                )
            }
            Err(error) => return internal_failure(&error),
        };
        let Some(spec) = RunSpec::of(&run.pipeline_id, &run.parameters) else {
            return Outcome::Finished(
                RunStatus::Failed,
                format!("Unknown pipeline {}", run.pipeline_id),
            );
        };
        let mut notes: Vec<String> = Vec::new();
        let mut failures: Vec<(String, String)> = Vec::new();
        let mut documents_total = 0;
        let (populate, scope) = match &spec {
            RunSpec::BrandIngestion {
                documents,
                populate_sections,
                section_id,
                field_id,
            } => {
                documents_total = documents.len();
                for (done, id) in documents.iter().enumerate() {
                    self.refresh(run, tracker).await;
                    if let Some(stop) = tracker.stopped() {
                        return stop;
                    }
                    tracker.set(json!({
                        "stage": "reading", "documentsDone": done, "documentsTotal": documents.len(), "documentId": id,
                    }));
                    self.report(run, owner, tracker).await;
                    if let Err(reason) = self
                        .process_document(&run.org_id, id, &kit.id, &run.stamp.created_by)
                        .await
                    {
                        tracing::info!(run = %run.id, document = %id, %reason, "a document could not be ingested");
                        failures.push((id.to_string(), reason.to_string()));
                    }
                }
                tracker.record_documents(documents.len(), &failures);
                notes.push(format!(
                    "Ingested {} of {} documents",
                    documents.len() - failures.len(),
                    documents.len()
                ));
                (
                    *populate_sections,
                    super::filling::Scope {
                        section_id: section_id.clone(),
                        field_id: field_id.clone(),
                    },
                )
            }
            RunSpec::EnrichSections {
                section_id,
                field_id,
            } => (
                true,
                super::filling::Scope {
                    section_id: section_id.clone(),
                    field_id: field_id.clone(),
                },
            ),
        };
        if populate {
            self.refresh(run, tracker).await;
            if let Some(stop) = tracker.stopped() {
                return stop;
            }
            tracker.set(json!({
                "stage": "filling", "documentsDone": documents_total, "documentsTotal": documents_total,
            }));
            self.report(run, owner, tracker).await;
            if kit.locked {
                notes.push("the brand kit is locked, so no subsection was changed".into());
            } else {
                match super::filling::fill_kit(
                    self.store.as_ref(),
                    &kit,
                    &scope,
                    &run.stamp.created_by,
                    self.semantics.as_ref().map(|s| Arc::clone(&s.meaning)),
                )
                .await
                {
                    Ok(filled) if self.semantics.is_some() => {
                        notes.push(format!("filled {filled} subsections (by meaning)"))
                    }
                    Ok(filled) => notes.push(format!(
                        "filled {filled} subsections (by headings only: no embedding model)"
                    )),
                    Err(error) => return internal_failure(&error),
                }
            }
        }
        if let (Some(semantics), RunSpec::BrandIngestion { documents, .. }) =
            (&self.semantics, &spec)
        {
            if let Err(stop) = self
                .await_embeddings(run, owner, tracker, semantics, documents, &mut notes)
                .await
            {
                return stop;
            }
        }
        tracker.set(json!({
            "stage": "done", "documentsDone": documents_total, "documentsTotal": documents_total,
        }));
        let mut message = notes.join("; ");
        if !failures.is_empty() {
            message.push_str(&format!(
                ". {} document(s) failed: {}",
                failures.len(),
                failures
                    .iter()
                    .map(|(id, reason)| format!("{id}: {reason}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let status = if documents_total > 0 && failures.len() == documents_total {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        Outcome::Finished(status, message)
    }

    /// Publishes the run's progress (and extends its lease) at each step, so callers polling
    /// the run see where it is without waiting for the next heartbeat.
    pub(super) async fn report(&self, run: &RunRecord, owner: &str, tracker: &Tracker) {
        let now = self
            .store
            .clock_micros()
            .await
            .unwrap_or_else(|_| now_micros());
        match self
            .store
            .heartbeat_run(
                &run.id,
                owner,
                &tracker.snapshot(),
                now,
                now + micros(self.lease),
            )
            .await
        {
            Ok(Some(RunStatus::Canceling)) => {
                tracker.cancel.store(true, Ordering::SeqCst);
            }
            Ok(Some(_)) => {}
            Ok(None) => tracker.lost.store(true, Ordering::SeqCst),
            Err(error) => tracing::warn!(%error, "recording pipeline progress failed"),
        }
    }

    /// Notices a cancellation between steps, without waiting for the next heartbeat.
    pub(super) async fn refresh(&self, run: &RunRecord, tracker: &Tracker) {
        if let Ok(Some(current)) = self.store.get_run(&run.org_id, &run.id).await {
            if current.status == RunStatus::Canceling {
                tracker.cancel.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Reads, chunks and indexes one document. The error is the reason, for people; the
    /// document is marked failed with it.
    async fn process_document(
        &self,
        org: &OrgId,
        id: &DocumentId,
        kit_id: &BrandKitId,
        actor: &str,
    ) -> Result<(), String> {
        let started = std::time::Instant::now();
        let document = match self.store.get_document(org, id).await {
            Ok(Some(document)) if document.deleted_at.is_none() => document,
            Ok(_) => return Err("the document no longer exists".into()),
            Err(error) => return Err(internal(&error)),
        };
        match self.read_document(&document).await {
            Ok(read) => {
                let read_ms = started.elapsed().as_secs_f64() * 1e3;
                let chunks = read.chunks.len();
                let stored = self.store_chunks(org, id, kit_id, actor, read).await;
                let total_ms = started.elapsed().as_secs_f64() * 1e3;
                tracing::info!(
                    document = id.as_str(),
                    chunks,
                    read_ms,
                    index_ms = total_ms - read_ms,
                    "document ingested"
                );
                stored
            }
            Err(reason) => {
                self.mark_failed(org, id, actor, &reason).await;
                Err(reason)
            }
        }
    }

    async fn read_document(&self, document: &DocumentRecord) -> Result<ReadDocument, String> {
        let bytes = self
            .blobs
            .get(&document.file_id)
            .await
            .map_err(|error| internal(&error))?;
        let detected = detect_kind(&bytes).ok_or("the file is not a supported type")?;
        // The kind the upload settled on: Markdown and plain text cannot always be told apart
        // from the bytes, so a textual file keeps the textual type its sender declared (a
        // Markdown file whose only syntax is headings must still be read as Markdown).
        let kind = FileKind::from_declared(&document.file_type)
            .filter(|stored| detected.agrees_with(*stored))
            .unwrap_or(detected);
        let mut extracted = self
            .extractor
            .extract(kind, bytes, self.limits, document.charset.clone())
            .await?;
        let from = document.page_range_from.unwrap_or(1);
        let to = document.page_range_to.unwrap_or(i64::MAX);
        let total_pages = extracted.pages.len();
        if document.page_range_from.is_some() || document.page_range_to.is_some() {
            extracted
                .pages
                .retain(|page| (from..=to).contains(&i64::from(page.number)));
        }
        // Chunking and summarising are CPU work: off the runtime's threads, so requests and
        // lease heartbeats on this node never wait behind a large document.
        let (extracted, chunks, summary) = tokio::task::spawn_blocking(move || {
            // The two are independent: side by side on a second thread.
            let (chunks, summary) = std::thread::scope(|scope| {
                let summary = scope.spawn(|| summarize(&extracted, 3, 1000));
                let chunks = chunk_document(&extracted, ChunkSettings::default());
                (chunks, summary.join().ok().flatten())
            });
            (extracted, chunks, summary)
        })
        .await
        .map_err(|error| internal(&error))?;
        if chunks.is_empty() {
            return Err(if total_pages == extracted.pages.len() {
                "the document contains no text".into()
            } else {
                format!("pages {from} to {to} contain no text (the document has {total_pages})")
            });
        }
        Ok(ReadDocument {
            extracted,
            pages: total_pages,
            chunks,
            summary,
        })
    }

    async fn store_chunks(
        &self,
        org: &OrgId,
        id: &DocumentId,
        kit_id: &BrandKitId,
        actor: &str,
        read: ReadDocument,
    ) -> Result<(), String> {
        let ReadDocument {
            extracted,
            pages,
            chunks,
            summary,
        } = read;
        let now = now_micros();
        let records: Vec<ChunkRecord> = chunks
            .into_iter()
            .map(|chunk| ChunkRecord {
                id: brandstream_domain::ChunkId::generate(),
                document_id: id.clone(),
                org_id: org.clone(),
                ordinal: chunk.ordinal as i64,
                // Spans serialise as plain triples: this cannot fail.
                blocks: serde_json::to_string(&chunk.blocks).ok(),
                headings: chunk.headings,
                text: chunk.text,
                page_start: i64::from(chunk.page_start),
                page_end: i64::from(chunk.page_end),
                created_at: now,
            })
            .collect();
        for _ in 0..3 {
            let mut document = match self.store.get_document(org, id).await {
                Ok(Some(document)) if document.deleted_at.is_none() => document,
                Ok(_) => return Err("the document was deleted while it was read".into()),
                Err(error) => return Err(internal(&error)),
            };
            if let Some(title) = extracted.title.as_ref().filter(|_| {
                document.file_name.as_deref() == Some(document.title.as_str())
                    || document.title == "Untitled document"
            }) {
                document.title = title.chars().take(500).collect();
            }
            document.status = DocumentStatus::Processed;
            document.message = String::new();
            document.number_of_pages = pages as i64;
            document.chunked = true;
            if document.summary.is_none() || !document.summarized {
                document.summary = summary.clone().or(document.summary);
            }
            document.summarized = document.summary.is_some();
            if let Some(references) = document.references.as_array_mut() {
                let linked = references
                    .iter()
                    .any(|r| r.get("id").and_then(Value::as_str) == Some(kit_id));
                if !linked {
                    references.push(json!({
                        "type": "brandkit", "id": kit_id,
                        "path": format!("/api/brands/v1/organizations/{org}/brandkits/{kit_id}/references"),
                    }));
                }
            }
            document.version += 1;
            document.stamp.touch(now_micros(), actor);
            match self.store.replace_chunks(&document, &records).await {
                Ok(()) => {
                    self.chunks_stored.notify_one();
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => return Err(internal(&error)),
            }
        }
        Err("the document kept changing while it was indexed".into())
    }

    async fn mark_failed(&self, org: &OrgId, id: &str, actor: &str, reason: &str) {
        for _ in 0..3 {
            let Ok(Some(mut document)) = self.store.get_document(org, id).await else {
                return;
            };
            let expected = document.version;
            document.status = DocumentStatus::Failed;
            document.message = reason.chars().take(2000).collect();
            document.version += 1;
            document.stamp.touch(now_micros(), actor);
            match self.store.update_document(&document, expected).await {
                Ok(false) => continue,
                Ok(true) => return,
                Err(error) => {
                    tracing::warn!(%error, document = id, "marking a document failed did not work");
                    return;
                }
            }
        }
    }
}

fn internal(error: &dyn std::fmt::Display) -> String {
    tracing::error!(%error, "pipeline storage error");
    "an internal error occurred (see the server log)".into()
}

fn internal_failure(error: &dyn std::fmt::Display) -> Outcome {
    Outcome::Finished(RunStatus::Failed, internal(error))
}
