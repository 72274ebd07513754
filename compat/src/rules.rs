//! The rule registry: every finding names one of these stable ids. Ids never change meaning;
//! new rules are appended.

use crate::finding::{Category, RuleId, Severity};

/// One rule: id, category, default severity (for a break), title and a one-line fix hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: RuleId,
    pub category: Category,
    pub severity: Severity,
    pub title: &'static str,
    pub hint: &'static str,
}

const fn rule(
    id: &'static str,
    category: Category,
    severity: Severity,
    title: &'static str,
    hint: &'static str,
) -> Rule {
    Rule {
        id: RuleId(id),
        category,
        severity,
        title,
        hint,
    }
}

use Category::{Data, GeneratedSource, Policy, Transport};
use Severity::{Error, Info, Warning};

static RULES: &[Rule] = &[
    rule("EC-D001", Data, Error, "property added", "add the property as optional; to a closed object only after every consumer knows it"),
    rule("EC-D002", Data, Error, "property removed", "keep the property (mark it `deprecated`) until no consumer requires or closes over it"),
    rule("EC-D003", Data, Error, "required property added", "make the new property optional, or publish a new event version"),
    rule("EC-D004", Data, Error, "required property added with a default", "a default does not make validators accept messages without the property: keep it optional with its default"),
    rule("EC-D005", Data, Error, "required property made optional", "keep it required until every consumer treats it as optional"),
    rule("EC-D006", Data, Error, "object closed", "leave the object open (drop `additionalProperties: false`) so unknown properties are ignored"),
    rule("EC-D007", Data, Error, "object opened", "keep `additionalProperties: false` until consumers accept unknown properties"),
    rule("EC-D008", Data, Error, "map value schema added", "constrain map values only once every producer writes such values"),
    rule("EC-D009", Data, Error, "map value schema removed", "keep the map value schema until consumers accept any value"),
    rule("EC-D010", Data, Error, "type narrowed", "accept the old type too (a type array or `anyOf`), or publish a new event version"),
    rule("EC-D011", Data, Error, "type widened", "upgrade consumers before producers write the new type"),
    rule("EC-D012", Data, Error, "type changed", "add a new property with the new type instead of changing this one"),
    rule("EC-D013", Data, Error, "enum/const value removed or restricted", "keep the old values accepted until no producer writes them"),
    rule("EC-D014", Data, Error, "enum/const value added or restriction removed", "upgrade consumers to accept the new values before producers write them"),
    rule("EC-D015", Data, Error, "enum/const values changed", "add new values alongside the old ones instead of replacing them"),
    rule("EC-D016", Data, Error, "string length tightened", "keep the old length bounds, or validate the new bounds only in producers"),
    rule("EC-D017", Data, Error, "string length loosened", "upgrade consumers to accept the new lengths before producers write them"),
    rule("EC-D018", Data, Error, "pattern narrowed or added", "keep accepting every string the old pattern accepted"),
    rule("EC-D019", Data, Error, "pattern widened or removed", "upgrade consumers to accept the wider pattern before producers rely on it"),
    rule("EC-D020", Data, Error, "pattern changed", "write a pattern that accepts both the old and the new strings"),
    rule("EC-D021", Data, Error, "format added, changed or removed", "keep the format as it was, or publish a new event version"),
    rule("EC-D022", Data, Error, "numeric range narrowed", "keep the old bounds (minimum/maximum/exclusive*) on the consumer side"),
    rule("EC-D023", Data, Error, "numeric range widened", "upgrade consumers to accept the wider range before producers use it"),
    rule("EC-D024", Data, Error, "multipleOf changed", "only relax multipleOf to a divisor of the old value"),
    rule("EC-D026", Data, Error, "array length bounds tightened", "keep the old minItems/maxItems"),
    rule("EC-D027", Data, Error, "array length bounds loosened", "upgrade consumers to accept the new array lengths first"),
    rule("EC-D028", Data, Error, "uniqueItems added", "deduplicate in producers before consumers require unique items"),
    rule("EC-D029", Data, Error, "uniqueItems removed", "upgrade consumers to accept duplicates first"),
    rule("EC-D030", Data, Error, "union branch added (oneOf)", "upgrade consumers to know the new branch before producers write it"),
    rule("EC-D031", Data, Error, "union branch removed (oneOf)", "keep the branch until no producer writes it"),
    rule("EC-D032", Data, Error, "oneOf branches overlap", "make the new branch disjoint from the others (a distinct tag `const`)"),
    rule("EC-D033", Data, Error, "anyOf branch added", "upgrade consumers to accept the new alternative before producers write it"),
    rule("EC-D034", Data, Error, "anyOf branch removed", "keep the alternative until no producer writes it"),
    rule("EC-D035", Data, Error, "conditional (if/then/else) changed", "keep the old conditional, or make the new one hold for every old message"),
    rule("EC-D036", Data, Error, "dependentRequired added", "make the dependency hold in every producer first"),
    rule("EC-D037", Data, Error, "dependentRequired removed", "upgrade consumers not to rely on the dependency first"),
    rule("EC-D038", Data, Warning, "property renamed (x-renamed-from)", "keep writing the old name until every consumer has the alias"),
    rule("EC-D039", Data, Error, "`not` changed", "keep the negated constraint as it was"),
    rule("EC-D040", Data, Error, "constraint changed that is not compared structurally", "restate the constraint with supported keywords, or allow-list this finding with a reason"),
    rule("EC-S001", GeneratedSource, Warning, "event type renamed", "keep the schema `title`; code compiled against the old crate names the type"),
    rule("EC-S002", GeneratedSource, Warning, "type renamed", "keep the `title` (or the property name it derives from) of the shared type"),
    rule("EC-S003", GeneratedSource, Warning, "field renamed", "declare `x-renamed-from` and keep the old name in code through a deprecation cycle"),
    rule("EC-S004", GeneratedSource, Warning, "field Rust type changed", "keep the field's Rust type; add a new field for the new shape"),
    rule("EC-S005", GeneratedSource, Warning, "property renamed without x-renamed-from", "declare `\"x-renamed-from\": \"<old name>\"` on the new property to get a serde alias"),
    rule("EC-S006", GeneratedSource, Warning, "enum variant removed", "keep the variant until no code matches on it"),
    rule("EC-S007", GeneratedSource, Info, "enum variant added", "exhaustive `match`es on the enum need a new arm"),
    rule("EC-S008", GeneratedSource, Warning, "field removed from the generated struct", "keep the field (deprecated) until no code reads it"),
    rule("EC-T001", Transport, Error, "event removed", "keep the event until no producer writes it and no consumer expects it; deprecate first"),
    rule("EC-T002", Transport, Error, "channel changed", "publish to both channels during the migration, or add a new event"),
    rule("EC-T003", Transport, Error, "envelope changed", "keep the envelope kind and fields; version the envelope instead"),
    rule("EC-T004", Transport, Info, "event added", "no action needed: new events are compatible"),
    rule("EC-T005", Transport, Info, "event schema file moved", "no action needed: the event is matched by system and name"),
    rule("EC-T006", Transport, Error, "event renamed (removed, and added under another name with the same schema)", "consumers of the old name no longer receive it: publish under both names for one release (move the consumers to the new name, then stop publishing the old one), keep the old name as an alias, or publish a new event version instead"),
    rule("EC-P001", Policy, Warning, "compatibility mode changed", "make the mode change in its own reviewed pull request"),
    rule("EC-P002", Policy, Warning, "breaking change without a version bump", "bump the event's `version` in the manifest for a breaking change"),
    rule("EC-P003", Policy, Info, "producers or consumers changed", "check the rollout order with the services listed"),
    rule("EC-P004", Policy, Info, "event version changed", "no action needed"),
];

/// Every rule, in id order.
pub fn all() -> &'static [Rule] {
    RULES
}

/// The rule with this id.
pub fn get(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id.0 == id)
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
