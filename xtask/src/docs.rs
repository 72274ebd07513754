//! `cargo xtask docs [--out DIR]`: the browsable HTML catalog of every catalog `codegen` keeps.
//! The catalogs are checked exactly as `codegen` checks them; any diagnostic is printed and
//! nothing is written. The site is written into a fresh folder beside `DIR` and renamed into
//! place, so `DIR` is always a whole site (the old one or the new one), never half of one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::diag::Diagnostics;
use event_contracts_codegen::docs::{site, SiteCatalog, SiteFile, MARKER_FILE};
use event_contracts_codegen::notices;

/// Where the site goes by default: under `target/`, because it is derived from `schemas/` on
/// demand, like a build, and a committed copy could only drift from the schemas.
pub const DEFAULT_OUT: &str = "target/doc-catalog";

/// One catalog to publish, as the pages name it.
#[derive(Clone, Debug)]
pub struct CatalogSource {
    /// The catalog's schema folder, relative to the workspace root.
    pub schemas_dir: String,
    pub slug: String,
    pub title: String,
    pub validate_command: Option<String>,
}

impl CatalogSource {
    /// The product catalog (`schemas`) is "main" and validated by `cargo xtask validate`;
    /// any other is named after the folder holding its `schemas/` (`examples/telemetry/schemas`
    /// is "telemetry").
    pub fn for_dir(schemas_dir: &str) -> Self {
        if schemas_dir == "schemas" {
            return Self {
                schemas_dir: schemas_dir.into(),
                slug: "main".into(),
                title: "Product systems".into(),
                validate_command: Some("cargo xtask validate".into()),
            };
        }
        let parent = Path::new(schemas_dir)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(schemas_dir));
        let slug = parent
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "catalog".into());
        Self {
            schemas_dir: schemas_dir.into(),
            slug,
            title: parent.display().to_string(),
            validate_command: None,
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub enum Outcome {
    /// The whole site is at the output folder.
    Written { files: usize },
    /// The catalogs have problems; nothing was written.
    Refused(Diagnostics),
}

/// Reads and checks every catalog, then writes the whole site to `out` (replacing a site an
/// earlier run wrote there), or nothing.
pub fn build(root: &Path, sources: &[CatalogSource], out: &Path) -> anyhow::Result<Outcome> {
    let mut diags = Diagnostics::default();
    let mut read = Vec::new();
    for source in sources {
        match Catalog::read_dir(&root.join(&source.schemas_dir)) {
            Ok(catalog) => {
                for mut notice in notices(&catalog) {
                    notice.file = in_catalog(&source.schemas_dir, &notice.file);
                    eprintln!("warning: {notice}");
                }
                read.push((source, catalog));
            }
            Err(d) => diags.0.extend(d.0.into_iter().map(|mut d| {
                d.file = in_catalog(&source.schemas_dir, &d.file);
                d
            })),
        }
    }
    if !diags.is_empty() {
        return Ok(Outcome::Refused(diags.sorted()));
    }
    let catalogs: Vec<SiteCatalog<'_>> = read
        .iter()
        .map(|(source, catalog)| SiteCatalog {
            slug: source.slug.clone(),
            title: source.title.clone(),
            schemas_dir: source.schemas_dir.clone(),
            catalog,
            validate_command: source.validate_command.clone(),
        })
        .collect();
    let files = match site(&catalogs) {
        Ok(files) => files,
        Err(diags) => return Ok(Outcome::Refused(diags)),
    };
    replace_dir(out, &files)?;
    Ok(Outcome::Written { files: files.len() })
}

fn in_catalog(schemas_dir: &str, file: &str) -> String {
    match file.strip_prefix("schemas/") {
        Some(rest) => format!("{schemas_dir}/{rest}"),
        None => file.to_owned(),
    }
}

/// Writes `files` into a new sibling folder, then swaps it in for `out`. An existing `out` is
/// replaced only if an earlier run wrote it (it holds the marker file): `--out` pointed at a
/// folder of other things must not delete them.
fn replace_dir(out: &Path, files: &[SiteFile]) -> anyhow::Result<()> {
    if out.exists() && !out.join(MARKER_FILE).exists() && !is_empty_dir(out) {
        bail!(
            "{} exists and was not written by `cargo xtask docs` (no {MARKER_FILE} in it): \
             choose another --out, or empty it first",
            out.display()
        );
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = out
        .file_name()
        .with_context(|| format!("{} does not name a folder", out.display()))?
        .to_string_lossy()
        .into_owned();
    let staging = parent.join(format!(".{name}.new-{}", std::process::id()));
    let result = write_all(&staging, files).and_then(|()| swap_in(&staging, out, parent, &name));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn write_all(staging: &Path, files: &[SiteFile]) -> anyhow::Result<()> {
    if staging.exists() {
        std::fs::remove_dir_all(staging)
            .with_context(|| format!("removing the leftover {}", staging.display()))?;
    }
    for file in files {
        let path = staging.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn swap_in(staging: &Path, out: &Path, parent: &Path, name: &str) -> anyhow::Result<()> {
    if !out.exists() {
        return std::fs::rename(staging, out)
            .with_context(|| format!("moving {} to {}", staging.display(), out.display()));
    }
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    std::fs::rename(out, &old)
        .with_context(|| format!("moving the previous site {} aside", out.display()))?;
    if let Err(e) = std::fs::rename(staging, out) {
        // Put the previous site back: a failed run leaves what was there.
        let _ = std::fs::rename(&old, out);
        return Err(e)
            .with_context(|| format!("moving {} to {}", staging.display(), out.display()));
    }
    std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

/// The command: every catalog in `schemas_dirs`, into `out` (default [`DEFAULT_OUT`]).
pub fn run(root: &Path, schemas_dirs: &[&str], out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let out = out.unwrap_or_else(|| root.join(DEFAULT_OUT));
    let sources: Vec<CatalogSource> = schemas_dirs
        .iter()
        .map(|d| CatalogSource::for_dir(d))
        .collect();
    let started = Instant::now();
    match build(root, &sources, &out)? {
        Outcome::Written { files } => {
            println!(
                "wrote the catalog ({files} files) to {} in {} ms; open {} in a browser",
                out.display(),
                started.elapsed().as_millis(),
                out.join("index.html").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Refused(diags) => {
            eprintln!("{diags}");
            eprintln!(
                "nothing was written: fix the schemas above and run `cargo xtask docs` again"
            );
            Ok(ExitCode::from(1))
        }
    }
}
