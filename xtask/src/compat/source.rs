//! Where the two catalogs come from: `schemas/` at a git revision (read with the `git` binary:
//! one `ls-tree` per revision, one `cat-file --batch` for every blob), the working tree, and the
//! released versions a `*_TRANSITIVE` mode checks against.
//!
//! Both sides list the same files: every `*.json` under `schemas/` except the generated
//! `schemas/manifest.schema.json`, as `(path under schemas/, text)` sorted by path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};

/// The catalog folder, relative to the repository root.
pub const SCHEMAS: &str = "schemas";
/// Generated from the Rust manifest type; not part of the contract.
const GENERATED: &str = "manifest.schema.json";

/// One version of the catalog: `(path under schemas/, text)`, sorted by path.
pub type Files = Vec<(String, String)>;

/// Whether a path under `schemas/` belongs to the catalog.
fn is_catalog_file(rel: &str) -> bool {
    rel.ends_with(".json") && rel != GENERATED
}

/// Reads `schemas/` from the working tree under `root`.
pub fn worktree_files(root: &Path) -> anyhow::Result<Files> {
    let dir = root.join(SCHEMAS);
    if !dir.is_dir() {
        bail!(
            "{} is not a directory: run from the repository root or pass --repo DIR",
            dir.display()
        );
    }
    let mut out = Vec::new();
    walk(&dir, "", &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Files) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue; // git cannot hold it portably either
        };
        let rel = format!("{prefix}{name}");
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if kind.is_dir() {
            walk(&entry.path(), &format!("{rel}/"), out)?;
        } else if kind.is_file() && is_catalog_file(&rel) {
            let text = std::fs::read_to_string(entry.path()).with_context(|| {
                format!(
                    "reading {} (schema files must be UTF-8)",
                    entry.path().display()
                )
            })?;
            out.push((rel, text));
        }
    }
    Ok(())
}

/// The `git` binary, run in one repository.
pub struct Git {
    root: PathBuf,
}

/// A commit resolved from what the user typed.
#[derive(Clone, Debug)]
pub struct Rev {
    /// As given (`main`, `HEAD~1`, a tag).
    pub name: String,
    /// Full commit id.
    pub commit: String,
}

impl Rev {
    pub fn short(&self) -> &str {
        &self.commit[..self.commit.len().min(10)]
    }
}

/// A released version for `*_TRANSITIVE` modes.
#[derive(Clone, Debug)]
pub struct Release {
    pub label: String,
    pub commit: String,
}

impl Git {
    /// Fails when `root` is not inside a git work tree (or `git` is missing).
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        let git = Self {
            root: root.to_path_buf(),
        };
        git.run(&["rev-parse", "--git-dir"]).with_context(|| {
            format!(
                "{} is not a git repository: `--against` reads schemas/ from git history \
                 (compare two files with `cargo xtask compat OLD.json NEW.json` instead)",
                root.display()
            )
        })?;
        Ok(git)
    }

    fn command(&self) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.root);
        // Never page, never prompt, never translate: output is parsed.
        c.env("GIT_PAGER", "cat")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C");
        c
    }

    /// Runs git; stdout on success, git's own message on failure.
    fn run(&self, args: &[&str]) -> anyhow::Result<Vec<u8>> {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running `git` (is it installed and on PATH?)")?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            bail!("`git {}` failed: {}", args.join(" "), msg.trim());
        }
        Ok(out.stdout)
    }

    fn run_text(&self, args: &[&str]) -> anyhow::Result<String> {
        String::from_utf8(self.run(args)?).map_err(|_| anyhow!("`git {}`: not UTF-8", args[0]))
    }

    /// Resolves `rev` to a commit; a clear error when it does not exist.
    pub fn resolve(&self, rev: &str) -> anyhow::Result<Rev> {
        if rev.is_empty() || rev.starts_with('-') || rev.contains(char::is_whitespace) {
            bail!(
                "`{rev}` is not a git revision: name a branch, tag or commit (e.g. --against main)"
            );
        }
        let spec = format!("{rev}^{{commit}}");
        match self.run_text(&["rev-parse", "--verify", "--quiet", &spec]) {
            Ok(id) if !id.trim().is_empty() => Ok(Rev {
                name: rev.to_owned(),
                commit: id.trim().to_owned(),
            }),
            _ => bail!(
                "revision `{rev}` does not exist in {}: check the name, or fetch it first \
                 (e.g. `git fetch origin main` then --against origin/main)",
                self.root.display()
            ),
        }
    }

    /// Every catalog file of `schemas/` at one commit.
    pub fn files_at(&self, commit: &str) -> anyhow::Result<Files> {
        let mut many = self.files_at_many(&[commit])?;
        Ok(many.pop().unwrap_or_default())
    }

    /// Every catalog file of `schemas/` at each commit, in order. One `ls-tree` per commit and
    /// one `cat-file --batch` for all distinct blobs (versions share most of their files).
    pub fn files_at_many(&self, commits: &[&str]) -> anyhow::Result<Vec<Files>> {
        let mut listings: Vec<Vec<(String, String)>> = Vec::with_capacity(commits.len());
        for commit in commits {
            let out = self.run(&["ls-tree", "-r", "-z", commit, "--", &format!("{SCHEMAS}/")])?;
            let mut listing = Vec::new();
            for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
                let record = std::str::from_utf8(record).map_err(|_| {
                    anyhow!("a file name under {SCHEMAS}/ at {commit} is not UTF-8")
                })?;
                // `<mode> SP <type> SP <object> TAB <path>`
                let (meta, path) = record
                    .split_once('\t')
                    .ok_or_else(|| anyhow!("unexpected `git ls-tree` output: {record}"))?;
                let mut meta = meta.split(' ');
                let (mode, kind, oid) = (meta.next(), meta.next(), meta.next());
                // Regular files only: no symlinks (120000), no submodules.
                if kind != Some("blob") || !matches!(mode, Some("100644" | "100755")) {
                    continue;
                }
                let Some(rel) = path.strip_prefix(&format!("{SCHEMAS}/")) else {
                    continue;
                };
                if is_catalog_file(rel) {
                    listing.push((rel.to_owned(), oid.unwrap_or_default().to_owned()));
                }
            }
            listing.sort();
            listings.push(listing);
        }
        let mut wanted: Vec<&str> = listings
            .iter()
            .flatten()
            .map(|(_, oid)| oid.as_str())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let blobs = self.cat_blobs(&wanted)?;
        listings
            .into_iter()
            .zip(commits)
            .map(|(listing, commit)| {
                listing
                    .into_iter()
                    .map(|(rel, oid)| {
                        let text = blobs.get(&oid).cloned().ok_or_else(|| {
                            anyhow!("{SCHEMAS}/{rel} at {commit}: blob {oid} is missing")
                        })?;
                        Ok((rel, text))
                    })
                    .collect()
            })
            .collect()
    }

    /// Blob texts by object id, with one `git cat-file --batch`.
    fn cat_blobs(&self, oids: &[&str]) -> anyhow::Result<HashMap<String, String>> {
        let mut out = HashMap::with_capacity(oids.len());
        if oids.is_empty() {
            return Ok(out);
        }
        let mut child = self
            .command()
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running `git cat-file --batch`")?;
        let mut stdin = child.stdin.take().context("git cat-file stdin")?;
        let input: String = oids.iter().map(|o| format!("{o}\n")).collect();
        // Write from a thread: git answers while we are still asking.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let mut reader = BufReader::new(child.stdout.take().context("git cat-file stdout")?);
        let mut header = String::new();
        for _ in oids {
            header.clear();
            reader
                .read_line(&mut header)
                .context("reading `git cat-file --batch`")?;
            let mut parts = header.split_whitespace();
            let (oid, kind, size) = (parts.next(), parts.next(), parts.next());
            let (Some(oid), Some("blob"), Some(size)) = (oid, kind, size) else {
                bail!("`git cat-file --batch` answered `{}`", header.trim());
            };
            let size: usize = size
                .parse()
                .with_context(|| format!("`git cat-file --batch` size in `{}`", header.trim()))?;
            let mut body = vec![0; size + 1]; // contents, then LF
            reader
                .read_exact(&mut body)
                .context("reading `git cat-file --batch`")?;
            body.pop();
            let text = String::from_utf8(body)
                .map_err(|_| anyhow!("blob {oid} under {SCHEMAS}/ is not UTF-8"))?;
            out.insert(oid.to_owned(), text);
        }
        writer
            .join()
            .map_err(|_| anyhow!("writing to `git cat-file --batch` panicked"))?
            .context("writing to `git cat-file --batch`")?;
        let status = child.wait().context("waiting for `git cat-file --batch`")?;
        if !status.success() {
            bail!("`git cat-file --batch` exited with {status}");
        }
        Ok(out)
    }

    /// The tree id of `schemas/` at each commit (`None` where there is no `schemas/`), with one
    /// `git cat-file --batch-check`.
    fn schema_trees(&self, commits: &[&str]) -> anyhow::Result<Vec<Option<String>>> {
        if commits.is_empty() {
            return Ok(vec![]);
        }
        let mut child = self
            .command()
            .args(["cat-file", "--batch-check"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running `git cat-file --batch-check`")?;
        let mut stdin = child.stdin.take().context("git cat-file stdin")?;
        let input: String = commits.iter().map(|c| format!("{c}:{SCHEMAS}\n")).collect();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let mut text = String::new();
        child
            .stdout
            .take()
            .context("git cat-file stdout")?
            .read_to_string(&mut text)
            .context("reading `git cat-file --batch-check`")?;
        writer
            .join()
            .map_err(|_| anyhow!("writing to `git cat-file --batch-check` panicked"))?
            .context("writing to `git cat-file --batch-check`")?;
        child.wait().context("waiting for `git cat-file`")?;
        Ok(text
            .lines()
            .map(|l| {
                let mut p = l.split(' ');
                match (p.next(), p.next()) {
                    (Some(oid), Some("tree")) => Some(oid.to_owned()),
                    _ => None,
                }
            })
            .collect())
    }

    /// The released versions before `base` (inclusive), oldest first: tags matching `pattern`
    /// (a `git for-each-ref` glob under `refs/tags/`, default `schemas-v*`) that `base`
    /// contains, in version order. Versions whose `schemas/` is identical to `base`'s or to an
    /// earlier release's are dropped (nothing new to check), and only the newest `limit` are
    /// kept. The second value says how many were cut by `limit`.
    pub fn releases(
        &self,
        base: &Rev,
        pattern: &str,
        limit: usize,
    ) -> anyhow::Result<(Vec<Release>, usize)> {
        if pattern.starts_with('-') {
            bail!("--release-tags `{pattern}` is not a tag pattern");
        }
        let out = self.run_text(&[
            "for-each-ref",
            &format!("--merged={}", base.commit),
            "--sort=version:refname",
            "--format=%(refname:short)%09%(objectname)%09%(*objectname)",
            &format!("refs/tags/{pattern}"),
        ])?;
        let mut tags: Vec<Release> = Vec::new();
        for line in out.lines() {
            let mut p = line.split('\t');
            let (Some(label), Some(obj), peeled) = (p.next(), p.next(), p.next()) else {
                continue;
            };
            // Annotated tags peel to their commit; lightweight ones are the commit.
            let commit = peeled.filter(|s| !s.is_empty()).unwrap_or(obj);
            tags.push(Release {
                label: label.to_owned(),
                commit: commit.to_owned(),
            });
        }
        let mut commits: Vec<&str> = tags.iter().map(|t| t.commit.as_str()).collect();
        commits.push(&base.commit);
        let trees = self.schema_trees(&commits)?;
        let base_tree = trees.last().cloned().flatten();
        let mut seen: Vec<Option<String>> = vec![base_tree];
        let mut kept = Vec::new();
        for (tag, tree) in tags.into_iter().zip(trees) {
            if tree.is_none() || seen.contains(&tree) {
                continue;
            }
            seen.push(tree);
            kept.push(tag);
        }
        let cut = kept.len().saturating_sub(limit);
        kept.drain(..cut);
        Ok((kept, cut))
    }
}
