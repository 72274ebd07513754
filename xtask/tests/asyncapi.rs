//! The AsyncAPI documents `cargo xtask codegen` writes, checked by the real AsyncAPI tools from
//! npm (versions pinned in `tools/asyncapi/package-lock.json`, installed with `npm ci` under
//! `target/asyncapi-node`, reinstalled only when the lockfile changes): `@asyncapi/parser`,
//! every example against its payload (Ajv), Modelina's TypeScript models under `tsc --strict`.
//! Then broken copies, to show the check fails when it should.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// One install at a time: the tests of this file share the directory.
static INSTALL: Mutex<()> = Mutex::new(());

/// `target/asyncapi-node` with the pinned packages and the current `check.mjs`.
fn tools() -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let root = workspace();
    let source = root.join("tools/asyncapi");
    let dir = root.join("target/asyncapi-node");
    std::fs::create_dir_all(&dir).expect("creating target/asyncapi-node");
    let lock = std::fs::read(source.join("package-lock.json")).expect("reading the lockfile");
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    if installed.as_deref() != Some(lock.as_slice()) || !dir.join("node_modules").is_dir() {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), dir.join(file)).expect("copying the npm manifest");
        }
        // No install scripts: the packages need none, and one of them only phones home.
        let out = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("running npm (Node 20 and npm must be installed)");
        assert!(
            out.status.success(),
            "npm ci failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Beside node_modules, so Node resolves the pinned packages.
    std::fs::copy(source.join("check.mjs"), dir.join("check.mjs")).expect("copying check.mjs");
    dir
}

/// Runs `check.mjs` over `paths`: (success, everything it printed).
fn check(paths: &[PathBuf]) -> (bool, String) {
    let dir = tools();
    let out = Command::new("node")
        .arg("check.mjs")
        .args(paths)
        .current_dir(&dir)
        .output()
        .expect("running node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_generated_document_passes_the_asyncapi_tools() {
    let root = workspace();
    let dirs = [
        root.join("docs/asyncapi"),
        root.join("examples/telemetry/docs/asyncapi"),
    ];
    let (ok, output) = check(&dirs);
    println!("{output}");
    assert!(ok, "the AsyncAPI check failed:\n{output}");
    assert!(
        output.contains("all 6 documents passed"),
        "expected the five systems and the telemetry example:\n{output}"
    );
}

#[test]
fn the_check_rejects_a_broken_document_and_a_wrong_example() {
    let root = workspace();
    let text =
        std::fs::read_to_string(root.join("examples/telemetry/docs/asyncapi/telemetry.json"))
            .expect("the telemetry document was generated");
    let original: Value = serde_json::from_str(&text).expect("the document is JSON");
    let dir = root.join("target/tmp/asyncapi-negative");
    std::fs::create_dir_all(&dir).expect("creating the scratch directory");

    // An operation on a channel the document does not have.
    let mut broken = original.clone();
    let op = broken["operations"]
        .as_object_mut()
        .and_then(|ops| ops.values_mut().next())
        .expect("the document has operations");
    op["channel"] = serde_json::json!({ "$ref": "#/channels/no-such-channel" });
    let broken_path = dir.join("broken.json");
    std::fs::write(&broken_path, broken.to_string()).unwrap();

    // A message example whose payload breaks its schema: the envelope's id is not a string.
    let mut wrong = original.clone();
    let message = wrong["components"]["messages"]
        .as_object_mut()
        .and_then(|messages| messages.values_mut().next())
        .expect("the document has messages");
    let example = &mut message["examples"][0]["payload"];
    assert!(example.is_object(), "the first message has an example");
    example["msg_id"] = Value::from(42);
    let wrong_path = dir.join("wrong-example.json");
    std::fs::write(&wrong_path, wrong.to_string()).unwrap();

    let (ok, output) = check(&[broken_path, wrong_path]);
    println!("{output}");
    assert!(!ok, "broken documents passed:\n{output}");
    assert!(
        output.contains("2 of 2 documents failed"),
        "both copies must fail:\n{output}"
    );
    assert!(
        output.contains("FAIL parser error"),
        "the parser must reject the dangling channel reference:\n{output}"
    );
    assert!(
        output.contains("payload does not validate") && output.contains("msg_id"),
        "the wrong example must be named:\n{output}"
    );
}
