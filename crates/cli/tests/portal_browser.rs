//! The portal end to end in a real browser: runs `e2e/portal.mjs` (playwright-core driving
//! Debian's chromium) against a server started here. Skipped, saying why, when node, chromium
//! or `e2e/node_modules/playwright-core` is missing (`.ci/run` installs them).
//! Screenshots land in `target/portal-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn the_portal_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let script = root.join("e2e/portal.mjs");
    let module = root.join("e2e/node_modules/playwright-core");
    let node = Command::new("node").arg("--version").output();
    if node.is_err() || !Path::new(&chromium).exists() || !module.is_dir() {
        brandstream_domain::testing::skip(
            "browser",
            &format!("needs node, {chromium} and e2e/node_modules/playwright-core (npm install --prefix e2e)"),
        );
        return;
    }
    let password = "browser test password";
    let server = TestServer::start_with(&[("BRANDSTREAM_ADMIN_PASSWORD", password)]);
    let sample = samples_dir().join("northwind-coffee-roasters.md");
    let screenshots = root.join("target/portal-screenshots");
    let output = Command::new("node")
        .arg(&script)
        .env("BASE_URL", &server.base)
        .env("ADMIN_PASSWORD", password)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .env(
            "SAMPLE_DOCUMENT",
            if sample.is_file() {
                sample.to_str().unwrap()
            } else {
                ""
            },
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "browser test failed:\n{}\n{}\nserver logs:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
}
