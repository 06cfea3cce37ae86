//! The layer rule as part of `cargo test`: runs `tests/layers.sh`, which fails when a
//! top-level module of `src/` imports one its layer may not (see ARCHITECTURE.md §1). The
//! docs' table is checked by CI (`tests/layers.sh --check ARCHITECTURE.md`), not here, so
//! that adding an allowed import does not fail everyone's test run until the table is redone.

use std::process::Command;

#[test]
fn no_module_imports_a_layer_above_it() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/layers.sh");
    let out = match Command::new("bash").arg(script).output() {
        Ok(out) => out,
        Err(e) => {
            // No bash (e.g. a bare Windows shell): CI still runs the script.
            eprintln!("skipped: cannot run bash: {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "tests/layers.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}
