//! `cargo xtask codegen [--check]`: one generator, one `ensure_file_contents`, so CI's
//! `--check` and the freshness test run the same code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::{
    asyncapi, generate_catalog_and_asyncapi, manifest::manifest_json_schema, notices, GeneratedFile,
};

use crate::project_root;

/// A catalog and the crate generated from it, both relative to the workspace root.
pub struct CatalogDirs {
    pub schemas: &'static str,
    /// The crate whose `src/` the generator writes (its `Cargo.toml` is hand-written).
    pub crate_dir: &'static str,
    /// Where each system's AsyncAPI document (`<system>.json`) is written.
    pub asyncapi_dir: &'static str,
}

/// Every catalog `codegen` and `lint` keep: the product's five systems, and an example of a
/// team's own system with its own envelope names, generated and compiled on every run so the
/// generator never again needs editing to serve a new catalog.
pub const CATALOGS: &[CatalogDirs] = &[
    CatalogDirs {
        schemas: "schemas",
        crate_dir: "generated",
        asyncapi_dir: "docs/asyncapi",
    },
    CatalogDirs {
        schemas: "examples/telemetry/schemas",
        crate_dir: "examples/telemetry/contracts",
        asyncapi_dir: "examples/telemetry/docs/asyncapi",
    },
];

/// Every file the generators own, with its expected contents. The diagnostics and notices of
/// a catalog other than `schemas/` name its files relative to its own root, so they are
/// prefixed with the catalog's place.
pub fn expected_files(
    root: &Path,
) -> Result<Vec<(PathBuf, String)>, event_contracts_codegen::diag::Diagnostics> {
    let mut out = Vec::new();
    let mut diags = event_contracts_codegen::diag::Diagnostics::default();
    for dirs in CATALOGS {
        let in_catalog = |file: &str| match file.strip_prefix("schemas/") {
            Some(rest) => format!("{}/{rest}", dirs.schemas),
            None => file.to_owned(),
        };
        let generated = Catalog::read_dir(&root.join(dirs.schemas)).and_then(|catalog| {
            // Very large inputs are named first, so a long run says why it is long.
            for mut notice in notices(&catalog) {
                notice.file = in_catalog(&notice.file);
                eprintln!("warning: {notice}");
            }
            generate_catalog_and_asyncapi(&catalog, "cargo xtask codegen")
        });
        match generated {
            Ok((files, documents)) => {
                out.extend(files.into_iter().map(|GeneratedFile { path, contents }| {
                    (root.join(dirs.crate_dir).join(path), contents)
                }));
                out.extend(documents.into_iter().map(|doc| {
                    (
                        root.join(dirs.asyncapi_dir)
                            .join(format!("{}.json", doc.system)),
                        asyncapi_text(&doc),
                    )
                }));
            }
            Err(d) => diags.0.extend(d.0.into_iter().map(|mut d| {
                d.file = in_catalog(&d.file);
                d
            })),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    out.push((
        root.join("schemas/manifest.schema.json"),
        manifest_json_schema(),
    ));
    Ok(out)
}

/// A document as written: pretty JSON with a final newline, so diffs read line by line.
fn asyncapi_text(doc: &asyncapi::Document) -> String {
    let mut text = serde_json::to_string_pretty(&doc.value).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// Whether `path` already holds `contents`; writes it when not and `check` is off.
fn ensure_file_contents(path: &Path, contents: &str, check: bool) -> anyhow::Result<bool> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(true);
    }
    if !check {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Write beside, then rename: a crash never leaves a half-written file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    }
    Ok(false)
}

/// Files in a generated crate's `src/` or an AsyncAPI folder that no generator produces any
/// more (a removed system's document goes with it).
fn orphans(root: &Path, expected: &[(PathBuf, String)]) -> Vec<PathBuf> {
    let owned = CATALOGS.iter().flat_map(|dirs| {
        [
            (root.join(dirs.crate_dir).join("src"), "rs"),
            (root.join(dirs.asyncapi_dir), "json"),
        ]
    });
    let mut out: Vec<PathBuf> = owned
        .filter_map(|(dir, ext)| Some((std::fs::read_dir(dir).ok()?, ext)))
        .flat_map(|(entries, ext)| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(move |p| p.extension().is_some_and(|e| e == ext))
        })
        .filter(|p| !expected.iter().any(|(e, _)| e == p))
        .collect();
    out.sort();
    out
}

/// Brings every generated file up to date (or, with `check`, only reports): the stale files.
/// `None` when the schemas do not generate (the diagnostics are printed).
fn sync(root: &Path, check: bool) -> anyhow::Result<Option<(usize, Vec<PathBuf>)>> {
    let expected = match expected_files(root) {
        Ok(files) => files,
        Err(diags) => {
            eprintln!("{}", diags.render());
            eprintln!(
                "nothing was written: fix the schemas above and run `cargo xtask codegen` again"
            );
            return Ok(None);
        }
    };
    let mut stale = Vec::new();
    for (path, contents) in &expected {
        if !ensure_file_contents(path, contents, check)? {
            stale.push(path.clone());
        }
    }
    for orphan in orphans(root, &expected) {
        if !check {
            std::fs::remove_file(&orphan)
                .with_context(|| format!("removing {}", orphan.display()))?;
        }
        stale.push(orphan);
    }
    Ok(Some((expected.len(), stale)))
}

pub fn run(check: bool) -> anyhow::Result<ExitCode> {
    let root = project_root();
    let Some((total, stale)) = sync(&root, check)? else {
        return Ok(ExitCode::from(1));
    };
    let rel = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
    if check {
        if stale.is_empty() {
            println!("generated code is up to date with its catalogs ({total} files)");
            return Ok(ExitCode::SUCCESS);
        }
        for p in &stale {
            eprintln!("stale: {}", rel(p));
        }
        eprintln!("generated code does not match schemas/: run `cargo xtask codegen` and commit the result");
        return Ok(ExitCode::from(1));
    }
    for p in &stale {
        println!("updated {}", rel(p));
    }
    println!("{total} files checked, {} updated", stale.len());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    /// The same path as `cargo xtask codegen --check`.
    #[test]
    fn generated_code_is_fresh() {
        let (_, stale) = super::sync(&crate::project_root(), true)
            .unwrap()
            .expect("the catalog generates");
        assert!(
            stale.is_empty(),
            "stale: {stale:?}; run `cargo xtask codegen`"
        );
    }
}
