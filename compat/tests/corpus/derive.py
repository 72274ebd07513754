#!/usr/bin/env python3
"""Derives (or checks) the expected verdicts of the file corpus by counterexample search.

Each case is `compat/tests/corpus/<family>/<name>.json` holding the authored `why`, `old` and
`new`; this tool writes the derived part:

- `backward` / `forward`: the verdict for generated producers (the checker's default
  semantics): a generated producer writes only the properties a schema declares, unless the
  object is a map (`additionalProperties` true or a schema, `patternProperties`,
  `unevaluatedProperties` other than false) or declares no properties at all;
- `set`: `{backward, forward}` for `--semantics set` (any instance of the schema), only where
  it differs;
- `counterexamples`: for each incompatible direction (`backward`, `forward`, `set_backward`,
  `set_forward`), an instance the accepting side's validators both accept and the other
  side's validators both reject;
- `search`: how many candidate instances were tried, and with which validators.

"incompatible" means such an instance was found under both validators: Python's `jsonschema`
(pinned in requirements.txt, run from target/compat-corpus-venv) and the Rust `jsonschema`
crate (the `corpus_validate` example of event-contracts-compat). "compatible" means no
candidate separated the two sides under either validator; the case's `why` gives the reason
it holds in general. A candidate the two validators disagree on fails the derivation.

Candidates come from both schemas' shapes: their enums, consts, examples and defaults,
boundary values of every numeric, length, item-count and property-count bound, keys named by
`properties`, `required`, the dependency keywords and `patternProperties` (a key built to
match each pattern), and mutations of the objects and arrays built from them (a key dropped,
added, or set to every value of the other side's pool).

Usage (from the repository root, with the venv's python):
    python compat/tests/corpus/derive.py            # derive and rewrite every case
    python compat/tests/corpus/derive.py --check    # re-derive, fail if a file would change
    python compat/tests/corpus/derive.py --verify-recorded
        # only re-validate every recorded counterexample with Python's jsonschema
    (add case paths or family names to restrict any mode)
"""

import copy
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
from jsonschema import validators

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEFAULT_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_CANDIDATES = 4000
DERIVED = ("backward", "forward", "set", "counterexamples", "search")


# ------------------------------------------------------------------------------------------
# Validators


def python_validator(schema):
    """Python's validator for the dialect the schema's `$schema` names (2020-12 without)."""
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def rust_verdicts(jobs):
    """The Rust `jsonschema` crate's verdicts: one list of booleans per (schema, instances)."""
    proc = subprocess.run(
        [
            "cargo",
            "run",
            "-q",
            "-p",
            "event-contracts-compat",
            "--example",
            "corpus_validate",
        ],
        input=json.dumps([{"schema": s, "instances": i} for s, i in jobs]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**__import__("os").environ, "CARGO_INCREMENTAL": "0"},
    )
    if proc.returncode != 0:
        sys.exit(f"corpus_validate failed:\n{proc.stderr}")
    out = json.loads(proc.stdout)
    for (schema, _), r in zip(jobs, out):
        if isinstance(r, dict):
            sys.exit(f"the Rust validator refuses {json.dumps(schema)}: {r['error']}")
    return out


# ------------------------------------------------------------------------------------------
# Schema navigation


def resolve(root, node, depth=0):
    """`node` with a local `$ref` (`#/...`) replaced by its target merged beside it."""
    if not isinstance(node, dict) or "$ref" not in node or depth > 8:
        return node
    ref = node["$ref"]
    if not isinstance(ref, str) or not ref.startswith("#"):
        return node
    target = root
    for token in [t for t in ref[1:].split("/") if t]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(target, list):
            target = target[int(token)]
        else:
            target = target.get(token, {})
    target = resolve(root, target, depth + 1)
    if isinstance(target, bool):
        return target
    merged = {k: v for k, v in node.items() if k != "$ref"}
    merged.setdefault("allOf", [])
    merged["allOf"] = list(merged["allOf"]) + [target]
    return merged


def parts(root, node, depth=0):
    """Every schema object that applies at this position: the node, its `$ref` target and
    its `allOf` / `anyOf` / `oneOf` / `if` / `then` / `else` / `not` / `dependentSchemas`
    members (for candidate generation, where a superset is harmless)."""
    node = resolve(root, node)
    if not isinstance(node, dict) or depth > 6:
        return []
    out = [node]
    for kw in ("allOf", "anyOf", "oneOf"):
        for b in node.get(kw, []) if isinstance(node.get(kw), list) else []:
            out.extend(parts(root, b, depth + 1))
    for kw in ("if", "then", "else", "not"):
        if kw in node:
            out.extend(parts(root, node[kw], depth + 1))
    for kw in ("dependentSchemas", "dependencies"):
        for v in (node.get(kw) or {}).values() if isinstance(node.get(kw), dict) else []:
            if isinstance(v, (dict, bool)):
                out.extend(parts(root, v, depth + 1))
    return out


def key_for_pattern(pattern):
    """A property name the ECMA pattern matches, and one it does not (best effort)."""
    literal = re.sub(r"^\^", "", pattern)
    literal = re.sub(r"\$$", "", literal)
    literal = re.sub(r"\\d[+*]?|\[0-9\][+*]?", "1", literal)
    literal = re.sub(r"\[a-z\][+*]?|\\w[+*]?|\.[+*]?", "a", literal)
    literal = re.sub(r"[\\()?+*{}\[\]|]", "", literal)
    out = []
    for k in (literal, literal + "x", "x" + literal, literal + "1"):
        try:
            if re.search(pattern, k):
                out.append(k)
                break
        except re.error:
            break
    out.append("zz_" + literal)
    return out


def sub_at_key(root, node, key):
    """The subschemas an instance's property `key` is checked against at this node."""
    subs = []
    for p in parts(root, node):
        props = p.get("properties") if isinstance(p.get("properties"), dict) else {}
        matched = False
        if key in props:
            subs.append(props[key])
            matched = True
        for pat, s in (p.get("patternProperties") or {}).items():
            try:
                if re.search(pat, key):
                    subs.append(s)
                    matched = True
            except re.error:
                pass
        if not matched:
            for kw in ("additionalProperties", "unevaluatedProperties"):
                if kw in p:
                    subs.append(p[kw])
    return subs


def sub_items(root, node, index):
    subs = []
    for p in parts(root, node):
        tuple_items = p.get("prefixItems")
        if tuple_items is None and isinstance(p.get("items"), list):
            tuple_items = p["items"]
        if isinstance(tuple_items, list) and index < len(tuple_items):
            subs.append(tuple_items[index])
            continue
        if isinstance(p.get("items"), (dict, bool)) and not isinstance(p.get("items"), list):
            subs.append(p["items"])
        for kw in ("additionalItems", "unevaluatedItems", "contains"):
            if kw in p:
                subs.append(p[kw])
    return subs


# ------------------------------------------------------------------------------------------
# Candidate generation

# Property names either side of the case declares anywhere (set per case), so that a key one
# side declares is tried at the other side's open objects and maps too.
OTHER_KEYS = []


def all_keys(schema, out, depth=0):
    if depth > 12:
        return out
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "properties" and isinstance(v, dict):
                out.extend(v.keys())
            elif k == "patternProperties" and isinstance(v, dict):
                for pat in v:
                    out.extend(key_for_pattern(pat))
            elif k in ("required",) and isinstance(v, list):
                out.extend(x for x in v if isinstance(x, str))
            all_keys(v, out, depth + 1)
    elif isinstance(schema, list):
        for v in schema:
            all_keys(v, out, depth + 1)
    return out


BASE = [None, True, False, 0, 1, -1, 2, 0.5, 1.5, "", "a", "x", "abc", [], {}]


def dedup(values, limit):
    seen = set()
    out = []
    for v in values:
        k = json.dumps(v, sort_keys=True)
        if k not in seen:
            seen.add(k)
            out.append(v)
        if len(out) >= limit:
            break
    return out


def num_bounds(p):
    out = []
    for kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        x = p.get(kw)
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            out += [x, x - 1, x + 1, x - 0.5, x + 0.5, x - 0.25, x + 0.25]
    m = p.get("multipleOf")
    if isinstance(m, (int, float)) and not isinstance(m, bool):
        out += [m, 2 * m, m + 1, m / 2]
    return out


def leaves(root, nodes):
    """Scalar and literal candidates from the nodes' own keywords."""
    out = []
    for n in nodes:
        for p in parts(root, n):
            for kw in ("const", "default"):
                if kw in p:
                    out.append(p[kw])
            for kw in ("enum", "examples"):
                if isinstance(p.get(kw), list):
                    out.extend(p[kw])
            out.extend(num_bounds(p))
            for kw in ("minLength", "maxLength"):
                x = p.get(kw)
                if isinstance(x, int):
                    out += ["a" * max(x - 1, 0), "a" * x, "a" * (x + 1)]
            if isinstance(p.get("pattern"), str):
                out.extend(key_for_pattern(p["pattern"]))
    return out + BASE


_FRAGMENT = {}


def valid_first(root, subs, values, limit):
    """`values` with the ones every subschema accepts first (under the root's dialect, `$ref`s
    resolved against the root), so that objects and arrays are built from valid parts."""
    if _FRAGMENT.get("root") is not root:
        _FRAGMENT["root"] = root
        _FRAGMENT["validator"] = python_validator(root)
    v = _FRAGMENT["validator"]

    def score(x):
        n = 0
        for s in subs:
            try:
                n += v.evolve(schema=s).is_valid(x)
            except Exception:
                pass
        return n

    # Stable: valid under every subschema first, then under some, then the rest.
    ranked = sorted(dedup(values, 200), key=lambda x: -score(x))
    return ranked[:limit]


def objects(root, nodes, depth):
    keys = []
    count_bounds = []
    dependents = {}
    for n in nodes:
        for p in parts(root, n):
            keys.extend((p.get("properties") or {}).keys() if isinstance(p.get("properties"), dict) else [])
            keys.extend(r for r in p.get("required", []) if isinstance(r, str))
            for kw in ("dependentRequired", "dependencies", "dependentSchemas"):
                d = p.get(kw)
                if isinstance(d, dict):
                    for k, v in d.items():
                        keys.append(k)
                        if isinstance(v, list):
                            keys.extend(v)
                            dependents.setdefault(k, []).extend(v)
            for pat in (p.get("patternProperties") or {}):
                keys.extend(key_for_pattern(pat))
            for kw in ("minProperties", "maxProperties"):
                if isinstance(p.get(kw), int):
                    count_bounds.append(p[kw])
    keys = dedup(keys + OTHER_KEYS + ["zz_extra"], 16)
    values = {}
    for k in keys:
        subs = [s for n in nodes for s in sub_at_key(root, n, k)]
        values[k] = valid_first(root, subs, gen(root, subs, depth + 1), 10) if subs else dedup(BASE, 10)
    required = []
    for n in nodes:
        for p in parts(root, n):
            required.extend(r for r in p.get("required", []) if isinstance(r, str) and r in values)
    required = dedup(required, 12)
    out = [{}]
    base = {k: values[k][0] for k in required}
    full = {k: values[k][0] for k in keys if k != "zz_extra"}
    out += [base, full, {k: values[k][0] for k in keys}]
    for k in keys:
        for v in values[k]:
            out.append({**base, k: v})
            out.append({**full, k: v})
        for d in (base, full):
            if k in d:
                out.append({x: y for x, y in d.items() if x != k})
    for k, deps in dependents.items():
        if k in values:
            out.append({k: values[k][0]})
            out.append({**base, k: values[k][0]})
            out.append({**base, k: values[k][0], **{d: values[d][0] for d in deps if d in values}})
    for n in sorted(set(count_bounds + [x + 1 for x in count_bounds] + [max(x - 1, 0) for x in count_bounds])):
        if n > 12:
            continue
        names = (required + [k for k in keys if k not in required])[:n]
        obj = {k: values[k][0] for k in names}
        obj.update({f"p{i}": "x" for i in range(n - len(obj))})
        out.append(obj)
        obj2 = {k: values[k][0] for k in required}
        obj2.update({f"p{i}": "x" for i in range(max(n - len(obj2), 0))})
        out.append(obj2)
    for a, b in itertools.combinations(keys[:6], 2):
        out.append({**base, a: values[a][0], b: values[b][0]})
    return out


def arrays(root, nodes, depth):
    bounds = [0, 1, 2, 3]
    for n in nodes:
        for p in parts(root, n):
            for kw in ("minItems", "maxItems", "minContains", "maxContains"):
                if isinstance(p.get(kw), int):
                    bounds += [p[kw], p[kw] + 1, max(p[kw] - 1, 0)]
            for kw in ("prefixItems", "items"):
                if isinstance(p.get(kw), list):
                    bounds += [len(p[kw]), len(p[kw]) + 1, max(len(p[kw]) - 1, 0)]
    bounds = sorted(set(b for b in bounds if b <= 8))
    per_index = []
    for i in range(max(bounds) + 1):
        subs = [s for n in nodes for s in sub_items(root, n, i)]
        per_index.append(valid_first(root, subs, gen(root, subs, depth + 1), 10) if subs else dedup(BASE, 10))
    out = []
    for n in bounds:
        out.append([per_index[i][0] for i in range(n)])
        for i in range(n):
            for v in per_index[i][1:]:
                arr = [per_index[j][0] for j in range(n)]
                arr[i] = v
                out.append(arr)
        for v in per_index[0]:
            out.append([v] * n)
    return out


def gen(root, nodes, depth=0):
    """Candidate instances for a position where `nodes` (schemas of either side) apply."""
    nodes = [n for n in nodes if n is not None]
    out = list(leaves(root, nodes))
    if depth < 3:
        # Inner positions keep a short pool, so their scalars go first; the caller ranks the
        # pool by validity.
        structured = objects(root, nodes, depth) + arrays(root, nodes, depth)
        out = structured + out if depth == 0 else out + structured[:40]
    return dedup(out, MAX_CANDIDATES if depth == 0 else 100)


# ------------------------------------------------------------------------------------------
# Generated producers


def producible(root, node, inst, depth=0):
    """Whether a generated producer of `node` could write `inst`: at an object position that
    declares properties and is not a map, only declared keys."""
    if depth > 12:
        return True
    ps = parts(root, node)
    if isinstance(inst, dict):
        declared = set()
        open_map = False
        for p in ps:
            if isinstance(p.get("properties"), dict):
                declared |= set(p["properties"].keys())
            a = p.get("additionalProperties")
            u = p.get("unevaluatedProperties")
            if p.get("patternProperties") or (a is not None and a is not False) or (
                u is not None and u is not False
            ):
                open_map = True
        if declared and not open_map and not set(inst) <= declared:
            return False
        for k, v in inst.items():
            subs = [s for p in ps for s in sub_at_key(root, p, k)]
            if not all(producible(root, s, v, depth + 1) for s in subs):
                return False
    elif isinstance(inst, list):
        for i, v in enumerate(inst):
            subs = [s for p in ps for s in sub_items(root, p, i)]
            if not all(producible(root, s, v, depth + 1) for s in subs):
                return False
    return True


# ------------------------------------------------------------------------------------------
# Derivation


def with_dialect(schema):
    if isinstance(schema, dict) and "$schema" not in schema:
        return {"$schema": DEFAULT_DIALECT, **schema}
    return schema


def derive(case, path):
    old, new = with_dialect(case["old"]), with_dialect(case["new"])
    OTHER_KEYS[:] = dedup(all_keys(old, []) + all_keys(new, []), 8)
    cands = gen(old, [old]) + gen(new, [new])
    cands = dedup(cands, 2 * MAX_CANDIDATES)
    py = [python_validator(s) for s in (old, new)]
    py_ok = [[py[i].is_valid(c) for c in cands] for i in (0, 1)]
    return old, new, cands, py_ok


def decide(path, old, new, cands, py_ok, rs_ok):
    for side in (0, 1):
        for c, p, r in zip(cands, py_ok[side], rs_ok[side]):
            if p != r:
                sys.exit(
                    f"{path}: the validators disagree on {json.dumps(c)} under the "
                    f"{'old' if side == 0 else 'new'} schema (python {p}, rust {r})"
                )
    gen_ok = [[producible(s, s, c) for c in cands] for s in (old, new)]
    found = {}
    for name, acc, rej, producer in (
        ("backward", 0, 1, True),
        ("forward", 1, 0, True),
        ("set_backward", 0, 1, False),
        ("set_forward", 1, 0, False),
    ):
        for i, c in enumerate(cands):
            if py_ok[acc][i] and not py_ok[rej][i] and (not producer or gen_ok[acc][i]):
                found[name] = c
                break
    verdict = lambda k: "incompatible" if k in found else "compatible"
    out = {
        "backward": verdict("backward"),
        "forward": verdict("forward"),
    }
    set_verdicts = {"backward": verdict("set_backward"), "forward": verdict("set_forward")}
    if set_verdicts != out:
        out["set"] = set_verdicts
    counter = {}
    for k in ("backward", "forward"):
        if k in found:
            counter[k] = found[k]
        if f"set_{k}" in found and found.get(k) != found[f"set_{k}"] and k not in found:
            counter[f"set_{k}"] = found[f"set_{k}"]
    if counter:
        out["counterexamples"] = counter
    out["search"] = {
        "candidates": len(cands),
        "compatible_means": "no candidate separated the sides under either validator; `why` says why it holds in general",
        "validators": [
            f"python jsonschema {jsonschema_version()}",
            f"rust jsonschema {rust_jsonschema_version()}",
        ],
    }
    return out


def rust_jsonschema_version():
    """The `jsonschema` crate's version as Cargo.lock pins it."""
    lock = (ROOT / "Cargo.lock").read_text()
    m = re.search(r'name = "jsonschema"\nversion = "([^"]+)"', lock)
    return m.group(1) if m else "unknown"


def jsonschema_version():
    from importlib import metadata

    return metadata.version("jsonschema")


def case_files(args):
    files = sorted(HERE.glob("*/*.json"))
    if not args:
        return files
    out = []
    for a in args:
        p = Path(a)
        if p.suffix == ".json":
            out.append(p.resolve())
        else:
            out.extend(f for f in files if f.parent.name == a)
    return out


def verify_recorded(files):
    """Every recorded counterexample: accepted by the side it names, refused by the other."""
    bad = []
    count = 0
    for f in files:
        case = json.loads(f.read_text())
        old, new = with_dialect(case["old"]), with_dialect(case["new"])
        v = {"old": python_validator(old), "new": python_validator(new)}
        for k, inst in case.get("counterexamples", {}).items():
            acc, rej = ("old", "new") if k.endswith("backward") else ("new", "old")
            count += 1
            if not v[acc].is_valid(inst) or v[rej].is_valid(inst):
                bad.append(f"{f.relative_to(HERE)} {k}: {json.dumps(inst)}")
    print(f"{count} recorded counterexamples re-validated with python jsonschema")
    if bad:
        sys.exit("counterexamples that do not hold:\n" + "\n".join(bad))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    files = case_files(args)
    if "--verify-recorded" in flags:
        verify_recorded(files)
        return
    prepared = []
    jobs = []
    for f in files:
        case = json.loads(f.read_text())
        old, new, cands, py_ok = derive(case, f)
        prepared.append((f, case, old, new, cands, py_ok))
        jobs += [(old, cands), (new, cands)]
    rs = rust_verdicts(jobs)
    changed = []
    for i, (f, case, old, new, cands, py_ok) in enumerate(prepared):
        derived = decide(f, old, new, cands, py_ok, [rs[2 * i], rs[2 * i + 1]])
        authored = {k: v for k, v in case.items() if k not in DERIVED}
        updated = {**authored, **derived}
        text = json.dumps(updated, indent=2, ensure_ascii=False) + "\n"
        if f.read_text() != text:
            changed.append(f)
            if "--check" not in flags:
                f.write_text(text)
    print(f"{len(prepared)} cases derived; {len(changed)} {'differ' if '--check' in flags else 'rewritten'}")
    if "--check" in flags and changed:
        sys.exit("re-derived expectations differ from the recorded ones:\n" + "\n".join(str(c) for c in changed))


if __name__ == "__main__":
    main()
