//! Counterexample verification: each side's real validator confirms a break before it is reported; verdicts combined per mode.

use super::*;

/// Verifies counterexamples for one pair of messages.
pub(super) struct Verifier<'a> {
    pub(super) sides: [&'a Loaded; 2],
    pub(super) schemas: [&'a Schema; 2],
    pub(super) validator_schemas: [Value; 2],
    pub(super) dialects: [Dialect; 2],
    pub(super) validators: [Option<Result<jsonschema::Validator, String>>; 2],
    pub(super) semantics: Semantics,
    pub(super) examples: [Vec<Value>; 2],
    pub(super) bases: [Option<Vec<Value>>; 2],
}

pub(super) fn idx(side: Side) -> usize {
    match side {
        Side::Old => 0,
        Side::New => 1,
    }
}

impl<'a> Verifier<'a> {
    pub(super) fn new(
        sides: [&'a Loaded; 2],
        msgs: [&'a Message; 2],
        semantics: Semantics,
    ) -> Self {
        let examples = [msgs[0].examples.clone(), msgs[1].examples.clone()];
        Self {
            semantics,
            examples,
            sides,
            schemas: [&msgs[0].schema, &msgs[1].schema],
            validator_schemas: [
                msgs[0].validator_schema.clone(),
                msgs[1].validator_schema.clone(),
            ],
            validators: [None, None],
            dialects: [msgs[0].dialect, msgs[1].dialect],
            bases: [None, None],
        }
    }

    pub(super) fn validator(&mut self, i: usize) -> Option<&jsonschema::Validator> {
        if self.validators[i].is_none() {
            self.validators[i] = Some(compile(
                &self.sides[i].docs,
                &self.validator_schemas[i],
                self.dialects[i],
            ));
        }
        self.validators[i].as_ref().and_then(|r| r.as_ref().ok())
    }

    /// A verified counterexample for a break in the direction whose accepting side is `side`.
    pub(super) fn verify(
        &mut self,
        side: Side,
        recipes: &[synth::Recipe],
    ) -> Option<Counterexample> {
        let (a, r) = (idx(side), 1 - idx(side));
        let schema = self.schemas[a];
        if self.bases[a].is_none() {
            // The accepting side's examples first, then the other side's: an example the
            // new version's author wrote usually already has what the new schema added, so a
            // mutation of it is refused only for the change being explained.
            let mut out: Vec<Value> = self.examples[a].iter().take(4).cloned().collect();
            out.extend(self.examples[r].iter().take(2).cloned());
            if self.semantics == Semantics::Generated {
                for v in out.iter_mut() {
                    synth::strip_undeclared(schema, v);
                }
            }
            out.extend(synth::synth(schema, false));
            out.extend(synth::synth(schema, true));
            self.bases[a] = Some(out);
        }
        let mut candidates: Vec<Value> = Vec::new();
        for recipe in recipes {
            for base in self.bases[a].iter().flatten() {
                for c in synth::apply_recipe(schema, base, recipe) {
                    if !candidates.contains(&c) {
                        candidates.push(c);
                    }
                }
            }
        }
        self.validator(a)?;
        self.validator(r)?;
        let targets: Vec<Vec<Option<String>>> = recipes
            .iter()
            .flatten()
            .map(|m| synth::instance_path(&m.segs))
            .collect();
        // The first candidate the rejecting side refuses only at the changed place wins; the
        // first one refused at all is the fallback (a base that misses something else the
        // other side requires is still a counterexample, but a confusing one to read).
        let mut fallback: Option<Counterexample> = None;
        for c in candidates.into_iter().take(48) {
            let ok_a = self.validator(a).is_some_and(|v| v.is_valid(&c));
            if !ok_a {
                continue;
            }
            let Some(vr) = self.validator(r) else {
                continue;
            };
            // Each error with the place it is about: a missing required property is about
            // that property, not the object reporting it, so a candidate that also lacks an
            // unrelated new required property is not taken as refused only at the change.
            let errors: Vec<(String, String, String)> = vr
                .iter_errors(&c)
                .map(|err| {
                    let pointer = err.instance_path().as_str().to_owned();
                    let about = match err.kind() {
                        jsonschema::error::ValidationErrorKind::Required {
                            property: Value::String(name),
                        } => format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1")),
                        _ => pointer.clone(),
                    };
                    (pointer, about, err.to_string())
                })
                .collect();
            if errors.is_empty() {
                continue;
            }
            let at_change = |pointer: &str| targets.iter().any(|t| related(pointer, t));
            let all_at_change = errors.iter().all(|(_, about, _)| at_change(about));
            // The deepest error at the change says most; the first error otherwise.
            let (pointer, _, message) = errors
                .iter()
                .filter(|(_, about, _)| at_change(about))
                .max_by_key(|(_, about, _)| about.matches('/').count())
                .unwrap_or(&errors[0]);
            let found = Counterexample {
                message: c,
                accepted_by: side,
                rejected_because: format!("{}: {message}", display_pointer(pointer)),
            };
            if all_at_change {
                return Some(found);
            }
            fallback.get_or_insert(found);
        }
        fallback
    }
}

/// Whether a validator error at `pointer` concerns the instance path `target` (`None` segments
/// match any token): one is a prefix of the other, so a `required` error on the parent object
/// and a type error inside the changed value both count.
pub(super) fn related(pointer: &str, target: &[Option<String>]) -> bool {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    tokens
        .iter()
        .zip(target)
        .all(|(token, want)| want.as_ref().is_none_or(|w| w == token))
}

/// One direction, resolved.
#[derive(Clone, Debug)]
pub(super) struct Resolved {
    pub(super) verdict: Verdict,
    pub(super) counterexample: Option<Counterexample>,
    pub(super) keyword: Option<String>,
}

pub(super) fn resolve(dec: &Dec, side: Side, keyword: &str, v: &mut Verifier) -> Resolved {
    match dec {
        Dec::Holds => Resolved {
            verdict: Verdict::Compatible,
            counterexample: None,
            keyword: None,
        },
        Dec::Unknown(k) => Resolved {
            verdict: Verdict::Unknown,
            counterexample: None,
            keyword: Some(k.clone()),
        },
        Dec::Breaks(recipes) => match v.verify(side, recipes) {
            Some(c) => Resolved {
                verdict: Verdict::Incompatible,
                counterexample: Some(c),
                keyword: None,
            },
            None => Resolved {
                verdict: Verdict::Unknown,
                counterexample: None,
                keyword: Some(keyword.to_owned()),
            },
        },
    }
}

pub(super) fn combine(mode: Mode, bw: &Resolved, fw: &Resolved) -> Resolved {
    let compatible = Resolved {
        verdict: Verdict::Compatible,
        counterexample: None,
        keyword: None,
    };
    match mode {
        Mode::None => compatible,
        Mode::Backward | Mode::BackwardTransitive => bw.clone(),
        Mode::Forward | Mode::ForwardTransitive => fw.clone(),
        Mode::Full | Mode::FullTransitive => {
            for r in [bw, fw] {
                if r.verdict == Verdict::Incompatible {
                    return r.clone();
                }
            }
            for r in [bw, fw] {
                if r.verdict == Verdict::Unknown {
                    return r.clone();
                }
            }
            compatible
        }
    }
}

/// Both directions of one change, plus the finding under the mode.
pub(super) struct Decided {
    pub(super) finding: Finding,
    pub(super) bw: Verdict,
    pub(super) fw: Verdict,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn finding(
    rule: &'static Rule,
    verdict: &Resolved,
    system: Option<&str>,
    event: Option<&str>,
    mode: Mode,
    path: &str,
    message: String,
    what: &str,
    old: Option<Location>,
    new: Option<Location>,
) -> Finding {
    let severity = match (verdict.verdict, rule.category) {
        (Verdict::Compatible, Category::Data | Category::Transport) => Severity::Info,
        _ => rule.severity,
    };
    Finding {
        rule: rule.id,
        category: rule.category,
        severity,
        verdict: verdict.verdict,
        system: system.map(str::to_owned),
        event: event.map(str::to_owned),
        mode,
        against_version: None,
        path: path.to_owned(),
        message,
        hint: rule.hint,
        old,
        new,
        counterexample: verdict.counterexample.clone(),
        undecided_keyword: verdict.keyword.clone(),
        fingerprint: fingerprint(rule.id, system, event, path, what),
        allowed: None,
    }
}

pub(super) fn decide_changes(
    changes: &[Change],
    ver: &mut Verifier,
    sides: [&Loaded; 2],
    options: &Options,
    mode: Mode,
    system: Option<&str>,
    event: Option<&str>,
) -> Vec<Decided> {
    let mut out = Vec::new();
    for c in changes {
        let bw = resolve(&c.backward, Side::Old, &c.keyword, ver);
        let fw = resolve(&c.forward, Side::New, &c.keyword, ver);
        let r = combine(mode, &bw, &fw);
        let old = c
            .old
            .as_ref()
            .map(|l| sides[0].location(l, &options.path_prefix));
        let new = c
            .new
            .as_ref()
            .map(|l| sides[1].location(l, &options.path_prefix));
        let mut f = finding(
            c.rule,
            &r,
            system,
            event,
            mode,
            &c.path,
            c.message.clone(),
            &c.what,
            old,
            new,
        );
        // Names the union branch(es), so one change in two branches is two fingerprints.
        f.fingerprint = fingerprint(f.rule, system, event, &c.fp, &c.what);
        out.push(Decided {
            finding: f,
            bw: bw.verdict,
            fw: fw.verdict,
        });
    }
    out
}

pub(super) fn worst(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Incompatible, _) | (_, Verdict::Incompatible) => Verdict::Incompatible,
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
        _ => Verdict::Compatible,
    }
}

pub fn rollout(bw: Verdict, fw: Verdict) -> Rollout {
    match (bw, fw) {
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Rollout::Undecided,
        (Verdict::Compatible, Verdict::Compatible) => Rollout::AnyOrder,
        (Verdict::Compatible, Verdict::Incompatible) => Rollout::ConsumersFirst,
        (Verdict::Incompatible, Verdict::Compatible) => Rollout::ProducersFirst,
        _ => Rollout::NewEventVersion,
    }
}

// ------------------------------------------------------------------------------------------
// The generated Rust API.
