//! `brandstream migrate`: creates or upgrades the database and exits; running it again is a
//! no-op; a server then starts on the migrated database. On PostgreSQL, two migrations started
//! together take turns (advisory lock), and a node told not to migrate refuses a schema that is
//! behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

/// `brandstream serve` on port 0 with `database` and the data dir `dir`.
fn serve_on(database: &str, dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(binary());
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database,
        ])
        .arg("--data-dir")
        .arg(dir);
    command
}

#[test]
fn migrate_applies_migrations_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = std::process::Command::new(binary())
            .args(["migrate", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_success(&output);
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

#[tokio::test]
async fn postgres_migrations_take_turns_and_nodes_can_leave_them_to_the_command() {
    let Ok(server_url) = std::env::var("TEST_DATABASE_URL") else {
        brandstream_domain::testing::skip("postgres", "TEST_DATABASE_URL is not set");
        return;
    };
    let key = (
        "BRANDSTREAM_MASTER_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    );

    // A node that may not migrate refuses an empty database and says what to do.
    let empty = fresh_database(&server_url);
    let scratch = tempfile::tempdir().unwrap();
    let output = serve_on(&empty, scratch.path())
        .env("BRANDSTREAM_MIGRATE_ON_START", "false")
        .env(key.0, key.1)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("brandstream migrate"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Two migrations at once both succeed; each migration is applied once.
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let url = empty.clone();
            std::thread::spawn(move || {
                std::process::Command::new(binary())
                    .args(["migrate", "--database-url", &url])
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for racer in racers {
        let output = racer.join().unwrap();
        assert_success(&output);
        assert!(String::from_utf8_lossy(&output.stdout).contains("postgres database is up to date"));
    }
    let applied = psql(
        &empty,
        "SELECT COUNT(*), COUNT(DISTINCT version) FROM brandstream_migrations",
    );
    let (total, distinct) = applied.trim().split_once('|').unwrap();
    assert_eq!(total, distinct);
    assert!(total.parse::<u32>().unwrap() >= 4);

    // The admin command works on the PostgreSQL database directly.
    let output = std::process::Command::new(binary())
        .args(["admin", "--database-url", &empty, "orgs", "list", "--json"])
        .env(key.0, key.1)
        .output()
        .unwrap();
    assert_success(&output);
    let orgs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        orgs.as_array().unwrap().len(),
        1,
        "the default organisation"
    );

    // Now the node starts without migrating.
    let server = TestServer::start_in(
        data_dir_on(&empty),
        &[
            ("BRANDSTREAM_DATABASE_URL", empty.as_str()),
            ("BRANDSTREAM_MIGRATE_ON_START", "false"),
            key,
        ],
    );
    assert_eq!(server.get_json("/readyz").await["database"], "postgres");

    // Without a shared master key a PostgreSQL node refuses to start.
    let fresh = fresh_database(&server_url);
    let dir = tempfile::tempdir().unwrap();
    let output = serve_on(&fresh, dir.path())
        .env_remove("BRANDSTREAM_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("BRANDSTREAM_MASTER_KEY"));
}
