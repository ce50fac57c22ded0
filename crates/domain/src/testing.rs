//! For tests only: one rule for a test that cannot run here.
//!
//! A test whose prerequisite is missing (the shared samples, the embedding model, PostgreSQL,
//! an S3-compatible server, the browser) calls [`skip`], which prints why and lets the test
//! return — unless `BRANDSTREAM_REQUIRE_<REQUIREMENT>` (or `BRANDSTREAM_REQUIRE_ALL`) is set,
//! as `.ci/run` sets it for everything it has installed or started: then the skip is a
//! failure, so a test CI is equipped to run can never pass by not running.

/// What a test can need: `shared`, `model`, `postgres`, `s3`, `browser`.
pub fn required(requirement: &str) -> bool {
    let own = format!("BRANDSTREAM_REQUIRE_{}", requirement.to_ascii_uppercase());
    std::env::var_os(own).is_some() || std::env::var_os("BRANDSTREAM_REQUIRE_ALL").is_some()
}

/// Reports that the calling test does not run for want of `requirement` (see [`required`]),
/// with `reason`; panics instead when the requirement is required here.
///
/// # Panics
/// When `BRANDSTREAM_REQUIRE_<REQUIREMENT>` or `BRANDSTREAM_REQUIRE_ALL` is set.
pub fn skip(requirement: &str, reason: &str) {
    assert!(
        !required(requirement),
        "{reason}, but BRANDSTREAM_REQUIRE_{} is set: this test must run here",
        requirement.to_ascii_uppercase()
    );
    eprintln!(
        "skipped: {reason} (set BRANDSTREAM_REQUIRE_{} to make this a failure)",
        requirement.to_ascii_uppercase()
    );
}
