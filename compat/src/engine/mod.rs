//! Orchestration: the catalog walk. Loading ([`load`]), counterexample verification
//! ([`verify`]), the Rust-API rules ([`rust_api`]) and report ordering ([`report`]) live in
//! their own modules; this one matches events, compares messages and manifests, and assembles
//! the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use event_contracts_codegen::catalog::{Catalog, Loc, ID_BASE};
use event_contracts_codegen::manifest::{AlsoRead, Compatibility, Envelope, EventEntry};
use event_contracts_codegen::model::{Builder, Ty, TypeGraph, TypeId, TypeKind};
use event_contracts_codegen::source::SourceFile;
use event_contracts_runtime::display_pointer;
use heck::ToUpperCamelCase;
use serde_json::{json, Value};

use crate::compare::{shape_key, Change, Comparer, Dec};
use crate::dialect::Dialect;
use crate::finding::*;
use crate::rules::{self, Rule};
use crate::schema::{self, merge, Normalizer, Schema};
use crate::synth;
use crate::{fingerprint, CompatError, Options};

mod load;
mod report;
mod rust_api;
mod verify;

pub use load::Loaded;
use load::*;
pub use report::sort_report;
use rust_api::*;
pub use verify::rollout;
use verify::*;

fn channel_text(e: &EventEntry) -> String {
    serde_json::to_string(&e.channel).unwrap_or_default()
}

/// The envelope declaration as it shapes messages. `also_read` only tells consumers where else
/// to look for a role's value, so adding or removing a location changes no message.
fn envelope_text(e: &Envelope) -> String {
    let mut shaping = e.clone();
    if let Envelope::Wrapped { also_read, .. } = &mut shaping {
        *also_read = AlsoRead::default();
    }
    serde_json::to_string(&shaping).unwrap_or_default()
}

struct EventRun<'x> {
    findings: Vec<Finding>,
    bw: Verdict,
    fw: Verdict,
    _p: std::marker::PhantomData<&'x ()>,
}

/// Compares one event's messages between two sides.
#[allow(clippy::too_many_arguments)]
fn compare_event(
    sides: [&Loaded; 2],
    norms: [&mut Normalizer; 2],
    evs: [&Ev; 2],
    options: &Options,
    mode: Mode,
    system: &str,
    event: &str,
) -> Result<EventRun<'static>, CompatError> {
    let [no, nn] = norms;
    let mo = message(no, sides[0], evs[0]);
    let mn = message(nn, sides[1], evs[1]);
    for (n, side) in [(&*no, Side::Old), (&*nn, Side::New)] {
        if let Some(e) = n.errors.first() {
            return Err(CompatError::Parse {
                side,
                message: e.clone(),
            });
        }
    }
    let mut c = Comparer::new(options.semantics);
    c.compare(&mo.schema, &mn.schema);
    let mut ver = Verifier::new(sides, [&mo, &mn], options.semantics);
    let decided = decide_changes(
        &c.changes,
        &mut ver,
        sides,
        options,
        mode,
        Some(system),
        Some(event),
    );
    let mut bw = Verdict::Compatible;
    let mut fw = Verdict::Compatible;
    let mut findings = Vec::new();
    for d in decided {
        bw = worst(bw, d.bw);
        fw = worst(fw, d.fw);
        findings.push(d.finding);
    }
    Ok(EventRun {
        findings,
        bw,
        fw,
        _p: std::marker::PhantomData,
    })
}

pub fn check_catalogs(
    old: &[(String, String)],
    new: &[(String, String)],
    history: &[(String, Vec<(String, String)>)],
    options: &Options,
) -> Result<Report, CompatError> {
    let lo = Loaded::catalog(Side::Old, old)?;
    let ln = Loaded::catalog(Side::New, new)?;
    let hist: Vec<(String, Loaded)> = history
        .iter()
        .map(|(label, files)| Ok((label.clone(), Loaded::catalog(Side::Old, files)?)))
        .collect::<Result<_, CompatError>>()?;
    let eo = events(&lo.cat);
    let en = events(&ln.cat);
    let mut norm_o = Normalizer::new(&lo.cat, &options.path_prefix);
    let mut norm_n = Normalizer::new(&ln.cat, &options.path_prefix);
    let mut report = Report {
        format_version: crate::FORMAT_VERSION,
        ..Report::default()
    };
    // A side with a schema defined as itself is unusable; every schema file is normalised
    // up front, so a problem in any of them (not only in a compared event's) says so too.
    for (l, norm) in [(&lo, &mut norm_o), (&ln, &mut norm_n)] {
        norm.refuse_cycles();
        let files: Vec<String> = l
            .cat
            .files
            .keys()
            .filter(|p| !p.ends_with("manifest.json"))
            .cloned()
            .collect();
        for f in files {
            norm.node(&Loc::new(f, ""));
        }
    }
    let needs_graphs = eo.iter().any(|(k, _)| en.contains_key(k));
    let (go, gn) = if needs_graphs {
        (Some(graphs(&lo.cat)), Some(graphs(&ln.cat)))
    } else {
        (None, None)
    };
    let renamed_to = renames(&eo, &en, &mut norm_o, &mut norm_n);
    let renamed_from: HashMap<(&str, &str), &str> = renamed_to
        .iter()
        .map(|((system, old), new)| ((system.as_str(), new.as_str()), old.as_str()))
        .collect();
    let mut keys: BTreeSet<&(String, String)> = eo.keys().collect();
    keys.extend(en.keys());
    let loc_of = |l: &Loaded, loc: &Loc| Some(l.location(loc, &options.path_prefix));
    for key in keys {
        let (system, name) = (key.0.as_str(), key.1.as_str());
        let (o, n) = (eo.get(key), en.get(key));
        let declared = n
            .or(o)
            .map(|e| mode_of(e.entry.compatibility))
            .unwrap_or(Mode::Backward);
        let mode = options.mode.unwrap_or(declared);
        let (producers, consumers) = n
            .or(o)
            .map(|e| (e.entry.producers.clone(), e.entry.consumers.clone()))
            .unwrap_or_default();
        let mut summary = EventSummary {
            system: system.to_owned(),
            event: name.to_owned(),
            change: "unchanged",
            declared_mode: declared,
            backward: Verdict::Compatible,
            forward: Verdict::Compatible,
            rollout: Rollout::AnyOrder,
            producers,
            consumers,
            renamed: None,
        };
        let simple = |verdict: Verdict| Resolved {
            verdict,
            counterexample: None,
            keyword: None,
        };
        match (o, n) {
            (Some(o), None) => {
                summary.change = "removed";
                // An old producer still writes it; the new catalog has no schema for it.
                let mo = message(&mut norm_o, &lo, o);
                let mut counterexample = None;
                if let Ok(v) = compile(&lo.docs, &mo.validator_schema, mo.dialect) {
                    let base = mo
                        .examples
                        .iter()
                        .find(|e| v.is_valid(e))
                        .cloned()
                        .or_else(|| synth::synth(&mo.schema, false).filter(|e| v.is_valid(e)));
                    counterexample = base.map(|m| Counterexample {
                        message: m,
                        accepted_by: Side::Old,
                        rejected_because: format!(
                            "{}: no event `{name}` in system `{system}` of the new catalog",
                            display_pointer("")
                        ),
                    });
                }
                let bw = Resolved {
                    verdict: if counterexample.is_some() {
                        Verdict::Incompatible
                    } else {
                        Verdict::Unknown
                    },
                    keyword: counterexample.is_none().then(|| "event".to_owned()),
                    counterexample,
                };
                let fw = simple(Verdict::Compatible);
                let r = combine(mode, &bw, &fw);
                let renamed = renamed_to.get(key).and_then(|new_name| {
                    Some((new_name, en.get(&(key.0.clone(), new_name.clone()))?))
                });
                report.findings.push(match renamed {
                    Some((new_name, added)) => {
                        summary.renamed = Some(new_name.clone());
                        finding(
                            &rules::EVENT_RENAMED,
                            &r,
                            Some(system),
                            Some(name),
                            mode,
                            "",
                            format!(
                                "event `{name}` removed and `{new_name}` added: looks like a rename of `{name}` (same schema)"
                            ),
                            &format!("renamed to {new_name:?}"),
                            loc_of(&lo, &o.manifest_loc()),
                            loc_of(&ln, &added.manifest_loc()),
                        )
                    }
                    None => finding(
                        &rules::EVENT_REMOVED,
                        &r,
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!("event `{name}` removed from system `{system}`"),
                        "removed",
                        loc_of(&lo, &o.manifest_loc()),
                        None,
                    ),
                });
                summary.backward = bw.verdict;
                summary.forward = fw.verdict;
            }
            (None, Some(n)) => {
                summary.change = "added";
                if let Some(old_name) = renamed_from.get(&(system, name)) {
                    // The removed event's EC-T006 finding says it all.
                    summary.renamed = Some((*old_name).to_owned());
                    summary.rollout = rollout(summary.backward, summary.forward);
                    report.events.push(summary);
                    continue;
                }
                report.findings.push(finding(
                    &rules::EVENT_ADDED,
                    &simple(Verdict::Compatible),
                    Some(system),
                    Some(name),
                    mode,
                    "",
                    format!("event `{name}` added to system `{system}`"),
                    "added",
                    None,
                    loc_of(&ln, &n.manifest_loc()),
                ));
            }
            (Some(o), Some(n)) => {
                let mut findings = Vec::new();
                let mut bw = Verdict::Compatible;
                let mut fw = Verdict::Compatible;
                let incompatible = simple(Verdict::Incompatible);
                let transport = |rule: &'static Rule,
                                 message: String,
                                 what: String,
                                 findings: &mut Vec<Finding>,
                                 old_ptr: &str,
                                 new_ptr: &str| {
                    let r = combine(mode, &incompatible, &incompatible);
                    findings.push(finding(
                        rule,
                        &r,
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        message,
                        &what,
                        loc_of(&lo, &o.manifest_loc().join(old_ptr)),
                        loc_of(&ln, &n.manifest_loc().join(new_ptr)),
                    ));
                };
                if o.entry.channel != n.entry.channel {
                    transport(
                        &rules::CHANNEL_CHANGED,
                        format!(
                            "channel changed from {} to {}: producers and consumers on different sides of the deploy stop meeting",
                            channel_text(o.entry),
                            channel_text(n.entry)
                        ),
                        format!("{} -> {}", channel_text(o.entry), channel_text(n.entry)),
                        &mut findings,
                        "channel",
                        "channel",
                    );
                    bw = Verdict::Incompatible;
                    fw = Verdict::Incompatible;
                }
                if envelope_text(o.envelope) != envelope_text(n.envelope) {
                    transport(
                        &rules::ENVELOPE_CHANGED,
                        format!(
                            "envelope changed from {} to {}",
                            envelope_text(o.envelope),
                            envelope_text(n.envelope)
                        ),
                        format!(
                            "{} -> {}",
                            envelope_text(o.envelope),
                            envelope_text(n.envelope)
                        ),
                        &mut findings,
                        "",
                        "",
                    );
                    bw = Verdict::Incompatible;
                    fw = Verdict::Incompatible;
                }
                if o.schema_file != n.schema_file {
                    findings.push(finding(
                        &rules::SCHEMA_FILE_MOVED,
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "schema file moved from `{}` to `{}` (same event)",
                            o.schema_file, n.schema_file
                        ),
                        &format!("{} -> {}", o.schema_file, n.schema_file),
                        loc_of(&lo, &o.manifest_loc().join("schema")),
                        loc_of(&ln, &n.manifest_loc().join("schema")),
                    ));
                }
                let run = compare_event(
                    [&lo, &ln],
                    [&mut norm_o, &mut norm_n],
                    [o, n],
                    options,
                    mode,
                    system,
                    name,
                )?;
                bw = worst(bw, run.bw);
                fw = worst(fw, run.fw);
                findings.extend(run.findings);
                // Earlier releases, for transitive modes.
                if is_transitive(mode) {
                    for (label, h) in &hist {
                        let eh = events(&h.cat);
                        let Some(hev) = eh.get(key) else { continue };
                        let mut norm_h = Normalizer::new(&h.cat, &options.path_prefix);
                        let hrun = compare_event(
                            [h, &ln],
                            [&mut norm_h, &mut norm_n],
                            [hev, n],
                            options,
                            mode,
                            system,
                            name,
                        )?;
                        for mut f in hrun.findings {
                            if f.verdict != Verdict::Compatible {
                                f.against_version = Some(label.clone());
                                findings.push(f);
                            }
                        }
                        bw = worst(bw, hrun.bw);
                        fw = worst(fw, hrun.fw);
                    }
                }
                // The generated Rust API.
                if let (Some(go), Some(gn)) = (&go, &gn) {
                    if let (Some((og, _, oe)), Some((ng, _, ne))) =
                        (go.systems.get(system), gn.systems.get(system))
                    {
                        if let (Some(&oid), Some(&nid)) = (oe.get(name), ne.get(name)) {
                            let mut rc = RustCmp {
                                og,
                                ng,
                                seen: BTreeSet::new(),
                                out: Vec::new(),
                            };
                            rc.cmp(oid, nid, &n.payload_prefix(), true);
                            for rf in rc.out {
                                let r = combine(mode, &incompatible, &incompatible);
                                findings.push(finding(
                                    rf.rule,
                                    &r,
                                    Some(system),
                                    Some(name),
                                    mode,
                                    &rf.path,
                                    rf.message,
                                    &rf.what,
                                    rf.old.and_then(|l| loc_of(&lo, &l)),
                                    rf.new.and_then(|l| loc_of(&ln, &l)),
                                ));
                            }
                        }
                    }
                }
                // Policy.
                if o.entry.compatibility != n.entry.compatibility {
                    findings.push(finding(
                        &rules::MODE_CHANGED,
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "compatibility mode changed from {:?} to {:?}",
                            mode_of(o.entry.compatibility),
                            mode_of(n.entry.compatibility)
                        ),
                        &format!("{:?} -> {:?}", o.entry.compatibility, n.entry.compatibility),
                        loc_of(&lo, &o.manifest_loc()),
                        loc_of(&ln, &n.manifest_loc()),
                    ));
                }
                let breaking = findings.iter().any(|f| {
                    f.verdict == Verdict::Incompatible
                        && matches!(f.category, Category::Data | Category::Transport)
                });
                if o.entry.version != n.entry.version {
                    findings.push(finding(
                        &rules::VERSION_CHANGED,
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "event version changed from {} to {}",
                            o.entry.version, n.entry.version
                        ),
                        &format!("{} -> {}", o.entry.version, n.entry.version),
                        loc_of(&lo, &o.manifest_loc().join("version")),
                        loc_of(&ln, &n.manifest_loc().join("version")),
                    ));
                } else if breaking {
                    findings.push(finding(
                        &rules::BREAK_WITHOUT_VERSION_BUMP,
                        &simple(Verdict::Incompatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!("breaking change to `{name}` under {mode:?} without a version bump (still {})", n.entry.version),
                        &format!("version {}", n.entry.version),
                        loc_of(&lo, &o.manifest_loc().join("version")),
                        loc_of(&ln, &n.manifest_loc().join("version")),
                    ));
                }
                if o.entry.producers != n.entry.producers || o.entry.consumers != n.entry.consumers
                {
                    findings.push(finding(
                        &rules::SERVICES_CHANGED,
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "producers {:?} → {:?}, consumers {:?} → {:?}",
                            o.entry.producers,
                            n.entry.producers,
                            o.entry.consumers,
                            n.entry.consumers
                        ),
                        "producers or consumers",
                        loc_of(&lo, &o.manifest_loc()),
                        loc_of(&ln, &n.manifest_loc()),
                    ));
                }
                if !findings.is_empty() {
                    summary.change = "changed";
                }
                summary.backward = bw;
                summary.forward = fw;
                report.findings.extend(findings);
            }
            (None, None) => {}
        }
        summary.rollout = rollout(summary.backward, summary.forward);
        report.events.push(summary);
    }
    // Envelope Rust types, once per system.
    if let (Some(go), Some(gn)) = (&go, &gn) {
        let mut systems: Vec<&String> = go.systems.keys().collect();
        systems.sort();
        for system in systems {
            let (Some((og, Some(oid), _)), Some((ng, Some(nid), _))) =
                (go.systems.get(system), gn.systems.get(system))
            else {
                continue;
            };
            let mut rc = RustCmp {
                og,
                ng,
                seen: BTreeSet::new(),
                out: Vec::new(),
            };
            rc.cmp(*oid, *nid, "", false);
            for rf in rc.out {
                let r = Resolved {
                    verdict: Verdict::Incompatible,
                    counterexample: None,
                    keyword: None,
                };
                report.findings.push(finding(
                    rf.rule,
                    &r,
                    Some(system),
                    None,
                    Mode::Backward,
                    &rf.path,
                    rf.message,
                    &rf.what,
                    rf.old.and_then(|l| loc_of(&lo, &l)),
                    rf.new.and_then(|l| loc_of(&ln, &l)),
                ));
            }
        }
    }
    sort_report(&mut report);
    Ok(report)
}

/// Events removed from a system and events added to it whose payload schemas are equal once
/// normalised (the normal form keeps no `$id`, `title`, `description` or examples), paired
/// one to one: (system, old name) → new name. An event matching several others is left
/// unpaired: which one it became is a guess.
fn renames(
    eo: &BTreeMap<(String, String), Ev>,
    en: &BTreeMap<(String, String), Ev>,
    norm_o: &mut Normalizer,
    norm_n: &mut Normalizer,
) -> BTreeMap<(String, String), String> {
    /// ((system, event), payload shape) of the events in `evs` that `others` lacks.
    fn only_in(
        evs: &BTreeMap<(String, String), Ev>,
        others: &BTreeMap<(String, String), Ev>,
        norm: &mut Normalizer,
    ) -> Vec<((String, String), String)> {
        evs.iter()
            .filter(|(k, _)| !others.contains_key(*k))
            .map(|(k, ev)| {
                let payload = norm.node(&Loc::new(ev.schema_file.clone(), ""));
                (k.clone(), shape_key(&payload))
            })
            .collect()
    }
    fn same_shape<'l>(
        list: &'l [((String, String), String)],
        system: &str,
        shape: &str,
    ) -> Vec<&'l str> {
        list.iter()
            .filter(|(k, s)| k.0 == system && s == shape)
            .map(|(k, _)| k.1.as_str())
            .collect()
    }
    let removed = only_in(eo, en, norm_o);
    if removed.is_empty() {
        return BTreeMap::new();
    }
    let added = only_in(en, eo, norm_n);
    let mut out = BTreeMap::new();
    for (old_key, shape) in &removed {
        if let [new_name] = same_shape(&added, &old_key.0, shape).as_slice() {
            if same_shape(&removed, &old_key.0, shape).len() == 1 {
                out.insert(old_key.clone(), (*new_name).to_owned());
            }
        }
    }
    out
}

pub fn check_files(
    old: (&str, &str),
    new: (&str, &str),
    mode: Mode,
    options: &Options,
) -> Result<Report, CompatError> {
    let lo = Loaded::file(Side::Old, old.0, old.1)?;
    let ln = Loaded::file(Side::New, new.0, new.1)?;
    let mode = options.mode.unwrap_or(mode);
    let mut norm_o = Normalizer::new(&lo.cat, &options.path_prefix);
    let mut norm_n = Normalizer::new(&ln.cat, &options.path_prefix);
    norm_o.refuse_cycles();
    norm_n.refuse_cycles();
    let so = norm_o.node(&Loc::new(old.0, ""));
    let sn = norm_n.node(&Loc::new(new.0, ""));
    for (n, side) in [(&norm_o, Side::Old), (&norm_n, Side::New)] {
        if let Some(e) = n.errors.first() {
            return Err(CompatError::Parse {
                side,
                message: e.clone(),
            });
        }
    }
    let msg = |l: &Loaded, s: Schema, name: &str| Message {
        dialect: l
            .cat
            .files
            .get(name)
            .map_or(Dialect::Draft202012, |f| Dialect::of(&f.value)),
        validator_schema: l
            .cat
            .files
            .get(name)
            .map(|f| f.value.clone())
            .unwrap_or(Value::Bool(true)),
        examples: l
            .cat
            .files
            .get(name)
            .and_then(|f| f.value.get("examples"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        schema: s,
    };
    let mo = msg(&lo, so, old.0);
    let mn = msg(&ln, sn, new.0);
    for (m, l, side) in [(&mo, &lo, Side::Old), (&mn, &ln, Side::New)] {
        compile(&l.docs, &m.validator_schema, m.dialect).map_err(|e| CompatError::Parse {
            side,
            message: format!(
                "{}: the schema does not compile: {e}",
                if side == Side::Old { old.0 } else { new.0 }
            ),
        })?;
    }
    let mut c = Comparer::new(options.semantics);
    c.compare(&mo.schema, &mn.schema);
    let mut ver = Verifier::new([&lo, &ln], [&mo, &mn], options.semantics);
    let decided = decide_changes(&c.changes, &mut ver, [&lo, &ln], options, mode, None, None);
    let read_as = |l: &Loaded, name: &str| {
        Dialect::read_as(l.cat.files.get(name).map_or(&Value::Null, |f| &f.value))
    };
    let mut report = Report {
        format_version: crate::FORMAT_VERSION,
        dialects: Some(Dialects {
            old: read_as(&lo, old.0),
            new: read_as(&ln, new.0),
        }),
        ..Report::default()
    };
    let (mut bw, mut fw) = (Verdict::Compatible, Verdict::Compatible);
    for d in decided {
        bw = worst(bw, d.bw);
        fw = worst(fw, d.fw);
        report.findings.push(d.finding);
    }
    // The generated Rust API of the one type. Its name is the schema's `title`; without one
    // the generator would name it after the file, but two compared files are named freely
    // (old.json, new.json), so an untitled side takes the other side's title, or both the
    // new file's name: only a title change renames the type.
    let written_title = |l: &Loaded, name: &str| -> Option<String> {
        l.cat
            .files
            .get(name)
            .and_then(|f| f.value.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let from_file = new
        .0
        .rsplit('/')
        .next()
        .unwrap_or(new.0)
        .trim_end_matches(".json")
        .to_upper_camel_case();
    let (old_title, new_title) = (written_title(&lo, old.0), written_title(&ln, new.0));
    let fallback = new_title
        .clone()
        .or_else(|| old_title.clone())
        .unwrap_or(from_file);
    let title = |l: &Loaded, _name: &str| -> String {
        let own = if l.side == Side::Old {
            &old_title
        } else {
            &new_title
        };
        own.clone().unwrap_or_else(|| fallback.clone())
    };
    let rust_findings = {
        // Built as the generator builds a type, boxes included.
        let mut bo = Builder::new(&lo.cat);
        let oid = bo.root(&Loc::new(old.0, ""), &title(&lo, old.0));
        bo.graph.box_recursive_fields();
        let mut bn = Builder::new(&ln.cat);
        let nid = bn.root(&Loc::new(new.0, ""), &title(&ln, new.0));
        bn.graph.box_recursive_fields();
        let mut rc = RustCmp {
            og: &bo.graph,
            ng: &bn.graph,
            seen: BTreeSet::new(),
            out: Vec::new(),
        };
        rc.cmp(oid, nid, "", true);
        rc.out
    };
    for rf in rust_findings {
        let r = combine(
            mode,
            &Resolved {
                verdict: Verdict::Incompatible,
                counterexample: None,
                keyword: None,
            },
            &Resolved {
                verdict: Verdict::Incompatible,
                counterexample: None,
                keyword: None,
            },
        );
        report.findings.push(finding(
            rf.rule,
            &r,
            None,
            None,
            mode,
            &rf.path,
            rf.message,
            &rf.what,
            rf.old.map(|l| lo.location(&l, &options.path_prefix)),
            rf.new.map(|l| ln.location(&l, &options.path_prefix)),
        ));
    }
    let name = title(&ln, new.0);
    report.events.push(EventSummary {
        system: String::new(),
        event: name,
        change: if report.findings.is_empty() {
            "unchanged"
        } else {
            "changed"
        },
        declared_mode: mode,
        backward: bw,
        forward: fw,
        rollout: rollout(bw, fw),
        producers: vec![],
        consumers: vec![],
        renamed: None,
    });
    sort_report(&mut report);
    Ok(report)
}
