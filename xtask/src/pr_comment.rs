//! `cargo xtask pr-comment --against REV`: the schema review of a pull request, kept in one
//! sticky comment on it.
//!
//! Runs the same check as `cargo xtask compat --against REV` (allow-list included) and the
//! changelog of `cargo xtask diff --against REV`, composes the review ([`crate::review`]), and
//! then, on GitHub Actions:
//! - appends the whole review to the job summary (`GITHUB_STEP_SUMMARY`);
//! - lists the pull request's comments (every page) and edits the one that starts with
//!   [`review::MARKER`], or creates it when there is none; a second marked comment (two runs
//!   racing) is deleted, so there is never more than one;
//! - when `schemas/` is the same at REV and in the working tree, only edits an existing review
//!   to say so, and never creates one;
//! - for a pull request from a fork, whose token is read-only, posts nothing: the review is in
//!   the job summary, and the step succeeds.
//!
//! Reads `GITHUB_API_URL`, `GITHUB_TOKEN`, `GITHUB_REPOSITORY`, `GITHUB_EVENT_PATH` (the pull
//! request number, the head commit and whether it comes from a fork), `GITHUB_SERVER_URL` and
//! `GITHUB_RUN_ID` (the link to the job summary) and `GITHUB_STEP_SUMMARY`. The whole review,
//! never cut, is also printed (or written to `--output`, for the run's artifacts).
//!
//! The exit code is about the comment, not the schemas (`cargo xtask compat` decides those):
//! 0 posted, updated, unchanged or nothing to do; 3 usage, git, parse or configuration error;
//! 4 GitHub answered 401, 5 403, 6 404, 7 422; 8 another error status, or GitHub unavailable
//! after the retries.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;
use event_contracts_compat as engine;

use crate::compat::{self, allow, Common, Outcome};
use crate::diff::{Against, Changelog};
use crate::github::{Client, Comment, GithubError, Retry};
use crate::review::{self, Context};

#[derive(Parser, Clone, Debug)]
#[command(
    name = "pr-comment",
    about = "Post the schema review of a pull request as one sticky comment (GitHub Actions)",
    after_help = "Exit codes: 0 comment posted, updated or nothing to do; 3 usage, git, parse or \
                  configuration error; 4 GitHub answered 401, 5 403, 6 404, 7 422; 8 other GitHub \
                  error or GitHub unavailable after the retries. Whether the schemas are \
                  compatible is `cargo xtask compat`'s exit code, not this one."
)]
pub struct PrCommentArgs {
    /// Git revision whose schemas/ is the old side: the pull request's merge base.
    #[arg(long, value_name = "REV")]
    pub against: String,
    /// The pull request number (default: from the event payload at GITHUB_EVENT_PATH).
    #[arg(long, value_name = "NUMBER")]
    pub pr: Option<u64>,
    /// Where the whole review is, named when the comment has to be cut (Markdown; default: a
    /// link to this run's job summary).
    #[arg(long, value_name = "TEXT")]
    pub full_report: Option<String>,
    /// Tries per GitHub request when GitHub answers 500/502/503/504 or the connection fails.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub attempts: u32,
    /// Milliseconds to wait before the first retry; doubled before each further one.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub retry_base_ms: u64,
    /// Compose and print the review, post nothing (needs no token).
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub common: Common,
}

/// The GitHub Actions environment `pr-comment` reads; empty variables count as unset.
#[derive(Clone, Debug, Default)]
pub struct GithubEnv {
    pub api_url: Option<String>,
    pub server_url: Option<String>,
    pub token: Option<String>,
    /// `owner/name`.
    pub repository: Option<String>,
    pub event_path: Option<PathBuf>,
    pub run_id: Option<String>,
    pub step_summary: Option<PathBuf>,
}

impl GithubEnv {
    pub fn from_process() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            api_url: var("GITHUB_API_URL"),
            server_url: var("GITHUB_SERVER_URL"),
            token: var("GITHUB_TOKEN"),
            repository: var("GITHUB_REPOSITORY"),
            event_path: var("GITHUB_EVENT_PATH").map(PathBuf::from),
            run_id: var("GITHUB_RUN_ID"),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }
}

/// What the event payload says about the pull request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PullRequest {
    pub number: Option<u64>,
    pub head_sha: Option<String>,
    /// The head repository is not the base repository (or is gone): the token is read-only.
    pub from_fork: bool,
}

/// Reads a `pull_request` / `pull_request_target` payload (or an `issue_comment` on a pull
/// request, which has the number only).
pub fn pull_request(payload: &serde_json::Value) -> PullRequest {
    if let Some(pr) = payload.get("pull_request").filter(|v| v.is_object()) {
        let full_name = |side: &str| {
            pr.get(side)
                .and_then(|s| s.get("repo"))
                .and_then(|r| r.get("full_name"))
                .and_then(|n| n.as_str())
        };
        let (head, base) = (full_name("head"), full_name("base"));
        return PullRequest {
            number: pr.get("number").and_then(|n| n.as_u64()),
            head_sha: pr
                .get("head")
                .and_then(|h| h.get("sha"))
                .and_then(|s| s.as_str())
                .map(str::to_owned),
            from_fork: match (head, base) {
                (Some(h), Some(b)) => !h.eq_ignore_ascii_case(b),
                // A deleted fork leaves `head.repo` null.
                (None, Some(_)) => true,
                _ => false,
            },
        };
    }
    let issue_pr = payload
        .get("issue")
        .filter(|i| i.get("pull_request").is_some());
    PullRequest {
        number: issue_pr
            .and_then(|i| i.get("number"))
            .and_then(|n| n.as_u64()),
        ..PullRequest::default()
    }
}

/// What happened to the comment.
#[derive(Debug)]
pub enum Posted {
    Created(Comment),
    Updated(Comment),
    /// The comment already said exactly this.
    Unchanged(Comment),
    /// No review comment exists and none was to be created.
    NothingToUpdate,
}

/// Edits the pull request's comment that starts with `marker`, or creates it (unless
/// `update_only`). Extra marked comments are deleted. A create that fails transiently is
/// retried only after listing again, so a create whose answer was lost is not repeated.
pub fn upsert(
    client: &Client,
    repo: &str,
    number: u64,
    marker: &str,
    body: &str,
    update_only: bool,
) -> Result<(Posted, usize), GithubError> {
    let retry = client.retry();
    let mut attempt = 0;
    loop {
        let comments = client.list_comments(repo, number)?;
        let mut mine = comments
            .into_iter()
            .filter(|c| c.body().starts_with(marker));
        if let Some(first) = mine.next() {
            let duplicates: Vec<Comment> = mine.collect();
            let posted = if first.body() == body {
                Posted::Unchanged(first)
            } else {
                Posted::Updated(client.update_comment(repo, first.id, body)?)
            };
            for dup in &duplicates {
                client.delete_comment(repo, dup.id)?;
            }
            return Ok((posted, duplicates.len()));
        }
        if update_only {
            return Ok((Posted::NothingToUpdate, 0));
        }
        match client.create_comment(repo, number, body) {
            Ok(c) => return Ok((Posted::Created(c), 0)),
            Err(e) if e.is_transient() && attempt + 1 < retry.attempts => {
                std::thread::sleep(retry.delay(attempt));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `pr-comment` as the command line would (`argv` after `pr-comment`), with `env` as the
/// GitHub Actions environment.
pub fn run_cli<I, T>(argv: I, env: &GithubEnv) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("pr-comment"))
        .chain(argv.into_iter().map(Into::into));
    match PrCommentArgs::try_parse_from(argv) {
        Ok(args) => run(&args, env),
        Err(e) => compat::clap_outcome(&e),
    }
}

pub fn run(args: &PrCommentArgs, env: &GithubEnv) -> Outcome {
    let mut stderr = String::new();
    let prepared = match prepare(args, env, &mut stderr) {
        Ok(p) => p,
        Err(e) => {
            let mut o = Outcome::error(&e);
            o.stderr = format!("{stderr}{}", o.stderr);
            return o;
        }
    };
    let mut outcome = Outcome {
        stdout: format!("{}{}", prepared.full, prepared.footer),
        stderr,
        code: 0,
        report: prepared.report,
    };
    let fail = |mut o: Outcome, e: anyhow::Error| {
        o.stderr.push_str(&format!("error: {e:#}\n"));
        o.code = compat::EXIT_USAGE;
        o
    };
    if let Some(path) = &env.step_summary {
        let whole = match &args.common.output {
            Some(file) => format!("`{}`, this step's `--output`", file.display()),
            None => format!(
                "`cargo xtask pr-comment --against {} --dry-run`",
                args.against
            ),
        };
        let mut summary = review::fit(&prepared.full, "", review::SUMMARY, &whole);
        if prepared.pr.from_fork && !args.dry_run {
            summary.push_str(
                "\n_This pull request comes from a fork, whose token may not comment: the review \
                 is here instead of on the pull request._\n",
            );
        }
        if let Err(e) = append(path, &summary) {
            return fail(outcome, e);
        }
    }
    if args.dry_run {
        outcome
            .stderr
            .push_str("pr-comment: --dry-run: nothing posted\n");
        return outcome;
    }
    if prepared.pr.from_fork {
        outcome.stderr.push_str(
            "::notice title=Schema review::This pull request comes from a fork: its token is \
             read-only, so the review is in the job summary instead of a comment.\n",
        );
        return outcome;
    }
    let (token, repo, number) = match (&env.token, &env.repository, prepared.pr.number) {
        (Some(t), Some(r), Some(n)) => (t, r, n),
        (None, _, _) => {
            return fail(
                outcome,
                anyhow::anyhow!(
                    "GITHUB_TOKEN is not set: pass `env: GITHUB_TOKEN: ${{{{ github.token }}}}` \
                     to the step (or use --dry-run)"
                ),
            )
        }
        (_, None, _) => {
            return fail(
                outcome,
                anyhow::anyhow!("GITHUB_REPOSITORY (owner/name) is not set"),
            )
        }
        (_, _, None) => {
            return fail(
                outcome,
                anyhow::anyhow!(
                    "no pull request number: the event payload (GITHUB_EVENT_PATH) is not a pull \
                     request event; pass --pr NUMBER"
                ),
            )
        }
    };
    if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
        return fail(
            outcome,
            anyhow::anyhow!("GITHUB_REPOSITORY is `{repo}`, not `owner/name`"),
        );
    }
    let api = env.api_url.as_deref().unwrap_or("https://api.github.com");
    let retry = Retry {
        attempts: args.attempts.max(1),
        base: Duration::from_millis(args.retry_base_ms),
    };
    let client = Client::new(api, token, retry);
    let body = review::fit(
        &prepared.full,
        &prepared.footer,
        review::COMMENT,
        &prepared.full_report,
    );
    match upsert(
        &client,
        repo,
        number,
        review::MARKER,
        &body,
        prepared.update_only,
    ) {
        Ok((posted, removed)) => {
            let url = |c: &Comment| c.html_url.clone().unwrap_or_else(|| format!("#{}", c.id));
            let line = match &posted {
                Posted::Created(c) => format!("created review comment {} ({})", c.id, url(c)),
                Posted::Updated(c) => format!("updated review comment {} ({})", c.id, url(c)),
                Posted::Unchanged(c) => {
                    format!("review comment {} already says this ({})", c.id, url(c))
                }
                Posted::NothingToUpdate => {
                    "schemas/ is unchanged and there is no review comment: nothing to post".into()
                }
            };
            outcome.stderr.push_str(&format!("pr-comment: {line}\n"));
            if removed > 0 {
                outcome.stderr.push_str(&format!(
                    "pr-comment: deleted {removed} duplicate review comment(s)\n"
                ));
            }
        }
        Err(e) => {
            outcome.stderr.push_str(&format!("error: {e}\n"));
            outcome.code = e.exit_code();
        }
    }
    outcome
}

struct Prepared {
    /// The whole review (never cut).
    full: String,
    footer: String,
    full_report: String,
    update_only: bool,
    pr: PullRequest,
    report: Option<engine::Report>,
}

fn prepare(args: &PrCommentArgs, env: &GithubEnv, stderr: &mut String) -> anyhow::Result<Prepared> {
    let pr = match &env.event_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the event payload {}", path.display()))?;
            let payload: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("the event payload {} is not JSON", path.display()))?;
            pull_request(&payload)
        }
        None => PullRequest::default(),
    };
    let pr = PullRequest {
        number: args.pr.or(pr.number),
        ..pr
    };
    if args.attempts == 0 {
        bail!("--attempts must be at least 1");
    }
    let root = args
        .common
        .repo
        .clone()
        .unwrap_or_else(compat::workspace_root);
    let loaded = compat::load(&root, &args.against, None, &args.common.release_tags)?;
    for n in &loaded.notes {
        stderr.push_str(&format!("{n}\n"));
    }
    let full_report = match &args.full_report {
        Some(t) => t.clone(),
        None => match (&env.repository, &env.run_id) {
            (Some(repo), Some(run)) => format!(
                "the job summary of [run {run}]({}/{repo}/actions/runs/{run})",
                env.server_url.as_deref().unwrap_or("https://github.com")
            ),
            _ => format!(
                "`cargo xtask pr-comment --against {} --dry-run`",
                loaded.rev.short()
            ),
        },
    };
    let today = allow::today();
    let allow = compat::read_allow(&args.common, &root, today)?;
    let allow_file = allow
        .as_ref()
        .map(|a| a.label.clone())
        .unwrap_or_else(|| compat::DEFAULT_ALLOW.to_owned());
    let ctx = Context {
        base: &loaded.rev.commit,
        head: pr.head_sha.as_deref(),
        allow_file: &allow_file,
        full_report: &full_report,
        today,
    };
    let footer = review::footer(&ctx);
    if loaded.old == loaded.new {
        return Ok(Prepared {
            full: review::no_change(&ctx),
            footer,
            full_report,
            update_only: true,
            pr,
            report: None,
        });
    }
    let mut report = engine::check_catalogs(
        &loaded.old,
        &loaded.new,
        &loaded.history,
        &compat::options(args.common.semantics, None),
    )
    .map_err(|e| compat::engine_error(e, Some(&loaded.rev)))?;
    if let Some(list) = &allow {
        for w in list.apply(&mut report.findings) {
            stderr.push_str(&format!("{w}\n"));
        }
    }
    let changelog = Changelog::new(
        &report,
        Against {
            rev: loaded.rev.name.clone(),
            commit: loaded.rev.commit.clone(),
        },
    )
    .markdown();
    Ok(Prepared {
        full: review::review(&report, &changelog, &ctx),
        footer,
        full_report,
        update_only: false,
        pr,
        report: Some(report),
    })
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the job summary {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing the job summary {}", path.display()))
}
