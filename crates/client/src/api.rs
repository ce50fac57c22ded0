//! The calls: one method per endpoint, on top of [`Client::send`], which adds the bearer
//! token, refreshes it once on a `401`, and backs off on `429`.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::types::*;
use crate::{Client, Error, Result};

/// The `x-request-id` of a response.
pub(crate) fn request_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `Retry-After` in seconds, if given.
pub(crate) fn retry_after(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Percent-encodes a path segment or query value.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Builds a request from scratch (so it can be sent again after a refresh or a wait).
type Build<'a> = dyn Fn(RequestBuilder) -> RequestBuilder + Send + Sync + 'a;

impl Client {
    pub(crate) fn url(&self, path: &str) -> Result<url::Url> {
        self.inner
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Config(format!("invalid path {path}: {e}")))
    }

    /// Waits before retry `attempt` (1-based): `Retry-After` if the server gave one, else
    /// exponential from 500 ms; at most the configured maximum, with up to 25 % jitter.
    pub(crate) async fn back_off(&self, attempt: u32, retry_after: Option<u64>) {
        let base = match retry_after {
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::from_millis(500u64.saturating_mul(1 << attempt.min(10))),
        };
        let capped = base.min(self.inner.max_backoff);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = capped.mul_f64(f64::from(nanos % 1000) / 4000.0);
        tokio::time::sleep(capped + jitter).await;
    }

    /// Sends an authenticated request. On `401` the token is refreshed and the request sent
    /// once more; on `429` it waits (see [`Client::back_off`]) up to the retry limit. Error
    /// statuses become [`Error::Api`].
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        build: &Build<'_>,
        timeout: bool,
    ) -> Result<Response> {
        let url = self.url(path)?;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let token = self.access_token().await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&token);
            if timeout {
                request = request.timeout(self.inner.timeout);
            }
            let response = build(request).send().await?;
            let status = response.status().as_u16();
            if status == 401 && !refreshed && self.inner.secret.is_some() {
                refreshed = true;
                self.forget_token(&token).await;
                continue;
            }
            if status == 429 && attempt < self.inner.max_retries {
                attempt += 1;
                self.back_off(attempt, retry_after(&response)).await;
                continue;
            }
            if response.status().is_success() {
                return Ok(response);
            }
            let request_id = request_id(&response);
            let body = response.bytes().await?;
            return Err(Error::from_body(status, &body, request_id));
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        build: &Build<'_>,
    ) -> Result<T> {
        let response = self.send(method, path, build, true).await?;
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.json(Method::GET, path, &|r| r).await
    }

    async fn brands(&self, version: u8, rest: &str) -> Result<String> {
        Ok(format!(
            "api/brands/v{version}/organizations/{}{rest}",
            encode(&self.organization().await?)
        ))
    }

    async fn documents(&self, version: u8, rest: &str) -> Result<String> {
        Ok(format!(
            "api/documents/v{version}/organizations/{}{rest}",
            encode(&self.organization().await?)
        ))
    }

    async fn pipeline(&self, rest: &str) -> Result<String> {
        Ok(format!(
            "api/data/v1/organizations/{}/pipeline{rest}",
            encode(&self.organization().await?)
        ))
    }

    // ---- token service -------------------------------------------------------------

    /// POSTs `token` to the OAuth endpoint `path`, authenticated with this client's
    /// credentials (HTTP Basic).
    async fn post_token(&self, path: &str, token: &str) -> Result<Response> {
        let (id, secret) = self.basic()?;
        Ok(self
            .inner
            .http
            .post(self.url(path)?)
            .timeout(self.inner.timeout)
            .basic_auth(id, Some(secret.expose_secret()))
            .form(&[("token", token)])
            .send()
            .await?)
    }

    /// Introspects a token with this client's credentials (RFC 7662).
    pub async fn introspect(&self, token: &str) -> Result<Introspection> {
        let response = self.post_token("oauth/introspect", token).await?;
        Self::decode(response).await
    }

    /// Revokes a token issued to this client (RFC 7009).
    pub async fn revoke(&self, token: &str) -> Result<()> {
        let response = self.post_token("oauth/revoke", token).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status().as_u16();
            let request_id = request_id(&response);
            Err(Error::from_body(
                status,
                &response.bytes().await?,
                request_id,
            ))
        }
    }

    /// The public signing keys (`/.well-known/jwks.json`).
    pub async fn jwks(&self) -> Result<Value> {
        let response = self
            .inner
            .http
            .get(self.url(".well-known/jwks.json")?)
            .timeout(self.inner.timeout)
            .send()
            .await?;
        Self::decode(response).await
    }

    fn basic(&self) -> Result<(&str, &secrecy::SecretString)> {
        match (&self.inner.client_id, &self.inner.secret) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            _ => Err(Error::Config("this call needs client credentials".into())),
        }
    }

    async fn decode<T: DeserializeOwned>(response: Response) -> Result<T> {
        let status = response.status().as_u16();
        let request_id = request_id(&response);
        let bytes = response.bytes().await?;
        if !(200..300).contains(&status) {
            return Err(Error::from_body(status, &bytes, request_id));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends a `DELETE` for `path`.
    async fn delete(&self, path: &str) -> Result<()> {
        self.send(Method::DELETE, path, &|r| r, true).await?;
        Ok(())
    }

    // ---- Brand Management ------------------------------------------------------------

    /// The path of one kit (v1).
    async fn kit_path(&self, id: &str) -> Result<String> {
        self.brands(1, &format!("/brandkits/{}", encode(id))).await
    }

    /// Creates a kit (with the catalogue's sections).
    pub async fn create_kit(&self, kit: &NewKit) -> Result<BrandKit> {
        let path = self.brands(1, "/brandkits").await?;
        self.json(Method::POST, &path, &|r| r.json(kit)).await
    }

    /// Lists kits, newest first.
    pub async fn list_kits(&self, page: i64, page_size: i64) -> Result<Page<BrandKit>> {
        let path = self
            .brands(
                1,
                &format!("/brandkits?pageNumber={page}&pageSize={page_size}"),
            )
            .await?;
        self.get(&path).await
    }

    /// One kit.
    pub async fn kit(&self, id: &str) -> Result<BrandKit> {
        let path = self.kit_path(id).await?;
        self.get(&path).await
    }

    /// Changes a kit: `changes` is a JSON object of the keys to set (e.g. `{"locked": true}`).
    pub async fn update_kit(&self, id: &str, changes: &Value) -> Result<BrandKit> {
        let path = self.kit_path(id).await?;
        self.json(Method::PATCH, &path, &|r| r.json(changes)).await
    }

    /// Deletes a kit.
    pub async fn delete_kit(&self, id: &str) -> Result<()> {
        let path = self.kit_path(id).await?;
        self.delete(&path).await
    }

    /// A kit's sections.
    pub async fn sections(&self, kit_id: &str) -> Result<Vec<Section>> {
        let path = self
            .brands(1, &format!("/brandkits/{}/sections", encode(kit_id)))
            .await?;
        self.get(&path).await
    }

    fn fields_path(kit_id: &str, section_id: &str) -> String {
        format!(
            "/brandkits/{}/sections/{}/fields",
            encode(kit_id),
            encode(section_id)
        )
    }

    /// A section's subsections.
    pub async fn fields(&self, kit_id: &str, section_id: &str) -> Result<Vec<Field>> {
        let path = self
            .brands(2, &Self::fields_path(kit_id, section_id))
            .await?;
        self.get(&path).await
    }

    /// Adds a subsection.
    pub async fn create_field(
        &self,
        kit_id: &str,
        section_id: &str,
        field: &NewField,
    ) -> Result<Field> {
        let path = self
            .brands(2, &Self::fields_path(kit_id, section_id))
            .await?;
        self.json(Method::POST, &path, &|r| r.json(field)).await
    }

    /// The path of one subsection (v2).
    async fn field_path(&self, kit_id: &str, section_id: &str, field_id: &str) -> Result<String> {
        let rest = format!(
            "{}/{}",
            Self::fields_path(kit_id, section_id),
            encode(field_id)
        );
        self.brands(2, &rest).await
    }

    /// Changes a subsection: `changes` is a JSON object (e.g. `{"value": "…"}`).
    pub async fn update_field(
        &self,
        kit_id: &str,
        section_id: &str,
        field_id: &str,
        changes: &Value,
    ) -> Result<Field> {
        let path = self.field_path(kit_id, section_id, field_id).await?;
        self.json(Method::PATCH, &path, &|r| r.json(changes)).await
    }

    /// Deletes a subsection.
    pub async fn delete_field(&self, kit_id: &str, section_id: &str, field_id: &str) -> Result<()> {
        let path = self.field_path(kit_id, section_id, field_id).await?;
        self.delete(&path).await
    }

    // ---- Document Management ---------------------------------------------------------

    /// Uploads a file, streaming it from disk (never whole in memory); `progress` gets the
    /// bytes sent so far and the total.
    pub async fn upload(
        &self,
        file: &Path,
        options: &UploadOptions,
        progress: Option<std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>>,
    ) -> Result<Document> {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("document")
            .to_owned();
        let length = tokio::fs::metadata(file)
            .await
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", file.display())))?
            .len();
        let create = json!({
            "title": options.title.clone().unwrap_or_else(|| name.clone()),
            "type": options.doc_type.clone().unwrap_or_else(|| "brand guidelines".into()),
            "tags": options.tags,
            "references": options.kit_ids.iter().map(|id| json!({"type": "brandkit", "id": id})).collect::<Vec<_>>(),
        })
        .to_string();
        let path = self.documents(2, "/documents").await?;
        let file = file.to_path_buf();
        let build = move |request: RequestBuilder| {
            let file = file.clone();
            let progress = progress.clone();
            let stream =
                futures_util::stream::once(async move { tokio::fs::File::open(file).await });
            let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let body = futures_util::StreamExt::flat_map(stream, move |opened| {
                let progress = progress.clone();
                let sent = std::sync::Arc::clone(&sent);
                let chunks: futures_util::stream::BoxStream<
                    'static,
                    std::io::Result<bytes::Bytes>,
                > = match opened {
                    Ok(handle) => Box::pin(futures_util::StreamExt::map(
                        tokio_util::io::ReaderStream::with_capacity(handle, 256 * 1024),
                        move |piece| {
                            if let (Ok(bytes), Some(report)) = (&piece, &progress) {
                                let total = sent.fetch_add(
                                    bytes.len() as u64,
                                    std::sync::atomic::Ordering::Relaxed,
                                ) + bytes.len() as u64;
                                report(total, length);
                            }
                            piece
                        },
                    )),
                    Err(error) => Box::pin(futures_util::stream::once(async { Err(error) })),
                };
                chunks
            });
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::wrap_stream(body),
                length,
            )
            .file_name(name.clone());
            let form = reqwest::multipart::Form::new()
                .text("create_request", create.clone())
                .part("file", part);
            request.multipart(form)
        };
        let response = self.send(Method::POST, &path, &build, false).await?;
        Self::decode(response).await
    }

    /// Lists documents; `kit_id` limits to one kit's.
    pub async fn list_documents(
        &self,
        kit_id: Option<&str>,
        page: i64,
        page_size: i64,
    ) -> Result<Page<Document>> {
        let mut query = format!("/documents?pageNumber={page}&pageSize={page_size}");
        if let Some(kit) = kit_id {
            query.push_str(&format!(
                "&referenceType=brandkit&referenceId={}",
                encode(kit)
            ));
        }
        let path = self.documents(2, &query).await?;
        self.get(&path).await
    }

    /// One document.
    pub async fn document(&self, id: &str) -> Result<Document> {
        let path = self
            .documents(2, &format!("/documents/{}", encode(id)))
            .await?;
        self.get(&path).await
    }

    /// Deletes a document (its file, chunks and references to them).
    pub async fn delete_document(&self, id: &str) -> Result<()> {
        let path = self
            .documents(1, &format!("/documents/{}", encode(id)))
            .await?;
        self.delete(&path).await
    }

    /// Ranked knowledge search, optionally within one kit.
    pub async fn search(
        &self,
        query: &str,
        kit_id: Option<&str>,
        page_size: i64,
    ) -> Result<Page<Chunk>> {
        let mut rest = format!("/chunks?search={}&pageSize={page_size}", encode(query));
        if let Some(kit) = kit_id {
            rest.push_str(&format!("&referenceId={}", encode(kit)));
        }
        let path = self.documents(2, &rest).await?;
        self.get(&path).await
    }

    // ---- Pipeline ----------------------------------------------------------------------

    /// Starts brand ingestion of `documents` (empty: every unprocessed document of the kit).
    pub async fn ingest(&self, kit_id: &str, documents: &[String], populate: bool) -> Result<Run> {
        let mut parameters = json!({"brand_kit_id": kit_id, "populateSections": populate});
        if !documents.is_empty() {
            parameters["documentIdsList"] = json!(documents.join(","));
        }
        let path = self.pipeline("/BrandIngestionPipeline").await?;
        let body = json!({ "parameters": parameters });
        self.json(Method::POST, &path, &|r| r.json(&body)).await
    }

    /// Starts section enrichment (all unlocked subsections, one section's, or one).
    pub async fn enrich(
        &self,
        kit_id: &str,
        section_id: Option<&str>,
        field_id: Option<&str>,
    ) -> Result<Run> {
        let mut parameters = json!({"brand_kit_id": kit_id});
        if let Some(section) = section_id {
            parameters["sectionId"] = json!(section);
        }
        if let Some(field) = field_id {
            parameters["fieldId"] = json!(field);
        }
        let path = self.pipeline("/EnrichSectionsPipeline").await?;
        let body = json!({ "parameters": parameters });
        self.json(Method::POST, &path, &|r| r.json(&body)).await
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Run> {
        let path = self.pipeline(&format!("/runs/{}", encode(id))).await?;
        self.get(&path).await
    }

    /// Runs, newest first; `kit_id` limits to one kit's.
    pub async fn list_runs(&self, kit_id: Option<&str>, page_size: i64) -> Result<Page<Run>> {
        let mut rest = format!("/runs?pageSize={page_size}");
        if let Some(kit) = kit_id {
            rest.push_str(&format!("&brand_kit_id={}", encode(kit)));
        }
        let path = self.pipeline(&rest).await?;
        self.get(&path).await
    }

    /// Asks a run to stop.
    pub async fn cancel_run(&self, id: &str) -> Result<Run> {
        let path = self
            .pipeline(&format!("/runs/{}/cancel", encode(id)))
            .await?;
        self.json(Method::POST, &path, &|r| r).await
    }

    /// Polls a run until it ends (backing off from 100 ms to 2 s), calling `progress` with each
    /// state seen. Gives up after `timeout`.
    pub async fn wait_for_run(
        &self,
        id: &str,
        timeout: Duration,
        mut progress: impl FnMut(&Run),
    ) -> Result<Run> {
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let run = self.run(id).await?;
            progress(&run);
            if run.is_finished() {
                return Ok(run);
            }
            if started.elapsed() > timeout {
                return Err(Error::Io(format!(
                    "run {id} did not finish within {} s (last status {})",
                    timeout.as_secs(),
                    run.status
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}
