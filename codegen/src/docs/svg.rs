//! The flow diagram of a system, drawn at generation time: producers → channels → consumers
//! in three columns of boxes with arrows, so the page needs no script or library to show it.

use std::collections::BTreeSet;

use crate::manifest::{Channel, Manifest};

use super::html::escape;

const BOX_W: usize = 250;
const BOX_H: usize = 30;
const ROW: usize = 40;
const TOP: usize = 40;
const COLUMNS: [usize; 3] = [10, 350, 690];
const WIDTH: usize = 950;
/// Characters that fit a box at the font size used; longer names are cut, the full name is
/// the box's tooltip.
const FIT: usize = 34;

/// How the diagram names a channel: the transport's own words for it.
pub(crate) fn channel_label(channel: &Channel) -> String {
    match channel {
        Channel::Kafka { topic } => format!("topic {topic}"),
        Channel::Redis { stream } => format!("stream {stream}"),
        Channel::Amqp {
            exchange,
            routing_key,
        } => format!("{exchange} → {routing_key}"),
        Channel::Nats { stream, subject } => format!("{stream} → {subject}"),
        Channel::Http { method, path } => format!("{method} {path}"),
    }
}

/// The SVG of `manifest`: every producer, channel and consumer once, an arrow per
/// producer→channel and channel→consumer pair some event declares. Declared consumer groups
/// are solid boxes; consumers the manifest names without a group are dashed.
pub(crate) fn diagram(manifest: &Manifest) -> String {
    let mut producers = Vec::new();
    let mut channels = Vec::new();
    let mut consumers: Vec<String> = Vec::new();
    let mut left = BTreeSet::new();
    let mut right = BTreeSet::new();
    for ev in &manifest.events {
        let channel = channel_label(&ev.channel);
        push_new(&mut channels, &channel);
        for p in &ev.producers {
            push_new(&mut producers, p);
            left.insert((p.clone(), channel.clone()));
        }
        for c in &ev.consumers {
            push_new(&mut consumers, c);
            right.insert((channel.clone(), c.clone()));
        }
    }
    let groups: BTreeSet<&str> = manifest
        .consumer_groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    for g in &manifest.consumer_groups {
        push_new(&mut consumers, &g.name);
    }
    let rows = producers
        .len()
        .max(channels.len())
        .max(consumers.len())
        .max(1);
    let height = TOP + rows * ROW + 10;
    let y = |i: usize| TOP + i * ROW;
    let pos = |list: &[String], name: &str| list.iter().position(|n| n == name).unwrap_or(0);

    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"flow\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"producers, channels and consumers of {}\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n",
        escape(&manifest.system)
    );
    for (x, head) in COLUMNS.iter().zip(["producers", "channels", "consumers"]) {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"22\" class=\"head\">{head}</text>\n",
            x + BOX_W / 2
        ));
    }
    let edges = left
        .iter()
        .map(|(p, c)| ((0, pos(&producers, p)), (1, pos(&channels, c))))
        .chain(
            right
                .iter()
                .map(|(c, g)| ((1, pos(&channels, c)), (2, pos(&consumers, g)))),
        );
    for ((from_col, from_row), (to_col, to_row)) in edges {
        let (x1, y1) = (COLUMNS[from_col] + BOX_W, y(from_row) + BOX_H / 2);
        let (x2, y2) = (COLUMNS[to_col], y(to_row) + BOX_H / 2);
        out.push_str(&format!(
            "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" class=\"edge\" marker-end=\"url(#arrow)\"/>\n"
        ));
    }
    let mut boxes = |list: &[String], col: usize, class: &dyn Fn(&str) -> &'static str| {
        for (i, name) in list.iter().enumerate() {
            let shown = if name.chars().count() > FIT {
                format!("{}…", name.chars().take(FIT - 1).collect::<String>())
            } else {
                name.clone()
            };
            out.push_str(&format!(
                "<g class=\"{}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"5\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text></g>\n",
                class(name),
                escape(name),
                COLUMNS[col],
                y(i),
                COLUMNS[col] + BOX_W / 2,
                y(i) + BOX_H / 2 + 5,
                escape(&shown)
            ));
        }
    };
    boxes(&producers, 0, &|_| "producer");
    boxes(&channels, 1, &|_| "channel");
    boxes(&consumers, 2, &|name| {
        if groups.contains(name) {
            "group"
        } else {
            "consumer"
        }
    });
    out.push_str("</svg>");
    out
}

fn push_new(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}
