//! Every input kept in `workloads/fuzz/regressions/<target>/` (what once
//! crashed a fuzz target, or an input chosen to stand guard) replayed
//! through the code that target drives: none may panic. `workloads/fuzz/run`
//! adds the inputs of any crash it finds.

use std::path::Path;

use streambench_workloads::untrusted::TARGETS;

#[test]
fn no_kept_fuzz_input_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for (target, drive) in TARGETS {
        let dir = root.join(target);
        let inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("an entry").path())
            .collect();
        assert!(!inputs.is_empty(), "{} holds no input", dir.display());
        for input in inputs {
            let bytes = std::fs::read(&input).expect("a kept input");
            let replayed = std::panic::catch_unwind(|| drive(&bytes));
            assert!(replayed.is_ok(), "{} panics {target}", input.display());
        }
    }
}
