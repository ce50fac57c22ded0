//! Blob storage for original document files, through `object_store`: the local filesystem
//! under the data dir by default; the same interface serves S3-compatible stores.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::{StoreError, StoreResult};

/// Where document files live.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// For the local filesystem: the root, so writes can be flushed to disk before they are
    /// acknowledged.
    local_root: Option<PathBuf>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("store", &self.store.to_string())
            .finish()
    }
}

fn blob_error(error: object_store::Error) -> StoreError {
    match error {
        object_store::Error::NotFound { .. } => StoreError::NotFound("blob"),
        other => StoreError::Database(format!("blob storage: {other}")),
    }
}

impl Blobs {
    /// Files under `root` (created if missing).
    pub fn local(root: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(root).map_err(blob_error)?;
        Ok(Self {
            store: Arc::new(store),
            local_root: Some(root.to_path_buf()),
        })
    }

    /// Opens a blob URL: `file:///path`, a plain path, or `s3://bucket/prefix` (credentials,
    /// region and endpoint from the usual `AWS_*` variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT` for S3-compatible servers,
    /// `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint).
    pub fn open_url(url: &str) -> StoreResult<Self> {
        if let Some(path) = url.strip_prefix("file://") {
            return Self::local(Path::new(path));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::Database(
                    "s3:// URLs name a bucket: s3://bucket/prefix".into(),
                ));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(blob_error)?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            return Ok(Self::from_store(store));
        }
        if url.contains("://") {
            return Err(StoreError::Database(format!(
                "unsupported blob URL scheme in {:?}; use file:///path",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Self::local(Path::new(url))
    }

    /// Any `object_store` implementation (tests, S3).
    pub fn from_store(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            local_root: None,
        }
    }

    /// Stores `bytes` under `key`. On the local filesystem the file is synced to disk before
    /// this returns, so an acknowledged upload survives a crash.
    pub async fn put(&self, key: &str, bytes: Bytes) -> StoreResult<()> {
        let path = ObjectPath::from(key);
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map_err(blob_error)?;
        if let Some(root) = &self.local_root {
            let file = root.join(key);
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&file)?.sync_all()?;
                if let Some(parent) = file.parent() {
                    std::fs::File::open(parent)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Database(format!("blob sync: {e}")))?
            .map_err(|e| StoreError::Database(format!("blob sync: {e}")))?;
        }
        Ok(())
    }

    /// The bytes under `key`.
    pub async fn get(&self, key: &str) -> StoreResult<Bytes> {
        let path = ObjectPath::from(key);
        let result = self.store.get(&path).await.map_err(blob_error)?;
        result.bytes().await.map_err(blob_error)
    }

    /// Deletes `key`; a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> StoreResult<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(blob_error(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a real S3-compatible server (`.ci/run` starts moto on loopback and sets
    /// `TEST_S3_ENDPOINT` and `TEST_S3_BUCKET`).
    #[tokio::test]
    async fn s3_blobs_round_trip_and_delete() {
        let (Ok(endpoint), Ok(bucket)) = (
            std::env::var("TEST_S3_ENDPOINT"),
            std::env::var("TEST_S3_BUCKET"),
        ) else {
            brandstream_domain::testing::skip(
                "s3",
                "TEST_S3_ENDPOINT / TEST_S3_BUCKET not set (no S3-compatible server)",
            );
            return;
        };
        // nextest runs each test in its own process, so setting the environment is local.
        for (key, value) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ] {
            std::env::set_var(key, value);
        }
        let blobs = Blobs::open_url(&format!("s3://{bucket}/unit-test")).unwrap();
        blobs
            .put("org_x/doc/original", Bytes::from_static(b"stored in s3"))
            .await
            .unwrap();
        assert_eq!(
            &blobs.get("org_x/doc/original").await.unwrap()[..],
            b"stored in s3"
        );
        blobs.delete("org_x/doc/original").await.unwrap();
        assert!(matches!(
            blobs.get("org_x/doc/original").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(Blobs::open_url("s3:///nothing").is_err());
    }

    #[tokio::test]
    async fn local_blobs_round_trip_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(&dir.path().join("blobs")).unwrap();
        blobs
            .put("org_x/doc/file", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(&blobs.get("org_x/doc/file").await.unwrap()[..], b"hello");
        blobs.delete("org_x/doc/file").await.unwrap();
        blobs.delete("org_x/doc/file").await.unwrap();
        assert!(matches!(
            blobs.get("org_x/doc/file").await,
            Err(StoreError::NotFound(_))
        ));
    }
}
