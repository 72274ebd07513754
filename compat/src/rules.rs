//! The rule registry: every rule is a typed value (id, category, severity, title, hint and the
//! keyword at stake), and findings are made from these values, never from id strings. Ids
//! never change meaning; new rules are appended.

use crate::finding::{Category, RuleId, Severity};

/// One rule: id, category, default severity (for a break), title and a one-line fix hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: RuleId,
    pub category: Category,
    pub severity: Severity,
    pub title: &'static str,
    pub hint: &'static str,
    /// The keyword named when a break of this rule cannot be confirmed (`schema` where no one
    /// keyword is at stake).
    pub keyword: &'static str,
}

const fn rule(
    id: &'static str,
    category: Category,
    severity: Severity,
    title: &'static str,
    hint: &'static str,
    keyword: &'static str,
) -> Rule {
    Rule {
        id: RuleId(id),
        category,
        severity,
        title,
        hint,
        keyword,
    }
}

use Category::{Data, GeneratedSource, Policy, Transport};
use Severity::{Error, Info, Warning};

pub static PROPERTY_ADDED: Rule = rule(
    "EC-D001",
    Data,
    Error,
    "property added",
    "add the property as optional; to a closed object only after every consumer knows it",
    "properties",
);
pub static PROPERTY_REMOVED: Rule = rule(
    "EC-D002",
    Data,
    Error,
    "property removed",
    "keep the property (mark it `deprecated`) until no consumer requires or closes over it",
    "properties",
);
pub static REQUIRED_PROPERTY_ADDED: Rule = rule(
    "EC-D003",
    Data,
    Error,
    "required property added",
    "make the new property optional, or publish a new event version",
    "required",
);
pub static REQUIRED_PROPERTY_ADDED_WITH_DEFAULT: Rule = rule("EC-D004", Data, Error, "required property added with a default", "a default does not make validators accept messages without the property: keep it optional with its default", "required");
pub static REQUIRED_MADE_OPTIONAL: Rule = rule(
    "EC-D005",
    Data,
    Error,
    "required property made optional",
    "keep it required until every consumer treats it as optional",
    "required",
);
pub static OBJECT_CLOSED: Rule = rule(
    "EC-D006",
    Data,
    Error,
    "object closed",
    "leave the object open (drop `additionalProperties: false`) so unknown properties are ignored",
    "additionalProperties",
);
pub static OBJECT_OPENED: Rule = rule(
    "EC-D007",
    Data,
    Error,
    "object opened",
    "keep `additionalProperties: false` until consumers accept unknown properties",
    "additionalProperties",
);
pub static MAP_VALUE_SCHEMA_ADDED: Rule = rule(
    "EC-D008",
    Data,
    Error,
    "map value schema added",
    "constrain map values only once every producer writes such values",
    "additionalProperties",
);
pub static MAP_VALUE_SCHEMA_REMOVED: Rule = rule(
    "EC-D009",
    Data,
    Error,
    "map value schema removed",
    "keep the map value schema until consumers accept any value",
    "additionalProperties",
);
pub static TYPE_NARROWED: Rule = rule(
    "EC-D010",
    Data,
    Error,
    "type narrowed",
    "accept the old type too (a type array or `anyOf`), or publish a new event version",
    "type",
);
pub static TYPE_WIDENED: Rule = rule(
    "EC-D011",
    Data,
    Error,
    "type widened",
    "upgrade consumers before producers write the new type",
    "type",
);
pub static TYPE_CHANGED: Rule = rule(
    "EC-D012",
    Data,
    Error,
    "type changed",
    "add a new property with the new type instead of changing this one",
    "type",
);
pub static VALUES_RESTRICTED: Rule = rule(
    "EC-D013",
    Data,
    Error,
    "enum/const value removed or restricted",
    "keep the old values accepted until no producer writes them",
    "enum",
);
pub static VALUES_ADDED: Rule = rule(
    "EC-D014",
    Data,
    Error,
    "enum/const value added or restriction removed",
    "upgrade consumers to accept the new values before producers write them",
    "enum",
);
pub static VALUES_CHANGED: Rule = rule(
    "EC-D015",
    Data,
    Error,
    "enum/const values changed",
    "add new values alongside the old ones instead of replacing them",
    "enum",
);
pub static LENGTH_TIGHTENED: Rule = rule(
    "EC-D016",
    Data,
    Error,
    "string length tightened",
    "keep the old length bounds, or validate the new bounds only in producers",
    "maxLength",
);
pub static LENGTH_LOOSENED: Rule = rule(
    "EC-D017",
    Data,
    Error,
    "string length loosened",
    "upgrade consumers to accept the new lengths before producers write them",
    "maxLength",
);
pub static PATTERN_NARROWED: Rule = rule(
    "EC-D018",
    Data,
    Error,
    "pattern narrowed or added",
    "keep accepting every string the old pattern accepted",
    "pattern",
);
pub static PATTERN_WIDENED: Rule = rule(
    "EC-D019",
    Data,
    Error,
    "pattern widened or removed",
    "upgrade consumers to accept the wider pattern before producers rely on it",
    "pattern",
);
pub static PATTERN_CHANGED: Rule = rule(
    "EC-D020",
    Data,
    Error,
    "pattern changed",
    "write a pattern that accepts both the old and the new strings",
    "pattern",
);
pub static FORMAT_CHANGED: Rule = rule(
    "EC-D021",
    Data,
    Error,
    "format added, changed or removed",
    "keep the format as it was, or publish a new event version",
    "format",
);
pub static RANGE_NARROWED: Rule = rule(
    "EC-D022",
    Data,
    Error,
    "numeric range narrowed",
    "keep the old bounds (minimum/maximum/exclusive*) on the consumer side",
    "minimum",
);
pub static RANGE_WIDENED: Rule = rule(
    "EC-D023",
    Data,
    Error,
    "numeric range widened",
    "upgrade consumers to accept the wider range before producers use it",
    "minimum",
);
pub static MULTIPLE_OF_CHANGED: Rule = rule(
    "EC-D024",
    Data,
    Error,
    "multipleOf changed",
    "only relax multipleOf to a divisor of the old value",
    "multipleOf",
);
pub static ARRAY_BOUNDS_TIGHTENED: Rule = rule(
    "EC-D026",
    Data,
    Error,
    "array length bounds tightened",
    "keep the old minItems/maxItems",
    "minItems",
);
pub static ARRAY_BOUNDS_LOOSENED: Rule = rule(
    "EC-D027",
    Data,
    Error,
    "array length bounds loosened",
    "upgrade consumers to accept the new array lengths first",
    "minItems",
);
pub static UNIQUE_ITEMS_ADDED: Rule = rule(
    "EC-D028",
    Data,
    Error,
    "uniqueItems added",
    "deduplicate in producers before consumers require unique items",
    "uniqueItems",
);
pub static UNIQUE_ITEMS_REMOVED: Rule = rule(
    "EC-D029",
    Data,
    Error,
    "uniqueItems removed",
    "upgrade consumers to accept duplicates first",
    "uniqueItems",
);
pub static ONE_OF_BRANCH_ADDED: Rule = rule(
    "EC-D030",
    Data,
    Error,
    "union branch added (oneOf)",
    "upgrade consumers to know the new branch before producers write it",
    "oneOf",
);
pub static ONE_OF_BRANCH_REMOVED: Rule = rule(
    "EC-D031",
    Data,
    Error,
    "union branch removed (oneOf)",
    "keep the branch until no producer writes it",
    "oneOf",
);
pub static ONE_OF_BRANCHES_OVERLAP: Rule = rule(
    "EC-D032",
    Data,
    Error,
    "oneOf branches overlap",
    "make the new branch disjoint from the others (a distinct tag `const`)",
    "oneOf",
);
pub static ANY_OF_BRANCH_ADDED: Rule = rule(
    "EC-D033",
    Data,
    Error,
    "anyOf branch added",
    "upgrade consumers to accept the new alternative before producers write it",
    "anyOf",
);
pub static ANY_OF_BRANCH_REMOVED: Rule = rule(
    "EC-D034",
    Data,
    Error,
    "anyOf branch removed",
    "keep the alternative until no producer writes it",
    "anyOf",
);
pub static CONDITIONAL_CHANGED: Rule = rule(
    "EC-D035",
    Data,
    Error,
    "conditional (if/then/else) changed",
    "keep the old conditional, or make the new one hold for every old message",
    "if",
);
pub static DEPENDENT_REQUIRED_ADDED: Rule = rule(
    "EC-D036",
    Data,
    Error,
    "dependentRequired added",
    "make the dependency hold in every producer first",
    "dependentRequired",
);
pub static DEPENDENT_REQUIRED_REMOVED: Rule = rule(
    "EC-D037",
    Data,
    Error,
    "dependentRequired removed",
    "upgrade consumers not to rely on the dependency first",
    "dependentRequired",
);
pub static PROPERTY_RENAMED: Rule = rule(
    "EC-D038",
    Data,
    Warning,
    "property renamed (x-renamed-from)",
    "keep writing the old name until every consumer has the alias",
    "x-renamed-from",
);
pub static NOT_CHANGED: Rule = rule(
    "EC-D039",
    Data,
    Error,
    "`not` changed",
    "keep the negated constraint as it was",
    "not",
);
pub static UNCOMPARED_CONSTRAINT_CHANGED: Rule = rule(
    "EC-D040",
    Data,
    Error,
    "constraint changed that is not compared structurally",
    "restate the constraint with supported keywords, or allow-list this finding with a reason",
    "schema",
);
pub static EVENT_TYPE_RENAMED: Rule = rule(
    "EC-S001",
    GeneratedSource,
    Warning,
    "event type renamed",
    "keep the schema `title`; code compiled against the old crate names the type",
    "schema",
);
pub static TYPE_RENAMED: Rule = rule(
    "EC-S002",
    GeneratedSource,
    Warning,
    "type renamed",
    "keep the `title` (or the property name it derives from) of the shared type",
    "schema",
);
pub static FIELD_RENAMED: Rule = rule(
    "EC-S003",
    GeneratedSource,
    Warning,
    "field renamed",
    "declare `x-renamed-from` and keep the old name in code through a deprecation cycle",
    "schema",
);
pub static FIELD_TYPE_CHANGED: Rule = rule(
    "EC-S004",
    GeneratedSource,
    Warning,
    "field Rust type changed",
    "keep the field's Rust type; add a new field for the new shape",
    "schema",
);
pub static RENAMED_WITHOUT_ALIAS: Rule = rule(
    "EC-S005",
    GeneratedSource,
    Warning,
    "property renamed without x-renamed-from",
    "declare `\"x-renamed-from\": \"<old name>\"` on the new property to get a serde alias",
    "schema",
);
pub static VARIANT_REMOVED: Rule = rule(
    "EC-S006",
    GeneratedSource,
    Warning,
    "enum variant removed",
    "keep the variant until no code matches on it",
    "schema",
);
pub static VARIANT_ADDED: Rule = rule(
    "EC-S007",
    GeneratedSource,
    Info,
    "enum variant added",
    "exhaustive `match`es on the enum need a new arm",
    "schema",
);
pub static FIELD_REMOVED: Rule = rule(
    "EC-S008",
    GeneratedSource,
    Warning,
    "field removed from the generated struct",
    "keep the field (deprecated) until no code reads it",
    "schema",
);
pub static EVENT_REMOVED: Rule = rule(
    "EC-T001",
    Transport,
    Error,
    "event removed",
    "keep the event until no producer writes it and no consumer expects it; deprecate first",
    "schema",
);
pub static CHANNEL_CHANGED: Rule = rule(
    "EC-T002",
    Transport,
    Error,
    "channel changed",
    "publish to both channels during the migration, or add a new event",
    "schema",
);
pub static ENVELOPE_CHANGED: Rule = rule(
    "EC-T003",
    Transport,
    Error,
    "envelope changed",
    "keep the envelope kind and fields; version the envelope instead",
    "schema",
);
pub static EVENT_ADDED: Rule = rule(
    "EC-T004",
    Transport,
    Info,
    "event added",
    "no action needed: new events are compatible",
    "schema",
);
pub static SCHEMA_FILE_MOVED: Rule = rule(
    "EC-T005",
    Transport,
    Info,
    "event schema file moved",
    "no action needed: the event is matched by system and name",
    "schema",
);
pub static EVENT_RENAMED: Rule = rule("EC-T006", Transport, Error, "event renamed (removed, and added under another name with the same schema)", "consumers of the old name no longer receive it: publish under both names for one release (move the consumers to the new name, then stop publishing the old one), keep the old name as an alias, or publish a new event version instead", "schema");
pub static MODE_CHANGED: Rule = rule(
    "EC-P001",
    Policy,
    Warning,
    "compatibility mode changed",
    "make the mode change in its own reviewed pull request",
    "schema",
);
pub static BREAK_WITHOUT_VERSION_BUMP: Rule = rule(
    "EC-P002",
    Policy,
    Warning,
    "breaking change without a version bump",
    "bump the event's `version` in the manifest for a breaking change",
    "schema",
);
pub static SERVICES_CHANGED: Rule = rule(
    "EC-P003",
    Policy,
    Info,
    "producers or consumers changed",
    "check the rollout order with the services listed",
    "schema",
);
pub static VERSION_CHANGED: Rule = rule(
    "EC-P004",
    Policy,
    Info,
    "event version changed",
    "no action needed",
    "schema",
);

// The object families of issue 14. Their ids start at EC-D050, apart from the ids the array
// families take, so the two halves of that issue merge without renumbering.
pub static PROPERTY_COUNT_TIGHTENED: Rule = rule(
    "EC-D050",
    Data,
    Error,
    "property count bounds tightened (minProperties/maxProperties)",
    "keep the old bounds until no producer writes objects outside the new ones",
    "minProperties",
);
pub static PROPERTY_COUNT_LOOSENED: Rule = rule(
    "EC-D051",
    Data,
    Error,
    "property count bounds loosened (minProperties/maxProperties)",
    "upgrade consumers to accept the wider range first",
    "maxProperties",
);
pub static PATTERN_PROPERTIES_CHANGED: Rule = rule(
    "EC-D052",
    Data,
    Error,
    "patternProperties changed",
    "keep what the keys each pattern matches may hold, or change producers and consumers in step",
    "patternProperties",
);
pub static DEPENDENT_SCHEMA_CHANGED: Rule = rule(
    "EC-D053",
    Data,
    Error,
    "dependentSchemas changed",
    "make the new dependent schema hold for every old message, or upgrade consumers first",
    "dependentSchemas",
);

// EC-D060 on: the array applicators of issue 14.
pub static CONTAINS_ADDED: Rule = rule(
    "EC-D060",
    Data,
    Error,
    "contains constraint added",
    "add `contains` only once every producer writes an item matching it (as often as minContains says)",
    "contains",
);
pub static CONTAINS_REMOVED: Rule = rule(
    "EC-D061",
    Data,
    Error,
    "contains constraint removed",
    "upgrade consumers to accept arrays without the matching item first",
    "contains",
);
pub static CONTAINS_CHANGED: Rule = rule(
    "EC-D062",
    Data,
    Error,
    "contains constraint or its counts changed",
    "keep the old `contains` schema and minContains/maxContains, or move producers and consumers to the new one in the order the verdicts say",
    "contains",
);

static RULES: &[&Rule] = &[
    &PROPERTY_ADDED,
    &PROPERTY_REMOVED,
    &REQUIRED_PROPERTY_ADDED,
    &REQUIRED_PROPERTY_ADDED_WITH_DEFAULT,
    &REQUIRED_MADE_OPTIONAL,
    &OBJECT_CLOSED,
    &OBJECT_OPENED,
    &MAP_VALUE_SCHEMA_ADDED,
    &MAP_VALUE_SCHEMA_REMOVED,
    &TYPE_NARROWED,
    &TYPE_WIDENED,
    &TYPE_CHANGED,
    &VALUES_RESTRICTED,
    &VALUES_ADDED,
    &VALUES_CHANGED,
    &LENGTH_TIGHTENED,
    &LENGTH_LOOSENED,
    &PATTERN_NARROWED,
    &PATTERN_WIDENED,
    &PATTERN_CHANGED,
    &FORMAT_CHANGED,
    &RANGE_NARROWED,
    &RANGE_WIDENED,
    &MULTIPLE_OF_CHANGED,
    &ARRAY_BOUNDS_TIGHTENED,
    &ARRAY_BOUNDS_LOOSENED,
    &UNIQUE_ITEMS_ADDED,
    &UNIQUE_ITEMS_REMOVED,
    &ONE_OF_BRANCH_ADDED,
    &ONE_OF_BRANCH_REMOVED,
    &ONE_OF_BRANCHES_OVERLAP,
    &ANY_OF_BRANCH_ADDED,
    &ANY_OF_BRANCH_REMOVED,
    &CONDITIONAL_CHANGED,
    &DEPENDENT_REQUIRED_ADDED,
    &DEPENDENT_REQUIRED_REMOVED,
    &PROPERTY_RENAMED,
    &NOT_CHANGED,
    &UNCOMPARED_CONSTRAINT_CHANGED,
    &PROPERTY_COUNT_TIGHTENED,
    &PROPERTY_COUNT_LOOSENED,
    &PATTERN_PROPERTIES_CHANGED,
    &DEPENDENT_SCHEMA_CHANGED,
    &EVENT_TYPE_RENAMED,
    &TYPE_RENAMED,
    &FIELD_RENAMED,
    &FIELD_TYPE_CHANGED,
    &RENAMED_WITHOUT_ALIAS,
    &VARIANT_REMOVED,
    &VARIANT_ADDED,
    &FIELD_REMOVED,
    &EVENT_REMOVED,
    &CHANNEL_CHANGED,
    &ENVELOPE_CHANGED,
    &EVENT_ADDED,
    &SCHEMA_FILE_MOVED,
    &EVENT_RENAMED,
    &MODE_CHANGED,
    &BREAK_WITHOUT_VERSION_BUMP,
    &SERVICES_CHANGED,
    &VERSION_CHANGED,
    &CONTAINS_ADDED,
    &CONTAINS_REMOVED,
    &CONTAINS_CHANGED,
];

/// Every rule, in id order.
pub fn all() -> &'static [&'static Rule] {
    RULES
}

/// The rule with this id (for readers of reports and allow-lists; findings are made from the
/// rule values themselves, so no finding can name a rule that does not exist).
pub fn get(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id.0 == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sorted_within_category() {
        let mut ids: Vec<&str> = all().iter().map(|r| r.id.0).collect();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        for r in all() {
            assert!(!r.hint.is_empty() && !r.title.is_empty(), "{}", r.id.0);
            let prefix = match r.category {
                Category::Data => "EC-D",
                Category::GeneratedSource => "EC-S",
                Category::Transport => "EC-T",
                Category::Policy => "EC-P",
            };
            assert!(r.id.0.starts_with(prefix), "{}", r.id.0);
        }
        assert_eq!(
            get("EC-D003").map(|r| r.title),
            Some("required property added")
        );
        assert!(get("EC-X999").is_none());
    }
}
