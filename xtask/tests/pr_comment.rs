//! `cargo xtask pr-comment` against a local stand-in for GitHub's REST API
//! (tests/support/github.rs) and throwaway git repositories: one sticky comment, created once
//! and edited after; found among many pages of comments; cut when too long; fork pull requests
//! answered in the job summary; GitHub's errors as one line and a distinct exit code; 5xx
//! retried a bounded number of times; and a snapshot of the comment for a real break.

mod common;
#[path = "support/github.rs"]
mod github;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use github::{FakeGithub, Fault, REPO_ID};
use xtask::compat::Outcome;
use xtask::pr_comment::{self, GithubEnv};
use xtask::review::{COMMENT_LIMIT, MARKER};

const TOKEN: &str = "ghs_test_token";
const REPO: &str = "acme/shop";
const PR: u64 = 7;
const HEAD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// A throwaway repository, the fake GitHub, and the files GitHub Actions would provide.
struct Setup {
    repo: Repo,
    github: FakeGithub,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(repo: Repo) -> Self {
        let setup = Self {
            repo,
            github: FakeGithub::start(TOKEN, REPO, PR),
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        setup.payload(PR, REPO);
        setup
    }

    fn payload(&self, number: u64, head_repo: &str) {
        let payload = serde_json::json!({
            "action": "synchronize",
            "number": number,
            "pull_request": {
                "number": number,
                "head": { "sha": HEAD_SHA, "repo": { "full_name": head_repo } },
                "base": { "sha": "f".repeat(40), "repo": { "full_name": REPO } },
            },
        });
        std::fs::write(self.event_path(), payload.to_string()).expect("write the payload");
    }

    fn event_path(&self) -> PathBuf {
        self.dir.path().join("event.json")
    }

    fn summary_path(&self) -> PathBuf {
        self.dir.path().join("step_summary.md")
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.summary_path()).unwrap_or_default()
    }

    fn env(&self) -> GithubEnv {
        GithubEnv {
            api_url: Some(self.github.url.clone()),
            server_url: Some("https://github.example".into()),
            token: Some(TOKEN.into()),
            repository: Some(REPO.into()),
            event_path: Some(self.event_path()),
            run_id: Some("77".into()),
            step_summary: Some(self.summary_path()),
        }
    }

    /// `cargo xtask pr-comment --repo <repo> --against main --retry-base-ms 1 ARGS…`
    fn run_with(&self, env: &GithubEnv, args: &[&str]) -> Outcome {
        let mut argv = vec![
            "--repo".to_owned(),
            self.repo.root_arg(),
            "--against".into(),
            "main".into(),
            "--retry-base-ms".into(),
            "1".into(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        pr_comment::run_cli(argv, env)
    }

    fn run(&self) -> Outcome {
        self.run_with(&self.env(), &[])
    }
}

fn break_required_currency(repo: &Repo) {
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            required: vec!["currency"],
            properties: vec![("currency", r#"{ "type": "string" }"#)],
            ..OrderPlaced::default()
        }),
    );
}

fn optional_currency(repo: &Repo) {
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            properties: vec![("currency", r#"{ "type": "string" }"#)],
            ..OrderPlaced::default()
        }),
    );
}

fn breaking() -> Setup {
    let repo = Repo::with_catalog();
    break_required_currency(&repo);
    Setup::new(repo)
}

#[test]
fn the_first_run_creates_the_comment_and_later_runs_edit_the_same_one() {
    let s = breaking();
    {
        let mut state = s.github.state();
        state.add_comment("LGTM", "alice");
        // A reply quoting the review does not start with the marker: not ours.
        state.add_comment(&format!("> {MARKER}\n> ## Schema review\n\nwhy?"), "bob");
    }
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("created review comment 1002"),
        "{}",
        o.stderr
    );
    let first = {
        let state = s.github.state();
        let marked = state.marked(MARKER);
        assert_eq!(marked.len(), 1, "{:#?}", state.comments);
        assert_eq!(state.comments.len(), 3);
        assert_eq!(marked[0].login, "github-actions[bot]");
        let body = &marked[0].body;
        assert!(
            body.contains("❌ **Fails: 1 breaking change not approved.**"),
            "{body}"
        );
        assert!(body.contains("**EC-D003**"), "{body}");
        assert!(body.contains("### Approving an intended break"), "{body}");
        assert!(body.contains("Updated for `0123456789`"), "{body}");
        assert!(
            body.contains("[run 77](https://github.example/acme/shop/actions/runs/77)"),
            "{body}"
        );
        // Every request carried the token and GitHub's headers; the create sent `{"body"}`.
        for r in &state.requests {
            assert_eq!(r.authorization.as_deref(), Some("Bearer ghs_test_token"));
            assert_eq!(r.accept.as_deref(), Some("application/vnd.github+json"));
            assert_eq!(r.api_version.as_deref(), Some("2022-11-28"));
            assert!(r
                .user_agent
                .as_deref()
                .is_some_and(|u| u.starts_with("event-contracts-xtask/")));
        }
        let methods: Vec<&str> = state.requests.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["GET", "POST"]);
        let post = &state.requests[1];
        assert_eq!(post.url, "/repos/acme/shop/issues/7/comments");
        assert_eq!(post.content_type.as_deref(), Some("application/json"));
        let sent: serde_json::Value = serde_json::from_str(&post.body).expect("JSON");
        assert_eq!(sent, serde_json::json!({ "body": body }));
        marked[0].id
    };
    // The job summary has the review too.
    assert!(s.summary().contains("**EC-D003**"), "{}", s.summary());

    // Same schemas: nothing to edit.
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("already says this"), "{}", o.stderr);
    assert_eq!(s.github.state().count("PATCH"), 0);

    // A new push makes the change compatible: the same comment is edited.
    optional_currency(&s.repo);
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("updated review comment {first}")),
        "{}",
        o.stderr
    );
    {
        let state = s.github.state();
        let marked = state.marked(MARKER);
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0].id, first);
        assert!(
            marked[0].body.contains("✅ **Compatible:**"),
            "{}",
            marked[0].body
        );
        assert!(marked[0].body.contains("**EC-D001**"), "{}", marked[0].body);
        assert_eq!(state.count("POST"), 1);
        let patch = state
            .requests
            .iter()
            .find(|r| r.method == "PATCH")
            .expect("a PATCH");
        assert_eq!(
            patch.url,
            format!("/repos/acme/shop/issues/comments/{first}")
        );
    }

    // The pull request stops changing schemas/: the comment says so.
    s.repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced::default()),
    );
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    let state = s.github.state();
    let marked = state.marked(MARKER);
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].id, first);
    assert!(
        marked[0]
            .body
            .contains("this pull request no longer changes `schemas/`"),
        "{}",
        marked[0].body
    );
    assert_eq!(state.count("POST"), 1);
}

#[test]
fn a_pull_request_that_never_changed_schemas_gets_no_comment() {
    let s = Setup::new(Repo::with_catalog());
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("nothing to post"), "{}", o.stderr);
    let state = s.github.state();
    assert_eq!(state.count("POST"), 0);
    assert_eq!(state.count("GET"), 1);
    assert!(state.comments.is_empty());
}

#[test]
fn the_review_is_found_among_120_comments_on_three_pages() {
    let s = breaking();
    let ours = {
        let mut state = s.github.state();
        // Pages smaller than asked for: the client must follow the Link header, not count.
        state.max_per_page = 50;
        let mut ours = 0;
        for i in 0..120 {
            if i == 114 {
                ours = state.add_comment(
                    &format!("{MARKER}\n## Schema review\n\nold"),
                    "github-actions[bot]",
                );
            } else {
                state.add_comment(&format!("comment {i}"), "alice");
            }
        }
        ours
    };
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("updated review comment {ours}")),
        "{}",
        o.stderr
    );
    let state = s.github.state();
    let gets: Vec<&str> = state
        .requests
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.url.as_str())
        .collect();
    // The second page is fetched from the URL the Link header gave, not one built by the client.
    assert_eq!(
        gets,
        [
            "/repos/acme/shop/issues/7/comments?per_page=100".to_owned(),
            format!("/repositories/{REPO_ID}/issues/7/comments?page=2&per_page=50"),
            format!("/repositories/{REPO_ID}/issues/7/comments?page=3&per_page=50"),
        ]
    );
    assert_eq!(state.count("POST"), 0);
    assert_eq!(state.comments.len(), 120);
    assert!(state.marked(MARKER)[0].body.contains("**EC-D003**"));
}

#[test]
fn the_token_is_not_sent_to_a_next_page_outside_the_api() {
    let s = breaking();
    {
        let mut state = s.github.state();
        state.link_base = Some("http://127.0.0.1:9".into());
        for i in 0..101 {
            state.add_comment(&format!("comment {i}"), "alice");
        }
    }
    let o = s.run();
    assert_eq!(o.code, 8, "{}", o.stderr);
    assert!(
        error_line(&o).contains("the next page is outside the API (http://127.0.0.1:9/"),
        "{}",
        o.stderr
    );
    assert_eq!(s.github.state().requests.len(), 1);
}

#[test]
fn a_second_review_comment_left_by_a_race_is_deleted() {
    let s = breaking();
    let (first, second) = {
        let mut state = s.github.state();
        let a = state.add_comment(&format!("{MARKER}\nold one"), "github-actions[bot]");
        state.add_comment("hello", "alice");
        let b = state.add_comment(&format!("{MARKER}\nold two"), "github-actions[bot]");
        (a, b)
    };
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("deleted 1 duplicate"), "{}", o.stderr);
    let state = s.github.state();
    let marked = state.marked(MARKER);
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].id, first);
    assert!(state.comments.iter().all(|c| c.id != second));
}

#[test]
fn an_overlong_review_is_cut_at_a_finding_and_says_where_the_rest_is() {
    let repo = Repo::with_catalog();
    // 200 new required properties: 200 breaks, each with its counterexample.
    let names: Vec<&'static str> = (0..200)
        .map(|i| &*Box::leak(format!("field_{i:03}").into_boxed_str()))
        .collect();
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            required: names.clone(),
            properties: names
                .iter()
                .map(|n| (*n, r#"{ "type": "string" }"#))
                .collect(),
            ..OrderPlaced::default()
        }),
    );
    let s = Setup::new(repo);
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.len() > COMMENT_LIMIT,
        "the whole review is {} bytes",
        o.stdout.len()
    );
    let state = s.github.state();
    let body = &state.marked(MARKER)[0].body;
    assert!(body.len() <= COMMENT_LIMIT, "{} bytes", body.len());
    assert!(body.contains("❌ **Fails: 200 breaking changes not approved.**"));
    let shown = body.lines().filter(|l| l.starts_with("- **EC-")).count();
    let all = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("- **EC-"))
        .count();
    assert!(shown > 10 && shown < all, "{shown} of {all} findings shown");
    assert!(
        body.contains(&format!(
            "{} more findings are not shown. The whole review: the job summary of [run 77]",
            all - shown
        )),
        "{}",
        &body[body.len() - 600..]
    );
    // Cut between findings: every counterexample block that was opened is closed.
    assert_eq!(
        body.matches("<details>").count(),
        body.matches("</details>").count()
    );
    assert_eq!(body.matches("```").count() % 2, 0);
    // The job summary has all of it.
    let summary = s.summary();
    assert_eq!(
        summary.lines().filter(|l| l.starts_with("- **EC-")).count(),
        all
    );
}

#[test]
fn a_pull_request_from_a_fork_gets_its_review_in_the_job_summary() {
    let s = breaking();
    s.payload(PR, "someone/shop");
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("::notice title=Schema review::"),
        "{}",
        o.stderr
    );
    assert!(
        s.github.state().requests.is_empty(),
        "a fork's read-only token is not used"
    );
    let summary = s.summary();
    assert!(summary.contains("**EC-D003**"), "{summary}");
    assert!(summary.contains("comes from a fork"), "{summary}");
}

/// The single `error: …` line of an outcome.
fn error_line(o: &Outcome) -> &str {
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {}", o.stderr);
    errors[0]
}

#[test]
fn github_refusals_are_one_line_with_a_distinct_exit_code_and_are_not_retried() {
    // 401: a wrong token, refused by the server's own check.
    let s = breaking();
    let mut env = s.env();
    env.token = Some("expired".into());
    let o = s.run_with(&env, &[]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    let line = error_line(&o);
    assert!(
        line.contains("GitHub answered 401 to GET /repos/acme/shop/issues/7/comments"),
        "{line}"
    );
    assert!(
        line.contains("Bad credentials") && line.contains("check GITHUB_TOKEN"),
        "{line}"
    );
    assert_eq!(s.github.state().requests.len(), 1);

    // 404: a pull request that does not exist.
    let s = breaking();
    s.payload(8, REPO);
    let o = s.run();
    assert_eq!(o.code, 6, "{}", o.stderr);
    assert!(
        error_line(&o).contains("GitHub answered 404"),
        "{}",
        o.stderr
    );

    // 403 on create (no `pull-requests: write`), 422 on update.
    let s = breaking();
    s.github.state().faults.push_back(Fault {
        method: Some("POST"),
        status: 403,
        after_serving: false,
    });
    let o = s.run();
    assert_eq!(o.code, 5, "{}", o.stderr);
    let line = error_line(&o);
    assert!(
        line.contains("403 to POST") && line.contains("Resource not accessible by integration"),
        "{line}"
    );
    assert!(line.contains("pull-requests: write"), "{line}");
    assert_eq!(s.github.state().count("POST"), 1, "a 403 is not retried");

    let s = breaking();
    s.github
        .state()
        .add_comment(&format!("{MARKER}\nold"), "github-actions[bot]");
    s.github.state().faults.push_back(Fault {
        method: Some("PATCH"),
        status: 422,
        after_serving: false,
    });
    let o = s.run();
    assert_eq!(o.code, 7, "{}", o.stderr);
    let line = error_line(&o);
    assert!(
        line.contains("422 to PATCH") && line.contains("body is too long"),
        "{line}"
    );
}

#[test]
fn unavailable_github_is_retried_with_backoff_a_bounded_number_of_times() {
    // Two 503/502 answers, then GitHub is back: the run succeeds.
    let s = breaking();
    for status in [503, 502] {
        s.github.state().faults.push_back(Fault {
            method: None,
            status,
            after_serving: false,
        });
    }
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(s.github.state().count("GET"), 3);
    assert_eq!(s.github.state().marked(MARKER).len(), 1);

    // Down for good: 3 tries with --attempts 3, then exit 8, quickly with a 1 ms base.
    let s = breaking();
    for _ in 0..10 {
        s.github.state().faults.push_back(Fault {
            method: None,
            status: 503,
            after_serving: false,
        });
    }
    let started = Instant::now();
    let o = s.run_with(&s.env(), &["--attempts", "3"]);
    assert_eq!(o.code, 8, "{}", o.stderr);
    assert!(started.elapsed() < Duration::from_secs(5));
    let line = error_line(&o);
    assert!(line.contains("failed 3 times, last: HTTP 503"), "{line}");
    assert_eq!(s.github.state().requests.len(), 3);
}

#[test]
fn a_create_whose_answer_was_lost_is_not_repeated() {
    let s = breaking();
    // GitHub stores the comment, but the answer is a 502.
    s.github.state().faults.push_back(Fault {
        method: Some("POST"),
        status: 502,
        after_serving: true,
    });
    let o = s.run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    let state = s.github.state();
    assert_eq!(state.count("POST"), 1, "the create is not sent twice");
    assert_eq!(state.marked(MARKER).len(), 1);
    assert!(o.stderr.contains("already says this"), "{}", o.stderr);
}

#[test]
fn configuration_errors_exit_3() {
    let s = breaking();
    let mut env = s.env();
    env.token = None;
    let o = s.run_with(&env, &[]);
    assert_eq!(o.code, 3);
    assert!(
        error_line(&o).contains("GITHUB_TOKEN is not set"),
        "{}",
        o.stderr
    );
    let mut env = s.env();
    env.event_path = None;
    let o = s.run_with(&env, &[]);
    assert_eq!(o.code, 3);
    assert!(error_line(&o).contains("pass --pr NUMBER"), "{}", o.stderr);
    // --pr stands in for the payload.
    let o = s.run_with(&env, &["--pr", "7"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    std::fs::write(s.event_path(), "{ not json").expect("write");
    let o = s.run();
    assert_eq!(o.code, 3);
    assert!(error_line(&o).contains("is not JSON"), "{}", o.stderr);
    assert_eq!(s.run_with(&s.env(), &["--against", "nope"]).code, 3);
}

#[test]
fn the_binary_reads_the_github_actions_environment() {
    let s = breaking();
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let run = |token: &str| {
        std::process::Command::new(xtask)
            .args([
                "pr-comment",
                "--repo",
                &s.repo.root_arg(),
                "--against",
                "main",
            ])
            .env("GITHUB_API_URL", &s.github.url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_TOKEN", token)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_EVENT_PATH", s.event_path())
            .env("GITHUB_RUN_ID", "77")
            .env("GITHUB_STEP_SUMMARY", s.summary_path())
            .output()
            .expect("xtask runs")
    };
    let out = run(TOKEN);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.github.state().marked(MARKER).len(), 1);
    let out = run("wrong");
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a reviewer sees for a real break: the comment as composed for the snapshot scenario
/// of tests/compat.rs (a required property added, an optional one added elsewhere), with the
/// commit ids of the throwaway repository redacted. README.md shows this same text.
fn breaking_review() -> String {
    let s = breaking();
    s.repo.write(
        "schemas/shop/events/order.shipped.json",
        &ORDER_SHIPPED.replace(
            r#""carrier": { "type": "string", "enum": ["dhl", "ups"] }"#,
            r#""carrier": { "type": "string", "enum": ["dhl", "ups"] },
    "tracking_url": { "type": "string" }"#,
        ),
    );
    let o = s.run_with(&s.env(), &["--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        s.github.state().requests.is_empty(),
        "--dry-run posts nothing"
    );
    redact_expiry(&redact_commits(&s.repo, &o.stdout))
}

/// Suggested entries expire 90 days after the day the review is written.
fn redact_expiry(text: &str) -> String {
    const KEY: &str = "\"expires\": \"";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(KEY) {
        let (head, tail) = rest.split_at(i + KEY.len());
        out.push_str(head);
        out.push_str("<today + 90 days>");
        rest = tail.get(10..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[test]
fn snapshot_of_the_comment_for_a_breaking_change() {
    insta::assert_snapshot!("pr_comment_breaking", breaking_review());
}

#[test]
fn the_readme_shows_the_comment_as_it_is() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .expect("README.md");
    let start = "<!-- pr-comment-example:start -->\n````markdown\n";
    let end = "````\n<!-- pr-comment-example:end -->";
    let from = readme.find(start).expect("the example's start marker") + start.len();
    let to = readme[from..].find(end).expect("the example's end marker") + from;
    assert_eq!(
        &readme[from..to],
        breaking_review(),
        "README.md's example comment is not what pr-comment writes: update it from the snapshot"
    );
}
