//! The hidden `__extract` subcommand: the sandbox in which the server reads untrusted
//! documents. It limits its own address space, reads the file from stdin, and writes the
//! extracted text (or the reason it failed) as JSON to stdout. A hostile file that makes the
//! parser loop, panic or exhaust memory takes down only this process; the server notices the
//! timeout, the signal or the missing answer and marks the document failed.

use std::io::{Read, Write};

use brandstream_ingest::{ExtractLimits, FileKind};

#[derive(serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Answer<'a> {
    Ok(&'a brandstream_ingest::Extracted),
    Err(&'a brandstream_ingest::ExtractError),
}

/// Runs the sandboxed extraction; returns the process exit code.
pub fn run(
    kind: &str,
    docx_part_bytes: u64,
    max_pages: u32,
    memory_mb: u64,
    charset: Option<&str>,
) -> u8 {
    if memory_mb > 0 {
        let bytes = memory_mb.saturating_mul(1024 * 1024);
        if let Err(error) = rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes) {
            eprintln!("cannot limit memory: {error}");
            return 3;
        }
    }
    let Some(kind) = FileKind::from_declared(kind) else {
        eprintln!("unknown kind {kind}");
        return 2;
    };
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().lock().read_to_end(&mut input) {
        eprintln!("cannot read the document: {error}");
        return 3;
    }
    let limits = ExtractLimits {
        docx_part_bytes,
        max_pages,
    };
    let answer = brandstream_ingest::extract_declared(kind, &input, limits, charset);
    drop(input);
    // `{"ok": Extracted}` or `{"err": ExtractError}`, written straight from the values.
    let answer = match &answer {
        Ok(extracted) => Answer::Ok(extracted),
        Err(error) => Answer::Err(error),
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &answer)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush());
    match written {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("cannot write the result: {error}");
            3
        }
    }
}
