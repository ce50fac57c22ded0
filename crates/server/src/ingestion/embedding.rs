//! The embedding stage: every knowledge chunk gets sentence embeddings for vector and hybrid
//! search, computed after its document became `processed` (so full-text search never waits
//! for it) on blocking threads, a batch at a time.
//!
//! The queue is the data: chunks without an embedding from the loaded model
//! ([`EmbeddingStore::chunks_to_embed`](brandstream_store::EmbeddingStore)). So the stage
//! resumes after a restart where it stopped, embeds documents ingested while no model was
//! installed, and re-embeds everything when the model changes. A brand-ingestion run waits for
//! its documents' embeddings as its last stage (`"stage": "embedding"`, with `chunksEmbedded`
//! and `chunksTotal`), so a finished run is searchable in every mode.

use std::time::{Duration, Instant};

use brandstream_domain::DocumentId;
use brandstream_store::{ChunkRecord, ChunkVector, RunRecord};
use serde_json::json;
use tokio::sync::watch;

use super::worker::{Outcome, Tracker};
use super::Pipeline;
use crate::meaning::Semantics;

/// Chunks read and embedded per round (several forward passes of [`crate::meaning`]'s batch).
const CHUNKS_PER_ROUND: i64 = 64;
/// How often the stage looks for chunks without being woken (other nodes' documents).
const IDLE_POLL: Duration = Duration::from_secs(10);
/// Pause after a failure (database or model), so a persistent fault does not spin.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Longest a run waits for its documents' embeddings; after that it finishes and says so
/// (the stage goes on embedding them).
const RUN_WAIT: Duration = Duration::from_secs(15 * 60);
/// How often a waiting run looks at the stage's progress.
const RUN_POLL: Duration = Duration::from_millis(200);

/// Most words in one passage of a chunk the model reads (the model was trained on sentence
/// pairs; a whole chunk's embedding blurs its several topics into one).
const PASSAGE_WORDS: usize = 48;
/// Most passages embedded per chunk.
const PASSAGES_MAX: usize = 12;

/// The passages the model reads of a chunk: its sentences (and lines) grouped up to
/// [`PASSAGE_WORDS`] words, each headed by the chunk's innermost heading (the
/// outer ones measured worse: where a PDF's chapters are recovered or not, they change what a
/// passage means to the model; a change here is a new
/// [`crate::meaning::PASSAGE_LAYOUT`]). A chunk's stored
/// embedding is the passages' vectors one after the other; a search scores a chunk by its best
/// passage.
pub(crate) fn embedding_texts(chunk: &ChunkRecord) -> Vec<String> {
    let context = chunk
        .headings
        .iter()
        .next_back()
        .map(String::as_str)
        .unwrap_or_default();
    let mut passages: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut words = 0;
    for sentence in sentences(&chunk.text) {
        let count = sentence.split_whitespace().count();
        if words > 0 && words + count > PASSAGE_WORDS {
            passages.push(current.join(" "));
            current.clear();
            words = 0;
        }
        current.push(sentence);
        words += count;
    }
    if !current.is_empty() {
        passages.push(current.join(" "));
    }
    if passages.len() > PASSAGES_MAX {
        // Very long chunks (tables) keep their first passages and one of the whole rest.
        let rest = passages.split_off(PASSAGES_MAX - 1).join(" ");
        passages.push(rest);
    }
    if passages.is_empty() {
        passages.push(String::new());
    }
    passages
        .into_iter()
        .map(|passage| {
            if context.is_empty() {
                passage
            } else {
                format!("{context}\n{passage}")
            }
        })
        .collect()
}

/// The sentences and lines of `text`.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .flat_map(brandstream_ingest::summary::sentences)
}

impl Pipeline {
    /// The embedding stage's loop, until `shutdown` turns true.
    pub(super) async fn embed_chunks(
        &self,
        semantics: &Semantics,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pause = match self.embed_round(semantics).await {
                Ok(0) => IDLE_POLL,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::warn!(%error, "embedding chunks failed; retrying");
                    RETRY_AFTER
                }
            };
            if pause.is_zero() {
                continue;
            }
            tokio::select! {
                () = self.chunks_stored.notified(), if pause == IDLE_POLL => {}
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Embeds one round of waiting chunks; returns how many it read (0: none waits).
    async fn embed_round(&self, semantics: &Semantics) -> Result<usize, String> {
        let chunks = self
            .store
            .chunks_to_embed(&semantics.model, CHUNKS_PER_ROUND)
            .await
            .map_err(|error| error.to_string())?;
        if chunks.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let passages: Vec<Vec<String>> = chunks.iter().map(embedding_texts).collect();
        let mut embedded = semantics
            .embed(passages.iter().flatten().cloned().collect())
            .await?
            .into_iter();
        let vectors: Vec<ChunkVector> = chunks
            .into_iter()
            .zip(&passages)
            .map(|(chunk, texts)| ChunkVector {
                chunk_id: chunk.id,
                vector: embedded.by_ref().take(texts.len()).flatten().collect(),
            })
            .collect();
        let stored = self
            .store
            .save_embeddings(&semantics.model, &vectors)
            .await
            .map_err(|error| error.to_string())?;
        metrics::counter!("brandstream_chunks_embedded_total").increment(stored as u64);
        tracing::debug!(
            chunks = stored,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedded chunks"
        );
        Ok(vectors.len())
    }

    /// A brand-ingestion run's last stage: waits until the stage has embedded the chunks of
    /// the run's `documents`, reporting progress. `Err` when the run was cancelled or lost.
    pub(super) async fn await_embeddings(
        &self,
        run: &RunRecord,
        owner: &str,
        tracker: &Tracker,
        semantics: &Semantics,
        documents: &[DocumentId],
        notes: &mut Vec<String>,
    ) -> Result<(), Outcome> {
        let started = Instant::now();
        let mut reported = None;
        loop {
            self.refresh(run, tracker).await;
            if let Some(stop) = tracker.stopped() {
                return Err(stop);
            }
            let progress = match self
                .store
                .embedding_progress(&run.org_id, documents, &semantics.model)
                .await
            {
                Ok(progress) => progress,
                Err(error) => {
                    tracing::warn!(run = %run.id, %error, "reading embedding progress failed");
                    notes.push("embeddings are still being computed".into());
                    return Ok(());
                }
            };
            if reported != Some(progress) {
                tracker.set(json!({
                    "stage": "embedding", "documentsDone": documents.len(), "documentsTotal": documents.len(),
                    "chunksEmbedded": progress.embedded, "chunksTotal": progress.total,
                }));
                self.report(run, owner, tracker).await;
                reported = Some(progress);
            }
            if progress.embedded >= progress.total {
                if progress.total > 0 {
                    notes.push(format!("embedded {} chunks", progress.total));
                }
                return Ok(());
            }
            if started.elapsed() >= RUN_WAIT {
                notes.push(format!(
                    "embedded {} of {} chunks (the rest follow in the background)",
                    progress.embedded, progress.total
                ));
                return Ok(());
            }
            self.chunks_stored.notify_one();
            tokio::time::sleep(RUN_POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;

    fn chunk(headings: &[&str], text: &str) -> ChunkRecord {
        ChunkRecord {
            id: "c".into(),
            document_id: "d".into(),
            org_id: brandstream_domain::OrgId::parse("org_aaaaaaaaaaaaaaaa")
                .expect("an organisation id"),
            ordinal: 0,
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
            text: text.into(),
            page_start: 1,
            page_end: 1,
            created_at: 0,
            blocks: None,
        }
    }

    #[test]
    fn passages_group_whole_sentences_under_the_innermost_heading() {
        let twenty = "word ".repeat(19) + "end.";
        let text = format!("{twenty} {twenty}\nA line of its own\n{twenty}");
        let passages = embedding_texts(&chunk(&["Book", "Voice", "Tone"], &text));
        // 20 + 20 words fit in 48; the line (5 words) joins them; the last 20 would not fit.
        assert_eq!(passages.len(), 2);
        assert!(passages[0].starts_with("Tone\nword"));
        assert!(passages[0].ends_with("A line of its own"));
        assert_eq!(passages[1], format!("Tone\n{twenty}"));
        assert_eq!(embedding_texts(&chunk(&[], "")), [""]);
        let long = "One sentence here. ".repeat(200);
        assert_eq!(embedding_texts(&chunk(&[], &long)).len(), PASSAGES_MAX);
    }
}
