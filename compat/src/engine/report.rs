//! Report ordering.

use super::*;

pub(super) fn verdict_rank(v: Verdict) -> u8 {
    match v {
        Verdict::Incompatible => 0,
        Verdict::Unknown => 1,
        Verdict::Compatible => 2,
    }
}

pub fn sort_report(r: &mut Report) {
    r.findings.sort_by(|a, b| {
        (
            &a.system,
            &a.event,
            verdict_rank(a.verdict),
            &a.path,
            a.rule,
            &a.against_version,
        )
            .cmp(&(
                &b.system,
                &b.event,
                verdict_rank(b.verdict),
                &b.path,
                b.rule,
                &b.against_version,
            ))
    });
    r.findings.dedup_by(|a, b| {
        a.rule == b.rule
            && a.path == b.path
            && a.system == b.system
            && a.event == b.event
            && a.message == b.message
            && a.against_version == b.against_version
    });
    r.events
        .sort_by(|a, b| (&a.system, &a.event).cmp(&(&b.system, &b.event)));
}
