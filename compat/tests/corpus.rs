//! The table-driven corpus: old/new schema pairs with the data rules expected and the verdict
//! of each direction. B/F: BACKWARD/FORWARD verdict (`C` compatible, `I` incompatible, `U`
//! unknown); FULL is checked as the worse of the two. Every counterexample is re-checked with
//! the real validators. The cases include the known blind spots of other checkers.

use event_contracts_compat::{
    check_files, Category, Finding, Mode, Options, Semantics, Side, Verdict,
};
use serde_json::Value;

struct Case {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    rules: &'static [&'static str],
    backward: char,
    forward: char,
    set: bool,
    rust: &'static [&'static str],
}

const fn c(
    name: &'static str,
    old: &'static str,
    new: &'static str,
    rules: &'static [&'static str],
    backward: char,
    forward: char,
) -> Case {
    Case {
        name,
        old,
        new,
        rules,
        backward,
        forward,
        set: false,
        rust: &[],
    }
}

const fn set(mut case: Case) -> Case {
    case.set = true;
    case
}

const fn rust(mut case: Case, rules: &'static [&'static str]) -> Case {
    case.rust = rules;
    case
}

const OBJ_AB: &str = r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"]}"##;

static CASES: &[Case] = &[
    // --- properties and required -----------------------------------------------------
    c(
        "optional property added to an open object is compatible (Confluent says no)",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"boolean"}},"required":["a"]}"##,
        &["EC-D001"],
        'C',
        'C',
    ),
    c(
        "optional property added to a closed object breaks old consumers",
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"##,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"c":{"type":"boolean"}},"additionalProperties":false}"##,
        &["EC-D001"],
        'C',
        'I',
    ),
    c(
        "optional property removed from an open object",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"##,
        &["EC-D002"],
        'C',
        'C',
    ),
    c(
        "optional property removed from a closed object",
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}"##,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"##,
        &["EC-D002"],
        'I',
        'C',
    ),
    c(
        "required property removed",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"b":{"type":"integer"}}}"##,
        &["EC-D002"],
        'C',
        'I',
    ),
    c(
        "required property added without default",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"string"}},"required":["a","c"]}"##,
        &["EC-D003"],
        'I',
        'C',
    ),
    c(
        "required property added with a default still breaks validators",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"string","default":"x"}},"required":["a","c"]}"##,
        &["EC-D004"],
        'I',
        'C',
    ),
    c(
        "optional property made required",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a","b"]}"##,
        &["EC-D003"],
        'I',
        'C',
    ),
    c(
        "required property made optional",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}"##,
        &["EC-D005"],
        'C',
        'I',
    ),
    c(
        "object closed: generated producers only write declared properties",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"],"additionalProperties":false}"##,
        &["EC-D006"],
        'C',
        'C',
    ),
    c(
        "object opened",
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"##,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}}}"##,
        &["EC-D007"],
        'C',
        'C',
    ),
    set(c(
        "set semantics: object closed breaks documents with extra properties",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"],"additionalProperties":false}"##,
        &["EC-D006"],
        'I',
        'C',
    )),
    set(c(
        "set semantics: optional property added to an open object",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"boolean"}},"required":["a"]}"##,
        &["EC-D001"],
        'I',
        'C',
    )),
    set(c(
        "set semantics: optional property removed from an open object",
        OBJ_AB,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"##,
        &["EC-D002"],
        'C',
        'I',
    )),
    set(c(
        "set semantics: object opened",
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"##,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}}}"##,
        &["EC-D007"],
        'C',
        'I',
    )),
    c(
        "relay object (additionalProperties true) closed",
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":true}"##,
        r##"{"title":"T","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"##,
        &["EC-D006"],
        'I',
        'C',
    ),
    // --- maps ----------------------------------------------------------------------------
    c(
        "map value type changed",
        r##"{"title":"T","type":"object","additionalProperties":{"type":"string"}}"##,
        r##"{"title":"T","type":"object","additionalProperties":{"type":"integer"}}"##,
        &["EC-D012"],
        'I',
        'I',
    ),
    c(
        "map value schema added to a free-form object",
        r##"{"title":"T","type":"object"}"##,
        r##"{"title":"T","type":"object","additionalProperties":{"type":"string"}}"##,
        &["EC-D008"],
        'I',
        'C',
    ),
    c(
        "map value schema removed",
        r##"{"title":"T","type":"object","additionalProperties":{"type":"string"}}"##,
        r##"{"title":"T","type":"object"}"##,
        &["EC-D009"],
        'C',
        'I',
    ),
    c(
        "map value constraint tightened",
        r##"{"title":"T","type":"object","additionalProperties":{"type":"string"}}"##,
        r##"{"title":"T","type":"object","additionalProperties":{"type":"string","maxLength":3}}"##,
        &["EC-D016"],
        'I',
        'C',
    ),
    // --- types ---------------------------------------------------------------------------
    c(
        "string to integer",
        r##"{"type":"string"}"##,
        r##"{"type":"integer"}"##,
        &["EC-D012"],
        'I',
        'I',
    ),
    c(
        "integer widened to number",
        r##"{"type":"integer"}"##,
        r##"{"type":"number"}"##,
        &["EC-D011"],
        'C',
        'I',
    ),
    c(
        "number narrowed to integer",
        r##"{"type":"number"}"##,
        r##"{"type":"integer"}"##,
        &["EC-D010"],
        'I',
        'C',
    ),
    c(
        "made nullable",
        r##"{"type":"string"}"##,
        r##"{"type":["string","null"]}"##,
        &["EC-D011"],
        'C',
        'I',
    ),
    c(
        "no longer nullable",
        r##"{"type":["string","null"]}"##,
        r##"{"type":"string"}"##,
        &["EC-D010"],
        'I',
        'C',
    ),
    c(
        "type array is anyOf of single types",
        r##"{"type":["string","integer"],"minLength":2,"minimum":3}"##,
        r##"{"anyOf":[{"type":"string","minLength":2},{"type":"integer","minimum":3}]}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "nullable written with oneOf is a type array",
        r##"{"type":["string","null"],"maxLength":5}"##,
        r##"{"oneOf":[{"type":"null"},{"type":"string","maxLength":5}]}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "nullable $ref written with anyOf",
        r##"{"type":"object","properties":{"p":{"type":["object","null"],"properties":{"x":{"type":"integer"}},"required":["x"]}}}"##,
        r##"{"type":"object","$defs":{"P":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}},"properties":{"p":{"anyOf":[{"$ref":"#/$defs/P"},{"type":"null"}]}}}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "boolean to string",
        r##"{"type":"boolean"}"##,
        r##"{"type":"string"}"##,
        &["EC-D012"],
        'I',
        'I',
    ),
    c(
        "any value narrowed to object",
        r##"{}"##,
        r##"{"type":"object"}"##,
        &["EC-D010"],
        'I',
        'C',
    ),
    // --- enum and const --------------------------------------------------------------------
    c(
        "enum value added",
        r##"{"type":"string","enum":["a","b"]}"##,
        r##"{"type":"string","enum":["a","b","c"]}"##,
        &["EC-D014"],
        'C',
        'I',
    ),
    c(
        "enum value removed",
        r##"{"type":"string","enum":["a","b"]}"##,
        r##"{"type":"string","enum":["a"]}"##,
        &["EC-D013"],
        'I',
        'C',
    ),
    c(
        "const changed",
        r##"{"const":"v1"}"##,
        r##"{"const":"v2"}"##,
        &["EC-D015"],
        'I',
        'I',
    ),
    c(
        "const is an enum of one",
        r##"{"type":"string","const":"v1"}"##,
        r##"{"enum":["v1"]}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "enum added to a free string",
        r##"{"type":"string"}"##,
        r##"{"type":"string","enum":["a","b"]}"##,
        &["EC-D013"],
        'I',
        'C',
    ),
    c(
        "enum restriction removed",
        r##"{"type":"string","enum":["a","b"]}"##,
        r##"{"type":"string"}"##,
        &["EC-D014"],
        'C',
        'I',
    ),
    c(
        "oneOf of consts is an enum",
        r##"{"enum":["a","b"]}"##,
        r##"{"oneOf":[{"const":"a"},{"const":"b"}]}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "maxLength every enum value meets is no change",
        r##"{"type":"string","enum":["ab","cd"]}"##,
        r##"{"type":"string","enum":["ab","cd"],"maxLength":2}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "integer enum reordered",
        r##"{"enum":[1,2,3]}"##,
        r##"{"enum":[3,1,2]}"##,
        &[],
        'C',
        'C',
    ),
    // --- strings -----------------------------------------------------------------------------
    c(
        "minLength raised",
        r##"{"type":"string","minLength":1}"##,
        r##"{"type":"string","minLength":3}"##,
        &["EC-D016"],
        'I',
        'C',
    ),
    c(
        "maxLength raised",
        r##"{"type":"string","maxLength":3}"##,
        r##"{"type":"string","maxLength":8}"##,
        &["EC-D017"],
        'C',
        'I',
    ),
    c(
        "maxLength added",
        r##"{"type":"string"}"##,
        r##"{"type":"string","maxLength":4}"##,
        &["EC-D016"],
        'I',
        'C',
    ),
    c(
        "pattern widened is compatible backward (Confluent: any pattern change breaks)",
        r##"{"type":"string","pattern":"^[a-z]+$"}"##,
        r##"{"type":"string","pattern":"^[a-z0-9]+$"}"##,
        &["EC-D019"],
        'C',
        'I',
    ),
    c(
        "pattern narrowed",
        r##"{"type":"string","pattern":"^[a-z0-9]+$"}"##,
        r##"{"type":"string","pattern":"^[a-z]+$"}"##,
        &["EC-D018"],
        'I',
        'C',
    ),
    c(
        "pattern changed to a disjoint language",
        r##"{"type":"string","pattern":"^[a-z]+$"}"##,
        r##"{"type":"string","pattern":"^[0-9]+$"}"##,
        &["EC-D020"],
        'I',
        'I',
    ),
    c(
        "pattern rewritten to the same language",
        r##"{"type":"string","pattern":"^[0-9]+$"}"##,
        r##"{"type":"string","pattern":"^[0-9][0-9]*$"}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "pattern alternation reordered",
        r##"{"type":"string","pattern":"^(ab|cd)$"}"##,
        r##"{"type":"string","pattern":"^(cd|ab)$"}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "pattern added",
        r##"{"type":"string"}"##,
        r##"{"type":"string","pattern":"^x"}"##,
        &["EC-D018"],
        'I',
        'C',
    ),
    c(
        "pattern removed",
        r##"{"type":"string","pattern":"^x"}"##,
        r##"{"type":"string"}"##,
        &["EC-D019"],
        'C',
        'I',
    ),
    c(
        "unanchored pattern anchored",
        r##"{"type":"string","pattern":"abc"}"##,
        r##"{"type":"string","pattern":"^abc"}"##,
        &["EC-D018"],
        'I',
        'C',
    ),
    c(
        "pattern with look-ahead is undecided",
        r##"{"type":"string","pattern":"^a"}"##,
        r##"{"type":"string","pattern":"^(?=a)[a-z]+$"}"##,
        &["EC-D020"],
        'U',
        'U',
    ),
    c(
        "pattern quantifier widened",
        r##"{"type":"string","pattern":"^[0-9]{2}$"}"##,
        r##"{"type":"string","pattern":"^[0-9]{2,4}$"}"##,
        &["EC-D019"],
        'C',
        'I',
    ),
    c(
        "format added (keyword-diff tools ignore format)",
        r##"{"type":"string"}"##,
        r##"{"type":"string","format":"uuid"}"##,
        &["EC-D021"],
        'I',
        'C',
    ),
    c(
        "format removed",
        r##"{"type":"string","format":"date-time"}"##,
        r##"{"type":"string"}"##,
        &["EC-D021"],
        'C',
        'I',
    ),
    c(
        "format changed",
        r##"{"type":"string","format":"uuid"}"##,
        r##"{"type":"string","format":"date-time"}"##,
        &["EC-D021"],
        'I',
        'I',
    ),
    c(
        "format the checker cannot test is undecided",
        r##"{"type":"string"}"##,
        r##"{"type":"string","format":"email"}"##,
        &["EC-D021"],
        'U',
        'C',
    ),
    // --- numbers -----------------------------------------------------------------------------
    c(
        "minimum raised",
        r##"{"type":"integer","minimum":0}"##,
        r##"{"type":"integer","minimum":5}"##,
        &["EC-D022"],
        'I',
        'C',
    ),
    c(
        "maximum lowered",
        r##"{"type":"number","maximum":10}"##,
        r##"{"type":"number","maximum":5.5}"##,
        &["EC-D022"],
        'I',
        'C',
    ),
    c(
        "minimum lowered",
        r##"{"type":"integer","minimum":5}"##,
        r##"{"type":"integer","minimum":1}"##,
        &["EC-D023"],
        'C',
        'I',
    ),
    c(
        "minimum made exclusive on numbers",
        r##"{"type":"number","minimum":4}"##,
        r##"{"type":"number","exclusiveMinimum":4}"##,
        &["EC-D022"],
        'I',
        'C',
    ),
    c(
        "integer exclusiveMinimum 4 is minimum 5",
        r##"{"type":"integer","exclusiveMinimum":4}"##,
        r##"{"type":"integer","minimum":5}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "integer exclusiveMaximum 10 is maximum 9",
        r##"{"type":"integer","exclusiveMaximum":10}"##,
        r##"{"type":"integer","maximum":9}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "number exclusiveMinimum 4 is not minimum 5",
        r##"{"type":"number","exclusiveMinimum":4}"##,
        r##"{"type":"number","minimum":5}"##,
        &["EC-D022"],
        'I',
        'C',
    ),
    c(
        "bound range moved",
        r##"{"type":"integer","minimum":0,"maximum":10}"##,
        r##"{"type":"integer","minimum":5,"maximum":20}"##,
        &["EC-D022"],
        'I',
        'I',
    ),
    c(
        "multipleOf added",
        r##"{"type":"integer"}"##,
        r##"{"type":"integer","multipleOf":5}"##,
        &["EC-D024"],
        'I',
        'C',
    ),
    c(
        "multipleOf 2 to 4",
        r##"{"type":"integer","multipleOf":2}"##,
        r##"{"type":"integer","multipleOf":4}"##,
        &["EC-D024"],
        'I',
        'C',
    ),
    c(
        "multipleOf 4 to 2",
        r##"{"type":"integer","multipleOf":4}"##,
        r##"{"type":"integer","multipleOf":2}"##,
        &["EC-D024"],
        'C',
        'I',
    ),
    c(
        "multipleOf removed",
        r##"{"type":"number","multipleOf":0.5}"##,
        r##"{"type":"number"}"##,
        &["EC-D024"],
        'C',
        'I',
    ),
    c(
        "integer multipleOf 1 is no constraint",
        r##"{"type":"integer","multipleOf":1}"##,
        r##"{"type":"integer"}"##,
        &[],
        'C',
        'C',
    ),
    // --- arrays ------------------------------------------------------------------------------
    c(
        "array item type changed",
        r##"{"type":"array","items":{"type":"string"}}"##,
        r##"{"type":"array","items":{"type":"integer"}}"##,
        &["EC-D012"],
        'I',
        'I',
    ),
    c(
        "minItems added",
        r##"{"type":"array","items":{"type":"string"}}"##,
        r##"{"type":"array","items":{"type":"string"},"minItems":1}"##,
        &["EC-D026"],
        'I',
        'C',
    ),
    c(
        "maxItems raised",
        r##"{"type":"array","items":{"type":"string"},"maxItems":2}"##,
        r##"{"type":"array","items":{"type":"string"},"maxItems":5}"##,
        &["EC-D027"],
        'C',
        'I',
    ),
    c(
        "uniqueItems added",
        r##"{"type":"array","items":{"type":"string"}}"##,
        r##"{"type":"array","items":{"type":"string"},"uniqueItems":true}"##,
        &["EC-D028"],
        'I',
        'C',
    ),
    c(
        "uniqueItems removed",
        r##"{"type":"array","items":{"type":"integer"},"uniqueItems":true}"##,
        r##"{"type":"array","items":{"type":"integer"}}"##,
        &["EC-D029"],
        'C',
        'I',
    ),
    c(
        "required property added inside array items",
        r##"{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"}}}}"##,
        r##"{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}}"##,
        &["EC-D003"],
        'I',
        'C',
    ),
    // --- unions ------------------------------------------------------------------------------
    c(
        "tagged oneOf branch added",
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t"]},{"type":"object","properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t"]},{"type":"object","properties":{"t":{"const":"b"}},"required":["t"]},{"type":"object","properties":{"t":{"const":"c"}},"required":["t"]}]}"##,
        &["EC-D030"],
        'C',
        'I',
    ),
    c(
        "tagged oneOf branch removed",
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"}},"required":["t"]},{"type":"object","properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"}},"required":["t"]}]}"##,
        &["EC-D031"],
        'I',
        'C',
    ),
    c(
        "overlapping oneOf branch added (Confluent misses the overlap)",
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]}]}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]},{"required":["c"]}]}"##,
        &["EC-D030", "EC-D032", "EC-D032"],
        'I',
        'I',
    ),
    c(
        "constraint added inside a oneOf branch (keyword-diff tools miss it)",
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"n":{"type":"integer"}},"required":["t","n"]},{"type":"object","properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"n":{"type":"integer","minimum":10}},"required":["t","n"]},{"type":"object","properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        &["EC-D022"],
        'I',
        'C',
    ),
    c(
        "anyOf branch added",
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"}},"anyOf":[{"required":["a"]},{"required":["b"]}]}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"}},"anyOf":[{"required":["a"]},{"required":["b"]},{"required":["c"]}]}"##,
        &["EC-D033"],
        'C',
        'I',
    ),
    c(
        "anyOf branch removed",
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"anyOf":[{"required":["a"]},{"required":["b"]}]}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"anyOf":[{"required":["a"]}]}"##,
        &["EC-D034"],
        'I',
        'C',
    ),
    c(
        "presence oneOf added",
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]}]}"##,
        &["EC-D030"],
        'I',
        'C',
    ),
    // --- fallback branches and `not` value sets --------------------------------------------
    c(
        "fallback branch whose tag is `not` the listed values does not overlap them",
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"title":"B","type":"object","properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"title":"B","type":"object","properties":{"t":{"const":"b"}},"required":["t"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"enum":["a","b"]}}},"required":["t"],"additionalProperties":true}]}"##,
        &["EC-D030"],
        'C',
        'I',
    ),
    c(
        "fallback branch excluding the listed tag with `not: {const}` does not overlap it",
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]}]}"##,
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"const":"a"}}},"required":["t"]}]}"##,
        &["EC-D030"],
        'C',
        'I',
    ),
    c(
        "new listed subtype the fallback does not exclude overlaps it",
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"}},"required":["t"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"enum":["a"]}},"y":{"type":"string"}},"required":["t"],"additionalProperties":true}]}"##,
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"}},"required":["t"]},{"title":"B","type":"object","properties":{"t":{"const":"b"},"y":{"type":"string"}},"required":["t","y"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"enum":["a"]}},"y":{"type":"string"}},"required":["t"],"additionalProperties":true}]}"##,
        &["EC-D030", "EC-D032"],
        'I',
        'C',
    ),
    c(
        "listed subtype dropped from the fallback's exclusion overlaps it",
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"title":"B","type":"object","properties":{"t":{"const":"b"}},"required":["t"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"enum":["a","b"]}}},"required":["t"],"additionalProperties":true}]}"##,
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"title":"B","type":"object","properties":{"t":{"const":"b"}},"required":["t"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"enum":["b"]}}},"required":["t"],"additionalProperties":true}]}"##,
        &["EC-D014", "EC-D032"],
        'I',
        'I',
    ),
    c(
        "subtype moved out of the fallback into a listed branch",
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"}},"required":["t"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"enum":["a"]}},"y":{"type":"string"}},"required":["t"],"additionalProperties":true}]}"##,
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"}},"required":["t"]},{"title":"B","type":"object","properties":{"t":{"const":"b"},"y":{"type":"string"}},"required":["t","y"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"enum":["a","b"]}},"y":{"type":"string"}},"required":["t"],"additionalProperties":true}]}"##,
        &["EC-D013", "EC-D030"],
        'I',
        'C',
    ),
    c(
        "fallback whose tag is excluded by another kind of `not` stays undecided",
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]}]}"##,
        r##"{"oneOf":[{"title":"A","type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"title":"Other","type":"object","properties":{"t":{"type":"string","not":{"pattern":"^a$"}}},"required":["t"]}]}"##,
        &["EC-D030", "EC-D032"],
        'U',
        'I',
    ),
    c(
        "value added to a `not: {enum}` exclusion",
        r##"{"type":"string","not":{"enum":["a"]}}"##,
        r##"{"type":"string","not":{"enum":["a","b"]}}"##,
        &["EC-D013"],
        'I',
        'C',
    ),
    c(
        "value removed from a `not: {enum}` exclusion",
        r##"{"type":"string","not":{"enum":["a","b"]}}"##,
        r##"{"type":"string","not":{"enum":["a"]}}"##,
        &["EC-D014"],
        'C',
        'I',
    ),
    c(
        "`not: {const}` dropped",
        r##"{"type":"object","properties":{"k":{"type":"string","not":{"const":"internal"}}}}"##,
        r##"{"type":"object","properties":{"k":{"type":"string"}}}"##,
        &["EC-D014"],
        'C',
        'I',
    ),
    c(
        "`not: {const}` replaced by another",
        r##"{"type":"integer","not":{"const":0}}"##,
        r##"{"type":"integer","not":{"const":1}}"##,
        &["EC-D015"],
        'I',
        'I',
    ),
    c(
        "`not: {enum}` restated as `not: {const}` is no change",
        r##"{"type":"string","not":{"enum":["a"],"description":"not a"}}"##,
        r##"{"type":"string","not":{"const":"a"}}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "excluded value of another type is no constraint",
        r##"{"type":"string"}"##,
        r##"{"type":"string","not":{"enum":[1,null]}}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "exclusion replaced by an enum of the values it allowed",
        r##"{"type":"string","not":{"enum":["a"]}}"##,
        r##"{"enum":["b","c"]}"##,
        &["EC-D013"],
        'I',
        'C',
    ),
    // --- properties around a union ----------------------------------------------------------
    c(
        "branch narrows a property the surrounding object declares",
        r##"{"type":"object","properties":{"x":{"type":"string"}},"oneOf":[{"properties":{"t":{"const":"a"}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"type":"object","properties":{"x":{"type":"string"}},"oneOf":[{"properties":{"t":{"const":"a"},"x":{"maxLength":3}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        &["EC-D016"],
        'I',
        'C',
    ),
    c(
        "branch gives a surrounding property another type",
        r##"{"type":"object","properties":{"x":{"type":"string"}},"oneOf":[{"properties":{"t":{"const":"a"}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"type":"object","properties":{"x":{"type":"string"}},"oneOf":[{"properties":{"t":{"const":"a"},"x":{"type":"integer"}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        &["EC-D010"],
        'I',
        'C',
    ),
    c(
        "branch narrows a property merged in through allOf",
        r##"{"allOf":[{"type":"object","properties":{"n":{"type":"integer"}}},{"anyOf":[{"properties":{"t":{"const":"a"}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}]}"##,
        r##"{"allOf":[{"type":"object","properties":{"n":{"type":"integer"}}},{"anyOf":[{"properties":{"t":{"const":"a"}},"required":["t"]},{"properties":{"t":{"const":"b"},"n":{"minimum":0}},"required":["t"]}]}]}"##,
        &["EC-D022"],
        'I',
        'C',
    ),
    c(
        "property moved from the surrounding object into every branch is no change",
        r##"{"type":"object","properties":{"x":{"type":"string"}},"required":["x"],"oneOf":[{"properties":{"t":{"const":"a"}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"type":"object","oneOf":[{"properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"properties":{"t":{"const":"b"},"x":{"type":"string"}},"required":["t","x"]}]}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "surrounding property narrowed is one finding, not one per branch",
        r##"{"type":"object","properties":{"x":{"type":"string"}},"oneOf":[{"properties":{"t":{"const":"a"}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        r##"{"type":"object","properties":{"x":{"type":"string","maxLength":3}},"oneOf":[{"properties":{"t":{"const":"a"}},"required":["t"]},{"properties":{"t":{"const":"b"}},"required":["t"]}]}"##,
        &["EC-D016"],
        'I',
        'C',
    ),
    // --- allOf and $ref refactors ------------------------------------------------------------
    c(
        "constraint added inside allOf (keyword-diff tools miss it)",
        r##"{"allOf":[{"type":"object","properties":{"id":{"type":"string"}}},{"properties":{"n":{"type":"integer"}}}]}"##,
        r##"{"allOf":[{"type":"object","properties":{"id":{"type":"string","minLength":3}}},{"properties":{"n":{"type":"integer"}}}]}"##,
        &["EC-D016"],
        'I',
        'C',
    ),
    c(
        "allOf split is no change",
        r##"{"type":"object","properties":{"id":{"type":"string"},"n":{"type":"integer"}},"required":["id"]}"##,
        r##"{"allOf":[{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]},{"type":"object","properties":{"n":{"type":"integer"}}}]}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "inline to $ref is no change",
        r##"{"type":"object","properties":{"p":{"type":"object","properties":{"x":{"type":"integer","minimum":0}},"required":["x"]}}}"##,
        r##"{"type":"object","$defs":{"P":{"title":"P","type":"object","properties":{"x":{"type":"integer","minimum":0}},"required":["x"]}},"properties":{"p":{"$ref":"#/$defs/P"}}}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "allOf narrowing a base property with const",
        r##"{"$defs":{"B":{"type":"object","properties":{"kind":{"type":"string"}},"required":["kind"]}},"allOf":[{"$ref":"#/$defs/B"}]}"##,
        r##"{"$defs":{"B":{"type":"object","properties":{"kind":{"type":"string"}},"required":["kind"]}},"allOf":[{"$ref":"#/$defs/B"},{"properties":{"kind":{"const":"api_call"}}}]}"##,
        &["EC-D013"],
        'I',
        'C',
    ),
    c(
        "properties reordered is no change",
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}"##,
        r##"{"type":"object","properties":{"b":{"type":"integer"},"a":{"type":"string"}}}"##,
        &[],
        'C',
        'C',
    ),
    c(
        "annotations only is no change",
        r##"{"type":"object","description":"x","properties":{"a":{"type":"string","description":"one","examples":["q"]}}}"##,
        r##"{"type":"object","description":"y","$comment":"c","properties":{"a":{"type":"string","description":"two","deprecated":true}}}"##,
        &[],
        'C',
        'C',
    ),
    // --- conditionals, negation, dependencies ------------------------------------------------
    c(
        "if/then added",
        r##"{"type":"object","properties":{"kind":{"enum":["bot","user"]},"bot_id":{"type":"string"}},"required":["kind"]}"##,
        r##"{"type":"object","properties":{"kind":{"enum":["bot","user"]},"bot_id":{"type":"string"}},"required":["kind"],"if":{"properties":{"kind":{"const":"bot"}},"required":["kind"]},"then":{"required":["bot_id"]}}"##,
        &["EC-D035"],
        'I',
        'C',
    ),
    c(
        "if/then removed",
        r##"{"type":"object","properties":{"kind":{"enum":["bot","user"]},"bot_id":{"type":"string"}},"required":["kind"],"if":{"properties":{"kind":{"const":"bot"}},"required":["kind"]},"then":{"required":["bot_id"]}}"##,
        r##"{"type":"object","properties":{"kind":{"enum":["bot","user"]},"bot_id":{"type":"string"}},"required":["kind"]}"##,
        &["EC-D035"],
        'C',
        'I',
    ),
    c(
        "not added",
        r##"{"type":"object","properties":{"a":{"type":"string"},"x":{"type":"string"}}}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"},"x":{"type":"string"}},"not":{"required":["x"]}}"##,
        &["EC-D039"],
        'I',
        'C',
    ),
    c(
        "dependentRequired added",
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"dependentRequired":{"a":["b"]}}"##,
        &["EC-D036"],
        'I',
        'C',
    ),
    c(
        "dependentRequired removed",
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"dependentRequired":{"a":["b"]}}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"##,
        &["EC-D037"],
        'C',
        'I',
    ),
    c(
        "patternProperties added beside declared properties: generated producers write none of its keys",
        r##"{"type":"object","properties":{"a":{"type":"string"}}}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"}},"patternProperties":{"^x_":{"type":"integer"}}}"##,
        &[],
        'C',
        'C',
    ),
    set(c(
        "patternProperties added: any producer may have written a matching key with another value",
        r##"{"type":"object","properties":{"a":{"type":"string"}}}"##,
        r##"{"type":"object","properties":{"a":{"type":"string"}},"patternProperties":{"^x_":{"type":"integer"}}}"##,
        &["EC-D052"],
        'I',
        'C',
    )),
    // --- renames and the Rust API ------------------------------------------------------------
    rust(
        c(
            "declared rename passes BACKWARD (serde alias)",
            r##"{"title":"T","type":"object","properties":{"user_name":{"type":"string"}},"required":["user_name"]}"##,
            r##"{"title":"T","type":"object","properties":{"login":{"type":"string","x-renamed-from":"user_name"}},"required":["login"]}"##,
            &["EC-D038"],
            'C',
            'I',
        ),
        &["EC-S003"],
    ),
    rust(
        c(
            "undeclared rename breaks data and code",
            r##"{"title":"T","type":"object","properties":{"user_name":{"type":"string"}},"required":["user_name"]}"##,
            r##"{"title":"T","type":"object","properties":{"login":{"type":"string"}},"required":["login"]}"##,
            &["EC-D002", "EC-D003"],
            'I',
            'I',
        ),
        &["EC-S005"],
    ),
    rust(
        c(
            "event type renamed (title) breaks compiled code only",
            r##"{"title":"Old","type":"object","properties":{"a":{"type":"string"}}}"##,
            r##"{"title":"New","type":"object","properties":{"a":{"type":"string"}}}"##,
            &[],
            'C',
            'C',
        ),
        &["EC-S001"],
    ),
    rust(
        c(
            "nested type renamed",
            r##"{"title":"T","type":"object","properties":{"p":{"title":"Point","type":"object","properties":{"x":{"type":"integer"}}}}}"##,
            r##"{"title":"T","type":"object","properties":{"p":{"title":"Position","type":"object","properties":{"x":{"type":"integer"}}}}}"##,
            &[],
            'C',
            'C',
        ),
        &["EC-S002"],
    ),
    rust(
        c(
            "minimum 0 dropped changes u64 to i64",
            r##"{"title":"T","type":"object","properties":{"n":{"type":"integer","minimum":0}},"required":["n"]}"##,
            r##"{"title":"T","type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"##,
            &["EC-D023"],
            'C',
            'I',
        ),
        &["EC-S004"],
    ),
    rust(
        c(
            "enum value removed removes a variant",
            r##"{"title":"T","type":"object","properties":{"k":{"title":"Kind","enum":["a","b"]}}}"##,
            r##"{"title":"T","type":"object","properties":{"k":{"title":"Kind","enum":["a"]}}}"##,
            &["EC-D013"],
            'I',
            'C',
        ),
        &["EC-S006"],
    ),
    // --- nested and combined -----------------------------------------------------------------
    c(
        "nested property type narrowed",
        r##"{"type":"object","properties":{"cfg":{"type":"object","properties":{"rate":{"type":"number"}}}}}"##,
        r##"{"type":"object","properties":{"cfg":{"type":"object","properties":{"rate":{"type":"integer"}}}}}"##,
        &["EC-D010"],
        'I',
        'C',
    ),
    c(
        "nested required added in an optional object",
        r##"{"type":"object","properties":{"cfg":{"type":"object","properties":{"rate":{"type":"number"}}}}}"##,
        r##"{"type":"object","properties":{"cfg":{"type":"object","properties":{"rate":{"type":"number"}},"required":["rate"]}}}"##,
        &["EC-D003"],
        'I',
        'C',
    ),
    c(
        "several changes at once",
        r##"{"type":"object","properties":{"a":{"type":"string","maxLength":5},"b":{"type":"integer"}},"required":["a"]}"##,
        r##"{"type":"object","properties":{"a":{"type":"string","maxLength":10},"c":{"type":"integer"}},"required":["a","c"]}"##,
        &["EC-D002", "EC-D003", "EC-D017"],
        'I',
        'I',
    ),
    c("identical schemas", OBJ_AB, OBJ_AB, &[], 'C', 'C'),
    c(
        "boolean schema false to true",
        r##"{"type":"object","properties":{"a":false}}"##,
        r##"{"type":"object","properties":{"a":true}}"##,
        &["EC-D011"],
        'C',
        'I',
    ),
];

fn verdict(c: char) -> Verdict {
    match c {
        'C' => Verdict::Compatible,
        'I' => Verdict::Incompatible,
        'U' => Verdict::Unknown,
        other => panic!("bad verdict {other}"),
    }
}

fn worst(a: Verdict, b: Verdict) -> Verdict {
    use Verdict::*;
    match (a, b) {
        (Incompatible, _) | (_, Incompatible) => Incompatible,
        (Unknown, _) | (_, Unknown) => Unknown,
        _ => Compatible,
    }
}

fn wrap(body: &str) -> String {
    let mut v: Value = serde_json::from_str(body).expect("case JSON");
    v["$schema"] = "https://json-schema.org/draft/2020-12/schema".into();
    v.to_string()
}

/// The counterexample is accepted by the side it names and rejected by the other.
pub fn assert_counterexample_holds(old: &Value, new: &Value, f: &Finding) {
    let Some(cx) = &f.counterexample else { return };
    let compile = |s: &Value| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(s)
            .expect("compiles")
    };
    let (vo, vn) = (compile(old), compile(new));
    let (acc, rej) = match cx.accepted_by {
        Side::Old => (&vo, &vn),
        Side::New => (&vn, &vo),
    };
    assert!(
        acc.is_valid(&cx.message),
        "{}: accepting side rejects {}",
        f.rule.0,
        cx.message
    );
    assert!(
        !rej.is_valid(&cx.message),
        "{}: rejecting side accepts {}",
        f.rule.0,
        cx.message
    );
}

/// Data findings of a BACKWARD check of two schemas.
fn data_findings(old: &str, new: &str) -> Vec<Finding> {
    let (old, new) = (wrap(old), wrap(new));
    check_files(
        ("old.json", &old),
        ("new.json", &new),
        Mode::Full,
        &Options::default(),
    )
    .expect("checks")
    .findings
    .into_iter()
    .filter(|f| f.category == Category::Data)
    .collect()
}

#[test]
fn one_change_in_two_branches_is_two_fingerprints() {
    let old = r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"n":{"type":"integer"}},"required":["t","n"]},{"type":"object","properties":{"t":{"const":"b"},"n":{"type":"integer"}},"required":["t","n"]}]}"##;
    let new = r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"n":{"type":"integer","minimum":10}},"required":["t","n"]},{"type":"object","properties":{"t":{"const":"b"},"n":{"type":"integer","minimum":10}},"required":["t","n"]}]}"##;
    let found = data_findings(old, new);
    let d022: Vec<&Finding> = found.iter().filter(|f| f.rule.0 == "EC-D022").collect();
    assert_eq!(d022.len(), 2, "{found:#?}");
    assert_eq!(d022[0].path, d022[1].path);
    assert_ne!(d022[0].fingerprint, d022[1].fingerprint);

    // Overlaps of one new branch with two others: two fingerprints.
    let old = r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]}]}"##;
    let new = r##"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]},{"required":["c"]}]}"##;
    let found = data_findings(old, new);
    let d032: Vec<&Finding> = found.iter().filter(|f| f.rule.0 == "EC-D032").collect();
    assert_eq!(d032.len(), 2, "{found:#?}");
    assert_ne!(d032[0].fingerprint, d032[1].fingerprint);

    // Outside unions the fingerprint is still rule, system, event and path.
    let found = data_findings(
        r##"{"type":"object","properties":{"a":{"type":"string"}}}"##,
        r##"{"type":"object","properties":{"a":{"type":"string","maxLength":3}}}"##,
    );
    assert_eq!(
        found[0].fingerprint,
        event_contracts_compat::fingerprint(found[0].rule, None, None, "/a", "length 0.. -> 0..=3")
    );
}

#[test]
fn a_larger_break_at_the_same_place_is_another_fingerprint() {
    let schema = |units: &str, amount: &str, note: &str| {
        format!(
            r##"{{"type":"object","properties":{{"unit":{{"enum":[{units}]}},"amount":{{"type":"integer"{amount}}},"note":{{"type":"string"{note}}}}}}}"##
        )
    };
    let old = schema(r#""hpa","percent","db""#, r#","minimum":0"#, "");
    let fingerprint = |new: &str, rule: &str| -> String {
        let found = data_findings(&old, new);
        let of_rule: Vec<&Finding> = found.iter().filter(|f| f.rule.0 == rule).collect();
        assert_eq!(of_rule.len(), 1, "{found:#?}");
        of_rule[0].fingerprint.clone()
    };
    let hpa = fingerprint(
        &schema(r#""percent","db""#, r#","minimum":0"#, ""),
        "EC-D013",
    );
    // The same break, the new enum in another order and an unrelated edit elsewhere.
    assert_eq!(
        hpa,
        fingerprint(
            &schema(r#""db","percent""#, r#","minimum":0"#, r#","maxLength":9"#),
            "EC-D013"
        )
    );
    // More values removed: not the break an allow-list entry for `hpa` accepted.
    assert_ne!(
        hpa,
        fingerprint(&schema(r#""db""#, r#","minimum":0"#, ""), "EC-D013")
    );
    // A bound narrowed further.
    let units = r#""hpa","percent","db""#;
    assert_ne!(
        fingerprint(&schema(units, r#","minimum":5"#, ""), "EC-D022"),
        fingerprint(&schema(units, r#","minimum":10"#, ""), "EC-D022")
    );
}

#[test]
fn other_not_is_undecided_on_not() {
    let found = data_findings(
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]}]}"##,
        r##"{"oneOf":[{"type":"object","properties":{"t":{"const":"a"},"x":{"type":"string"}},"required":["t","x"]},{"type":"object","properties":{"t":{"type":"string","not":{"pattern":"^a$"}}},"required":["t"]}]}"##,
    );
    let overlap = found
        .iter()
        .find(|f| f.rule.0 == "EC-D032")
        .expect("an overlap finding");
    assert_eq!(overlap.verdict, Verdict::Unknown);
    assert_eq!(overlap.undecided_keyword.as_deref(), Some("not"));
}

#[test]
fn corpus() {
    assert!(CASES.len() >= 80, "{} cases", CASES.len());
    let mut failures = Vec::new();
    for case in CASES {
        let (old, new) = (wrap(case.old), wrap(case.new));
        let options = Options {
            semantics: if case.set {
                Semantics::Set
            } else {
                Semantics::Generated
            },
            ..Options::default()
        };
        let (ov, nv): (Value, Value) = (
            serde_json::from_str(&old).unwrap(),
            serde_json::from_str(&new).unwrap(),
        );
        for (mode, want) in [
            (Mode::Backward, verdict(case.backward)),
            (Mode::Forward, verdict(case.forward)),
            (
                Mode::Full,
                worst(verdict(case.backward), verdict(case.forward)),
            ),
        ] {
            let report = match check_files(("old.json", &old), ("new.json", &new), mode, &options) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{}: {e}", case.name));
                    break;
                }
            };
            let data: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| f.category == Category::Data)
                .collect();
            let got = data
                .iter()
                .fold(Verdict::Compatible, |a, f| worst(a, f.verdict));
            if got != want {
                failures.push(format!(
                    "{} [{mode:?}]: verdict {got:?}, expected {want:?}\n{}",
                    case.name,
                    event_contracts_compat::render::text(&report)
                ));
            }
            let mut rules: Vec<&str> = data.iter().map(|f| f.rule.0).collect();
            rules.sort();
            let mut expected: Vec<&str> = case.rules.to_vec();
            expected.sort();
            if rules != expected {
                failures.push(format!(
                    "{} [{mode:?}]: rules {rules:?}, expected {expected:?}\n{}",
                    case.name,
                    event_contracts_compat::render::text(&report)
                ));
            }
            for r in case.rust {
                if !report.findings.iter().any(|f| f.rule.0 == *r) {
                    failures.push(format!(
                        "{}: missing {r}\n{}",
                        case.name,
                        event_contracts_compat::render::text(&report)
                    ));
                }
            }
            for f in &report.findings {
                if f.verdict == Verdict::Incompatible && f.category == Category::Data {
                    assert!(
                        f.counterexample.is_some(),
                        "{}: {} has no counterexample",
                        case.name,
                        f.rule.0
                    );
                }
                if f.verdict == Verdict::Unknown {
                    assert!(
                        f.undecided_keyword.is_some(),
                        "{}: {} names no keyword",
                        case.name,
                        f.rule.0
                    );
                }
                assert_counterexample_holds(&ov, &nv, f);
            }
            let s = &report.events[0];
            if s.backward != verdict(case.backward) || s.forward != verdict(case.forward) {
                failures.push(format!(
                    "{} [{mode:?}]: summary {:?}/{:?}",
                    case.name, s.backward, s.forward
                ));
            }
            if mode != Mode::Backward {
                // The verdicts are the same in every mode; one mode's rules suffice.
                continue;
            }
        }
    }
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
