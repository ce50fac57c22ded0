//! `brandstream migrate`: creates or upgrades the database and exits; running it again is a
//! no-op; a server then starts on the migrated database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn migrate_applies_migrations_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = std::process::Command::new(binary())
            .args(["migrate", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("sqlite database is up to date"));
    }
    assert!(dir.path().join("brandstream.db").is_file());
    let server = TestServer::start_in(dir, &[]);
    assert!(server.logs().contains("listening on"));
    let output = std::process::Command::new(binary())
        .args(["migrate", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}
