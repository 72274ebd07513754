//! `cargo xtask docs` on catalogs it must refuse or handle with care: every refusal is a
//! located diagnostic and leaves the output folder as it was; catalog text is escaped.
//! Each test works on a copy of the telemetry example catalog in a temp folder.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use xtask::docs::{build, CatalogSource, Outcome};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A temp workspace root holding a copy of the telemetry catalog at `schemas/`.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    copy_dir(
        &repo.join("examples/telemetry/schemas"),
        &dir.path().join("schemas"),
    );
    let root = dir.path().to_path_buf();
    (dir, root)
}

fn edit(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    change(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

fn sources() -> Vec<CatalogSource> {
    vec![CatalogSource::for_dir("schemas")]
}

fn refused(outcome: Outcome) -> String {
    match outcome {
        Outcome::Refused(diags) => diags.to_string(),
        Outcome::Written { files } => panic!("wrote {files} files from a bad catalog"),
    }
}

#[test]
fn catalog_text_is_escaped_on_every_page() {
    let (_dir, root) = workspace();
    let event = root.join("schemas/telemetry/events/device.alert.json");
    edit(&event, |v| {
        v["description"] = json!("<script>alert('owned')</script> & more");
    });
    edit(&root.join("schemas/telemetry/manifest.json"), |m| {
        m["consumer_groups"][0]["description"] = json!("<img src=x onerror=alert(1)>");
    });
    let out = root.join("site");
    assert!(matches!(
        build(&root, &sources(), &out).unwrap(),
        Outcome::Written { .. }
    ));
    let page = std::fs::read_to_string(out.join("main/telemetry/device.alert.html")).unwrap();
    assert!(page.contains("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; more"));
    assert!(!page.contains("<script>alert"));
    let system = std::fs::read_to_string(out.join("main/telemetry/index.html")).unwrap();
    assert!(system.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!system.contains("<img"));
}

#[test]
fn two_events_that_share_a_page_on_a_case_insensitive_disk_are_refused_and_nothing_is_written() {
    let (_dir, root) = workspace();
    let events = root.join("schemas/telemetry/events");
    std::fs::copy(
        events.join("device.alert.json"),
        events.join("Device.Alert.json"),
    )
    .unwrap();
    edit(&events.join("Device.Alert.json"), |v| {
        v["$id"] =
            json!("https://event-contracts.local/schemas/telemetry/events/Device.Alert.json");
        v["title"] = json!("DeviceAlertAgain");
    });
    edit(&root.join("schemas/telemetry/manifest.json"), |m| {
        let mut twin = m["events"][2].clone();
        twin["name"] = json!("Device.Alert");
        twin["schema"] = json!("events/Device.Alert.json");
        twin["channel"]["subject"] = json!("alerts.device.again");
        m["events"].as_array_mut().unwrap().push(twin);
    });
    let out = root.join("site");
    let report = refused(build(&root, &sources(), &out).unwrap());
    assert!(
        report.contains("schemas/telemetry/manifest.json:")
            && report.contains("error[E059] at /events/3/name")
            && report.contains("event `Device.Alert` gets the same page as event `device.alert`"),
        "{report}"
    );
    assert!(!out.exists(), "a refused run writes nothing");
}

#[test]
fn an_unreadable_invalid_example_is_located_and_the_previous_site_stays() {
    let (_dir, root) = workspace();
    let out = root.join("site");
    assert!(matches!(
        build(&root, &sources(), &out).unwrap(),
        Outcome::Written { .. }
    ));
    let before = std::fs::read_to_string(out.join("index.html")).unwrap();
    edit(
        &root.join("schemas/telemetry/events/device.alert.json"),
        |v| {
            v["x-invalid-examples"] = json!([{"description": "no instance here"}]);
        },
    );
    let report = refused(build(&root, &sources(), &out).unwrap());
    assert!(
        report.contains("schemas/telemetry/events/device.alert.json:")
            && report.contains(
                "error[E059] at /x-invalid-examples/0: an invalid example without an `instance`"
            ),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("index.html")).unwrap(),
        before,
        "the earlier site is left whole"
    );
}

#[test]
fn a_folder_the_command_did_not_write_is_never_replaced() {
    let (_dir, root) = workspace();
    let out = root.join("notes");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("todo.txt"), "mine").unwrap();
    let error = build(&root, &sources(), &out).unwrap_err().to_string();
    assert!(
        error.contains("was not written by `cargo xtask docs`"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("todo.txt")).unwrap(),
        "mine"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no staging folder is left behind");
}

#[test]
fn a_second_run_replaces_the_site_whole() {
    let (_dir, root) = workspace();
    let out = root.join("site");
    build(&root, &sources(), &out).unwrap();
    std::fs::write(out.join("stale.html"), "from an older run").unwrap();
    build(&root, &sources(), &out).unwrap();
    assert!(!out.join("stale.html").exists());
    assert!(out.join("main/telemetry/sensor.reading.html").exists());
}
