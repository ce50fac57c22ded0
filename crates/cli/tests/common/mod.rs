//! Test harness: spawns the real `brandstream` binary on port 0 with a temporary data dir,
//! captures its logs, and runs admin commands against the same data dir.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const AUDIENCE: &str = "https://api.sitecorecloud.io";
pub const ALL_SCOPES: &str = "ai.org.brd:w ai.org.brd:r ai.org.docs:w ai.org.docs:r ai.org:admin";

/// The shared sample documents (`../shared/samples`).
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples")
}

/// The embedding model directory the tests use (`BRANDSTREAM_TEST_MODEL_DIR`, which `.ci/run`
/// provides). `None`, with a note naming `what` was skipped, when it is unset — unless
/// `BRANDSTREAM_REQUIRE_MODEL` is set (as in CI), where that fails the test.
#[allow(dead_code)]
pub fn test_model_dir(what: &str) -> Option<PathBuf> {
    match std::env::var_os("BRANDSTREAM_TEST_MODEL_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            assert!(
                std::env::var_os("BRANDSTREAM_REQUIRE_MODEL").is_none(),
                "BRANDSTREAM_REQUIRE_MODEL is set but BRANDSTREAM_TEST_MODEL_DIR is not"
            );
            eprintln!("skipped {what}: BRANDSTREAM_TEST_MODEL_DIR is not set (see .ci/run)");
            None
        }
    }
}

/// The model directory when the samples are present too; `None` (with a skip note naming
/// `what`) when either is missing.
pub fn samples_and_model(what: &str) -> Option<PathBuf> {
    if !have_samples() {
        return None;
    }
    test_model_dir(what)
}

/// The S3-compatible test server's endpoint and bucket (`TEST_S3_ENDPOINT`, `TEST_S3_BUCKET`,
/// which `.ci/run` sets); `None`, with a skip note, when there is none.
pub fn s3_test_target() -> Option<(String, String)> {
    match (
        std::env::var("TEST_S3_ENDPOINT"),
        std::env::var("TEST_S3_BUCKET"),
    ) {
        (Ok(endpoint), Ok(bucket)) => Some((endpoint, bucket)),
        _ => {
            brandstream_domain::testing::skip(
                "s3",
                "TEST_S3_ENDPOINT / TEST_S3_BUCKET not set (no S3-compatible server)",
            );
            None
        }
    }
}

/// The environment an S3 client needs for the test server at `endpoint`.
pub fn s3_client_env(endpoint: &str) -> [(&'static str, String); 5] {
    [
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test-secret".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT", endpoint.into()),
        ("AWS_ALLOW_HTTP", "true".into()),
    ]
}

/// Whether the samples are present; prints why a test is skipped when not.
pub fn have_samples() -> bool {
    let present = samples_dir()
        .join("northwind-coffee-roasters.pdf")
        .is_file();
    if !present {
        brandstream_domain::testing::skip("shared", "../shared/samples not found");
    }
    present
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_brandstream")
}

/// Whether the black-box suite runs its servers on PostgreSQL: `BRANDSTREAM_TEST_BACKEND=postgres`
/// with `TEST_DATABASE_URL` naming a server (any database on it; each data dir gets its own).
pub fn postgres_backend() -> Option<String> {
    match std::env::var("BRANDSTREAM_TEST_BACKEND").as_deref() {
        Ok("postgres") => Some(
            std::env::var("TEST_DATABASE_URL")
                .expect("BRANDSTREAM_TEST_BACKEND=postgres needs TEST_DATABASE_URL"),
        ),
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("unknown BRANDSTREAM_TEST_BACKEND {other}"),
    }
}

/// The file in a data dir that remembers which test database belongs to it, so a server
/// restarted on the same dir finds its data again.
const TEST_DATABASE_FILE: &str = "test-database-url";

/// `--database-url URL` for a data dir when the suite runs on PostgreSQL (creating a fresh
/// database and a shared master key file on first use), nothing on SQLite.
pub fn database_args(dir: &Path) -> Vec<String> {
    let Some(server) = postgres_backend() else {
        return Vec::new();
    };
    let marker = dir.join(TEST_DATABASE_FILE);
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return vec!["--database-url".into(), url];
    }
    let url = fresh_database(&server);
    std::fs::write(&marker, &url).unwrap();
    // Nodes on a shared database need a master key they cannot generate themselves.
    let key_file = dir.join("master.key");
    if !key_file.exists() {
        use base64::Engine;
        let key: [u8; 32] = rand_bytes();
        std::fs::write(
            &key_file,
            base64::engine::general_purpose::STANDARD.encode(key),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    vec!["--database-url".into(), url]
}

/// 32 bytes that differ between calls (test keys only).
fn rand_bytes() -> [u8; 32] {
    use sha2::Digest;
    let seed = format!(
        "{}-{:?}-{:?}",
        std::process::id(),
        std::time::SystemTime::now(),
        std::thread::current().id()
    );
    sha2::Sha256::digest(seed.as_bytes()).into()
}

/// A data dir for a server on the existing PostgreSQL database `database` (which the caller
/// also passes as `BRANDSTREAM_DATABASE_URL`): when the suite itself runs on PostgreSQL the
/// harness reads a data dir's database from this marker instead of creating a new one.
pub fn data_dir_on(database: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(TEST_DATABASE_FILE), database).unwrap();
    dir
}

/// Runs SQL on the test server's maintenance connection with `psql`.
pub fn psql(server_url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            server_url,
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql (PostgreSQL client) is installed");
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Creates an empty database named after this process on the server of `server_url`, after
/// dropping the databases of test processes that have ended. Returns its URL.
pub fn fresh_database(server_url: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let leftovers = psql(
        server_url,
        "SELECT datname FROM pg_database WHERE datname LIKE 'bs\\_t\\_%'",
    );
    for name in leftovers.lines().map(str::trim).filter(|n| !n.is_empty()) {
        let owner_alive = name
            .split('_')
            .nth(2)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !owner_alive {
            let _ = Command::new("psql")
                .args([
                    server_url,
                    "-X",
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
    }
    let name = format!(
        "bs_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    psql(
        server_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
    psql(server_url, &format!("CREATE DATABASE {name}"));
    match server_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("TEST_DATABASE_URL must name a database"),
    }
}

/// A running server.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub child: Child,
    logs: Arc<Mutex<String>>,
    env: Vec<(String, String)>,
    pub http: reqwest::Client,
}

/// A credential created through the admin CLI.
#[derive(Debug, Clone)]
pub struct Credential {
    pub client_id: String,
    pub client_secret: String,
    pub org_id: String,
}

impl Credential {
    /// The same client with another secret.
    pub fn with_secret(&self, secret: &str) -> Credential {
        Credential {
            client_secret: secret.to_owned(),
            ..self.clone()
        }
    }
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server when the shared samples are present; `None` (with the skip note) when not.
    pub fn start_if_samples() -> Option<Self> {
        have_samples().then(Self::start)
    }

    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, env)
    }

    pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut command = Command::new(binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(database_args(dir.path()))
            .env_remove("RUST_LOG")
            .env("BRANDSTREAM_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in &env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn brandstream serve");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Keep the line before announcing the address: a test that reads the logs as
                // soon as the server is up must find it there.
                {
                    let mut logs = sink.lock().unwrap();
                    logs.push_str(&line);
                    logs.push('\n');
                }
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    // Text logs end the address at a space, JSON logs at a quote.
                    let address: String = rest
                        .chars()
                        .take_while(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']')
                        })
                        .collect();
                    if let Some(sender) = sender.take() {
                        let _ = sender.send(address);
                    }
                }
            }
        });
        let address = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; logs:\n{}", logs.lock().unwrap());
            }
        };
        Self {
            dir,
            base: format!("http://{address}"),
            child,
            logs,
            env,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Runs `brandstream admin --data-dir DIR ARGS…`.
    pub fn admin(&self, args: &[&str]) -> Output {
        admin_in(self.dir.path(), &self.env, args)
    }

    /// Runs an admin command that must succeed and returns its stdout as JSON.
    pub fn admin_json(&self, args: &[&str]) -> Value {
        success_json(&self.admin(args), &format!("admin {args:?}"))
    }

    /// Runs `admin users create … --password-stdin`, writing `password` to its stdin.
    pub fn create_user(&self, username: &str, org: &str, role: &str, password: &str) -> Output {
        use std::io::Write;
        let mut command = Command::new(binary());
        command
            .args(["admin", "--data-dir"])
            .arg(self.dir.path())
            .args(database_args(self.dir.path()))
            .args(["users", "create", "--username", username, "--org", org])
            .args(["--role", role, "--password-stdin"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn default_org(&self) -> String {
        let orgs = self.admin_json(&["orgs", "list", "--json"]);
        orgs.as_array()
            .unwrap()
            .iter()
            .find(|org| org["default"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn create_credential(&self, extra: &[&str]) -> Credential {
        let org = self.default_org();
        self.create_credential_in(&org, extra)
    }

    pub fn create_credential_in(&self, org: &str, extra: &[&str]) -> Credential {
        let mut args = vec![
            "credentials",
            "create",
            "--org",
            org,
            "--label",
            "test client",
            "--json",
        ];
        args.extend_from_slice(extra);
        let created = self.admin_json(&args);
        Credential {
            client_id: created["client_id"].as_str().unwrap().to_owned(),
            client_secret: created["client_secret"].as_str().unwrap().to_owned(),
            org_id: created["org_id"].as_str().unwrap().to_owned(),
        }
    }

    /// POSTs a form to `path`.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a form to `path` authenticated by `credential`'s id and secret, then `extra`.
    pub async fn post_as(
        &self,
        path: &str,
        credential: &Credential,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![
            ("client_id", credential.client_id.as_str()),
            ("client_secret", credential.client_secret.as_str()),
        ];
        form.extend_from_slice(extra);
        self.post_form(path, &form).await
    }

    /// A client-credentials token request with `extra` fields after the grant type.
    pub async fn token_form(
        &self,
        credential: &Credential,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        self.post_as("/oauth/token", credential, &form).await
    }

    /// The documented token request.
    pub async fn token_response(&self, credential: &Credential) -> reqwest::Response {
        self.token_form(credential, &[("audience", AUDIENCE)]).await
    }

    /// POSTs to `/oauth/token` the request `build` makes of a bare POST.
    pub async fn post_token(
        &self,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> reqwest::Response {
        build(self.http.post(self.url("/oauth/token")))
            .send()
            .await
            .unwrap()
    }

    /// Revokes `token` as `caller` (RFC 7009).
    pub async fn revoke(&self, caller: &Credential, token: &str) -> reqwest::Response {
        self.post_as("/oauth/revoke", caller, &[("token", token)])
            .await
    }

    /// GETs `url` with `token` as the bearer.
    pub async fn get_bearer(&self, url: &str, token: &str) -> reqwest::Response {
        self.http.get(url).bearer_auth(token).send().await.unwrap()
    }

    /// A token for the credential (asserting 200).
    pub async fn token(&self, credential: &Credential) -> String {
        let response = self.token_response(credential).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn introspect(&self, caller: &Credential, token: &str) -> Value {
        let response = self
            .post_as("/oauth/introspect", caller, &[("token", token)])
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// GETs `path` without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// The body of `GET path`, whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL: no shutdown work at all) and hands back its data dir.
    pub fn kill_keep_dir(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// Peak resident memory of the server process so far, in KiB (Linux `VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Stops the server and hands back its data dir, for a restart.
    pub fn stop_keep_dir(mut self) -> tempfile::TempDir {
        self.terminate();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn admin_in(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut command = Command::new(binary());
    command
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(database_args(dir))
        .args(args)
        .env_remove("RUST_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Asserts that a command succeeded, showing its stderr when it did not.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The stdout of a command that must have succeeded, as JSON; `what` names the command.
pub fn success_json(output: &Output, what: &str) -> Value {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Compares `actual` with the snapshot file `path` (rewriting it first when
/// `BRANDSTREAM_UPDATE_SNAPSHOTS` is set); `what` says what changed when they differ.
pub fn assert_snapshot(path: &str, actual: &Value, what: &str) {
    let pretty = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("BRANDSTREAM_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &pretty).unwrap();
    }
    let expected = std::fs::read_to_string(path)
        .expect("snapshot missing: run with BRANDSTREAM_UPDATE_SNAPSHOTS=1 and review the file");
    assert!(
        expected == pretty,
        "{what} changed; review and update with BRANDSTREAM_UPDATE_SNAPSHOTS=1"
    );
}

/// Unpadded base64url, as in JWTs.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `token` with its header replaced by `header` (signature kept).
pub fn with_header(token: &str, header: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    )
}

/// `token` with its claims replaced by `claims` (signature kept).
pub fn with_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// `token`'s claims under an HS256 header with `token`'s kid, signed with `key` as the HMAC
/// secret: the algorithm-confusion forgery.
pub fn hs256_forgery(token: &str, key: &[u8]) -> String {
    let (header, _) = jwt_parts(token);
    let claims = token.split('.').nth(1).unwrap();
    let hs_header = serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]});
    let input = format!("{}.{claims}", b64(hs_header.to_string().as_bytes()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    format!(
        "{input}.{}",
        b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())
    )
}

/// A response header as text.
pub fn header_text(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

/// Decodes a JWT's header and claims without verifying.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let header = engine.decode(parts.next().unwrap()).unwrap();
    let claims = engine.decode(parts.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&claims).unwrap(),
    )
}

/// The keys of a JSON object, in order.
pub fn keys(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// The element of a JSON array whose `field` is `value`.
pub fn find_by<'v>(array: &'v Value, field: &str, value: &str) -> &'v Value {
    array
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value} in {array}"))
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn path_bytes(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// Waits (up to 5 s) until a token request with `credential` answers `status`: changes made by
/// the admin CLI (another process) reach the server's credential cache within about a second.
pub async fn token_status_becomes(
    server: &TestServer,
    credential: &Credential,
    status: u16,
) -> bool {
    eventually(Duration::from_secs(5), || async {
        server.token_response(credential).await.status() == status
    })
    .await
}

/// A Stream-API client bound to one credential's token.
pub struct Api<'a> {
    pub server: &'a TestServer,
    pub token: String,
    pub org: String,
}

impl<'a> Api<'a> {
    /// Creates a credential with `extra` admin arguments and fetches its token.
    pub async fn new(server: &'a TestServer, extra: &[&str]) -> Api<'a> {
        let credential = server.create_credential(extra);
        let token = server.token(&credential).await;
        Api {
            server,
            token,
            org: credential.org_id,
        }
    }

    /// A client with every scope and a new kit named `name`; returns both, with the kit's id.
    pub async fn with_kit(server: &'a TestServer, name: &str) -> (Api<'a>, String) {
        let api = Api::new(server, &[]).await;
        let kit = api.create_kit_id(name).await;
        (api, kit)
    }

    /// A client using an existing `token` of `org` (as after a restart).
    pub fn with_token(server: &'a TestServer, token: String, org: String) -> Api<'a> {
        Api { server, token, org }
    }

    /// `/api/brands/v1/organizations/{org}` + `rest`.
    pub fn brands(&self, version: u8, rest: &str) -> String {
        self.server.url(&format!(
            "/api/brands/v{version}/organizations/{}{rest}",
            self.org
        ))
    }

    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.server
            .http
            .request(method, url)
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, url)
            .send()
            .await
            .unwrap()
    }

    /// The body of `GET url` as JSON, whatever its status.
    pub async fn get_value<T: serde::de::DeserializeOwned>(&self, url: &str) -> T {
        self.get(url).await.json().await.unwrap()
    }

    /// A document (v2), whatever the status of the answer.
    pub async fn document(&self, id: &str) -> Value {
        self.get_value(&self.docs(2, &format!("/documents/{id}")))
            .await
    }

    /// A pipeline run, whatever the status of the answer.
    pub async fn run(&self, id: &str) -> Value {
        self.get_value(&self.pipeline(&format!("/runs/{id}"))).await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        url: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.request(method, url).json(body).send().await.unwrap()
    }

    /// PATCHes `body` to `url` with `If-Match: etag`.
    pub async fn patch_if_match(&self, url: &str, etag: &str, body: Value) -> reqwest::Response {
        self.request(reqwest::Method::PATCH, url)
            .header("if-match", etag)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs the text `body` to `url` as `content_type`.
    pub async fn post_raw(
        &self,
        url: &str,
        content_type: &str,
        body: &'static str,
    ) -> reqwest::Response {
        self.request(reqwest::Method::POST, url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, url: &str, body: Value) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, url, &body).await
    }

    pub async fn patch(&self, url: &str, body: Value) -> reqwest::Response {
        self.send_json(reqwest::Method::PATCH, url, &body).await
    }

    pub async fn delete(&self, url: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, url)
            .send()
            .await
            .unwrap()
    }

    /// Creates a kit and returns its body.
    pub async fn create_kit(&self, name: &str) -> Value {
        let response = self
            .post(
                &self.brands(1, "/brandkits"),
                serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(response.status(), 201, "create kit {name}");
        response.json().await.unwrap()
    }

    /// Creates a kit and returns its id.
    pub async fn create_kit_id(&self, name: &str) -> String {
        self.create_kit(name).await["id"]
            .as_str()
            .expect("a kit id")
            .to_owned()
    }

    /// The kit's sections.
    pub async fn sections(&self, kit: &str) -> Vec<Value> {
        let response = self
            .get(&self.brands(1, &format!("/brandkits/{kit}/sections")))
            .await;
        assert_eq!(response.status(), 200);
        response.json::<Vec<Value>>().await.unwrap()
    }

    /// The section of `kit` named `name`.
    pub async fn section(&self, kit: &str, name: &str) -> Value {
        self.sections(kit)
            .await
            .into_iter()
            .find(|s| s["name"] == name)
            .unwrap()
    }

    /// `/api/documents/v{version}/organizations/{org}` + `rest`.
    pub fn docs(&self, version: u8, rest: &str) -> String {
        self.server.url(&format!(
            "/api/documents/v{version}/organizations/{}{rest}",
            self.org
        ))
    }

    /// `/api/data/v1/organizations/{org}/pipeline` + `rest`.
    pub fn pipeline(&self, rest: &str) -> String {
        self.server.url(&format!(
            "/api/data/v1/organizations/{}/pipeline{rest}",
            self.org
        ))
    }

    /// Uploads a one-heading Markdown file as `name` with `create_request`.
    pub async fn upload_markdown(&self, name: &str, create_request: Value) -> reqwest::Response {
        self.upload_bytes(b"# Title\n\nText.\n".to_vec(), name, create_request)
            .await
    }

    /// POSTs a multipart form to the documents endpoint (v2).
    pub async fn post_documents(&self, form: reqwest::multipart::Form) -> reqwest::Response {
        self.request(reqwest::Method::POST, &self.docs(2, "/documents"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// The status of `GET path` on this server, with `{org}` in `path` standing for the
    /// organisation.
    pub async fn org_get_status(&self, path: &str) -> reqwest::StatusCode {
        let url = self.server.url(&path.replace("{org}", &self.org));
        self.get(&url).await.status()
    }

    /// Uploads `bytes` as a multipart `file` part named `name` with `create_request`.
    pub async fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        name: &str,
        create_request: Value,
    ) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
            )
            .text("create_request", create_request.to_string());
        self.post_documents(form).await
    }

    /// Uploads `bytes` as `name` referencing only the kit `kit`.
    pub async fn upload_for_kit(&self, bytes: Vec<u8>, name: &str, kit: &str) -> reqwest::Response {
        let request = serde_json::json!({"references": [{"type": "brandkit", "id": kit}]});
        self.upload_bytes(bytes, name, request).await
    }

    /// Uploads a file from the samples folder for `kit`; returns the document.
    pub async fn upload_sample(&self, file: &str, kit: &str) -> Value {
        let bytes = std::fs::read(samples_dir().join(file)).unwrap();
        let name = file.rsplit('/').next().unwrap();
        let response = self
            .upload_bytes(
                bytes,
                name,
                serde_json::json!({"type": "brand guidelines", "title": name, "tags": [],
                                   "references": [{"type": "brandkit", "id": kit}]}),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "upload {file}: {body}");
        body
    }

    /// Starts a pipeline; returns the run.
    pub async fn start_pipeline(&self, pipeline: &str, parameters: Value) -> Value {
        let response = self
            .post(
                &self.pipeline(&format!("/{pipeline}")),
                serde_json::json!({ "parameters": parameters }),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "start {pipeline}: {body}");
        body
    }

    /// Starts a `BrandIngestionPipeline` with `parameters`; returns the run's id.
    pub async fn start_ingestion(&self, parameters: Value) -> String {
        let run = self
            .start_pipeline("BrandIngestionPipeline", parameters)
            .await;
        run["id"].as_str().unwrap().to_owned()
    }

    /// Whether the run comes to satisfy `check` within 20 s.
    pub async fn run_becomes(&self, run: &str, check: impl Fn(&Value) -> bool) -> bool {
        eventually(Duration::from_secs(20), || async {
            check(&self.run(run).await)
        })
        .await
    }

    /// Starts a pipeline and waits (up to a minute) until the run is finished; returns it.
    pub async fn run_to_end(&self, pipeline: &str, parameters: Value) -> Value {
        let run = self.start_pipeline(pipeline, parameters).await;
        self.wait_run(run["id"].as_str().unwrap(), Duration::from_secs(60))
            .await
    }

    /// Polls a run until it is finished (Succeeded, Failed or Cancelled); returns it.
    pub async fn wait_run(&self, run: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let response = self.get(&self.pipeline(&format!("/runs/{run}"))).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            if matches!(
                body["status"].as_str(),
                Some("Succeeded" | "Failed" | "Cancelled")
            ) {
                return body;
            }
            assert!(started.elapsed() < timeout, "run did not finish: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every subsection of a kit as (section name, field).
    pub async fn all_fields(&self, kit: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for section in self.sections(kit).await {
            let id = section["id"].as_str().unwrap();
            let response = self.get(&self.fields_url(kit, id)).await;
            assert_eq!(response.status(), 200);
            for field in response.json::<Vec<Value>>().await.unwrap() {
                out.push((section["name"].as_str().unwrap().to_owned(), field));
            }
        }
        out
    }

    /// URL of a section's v2 fields.
    pub fn fields_url(&self, kit: &str, section: &str) -> String {
        self.brands(2, &format!("/brandkits/{kit}/sections/{section}/fields"))
    }
}

/// Asserts a FastAPI 422 whose first issue is at `loc`.
pub async fn expect_422(response: reqwest::Response, loc: &[&str]) -> Value {
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let issues = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let expected: Vec<Value> = loc
        .iter()
        .map(|part| {
            part.parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(*part))
        })
        .collect();
    assert!(
        issues
            .iter()
            .any(|issue| issue["loc"].as_array().unwrap() == &expected),
        "no issue at {loc:?}: {body}"
    );
    for issue in issues {
        assert!(
            issue["msg"].is_string() && issue["type"].is_string(),
            "{issue}"
        );
    }
    body
}

/// Asserts a `{"detail": "…"}` error with `status`.
pub async fn expect_detail(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// A browser-like client: keeps the portal cookies by hand, never follows redirects.
pub struct Browser<'a> {
    pub server: &'a TestServer,
    pub http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a TestServer) -> Self {
        Self {
            server,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    /// A browser signed in as `username` (whatever the answer).
    pub async fn signed_in(server: &'a TestServer, username: &str, password: &str) -> Self {
        let mut browser = Self::new(server);
        browser.sign_in(username, password).await;
        browser
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn remember(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() && !text.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// Sends `request` with the cookies, and keeps the ones the answer sets.
    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let request = self.http.get(self.server.url(path));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .http
            .post(self.server.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Posts the portal's `action` (`rotate`, `revoke`) on the API key `client_id`.
    pub async fn key_action(
        &mut self,
        client_id: &str,
        action: &str,
        csrf: &str,
    ) -> reqwest::Response {
        self.post(
            &format!("/portal/admin/keys/{client_id}/{action}"),
            &[("csrf", csrf)],
        )
        .await
    }

    /// The text of the page at `path`, whatever its status.
    pub async fn page(&mut self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// The CSRF token of the page at `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        let page = self.page(path).await;
        hidden(&page, "csrf")
    }

    pub async fn sign_in(&mut self, username: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf("/portal/login").await;
        self.post(
            "/portal/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

/// The value of the first hidden input named `name`.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}
