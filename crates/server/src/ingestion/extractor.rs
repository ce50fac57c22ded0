//! Running text extraction: in a child process (the same binary's hidden `__extract`
//! subcommand) with a time and memory limit, or in-process on a blocking thread.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use brandstream_ingest::{ExtractError, ExtractLimits, Extracted, FileKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest answer accepted from the child (the JSON of the extracted text).
const ANSWER_MAX: u64 = 512 * 1024 * 1024;

/// How documents are read.
#[derive(Debug, Clone)]
pub enum Extractor {
    /// In a child process of `program` (`program __extract …`).
    Sandboxed {
        /// The `brandstream` binary.
        program: PathBuf,
        /// Time limit per document.
        timeout: Duration,
        /// Address-space limit in MiB.
        memory_mb: u64,
    },
    /// In this process, on a blocking thread (tests, or `pipeline.sandbox = false`).
    InProcess,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Answer {
    Ok(Extracted),
    Err(ExtractError),
}

impl Extractor {
    /// Extracts `bytes` of `kind`, a textual file in the `charset` its sender declared when
    /// it names none itself. Errors are for people (they end up in run messages).
    pub async fn extract(
        &self,
        kind: FileKind,
        bytes: bytes::Bytes,
        limits: ExtractLimits,
        charset: Option<String>,
    ) -> Result<Extracted, String> {
        match self {
            Extractor::InProcess => tokio::task::spawn_blocking(move || {
                std::panic::catch_unwind(|| {
                    brandstream_ingest::extract_declared(kind, &bytes, limits, charset.as_deref())
                })
                .map_err(|_| "the document could not be read (the parser failed)".to_owned())?
                .map_err(|error| error.to_string())
            })
            .await
            .map_err(|error| format!("extraction stopped: {error}"))?,
            Extractor::Sandboxed {
                program,
                timeout,
                memory_mb,
            } => sandboxed(program, *timeout, *memory_mb, kind, bytes, limits, charset).await,
        }
    }
}

async fn sandboxed(
    program: &PathBuf,
    timeout: Duration,
    memory_mb: u64,
    kind: FileKind,
    bytes: bytes::Bytes,
    limits: ExtractLimits,
    charset: Option<String>,
) -> Result<Extracted, String> {
    let mut command = tokio::process::Command::new(program);
    command.arg("__extract");
    if let Some(charset) = charset {
        command.arg("--charset").arg(charset);
    }
    let mut child = command
        .arg("--kind")
        .arg(kind.short_name())
        .arg("--docx-part-bytes")
        .arg(limits.docx_part_bytes.to_string())
        .arg("--max-pages")
        .arg(limits.max_pages.to_string())
        .arg("--memory-mb")
        .arg(memory_mb.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env_clear()
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            tracing::error!(%error, program = %program.display(), "cannot start the extraction process");
            "the document could not be read (the extraction process did not start)".to_owned()
        })?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let work = async {
        let feed = async {
            if let Some(mut pipe) = stdin.take() {
                // A child that dies early closes the pipe; its exit status tells why.
                let _ = pipe.write_all(&bytes).await;
                let _ = pipe.shutdown().await;
            }
        };
        let collect = async {
            let mut answer = Vec::new();
            if let Some(pipe) = stdout.take() {
                let _ = pipe.take(ANSWER_MAX).read_to_end(&mut answer).await;
            }
            answer
        };
        let ((), answer) = tokio::join!(feed, collect);
        let status = child.wait().await;
        (answer, status)
    };
    let (answer, status) = match tokio::time::timeout(timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => {
            return Err(format!(
                "reading the document took longer than {} s and was stopped",
                timeout.as_secs()
            ))
        }
    };
    match serde_json::from_slice::<Answer>(&answer) {
        Ok(Answer::Ok(extracted)) => Ok(extracted),
        Ok(Answer::Err(error)) => Err(error.to_string()),
        Err(_) => {
            let how = match status {
                Ok(status) if status.success() => "it gave no usable answer".to_owned(),
                Ok(status) => match status.code() {
                    Some(code) => format!("the parser exited with status {code}"),
                    None => "the parser crashed or ran out of memory".to_owned(),
                },
                Err(_) => "the parser could not be waited for".to_owned(),
            };
            Err(format!("the document could not be read ({how})"))
        }
    }
}
