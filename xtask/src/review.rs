//! The schema review as a pull-request comment: the verdict first (does this check fail, and
//! why), then the changelog of `cargo xtask diff`, then how to approve an intended break.
//!
//! The comment starts with a hidden [`MARKER`] so that `pr-comment` finds its own comment
//! again. A body longer than GitHub accepts is cut at a finding boundary (the start of a
//! finding or a heading) with a line saying where the whole review is.

use std::fmt::Write;

use event_contracts_compat::Report;

use crate::compat::allow;

/// The first line of every review comment, invisible when rendered.
pub const MARKER: &str = "<!-- event-contracts:schema-review -->";
/// GitHub refuses a comment body over 65,536 characters. Counting bytes instead keeps every
/// body under it whichever way GitHub counts (UTF-8 bytes are never fewer than characters or
/// UTF-16 units).
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub Actions refuses a step summary over 1 MiB.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// A size a body must fit, and how the cut notice names it.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub bytes: usize,
    pub what: &'static str,
}

/// A pull-request comment.
pub const COMMENT: Limit = Limit {
    bytes: COMMENT_LIMIT,
    what: "a GitHub comment may be (65,536 characters)",
};
/// A job summary.
pub const SUMMARY: Limit = Limit {
    bytes: SUMMARY_LIMIT,
    what: "a job summary may be (1 MiB)",
};

/// What the review compares and where the rest of it can be found.
pub struct Context<'a> {
    /// The old side: the merge base's commit id (or whatever `--against` named).
    pub base: &'a str,
    /// The commit under review (the pull request's head), when known.
    pub head: Option<&'a str>,
    /// The allow-list file named in the approval instructions.
    pub allow_file: &'a str,
    /// Where the whole review is, when the comment has to be cut (Markdown, e.g. a link to the
    /// run's job summary).
    pub full_report: &'a str,
    /// The day the review is composed: suggested allow-list entries expire relative to it.
    pub today: time::Date,
}

fn short(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..10]
    } else {
        rev
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The review of a report: verdict, changelog (`cargo xtask diff --format markdown`, whose own
/// title is replaced by the comparison line), approval instructions, footer. Not yet cut to
/// any limit.
pub fn review(report: &Report, changelog: &str, ctx: &Context<'_>) -> String {
    let failing: Vec<_> = report.failing().collect();
    let approved = report
        .findings
        .iter()
        .filter(|f| f.allowed.is_some() && allow::fails(f))
        .count();
    let undecided = failing
        .iter()
        .filter(|f| f.verdict == event_contracts_compat::Verdict::Unknown)
        .count();
    let breaking = failing.len() - undecided;
    let mut out = format!("{MARKER}\n## Schema review\n\n");
    let allow_file = ctx.allow_file;
    match report.exit_code() {
        0 if approved > 0 => writeln!(
            out,
            "✅ **Passes with approved breaks:** {} approved in `{allow_file}` (listed below as allowed).",
            plural(approved, "breaking change is", "breaking changes are")
        ),
        0 => writeln!(out, "✅ **Compatible:** no change breaks an event contract."),
        1 => {
            let mut line = format!(
                "❌ **Fails: {} not approved",
                plural(breaking, "breaking change", "breaking changes")
            );
            if undecided > 0 {
                write!(line, ", {} undecided", plural(undecided, "change", "changes")).ok();
            }
            writeln!(
                out,
                "{line}.** Make each change compatible, publish it as a new event version, or \
                 approve it in `{allow_file}` (see _Approving an intended break_ below)."
            )
        }
        _ => writeln!(
            out,
            "⚠️ **Fails: {} could not be decided.** Review each by hand and approve it in \
             `{allow_file}` if it is safe (see _Approving an intended break_ below).",
            plural(undecided, "change", "changes")
        ),
    }
    .ok();
    let head = ctx
        .head
        .map(|h| format!(" with this pull request at `{}`", short(h)))
        .unwrap_or_else(|| " with this pull request".to_owned());
    writeln!(
        out,
        "\nCompared `schemas/` at the merge base `{}`{head}.\n",
        short(ctx.base)
    )
    .ok();
    let mut lines = changelog.lines().peekable();
    while lines
        .next_if(|l| l.starts_with("# ") || l.is_empty())
        .is_some()
    {}
    for line in lines {
        // The comment's own title is a level-2 heading: every changelog heading goes one down.
        if line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    if !failing.is_empty() {
        writeln!(
            out,
            "### Approving an intended break\n\n\
             When a break is intended and safe (no consumer reads what changed, or every consumer \
             upgrades first), add an entry to `{allow_file}` saying why, and push it with this \
             pull request: the review then lists the break as allowed and passes. `expires` \
             (YYYY-MM-DD) ends an approval. Entries for the findings above (replace each reason):\n"
        )
        .ok();
        out.push_str("```json\n");
        out.push_str(&allow::entries_text(&allow::suggest(
            &report.findings,
            ctx.today,
        )));
        out.push_str("```\n\n");
    }
    out
}

/// The comment when the pull request (no longer) changes `schemas/`.
pub fn no_change(ctx: &Context<'_>) -> String {
    format!(
        "{MARKER}\n## Schema review\n\n✅ **No schema change:** this pull request no longer \
         changes `schemas/` (compared with the merge base `{}`). Nothing to review.\n\n",
        short(ctx.base)
    )
}

/// The line at the end of every comment (after the blank line every body ends with).
pub fn footer(ctx: &Context<'_>) -> String {
    let head = ctx
        .head
        .map(|h| format!(" for `{}`", short(h)))
        .unwrap_or_default();
    format!(
        "<sub>Updated{head} by `cargo xtask pr-comment` on every push. The whole review: {}.</sub>\n",
        ctx.full_report
    )
}

/// Whether a line starts a unit the body may be cut before: a heading or a finding.
fn is_boundary(line: &str) -> bool {
    line.starts_with('#') || line.starts_with("- **")
}

/// `body` + `footer` within `limit`. A body that does not fit is cut before the last finding or
/// heading that still fits, and a line says how many findings were left out and where the whole
/// review is (`full_report`). The review's first heading and verdict are never cut.
pub fn fit(body: &str, footer: &str, limit: Limit, full_report: &str) -> String {
    if body.len() + footer.len() <= limit.bytes {
        return format!("{body}{footer}");
    }
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        if is_boundary(line) {
            starts.push(offset);
        }
        offset += line.len();
    }
    // The verdict sits between the first heading and the next boundary: keep at least that.
    let floor = starts.get(1).copied().unwrap_or(body.len());
    let notice = |cut: usize| {
        let left_out = body[cut..]
            .lines()
            .filter(|l| l.starts_with("- **"))
            .count();
        format!(
            "\n> [!WARNING]\n> **The review is cut here:** it is longer than {}; {} not \
             shown. The whole review: {full_report}.\n\n",
            limit.what,
            plural(left_out, "more finding is", "more findings are")
        )
    };
    let cut = starts
        .iter()
        .rev()
        .copied()
        .filter(|&s| s >= floor)
        .find(|&s| s + notice(s).len() + footer.len() <= limit.bytes)
        .unwrap_or(floor);
    format!("{}{}{footer}", &body[..cut], notice(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_body_is_kept_whole() {
        assert_eq!(fit("# a\nb\n", "f\n", COMMENT, "x"), "# a\nb\nf\n");
    }

    #[test]
    fn a_long_body_is_cut_before_a_finding_and_says_where_the_rest_is() {
        let mut body = String::from("## Schema review\n\nverdict\n\n");
        for i in 0..50 {
            body.push_str(&format!(
                "- **EC-D00{}** finding {i}\n  detail line\n",
                i % 10
            ));
        }
        let small = Limit {
            bytes: 600,
            what: "this test allows",
        };
        let out = fit(&body, "footer\n", small, "the job summary");
        assert!(out.len() <= 600, "{} bytes", out.len());
        assert!(out.starts_with("## Schema review\n\nverdict\n"));
        assert!(out.ends_with("footer\n"));
        let kept = out.lines().filter(|l| l.starts_with("- **")).count();
        assert!(kept > 0 && kept < 50);
        assert!(out.contains(&format!("{} more findings are not shown", 50 - kept)));
        assert!(out.contains("The whole review: the job summary."));
        // Every kept finding is whole: its detail line follows it.
        assert_eq!(out.matches("  detail line").count(), kept);
    }
}
