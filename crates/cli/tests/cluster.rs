//! Scale-out: three `brandstream serve` nodes on one PostgreSQL database and one blob store
//! (the S3-compatible server `.ci/run` starts, else a directory they share), on different
//! ports. A token from one node works on the others; a key rotation made with the admin
//! command reaches every JWKS within 10 s; a token or credential revoked through one node is
//! rejected by another within 5 s; 50 ingestion runs started across the nodes each run exactly
//! once; a node killed mid-run has its run finished by another.
//!
//! Needs `TEST_DATABASE_URL`; skipped (with a note) without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "cluster admin password";

struct Cluster {
    nodes: Vec<TestServer>,
    database: String,
    _blob_dir: Option<tempfile::TempDir>,
}

impl Cluster {
    /// Starts `count` nodes sharing a fresh database, a master key and a blob store.
    fn start(server_url: &str, count: usize) -> Self {
        use base64::Engine;
        let database = fresh_database(server_url);
        let master_key =
            base64::engine::general_purpose::STANDARD.encode(std::array::from_fn::<u8, 32, _>(
                |i| (i as u8).wrapping_mul(37) ^ 0x5a,
            ));
        let mut env: Vec<(String, String)> = vec![
            ("BRANDSTREAM_DATABASE_URL".into(), database.clone()),
            ("BRANDSTREAM_MASTER_KEY".into(), master_key),
            // Every node must name the same issuer: the public URL of the cluster.
            ("BRANDSTREAM_ISSUER".into(), "http://cluster.test/".into()),
            // Far longer than the test waits: a killed node's run must be taken over because
            // its node lease (renewed every 2 s, 6 s long) stopped, not because the run's
            // own lease ran out.
            ("BRANDSTREAM_PIPELINE__LEASE_SECONDS".into(), "120".into()),
            ("BRANDSTREAM_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
        ];
        let blob_dir = match (
            std::env::var("TEST_S3_ENDPOINT"),
            std::env::var("TEST_S3_BUCKET"),
        ) {
            (Ok(endpoint), Ok(bucket)) => {
                let blob_url = format!("s3://{bucket}/cluster-{}", std::process::id());
                env.push(("BRANDSTREAM_BLOB_URL".into(), blob_url));
                for (key, value) in s3_client_env(&endpoint) {
                    env.push((key.into(), value));
                }
                None
            }
            _ => {
                eprintln!("note: no TEST_S3_ENDPOINT; the nodes share a blob directory instead");
                let dir = tempfile::tempdir().unwrap();
                env.push((
                    "BRANDSTREAM_BLOB_URL".into(),
                    dir.path().display().to_string(),
                ));
                Some(dir)
            }
        };
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let nodes = (0..count)
            .map(|_| TestServer::start_in(data_dir_on(&database), &pairs))
            .collect();
        Self {
            nodes,
            database,
            _blob_dir: blob_dir,
        }
    }

    fn api<'a>(&'a self, node: usize, token: &str, org: &str) -> Api<'a> {
        Api {
            server: &self.nodes[node],
            token: token.to_owned(),
            org: org.to_owned(),
        }
    }
}

impl Drop for Cluster {
    /// On failure, the end of every node's log says what the nodes were doing.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (index, node) in self.nodes.iter().enumerate() {
                let logs = node.logs();
                let lines: Vec<&str> = logs.lines().collect();
                let tail = &lines[lines.len().saturating_sub(60)..];
                eprintln!("--- node {index} ({}) ---\n{}", node.base, tail.join("\n"));
            }
        }
    }
}

async fn jwks_kids(node: &TestServer) -> Vec<String> {
    node.get_json("/.well-known/jwks.json").await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn api_status(api: &Api<'_>) -> u16 {
    api.get(&api.brands(1, "/brandkits"))
        .await
        .status()
        .as_u16()
}

/// Waits until `check` holds (polling every 100 ms) and returns how long it took.
async fn time_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn run_starts(logs: &str, run: &str) -> usize {
    logs.lines()
        .filter(|line| line.contains("pipeline run started") && line.contains(run))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_one_database_and_blob_store() {
    let Ok(server_url) = std::env::var("TEST_DATABASE_URL") else {
        brandstream_domain::testing::skip(
            "postgres",
            "TEST_DATABASE_URL is not set (the cluster test needs PostgreSQL)",
        );
        return;
    };
    let mut cluster = Cluster::start(&server_url, 3);

    // A token from node 0 is accepted by nodes 1 and 2.
    let credential = cluster.nodes[0].create_credential(&[]);
    let token = cluster.nodes[0].token(&credential).await;
    for node in 1..3 {
        let api = cluster.api(node, &token, &credential.org_id);
        assert_eq!(api_status(&api).await, 200, "node {node}");
    }

    // Key rotation through the admin command reaches every node's JWKS within 10 s, and
    // every node then signs with the new active key.
    let before = jwks_kids(&cluster.nodes[1]).await;
    let output = cluster.nodes[0].admin(&["keys", "rotate"]);
    assert_success(&output);
    let keys = cluster.nodes[0].admin_json(&["keys", "list", "--json"]);
    let keys = keys.as_array().unwrap();
    let active = keys.iter().find(|k| k["state"] == "active").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = keys.iter().find(|k| k["state"] == "next").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!before.contains(&next), "the rotation publishes a new key");
    for (index, node) in cluster.nodes.iter().enumerate() {
        let waited = time_until(Duration::from_secs(10), || async {
            let kids = jwks_kids(node).await;
            if !kids.contains(&next) {
                return false;
            }
            let token = node.token(&credential).await;
            jwt_parts(&token).0["kid"] == active.as_str()
        })
        .await;
        let waited = waited.unwrap_or_else(|| panic!("node {index} did not pick up the rotation"));
        eprintln!("node {index} saw the rotated keys after {waited:?}");
    }

    // A token revoked through node 0 (RFC 7009) is rejected by node 2 within 5 s.
    let revoked_token = cluster.nodes[1].token(&credential).await;
    let response = cluster.nodes[0]
        .post_form(
            "/oauth/revoke",
            &[
                ("client_id", &credential.client_id),
                ("client_secret", &credential.client_secret),
                ("token", &revoked_token),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let api = cluster.api(2, &revoked_token, &credential.org_id);
    let waited = time_until(Duration::from_secs(5), || async {
        api_status(&api).await == 401
    })
    .await
    .expect("node 2 rejects the revoked token within 5 s");
    eprintln!("token revocation reached node 2 after {waited:?}");
    // The credential's other tokens still work there.
    let api = cluster.api(2, &token, &credential.org_id);
    assert_eq!(api_status(&api).await, 200);

    // A credential revoked through node 0's portal is rejected by node 1 within 5 s: its
    // tokens, and its secret at the token endpoint.
    let doomed = cluster.nodes[0].create_credential(&[]);
    let doomed_token = cluster.nodes[1].token(&doomed).await;
    let doomed_api = cluster.api(1, &doomed_token, &doomed.org_id);
    assert_eq!(api_status(&doomed_api).await, 200);
    let mut browser = Browser::new(&cluster.nodes[0]);
    let response = browser.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 303);
    let csrf = browser.csrf("/portal/admin/keys").await;
    let response = browser.key_action(&doomed.client_id, "revoke", &csrf).await;
    assert_eq!(response.status(), 303);
    let waited = time_until(Duration::from_secs(5), || async {
        api_status(&doomed_api).await == 401
            && cluster.nodes[1].token_response(&doomed).await.status() == 401
    })
    .await
    .expect("node 1 rejects the revoked credential within 5 s");
    eprintln!("credential revocation reached node 1 after {waited:?}");

    // Audit events from every node land in the one trail.
    let events = cluster.nodes[2].admin_json(&["audit", "--json", "--limit", "200"]);
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"key.rotated"), "{kinds:?}");
    assert!(kinds.contains(&"token.revoked"), "{kinds:?}");
    assert!(kinds.contains(&"credential.revoked"), "{kinds:?}");

    // 50 ingestion runs started round-robin across the nodes each execute exactly once.
    let kits: Vec<String> = {
        let api = cluster.api(0, &token, &credential.org_id);
        let mut kits = Vec::new();
        for k in 0..5 {
            let kit = api.create_kit_id(&format!("Cluster kit {k}")).await;
            let uploader = cluster.api(k % 3, &token, &credential.org_id);
            let text = format!(
                "# Tone of voice\n\nKit {k} speaks warmly and plainly.\n\n# Colour palettes\n\nPrimary colour #1B4D3E.\n"
            );
            let response = uploader
                .upload_for_kit(text.into_bytes(), "guide.md", &kit)
                .await;
            assert_eq!(response.status(), 201);
            kits.push(kit);
        }
        kits
    };
    let mut runs = Vec::new();
    for index in 0..50 {
        let api = cluster.api(index % 3, &token, &credential.org_id);
        runs.push(
            api.start_ingestion(
                json!({"brand_kit_id": kits[index % kits.len()], "populateSections": false}),
            )
            .await,
        );
    }
    for (index, run) in runs.iter().enumerate() {
        let api = cluster.api(index % 3, &token, &credential.org_id);
        let finished = api.wait_run(run, Duration::from_secs(120)).await;
        assert_eq!(finished["status"], "Succeeded", "{finished}");
    }
    let logs: Vec<String> = cluster.nodes.iter().map(TestServer::logs).collect();
    let mut per_node = [0usize; 3];
    for run in &runs {
        let starts: Vec<usize> = logs.iter().map(|l| run_starts(l, run)).collect();
        assert_eq!(
            starts.iter().sum::<usize>(),
            1,
            "run {run} started {starts:?}"
        );
        for (node, count) in starts.iter().enumerate() {
            per_node[node] += count;
        }
    }
    eprintln!("runs executed per node: {per_node:?}");
    assert!(
        per_node.iter().filter(|&&n| n > 0).count() >= 2,
        "the runs spread over the nodes: {per_node:?}"
    );
    let attempts = psql(
        &cluster.database,
        "SELECT COUNT(*) FROM pipeline_runs WHERE attempts <> 1",
    );
    assert_eq!(attempts.trim(), "0");

    // A node killed (SIGKILL) in the middle of a run: another node takes it over as soon as
    // the dead node's heartbeat lapses (seconds, not the run's 120 s lease) and finishes it.
    let api = cluster.api(0, &token, &credential.org_id);
    let kit = api.create_kit_id("Crash kit").await;
    for _ in 0..10 {
        let response = if have_samples() {
            let bytes = std::fs::read(samples_dir().join("big-100-pages.pdf")).unwrap();
            api.upload_for_kit(bytes, "big-100-pages.pdf", &kit).await
        } else {
            api.upload_for_kit(long_document(), "long.md", &kit).await
        };
        assert_eq!(response.status(), 201);
    }
    let run_id = api
        .start_ingestion(json!({"brand_kit_id": kit, "populateSections": true}))
        .await;
    // Kill the node whose worker runs it, as soon as it has started.
    let victim = time_until(Duration::from_secs(20), || async {
        cluster
            .nodes
            .iter()
            .any(|node| run_starts(&node.logs(), &run_id) == 1)
    })
    .await
    .and_then(|_| {
        cluster
            .nodes
            .iter()
            .position(|node| run_starts(&node.logs(), &run_id) == 1)
    })
    .expect("the run started on some node");
    let _dir = cluster.nodes.remove(victim).kill_keep_dir();
    let survivor = cluster.api(0, &token, &credential.org_id);
    let status: Value = survivor
        .get_value(&survivor.pipeline(&format!("/runs/{run_id}")))
        .await;
    assert_eq!(status["status"], "InProgress", "killed mid-run: {status}");
    let taken_over = time_until(Duration::from_secs(30), || async {
        cluster
            .nodes
            .iter()
            .map(|node| run_starts(&node.logs(), &run_id))
            .sum::<usize>()
            == 1
    })
    .await;
    assert!(
        taken_over.is_some(),
        "no surviving node took the run over within 30 s"
    );
    let finished = survivor.wait_run(&run_id, Duration::from_secs(120)).await;
    assert_eq!(finished["status"], "Succeeded", "{finished}");
    let resumed: usize = cluster
        .nodes
        .iter()
        .map(|node| run_starts(&node.logs(), &run_id))
        .sum();
    assert_eq!(resumed, 1, "a surviving node took the run over");
    let attempts = psql(
        &cluster.database,
        &format!("SELECT attempts FROM pipeline_runs WHERE id = '{run_id}'"),
    );
    assert_eq!(attempts.trim(), "2");
}

/// A Markdown guide long enough that ingesting four copies takes a noticeable moment.
fn long_document() -> Vec<u8> {
    let mut text = String::new();
    for chapter in 0..400 {
        text.push_str(&format!(
            "# Chapter {chapter}\n\nOur brand voice is warm, plain and direct. Colour {chapter} is used for accents. \
             Photography shows real people roasting real coffee in daylight.\n\n"
        ));
    }
    text.into_bytes()
}
