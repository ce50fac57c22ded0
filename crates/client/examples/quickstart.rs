//! The documented flow with the SDK: token → create a kit → upload a document → ingest →
//! read the filled sections.
//!
//! ```sh
//! BRANDSTREAM_URL=http://127.0.0.1:8080 BRANDSTREAM_CLIENT_ID=… BRANDSTREAM_CLIENT_SECRET=bss_… \
//!   cargo run -p brandstream-client --example quickstart -- guidelines.pdf
//! ```

use std::time::Duration;

use brandstream_client::{Client, NewKit, UploadOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let file = std::env::args().nth(1).ok_or("usage: quickstart FILE")?;
    let client = Client::builder()
        .base_url(env("BRANDSTREAM_URL")?)
        .credentials(
            env("BRANDSTREAM_CLIENT_ID")?,
            env("BRANDSTREAM_CLIENT_SECRET")?,
        )
        .build()?;

    let kit = client
        .create_kit(&NewKit::named(format!("Quickstart {}", std::process::id())))
        .await?;
    println!("created kit {} ({})", kit.name, kit.id);
    let options = UploadOptions {
        kit_ids: vec![kit.id.clone()],
        ..UploadOptions::default()
    };
    let document = client.upload(file.as_ref(), &options, None).await?;
    println!("uploaded {} ({} bytes)", document.title, document.size);
    let run = client.ingest(&kit.id, &[], true).await?;
    let run = client
        .wait_for_run(&run.id, Duration::from_secs(600), |run| {
            println!("  {} {}", run.status, run.progress);
        })
        .await?;
    println!("run {}: {}", run.status, run.message);
    for section in client.sections(&kit.id).await? {
        for field in client.fields(&kit.id, &section.id).await? {
            let filled = match &field.value {
                serde_json::Value::String(text) => !text.is_empty(),
                serde_json::Value::Array(items) => !items.is_empty(),
                _ => false,
            };
            println!(
                "{:<28} {:<32} {}",
                section.name,
                field.name,
                if filled { "filled" } else { "-" }
            );
        }
    }
    Ok(())
}
