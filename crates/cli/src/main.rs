//! `brandstream`: serve the APIs, administer a data dir or database, and (later) call the APIs.
//! Parsing and output only; the work happens in the library crates.

/// `println!` for command output that ends the process quietly (exit status 0) when stdout's
/// reader has gone away (`brandstream kits list | head -c 10`), as Unix filters do, instead
/// of panicking; any other write failure is reported and exits 1.
macro_rules! say {
    () => {
        $crate::write_stdout(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

mod admin;
mod client_cmd;
mod extract;
mod hub;
mod models;

use std::path::PathBuf;
use std::process::ExitCode;

use brandstream_server::{Overrides, Server, Settings};
use clap::{Parser, Subcommand};

/// Brandstream: a self-hosted Stream platform — OAuth 2.0 token server and brand APIs.
///
/// Server: `brandstream serve`. Administration: `brandstream admin …`. Client commands
/// (`token`, `kits`, `docs`, `ingest`, `search`, …) call a server's API with a credential.
#[derive(Parser)]
#[command(name = "brandstream", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite and local files by default).
    ///
    /// Example: brandstream serve --listen 127.0.0.1:8080 --data-dir ./brandstream-data
    Serve(ServeArgs),
    /// Administer organisations, credentials, keys and the audit trail directly on the data
    /// dir or database (also while the server runs).
    Admin(admin::AdminArgs),
    /// Apply the database migrations and exit (nodes also migrate when they start).
    ///
    /// Example: brandstream migrate --database-url sqlite:/var/lib/brandstream/brandstream.db
    Migrate(MigrateArgs),
    /// Install and list the sentence-embedding model of the semantic features.
    Models(models::ModelsArgs),
    #[command(flatten)]
    Client(client_cmd::ClientCommand),
    /// Print shell completions. Example: brandstream completions bash > /etc/bash_completion.d/brandstream
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Internal: extract a document's text in a sandboxed child process (used by the server).
    #[command(name = "__extract", hide = true)]
    Extract(ExtractArgs),
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// TOML configuration file (also BRANDSTREAM_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory [default: ./brandstream-data] (BRANDSTREAM_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (BRANDSTREAM_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(clap::Args)]
struct ExtractArgs {
    /// pdf | docx | html | markdown | text.
    #[arg(long)]
    kind: String,
    /// Largest decompressed DOCX part, in bytes.
    #[arg(long, default_value_t = 200 * 1024 * 1024)]
    docx_part_bytes: u64,
    /// Most pages.
    #[arg(long, default_value_t = 2000)]
    max_pages: u32,
    /// Address-space limit in MiB (0: none).
    #[arg(long, default_value_t = 1024)]
    memory_mb: u64,
    /// The charset the sender declared for a textual file (a WHATWG encoding label).
    #[arg(long)]
    charset: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file (also BRANDSTREAM_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory [default: ./brandstream-data] (BRANDSTREAM_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:8080] (BRANDSTREAM_LISTEN).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Token issuer URL [default: http://<listen>/] (BRANDSTREAM_ISSUER).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// Database URL [default: SQLite in the data dir] (BRANDSTREAM_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Blob storage URL [default: DIR/blobs] (BRANDSTREAM_BLOB_URL).
    #[arg(long, value_name = "URL")]
    blob_url: Option<String>,
}

/// Columns whose free text is cut at [`CELL_CAP`] characters (with "…"); identifiers, file
/// types, times and counts are never cut.
const CAPPED_COLUMNS: [&str; 7] = [
    "TITLE", "TEXT", "HEADING", "NAME", "LABEL", "DETAIL", "VALUE",
];
/// Widest free-text cell in a table.
const CELL_CAP: usize = 60;

/// Prints `rows` under `headers` as aligned columns (two spaces apart; each as wide as its
/// widest cell), for people. Scripts use `--output json` / `--json`.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    for line in table_lines(headers, rows) {
        say!("{line}");
    }
}

/// The lines [`table`] prints.
fn table_lines(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let cap = |index: usize, cell: &str| -> String {
        let capped = headers
            .get(index)
            .is_some_and(|header| CAPPED_COLUMNS.contains(header));
        if capped && cell.chars().count() > CELL_CAP {
            let mut cut: String = cell.chars().take(CELL_CAP - 1).collect();
            cut.push('…');
            cut
        } else {
            cell.to_owned()
        }
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, cell)| cap(i, cell))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                let width = widths.get(index).copied().unwrap_or(0);
                format!("{cell:<width$}")
            })
            .collect();
        text.join("  ").trim_end().to_owned()
    };
    let mut lines = vec![line(
        &headers.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>(),
    )];
    lines.extend(rows.iter().map(|row| line(row)));
    lines
}

/// Writes one line of output for [`say!`].
fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    end_on_write_error(out.write_fmt(args).and_then(|()| out.write_all(b"\n")));
}

/// Writes `bytes` to stdout as they are (generated text such as shell completions).
fn write_stdout_bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    end_on_write_error(out.write_all(bytes).and_then(|()| out.flush()));
}

/// Ends the process after a failed write to stdout: quietly with status 0 when the reader
/// has gone away (a closed pipe, as Unix filters do), with a message and status 1 otherwise.
fn end_on_write_error(result: std::io::Result<()>) {
    if let Err(error) = result {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {error}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The extraction sandbox runs without an async runtime: one thread, bounded memory.
    if let Command::Extract(args) = &cli.command {
        return ExitCode::from(extract::run(
            &args.kind,
            args.docx_part_bytes,
            args.max_pages,
            args.memory_mb,
            args.charset.as_deref(),
        ));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Admin(args) => runtime.block_on(admin::run(args)),
        Command::Extract(_) => Ok(()),
        Command::Migrate(args) => runtime.block_on(migrate(args)),
        Command::Models(args) => models::run(args, &runtime),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Generated into memory first: clap_complete panics on a failed write (a closed
            // pipe), which write_stdout_bytes turns into a quiet exit.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "brandstream", &mut script);
            write_stdout_bytes(&script);
            Ok(())
        }
        Command::Client(command) => {
            return match runtime.block_on(client_cmd::run(command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    eprintln!("error: {}", failure.message);
                    ExitCode::from(failure.code)
                }
            };
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        data_dir: args.data_dir,
        listen: args.listen,
        issuer: args.issuer,
        database_url: args.database_url,
        blob_url: args.blob_url,
    };
    let settings = Settings::load(args.config.as_deref(), &overrides)?;
    brandstream_server::telemetry::init_logging(&settings.log_format, &settings.log_level);
    tracing::info!(settings = ?settings, "starting brandstream {}", env!("CARGO_PKG_VERSION"));
    let server = Server::start(settings).await?;
    server.run(brandstream_server::shutdown_signal()).await?;
    Ok(())
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        data_dir: args.data_dir,
        database_url: args.database_url,
        ..Overrides::default()
    };
    let settings = Settings::load(args.config.as_deref(), &overrides)?;
    brandstream_server::telemetry::init_logging("text", "warn");
    let store = brandstream_server::open_store_migrating(&settings, true).await?;
    store.ping().await?;
    say!("{} database is up to date", store.backend());
    Ok(())
}

#[cfg(test)]
mod table_tests {
    use super::table_lines;

    #[test]
    fn columns_align_and_only_free_text_is_cut() {
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        let long_title = "A very long title ".repeat(6);
        let lines = table_lines(
            &["ID", "TITLE", "TYPE", "STATUS"],
            &[
                vec![
                    "org_01JABCDEFGHJKMNPQRSTVWXYZ0".into(),
                    long_title.clone(),
                    docx.into(),
                    "processed".into(),
                ],
                vec![
                    "x".into(),
                    "Short".into(),
                    "text/markdown".into(),
                    "failed".into(),
                ],
            ],
        );
        assert!(
            lines[1].contains(docx),
            "file types are never cut: {}",
            lines[1]
        );
        assert!(
            lines[1].contains('…') && !lines[1].contains(long_title.trim()),
            "{}",
            lines[1]
        );
        let column = |line: &str, text: &str| line[..line.find(text).unwrap()].chars().count();
        assert_eq!(column(&lines[0], "TYPE"), column(&lines[1], docx));
        assert_eq!(
            column(&lines[0], "TYPE"),
            column(&lines[2], "text/markdown")
        );
        assert_eq!(column(&lines[0], "STATUS"), column(&lines[2], "failed"));
    }
}
