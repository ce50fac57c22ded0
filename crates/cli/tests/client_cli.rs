//! The client commands against a spawned server (assert_cmd): both output modes, exit codes,
//! the token cache file, profiles, and no secret in any file the CLI writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use assert_cmd::Command;
use common::*;
use serde_json::Value;

struct Cli<'a> {
    server: &'a TestServer,
    credential: Credential,
    home: tempfile::TempDir,
}

impl<'a> Cli<'a> {
    fn new(server: &'a TestServer) -> Self {
        Self {
            server,
            credential: server.create_credential(&[]),
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("BRANDSTREAM_CACHE_DIR", self.home.path().join("cache"))
            .env(
                "BRANDSTREAM_CLIENT_CONFIG",
                self.home.path().join("config.toml"),
            )
            .env("BRANDSTREAM_URL", &self.server.base)
            .env("BRANDSTREAM_CLIENT_ID", &self.credential.client_id)
            .env("BRANDSTREAM_CLIENT_SECRET", &self.credential.client_secret);
        command
    }

    /// Runs a command that must succeed with `--output json`; returns its JSON.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        success_json(&self.command(&all).output().unwrap(), &format!("{args:?}"))
    }

    /// Runs a command that must succeed with table output; returns stdout.
    fn table(&self, args: &[&str]) -> String {
        let output = self.command(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn client_commands_in_both_output_modes() {
    let server = TestServer::start();
    let cli = Cli::new(&server);

    // token
    let token = cli.table(&["token"]);
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    assert_eq!(cli.json(&["token"])["token_type"], "Bearer");

    // kits
    assert!(cli
        .table(&["kits", "create", "Table kit"])
        .contains("Table kit"));
    let kit = cli.json(&[
        "kits",
        "create",
        "CLI kit",
        "--description",
        "from the shell",
    ]);
    let kit_id = kit["id"].as_str().unwrap().to_owned();
    assert!(cli.table(&["kits", "list"]).contains("CLI kit"));
    assert_eq!(cli.json(&["kits", "list"])["totalCount"], 2);
    assert_eq!(cli.json(&["kits", "get", &kit_id])["name"], "CLI kit");
    assert!(cli.table(&["kits", "get", &kit_id]).contains(&kit_id));
    let updated = cli.json(&[
        "kits",
        "update",
        &kit_id,
        "--set",
        r#"{"description": "changed"}"#,
    ]);
    assert_eq!(updated["description"], "changed");

    // sections and fields
    let sections = cli.json(&["sections", "list", "--kit", &kit_id]);
    assert_eq!(sections.as_array().unwrap().len(), 9);
    assert!(cli
        .table(&["sections", "list", "--kit", &kit_id])
        .contains("Brand Context"));
    let context = sections
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Brand Context")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cli
        .table(&["fields", "list", "--kit", &kit_id, "--section", &context])
        .contains("Brand purpose"));
    let field = cli.json(&[
        "fields",
        "create",
        "--kit",
        &kit_id,
        "--section",
        &context,
        "--name",
        "Mascot",
        "--value",
        r#""A heron""#,
    ]);
    let field_id = field["id"].as_str().unwrap().to_owned();
    let field = cli.json(&[
        "fields",
        "update",
        "--kit",
        &kit_id,
        "--section",
        &context,
        &field_id,
        "--set",
        r#"{"value": "A grey heron"}"#,
    ]);
    assert_eq!(field["value"], "A grey heron");
    cli.json(&[
        "fields",
        "delete",
        "--kit",
        &kit_id,
        "--section",
        &context,
        &field_id,
    ]);

    if have_samples() {
        // docs, ingest --wait, runs, search, enrich
        let sample = samples_dir().join("northwind-coffee-roasters.md");
        let uploaded = cli.json(&["docs", "upload", sample.to_str().unwrap(), "--kit", &kit_id]);
        let doc_id = uploaded[0]["id"].as_str().unwrap().to_owned();
        assert!(cli
            .table(&["docs", "list", "--kit", &kit_id])
            .contains(&doc_id));
        let run = cli.json(&["ingest", "--kit", &kit_id, "--wait"]);
        assert_eq!(run["status"], "Succeeded", "{run}");
        assert_eq!(cli.json(&["docs", "get", &doc_id])["status"], "processed");
        assert!(cli.table(&["docs", "get", &doc_id]).contains("processed"));
        let run_id = run["id"].as_str().unwrap().to_owned();
        assert_eq!(cli.json(&["runs", "get", &run_id])["status"], "Succeeded");
        assert!(cli.table(&["runs", "get", &run_id]).contains("Succeeded"));
        assert_eq!(
            cli.json(&["runs", "list", "--kit", &kit_id])["totalCount"],
            1
        );
        assert!(cli
            .table(&["runs", "list", "--kit", &kit_id])
            .contains(&run_id));
        let hits = cli.json(&["search", "roast green colour", "--kit", &kit_id]);
        assert!(!hits["data"].as_array().unwrap().is_empty());
        assert!(cli
            .table(&["search", "minimum logo width", "--kit", &kit_id])
            .contains("SCORE"));
        let run = cli.json(&["enrich", "--kit", &kit_id, "--section", &context, "--wait"]);
        assert_eq!(run["status"], "Succeeded");
        cli.json(&["docs", "delete", &doc_id]);
    }
    cli.json(&["kits", "delete", &kit_id]);

    // API errors: exit 1, one line with the server's detail.
    let output = cli.command(&["kits", "get", &kit_id]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: 404: Brand kit not found"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1);
    // Searching an unknown (here: deleted) or malformed kit is the API's 404 / 422, not an
    // empty result.
    let output = cli
        .command(&["search", "logo", "--kit", &kit_id])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: 404"), "{stderr}");
    assert!(output.stdout.is_empty(), "no table for an unknown kit");
    let output = cli
        .command(&["search", "logo", "--kit", "not-a-kit-id"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: 4"), "{stderr}");
    // Usage errors: exit 2.
    let output = cli.command(&["kits", "frobnicate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = cli
        .command(&["kits", "list"])
        .env_remove("BRANDSTREAM_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no server URL"));
    // A server that is not there: the error names where the CLI looked, and why.
    let output = cli
        .command(&["kits", "list"])
        .env("BRANDSTREAM_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the server: http://127.0.0.1:9 (")
            && stderr.contains("refused"),
        "{stderr}"
    );
    let output = cli
        .command(&["kits", "update", &kit_id, "--set", "not json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// A multi-file upload that fails part-way shows what did go up, and the error names the file
/// that stopped it.
#[test]
fn a_partial_upload_shows_what_went_up_and_names_the_file_that_failed() {
    let server = TestServer::start();
    let cli = Cli::new(&server);
    let kit = cli.json(&["kits", "create", "Upload kit"]);
    let kit_id = kit["id"].as_str().unwrap();
    let good = cli.home.path().join("guide.md");
    std::fs::write(&good, "# Logo\n\nKeep clear space around the logo.\n").unwrap();
    let bad = cli.home.path().join("tool.exe");
    std::fs::write(
        &bad,
        [0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0xff, 0xfe],
    )
    .unwrap();
    let output = cli
        .command(&[
            "docs",
            "upload",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
            "--kit",
            kit_id,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tool.exe: "), "{stderr}");
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 1, "{shown}");
    assert!(shown[0]["id"].is_string(), "{shown}");
}

/// Runs `command` with its stdout's reader closed at once; the output, after checking that
/// nothing panicked.
fn into_a_closed_pipe(mut command: std::process::Command) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    output
}

/// Output piped into a reader that stops early (`… | head -c 10`) ends the CLI quietly, as
/// Unix tools end: no panic message, no exit status 101.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let server = TestServer::start();
    let cli = Cli::new(&server);
    cli.json(&["kits", "create", "Pipe kit"]);
    let mut list = std::process::Command::new(binary());
    list.args(["kits", "list", "--output", "json"])
        .env_clear()
        .env("HOME", cli.home.path())
        .env("BRANDSTREAM_CACHE_DIR", cli.home.path().join("cache"))
        .env("BRANDSTREAM_URL", &server.base)
        .env("BRANDSTREAM_CLIENT_ID", &cli.credential.client_id)
        .env("BRANDSTREAM_CLIENT_SECRET", &cli.credential.client_secret);
    // The reader goes away before the CLI writes (it is still fetching a token).
    let output = into_a_closed_pipe(list);
    assert_ne!(output.status.code(), Some(101));

    // Generated output too: shell completions into a reader that is already gone.
    for shell in ["bash", "zsh", "fish"] {
        let mut completions = std::process::Command::new(binary());
        completions.args(["completions", shell]);
        assert_eq!(
            into_a_closed_pipe(completions).status.code(),
            Some(0),
            "{shell}"
        );
    }
}

#[test]
fn tokens_are_cached_privately_and_the_secret_is_never_written() {
    let server = TestServer::start();
    let cli = Cli::new(&server);
    let first = cli.table(&["token"]);
    let second = cli.table(&["token"]);
    assert_eq!(first, second, "the second process reuses the cached token");
    let (keys, cached): (Vec<_>, Vec<_>) = files_under(&cli.home.path().join("cache"))
        .into_iter()
        .partition(|file| file.ends_with(".key"));
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert_eq!(keys.len(), 1, "the cache's HMAC key: {keys:?}");
    assert_eq!(std::fs::read(&keys[0]).unwrap().len(), 32);
    #[cfg(unix)]
    for file in [&cached[0], &keys[0]] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file:?}");
    }

    // A wrong (or changed) secret never reuses the token fetched with the right one: the
    // server is asked, and refuses.
    let wrong = cli
        .command(&["token"])
        .env(
            "BRANDSTREAM_CLIENT_SECRET",
            "bs_wrong_secret_0123456789abcdefghijklmnopqrstuv",
        )
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong secret got a cached token");
    assert!(
        !String::from_utf8_lossy(&wrong.stdout).contains(first.trim()),
        "the cached token was printed for a wrong secret"
    );
    assert_eq!(
        cli.table(&["token"]),
        first,
        "the right secret still finds its token"
    );
    let content: Value = serde_json::from_slice(&std::fs::read(&cached[0]).unwrap()).unwrap();
    assert_eq!(content["access_token"].as_str().unwrap(), first.trim());
    assert!(content["expires_at"].as_u64().unwrap() > content["refresh_at"].as_u64().unwrap());

    // A profile holds the connection but not the secret; the secret comes from a file.
    let secret_file = cli.home.path().join("secret");
    std::fs::write(&secret_file, &cli.credential.client_secret).unwrap();
    let output = cli
        .command(&[
            "configure",
            "--url",
            &server.base,
            "--client-id",
            &cli.credential.client_id,
            "--secret-file",
            secret_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_success(&output);
    let output = cli
        .command(&["kits", "list", "--output", "json"])
        .env_remove("BRANDSTREAM_URL")
        .env_remove("BRANDSTREAM_CLIENT_ID")
        .env_remove("BRANDSTREAM_CLIENT_SECRET")
        .output()
        .unwrap();
    assert_success(&output);
    // Nothing the CLI wrote (cache, config) contains the secret.
    for file in files_under(cli.home.path()) {
        if file == secret_file {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains(&cli.credential.client_secret),
            "secret in {}",
            file.display()
        );
    }
    // Completions are generated.
    let output = cli.command(&["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("brandstream"));
}
