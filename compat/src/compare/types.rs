//! `type`: the JSON types a value may take.

use super::*;

impl Comparer {
    pub(super) fn types(
        &mut self,
        o: &Schema,
        n: &Schema,
        to: schema::Types,
        tn: schema::Types,
        cx: &Cx,
    ) {
        let lost = to & !tn;
        let gained = tn & !to;
        if lost == 0 && gained == 0 {
            return;
        }
        let witness = |s: &Schema, t: schema::Types, side_new: bool| -> Dec {
            // The lowest kind first; a later one when the schema has no value of it (a
            // `not: {type: integer}` leaves only the numbers that are not integers).
            let value = [lowest_kind(t), NULL, BOOL, OBJ, ARR, STR, INT, NUM]
                .into_iter()
                .filter(|k| t & k != 0)
                .find_map(|k| synth::synth_kind(s, k));
            match value {
                Some(v) if side_new => cx.new_at(Leaf::Set(v)),
                Some(v) => cx.old_at(Leaf::Set(v)),
                None => Dec::Unknown("type".into()),
            }
        };
        let bw = if lost != 0 {
            witness(o, lost, false)
        } else {
            Dec::Holds
        };
        let fw = if gained != 0 {
            witness(n, gained, true)
        } else {
            Dec::Holds
        };
        let rule = match (lost != 0, gained != 0) {
            (true, false) => &rules::TYPE_NARROWED,
            (false, true) => &rules::TYPE_WIDENED,
            _ => &rules::TYPE_CHANGED,
        };
        let verb = if rule == &rules::TYPE_NARROWED {
            "narrowed"
        } else if rule == &rules::TYPE_WIDENED {
            "widened"
        } else {
            "changed"
        };
        let mut message = format!(
            "{}: type {verb} from `{}` to `{}`",
            cx.here(),
            type_names(to),
            type_names(tn)
        );
        if lost == NULL || gained == NULL {
            message.push_str(if lost == NULL {
                " (no longer nullable)"
            } else {
                " (now nullable)"
            });
        }
        self.push(
            rule,
            cx,
            message,
            format!("type {} -> {}", type_names(to), type_names(tn)),
            o.kw_loc("type"),
            n.kw_loc("type"),
            bw,
            fw,
        );
    }
}
