//! Where the transcription checks find the reference documents the seeds were copied from.
//!
//! The documents live beside the repository (`../shared/reference/`) on the team's machines
//! and in CI, not in a user's clone. `PALIER_REFERENCE_DIR` names another directory; when the
//! directory is absent the checks say so on one line and pass, unless
//! `PALIER_REQUIRE_REFERENCE=1` (set by `.ci/run`), where an absent reference is a failure.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;

/// The reference directory: `PALIER_REFERENCE_DIR`, else `../shared/reference` next to the
/// repository root.
pub fn reference_dir() -> PathBuf {
    match std::env::var_os("PALIER_REFERENCE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference"
        )),
    }
}

/// The reference directory when it is there; `None` (after one line on stderr) when it is
/// not and the reference is not required. Panics when it is required and absent.
pub fn available() -> Option<PathBuf> {
    let dir = reference_dir();
    if dir.is_dir() {
        return Some(dir);
    }
    let required = std::env::var("PALIER_REQUIRE_REFERENCE").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "PALIER_REQUIRE_REFERENCE=1 but the reference directory {} is absent (set PALIER_REFERENCE_DIR)",
        dir.display()
    );
    // Once per test binary, and past libtest's output capture, so that a passing run still
    // says what it did not check.
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "reference documents not found at {} (set PALIER_REFERENCE_DIR): transcription check skipped",
            dir.display()
        );
    });
    None
}

/// The text of one reference document, `None` when the directory is absent (see [`available`]).
pub fn read(name: &str) -> Option<String> {
    let path = available()?.join(name);
    Some(
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
    )
}
