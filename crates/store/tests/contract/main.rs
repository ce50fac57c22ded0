//! The store contract: every behaviour of `Store` written once and run against both backends.
//!
//! Each case is an `async fn(TestStore)` in the module of its area. [`contract_tests!`] turns a
//! list of cases into two tests each: `sqlite::<case>` on a fresh database in a temporary
//! directory, and `postgres::<case>` on a fresh database of the server named by
//! `TEST_DATABASE_URL` (skipped, with a note, when it is not set). A case that passes on one
//! backend and fails on the other is a difference the server would show its users.
//!
//! Cases use the `Store` trait only. The few facts the trait cannot show (the stored JSON text,
//! a foreign-key cascade) go through `brandstream_store::testing::ContractBackend`, one small method per fact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brandstream_store::testing::ContractBackend;
use brandstream_store::SqliteStore;
use std::sync::Arc;

/// The organisation id `org_` + the letter sixteen times.
pub(crate) fn org_id(letter: char) -> brandstream_domain::OrgId {
    brandstream_domain::OrgId::parse(&format!("org_{}", letter.to_string().repeat(16)))
        .expect("a valid organisation id")
}

/// What a contract case gets: a store behind the same kind of pointer the server holds, with
/// the test-only peeks of `ContractBackend`.
pub(crate) type TestStore = Arc<dyn ContractBackend>;

/// A store on a new database file in a new temporary directory (deleted when the directory
/// guard is dropped, so keep it alive for the whole case).
pub(crate) async fn sqlite_store() -> (tempfile::TempDir, TestStore) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&directory.path().join("db.sqlite"))
        .await
        .expect("open SQLite store");
    (directory, Arc::new(store))
}

/// A store on a new PostgreSQL database, or `None` (after printing "skipped `purpose`: …")
/// when `TEST_DATABASE_URL` is not set.
pub(crate) async fn postgres_store(purpose: &str) -> Option<TestStore> {
    let store = brandstream_store::testing::fresh_store(purpose).await?;
    Some(Arc::new(store))
}

/// Expands each named case (an `async fn(TestStore)` in the invoking module) into the tests
/// `sqlite::<case>` and `postgres::<case>`. They run on a multi-threaded runtime so that the
/// concurrency cases race for real.
macro_rules! contract_tests {
    ($($case:ident),+ $(,)?) => {
        /// The contract on SQLite.
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (_directory, store) = $crate::sqlite_store().await;
                    super::$case(store).await;
                }
            )+
        }

        /// The contract on PostgreSQL, when `TEST_DATABASE_URL` names a server.
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let purpose = concat!("postgres::", stringify!($case));
                    let Some(store) = $crate::postgres_store(purpose).await else {
                        return;
                    };
                    super::$case(store).await;
                }
            )+
        }
    };
}

mod brand;
mod documents;
mod embeddings;
mod keys;
mod portal;
mod runs;
mod schema;
mod tokens;
