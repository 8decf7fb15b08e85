//! A picture of a flow: every node a box (key, kind, what it plays or
//! dials), every route a labelled arrow (digits, timeout, invalid, retries
//! exhausted, failover, each rule's condition, default), each DID's entry.
//! Nodes no entry leads to are grey, nodes with validation errors red, and
//! a simulated call's path (`highlight`) is drawn in orange.
//!
//! [`dot`] writes Graphviz DOT (what `diagram.dot` serves); [`svg`] lays
//! that DOT out with `layout-rs` (no layout engine of ours) and renders it.
//! Pure: no IO.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::content::FlowContent;
use super::model::{Condition, DigitsSource, Menu, Node, NodeKind};
use super::validate::FlowIssue;

/// The longest label text kept (longer is cut with `…`).
const MAX_LABEL: usize = 48;

const ERROR_FILL: &str = "#fde2e2";
const ERROR_LINE: &str = "#c0392b";
const UNREACHED_FILL: &str = "#eeeeee";
const UNREACHED_LINE: &str = "#888888";
const PATH_FILL: &str = "#ffe8a3";
const PATH_LINE: &str = "#d35400";
const ENTRY_FILL: &str = "#dbeafe";

/// What to mark on the picture.
#[derive(Debug, Default)]
pub struct Marks<'a> {
    /// The flow's issues (errors make a node red, "no DID's entry node leads
    /// here" warnings grey).
    pub issues: &'a [FlowIssue],
    /// A simulated call's route: the nodes it went through, in order.
    pub highlight: &'a [String],
    /// For our own layout (`svg`): an arrow back along an arrow (a ↔ b) is
    /// drawn as one arrow with both labels. The layout library explores
    /// every path between two nodes, and such pairs double the paths at
    /// each step (a chain of 25 menus with "0: back" took 10 s).
    pub merge_back_arrows: bool,
}

/// The most nodes drawn as SVG here (larger: use the DOT with Graphviz).
pub const MAX_SVG_NODES: usize = 120;

/// One arrow of the picture.
struct Edge {
    from: String,
    to: String,
    label: String,
}

/// The flow as Graphviz DOT.
pub fn dot(content: &FlowContent, marks: &Marks<'_>) -> String {
    let errors: BTreeSet<&str> = nodes_with(content, marks.issues, FlowIssue::is_error);
    let unreached: BTreeSet<&str> = nodes_with(content, marks.issues, |issue| {
        !issue.is_error() && issue.message.contains("entry node leads here")
    });
    let on_path: BTreeSet<&str> = marks.highlight.iter().map(String::as_str).collect();
    let path_steps: BTreeSet<(&str, &str)> = marks
        .highlight
        .windows(2)
        .map(|pair| (pair[0].as_str(), pair[1].as_str()))
        .collect();

    let mut out = String::from("digraph flow {\n  rankdir=TB;\n");
    for entry in content.entries.values() {
        let Some(target) = &entry.entry_node else {
            continue;
        };
        let language = entry
            .language
            .map(|l| format!(" ({})", l.as_str()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  \"did:{}\" [shape=box, label=\"DID {}{}\", style=filled, fillcolor=\"{ENTRY_FILL}\"];",
            entry.did,
            text(&entry.did),
            language
        );
        let first = marks.highlight.first().map(String::as_str) == Some(target.as_str());
        if !content.nodes.contains_key(target) {
            let _ = writeln!(
                out,
                "  \"n:{target}\" [shape=box, label=\"{} (missing)\", style=filled, fillcolor=\"{ERROR_FILL}\", color=\"{ERROR_LINE}\"];",
                text(target)
            );
        }
        let style = if first {
            format!(", color=\"{PATH_LINE}\", penwidth=3")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  \"did:{}\" -> \"n:{}\" [label=\"entry\"{style}];",
            entry.did, target
        );
    }
    for (key, node) in &content.nodes {
        let (fill, line) = if errors.contains(key.as_str()) {
            (ERROR_FILL, ERROR_LINE)
        } else if on_path.contains(key.as_str()) {
            (PATH_FILL, PATH_LINE)
        } else if unreached.contains(key.as_str()) {
            (UNREACHED_FILL, UNREACHED_LINE)
        } else {
            ("white", "black")
        };
        let _ = writeln!(
            out,
            "  \"n:{key}\" [shape=box, label=\"{}\", style=filled, fillcolor=\"{fill}\", color=\"{line}\"];",
            text(&node_label(node, content))
        );
    }
    let mut all: Vec<Edge> = content.nodes.values().flat_map(edges).collect();
    if marks.merge_back_arrows {
        all = merge_back_arrows(all);
    }
    for edge in all {
        // An arrow to a node that does not exist points at a red stand-in.
        if !content.nodes.contains_key(&edge.to) {
            let _ = writeln!(
                out,
                "  \"n:{}\" [shape=box, label=\"{} (missing)\", style=filled, fillcolor=\"{ERROR_FILL}\", color=\"{ERROR_LINE}\"];",
                edge.to,
                text(&edge.to)
            );
        }
        let style = if path_steps.contains(&(edge.from.as_str(), edge.to.as_str())) {
            format!(", color=\"{PATH_LINE}\", penwidth=3")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  \"n:{}\" -> \"n:{}\" [label=\"{}\"{style}];",
            edge.from,
            edge.to,
            text(&edge.label)
        );
    }
    out.push_str("}\n");
    out
}

/// Each arrow b → a that goes back along an arrow a → b joins it: one
/// arrow a → b labelled `1 ⇄ 0`.
fn merge_back_arrows(edges: Vec<Edge>) -> Vec<Edge> {
    let mut kept: Vec<Edge> = Vec::with_capacity(edges.len());
    for edge in edges {
        match kept
            .iter_mut()
            .find(|e| e.from == edge.to && e.to == edge.from && e.from != e.to)
        {
            Some(forward) => forward.label = format!("{} ⇄ {}", forward.label, edge.label),
            None => kept.push(edge),
        }
    }
    kept
}

/// The DOT laid out and drawn as SVG.
pub fn svg(dot: &str) -> Result<String, String> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};
    if !dot.contains("[shape=box") {
        // Nothing to lay out (the library refuses an empty graph).
        return Ok(concat!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"40\">",
            "<text x=\"10\" y=\"25\" font-family=\"sans-serif\">This flow has no node yet.</text></svg>"
        )
        .to_owned());
    }
    let graph = DotParser::new(dot).process()?;
    // The layout library asserts on shapes it cannot place; such a flow
    // gets an error, not a dead worker.
    std::panic::catch_unwind(|| {
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut writer = SVGWriter::new();
        visual.do_it(false, false, false, &mut writer);
        writer.finalize()
    })
    .map_err(|_| "the layout of this flow failed".to_owned())
}

/// The node keys named by the issues that `select` keeps (`nodes.<key>…`;
/// keys may hold dots: the longest key of the flow the path starts with).
fn nodes_with<'a>(
    content: &'a FlowContent,
    issues: &[FlowIssue],
    select: impl Fn(&FlowIssue) -> bool,
) -> BTreeSet<&'a str> {
    issues
        .iter()
        .filter(|issue| select(issue))
        .filter_map(|issue| {
            let rest = issue.path.strip_prefix("nodes.")?;
            content
                .nodes
                .keys()
                .filter(|key| {
                    rest.strip_prefix(key.as_str())
                        .is_some_and(|after| after.is_empty() || after.starts_with(['.', '[']))
                })
                .max_by_key(|key| key.len())
                .map(String::as_str)
        })
        .collect()
}

/// A label: no quote or backslash (DOT strings), at most [`MAX_LABEL`] characters.
fn text(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if clean.chars().count() > MAX_LABEL {
        let cut: String = clean.chars().take(MAX_LABEL - 1).collect();
        format!("{cut}…")
    } else {
        clean
    }
}

fn node_label(node: &Node, content: &FlowContent) -> String {
    let key = &node.key;
    match &node.kind {
        NodeKind::Menu(menu) => format!("{key} · MENU {}", menu.prompt.rec.label()),
        NodeKind::Announcement(announcement) => {
            format!("{key} · PLAY {}", announcement.prompt.rec.label())
        }
        NodeKind::SayDigits(say) => {
            let source = match &say.digits {
                DigitsSource::Literal(digits) => digits.clone(),
                DigitsSource::Pressed => "digits pressed".into(),
                DigitsSource::CallerId => "caller's number".into(),
                DigitsSource::Did => "number called".into(),
            };
            format!("{key} · SAYDIGITS {source}")
        }
        NodeKind::Call(call) => format!("{key} · CALL {}", call.target),
        NodeKind::Hangup(hangup) => match hangup.cause {
            Some(cause) => format!("{key} · HANGUP {cause}"),
            None => format!("{key} · HANGUP"),
        },
        NodeKind::Vo(vo) => format!("{key} · VO layer {}", vo.layer),
        NodeKind::SilentRecord(_) => format!("{key} · RECORD"),
        NodeKind::Rules(_) => {
            // The calendars the schedules of its conditions follow.
            let calendars: BTreeSet<String> = super::validate::referenced_schedules(node)
                .into_iter()
                .filter_map(|key| {
                    let calendar = content.schedules.get(key)?.calendar.as_ref()?;
                    Some(format!("{key}: {} calendar", calendar.name.as_str()))
                })
                .collect();
            if calendars.is_empty() {
                format!("{key} · RULES")
            } else {
                let calendars: Vec<String> = calendars.into_iter().collect();
                format!("{key} · RULES ({})", calendars.join(", "))
            }
        }
    }
}

fn edges(node: &Node) -> Vec<Edge> {
    let mut edges = Vec::new();
    let mut push = |to: &str, label: String| {
        edges.push(Edge {
            from: node.key.clone(),
            to: to.to_owned(),
            label,
        })
    };
    let menu_edges = |menu: &Menu, push: &mut dyn FnMut(&str, String)| {
        for route in &menu.routes {
            let label = match route.set_language {
                Some(language) => format!("{} ({})", route.digits, language.as_str()),
                None => route.digits.clone(),
            };
            push(&route.target, label);
        }
        for (label, target) in [
            ("timeout", &menu.on_timeout),
            ("invalid", &menu.on_invalid),
            ("retries exhausted", &menu.on_exhausted),
        ] {
            if let Some(target) = target {
                push(target, label.to_owned());
            }
        }
    };
    match &node.kind {
        NodeKind::Menu(menu) => menu_edges(menu, &mut push),
        NodeKind::SayDigits(say) => menu_edges(&say.menu, &mut push),
        NodeKind::Announcement(announcement) => push(&announcement.next, "then".to_owned()),
        NodeKind::Call(call) => {
            if let Some(failover) = &call.failover {
                push(failover, "no answer".to_owned());
            }
        }
        NodeKind::Rules(rules) => {
            for (index, rule) in rules.rules.iter().enumerate() {
                push(
                    &rule.target,
                    format!("{}. {}", index + 1, condition(&rule.when)),
                );
            }
            push(&rules.default, "default".to_owned());
        }
        NodeKind::Hangup(_) | NodeKind::Vo(_) | NodeKind::SilentRecord(_) => {}
    }
    // One arrow per target and label set: parallel routes are merged.
    let mut merged: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for edge in edges {
        merged
            .entry((edge.from, edge.to))
            .or_default()
            .push(edge.label);
    }
    merged
        .into_iter()
        .map(|((from, to), labels)| Edge {
            from,
            to,
            label: labels.join(", "),
        })
        .collect()
}

fn condition(condition: &Condition) -> String {
    let list = |items: &[String]| {
        let shown: Vec<&str> = items.iter().take(2).map(String::as_str).collect();
        let more = if items.len() > 2 { ", …" } else { "" };
        format!("{}{more}", shown.join(", "))
    };
    match condition {
        Condition::Open { schedule } => format!("open ({schedule})"),
        Condition::Holiday { schedule } => format!("holiday ({schedule})"),
        Condition::CallerIn { numbers } => format!("caller in {}", list(numbers)),
        Condition::CallerPrefix { prefixes } => format!("caller starts {}", list(prefixes)),
        Condition::DidIn { numbers } => format!("number called {}", list(numbers)),
        Condition::CallerHidden => "hidden caller".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flow::validate::Severity;

    fn content(value: serde_json::Value) -> FlowContent {
        serde_json::from_value(value).expect("test content")
    }

    fn sample() -> FlowContent {
        content(json!({
            "nodes": [
                {"key": "entry", "kind": "rules", "rules": [
                    {"when": {"type": "holiday", "schedule": "office"}, "target": "closed"}
                 ], "default": "main"},
                {"key": "main", "kind": "menu", "prompt": {"rec": "main_menu"},
                 "routes": [{"digits": "1", "target": "sales"}, {"digits": "2", "target": "sales"}],
                 "on_invalid": "main", "on_exhausted": "closed"},
                {"key": "sales", "kind": "call", "target": "0501234567", "failover": "main"},
                {"key": "closed", "kind": "hangup", "rec": "closed", "cause": 16},
                {"key": "old", "kind": "hangup", "rec": "x \"quoted\" \\ name"}
            ],
            "schedules": [],
            "entries": [{"did": "0730000000", "entry_node": "entry", "language": "he"}]
        }))
    }

    #[test]
    fn every_node_route_and_entry_is_drawn_with_its_label() {
        let dot = dot(&sample(), &Marks::default());
        for line in [
            "\"did:0730000000\" -> \"n:entry\" [label=\"entry\"];",
            "\"n:entry\" -> \"n:closed\" [label=\"1. holiday (office)\"];",
            "\"n:entry\" -> \"n:main\" [label=\"default\"];",
            "\"n:main\" -> \"n:sales\" [label=\"1, 2\"];",
            "\"n:main\" -> \"n:main\" [label=\"invalid\"];",
            "\"n:main\" -> \"n:closed\" [label=\"retries exhausted\"];",
            "\"n:sales\" -> \"n:main\" [label=\"no answer\"];",
        ] {
            assert!(dot.contains(line), "{line} missing from\n{dot}");
        }
        assert!(dot.contains("label=\"sales · CALL 0501234567\""), "{dot}");
        assert!(dot.contains("label=\"old · HANGUP\""), "{dot}");
        assert!(
            !dot.contains("\\\""),
            "no quote survives inside a label: {dot}"
        );
    }

    #[test]
    fn errors_unreached_nodes_and_a_path_are_marked() {
        let issues = [
            FlowIssue {
                severity: Severity::Warning,
                path: "nodes.old".into(),
                message: "no DID's entry node leads here".into(),
            },
            FlowIssue {
                severity: Severity::Error,
                path: "nodes.closed.rec".into(),
                message: "no recording".into(),
            },
        ];
        let path = ["entry".to_owned(), "main".to_owned(), "sales".to_owned()];
        let dot = dot(
            &sample(),
            &Marks {
                issues: &issues,
                highlight: &path,
                merge_back_arrows: false,
            },
        );
        let line = |key: &str| {
            dot.lines()
                .find(|l| l.starts_with(&format!("  \"n:{key}\" [")))
                .unwrap()
                .to_owned()
        };
        assert!(line("old").contains(UNREACHED_FILL), "{dot}");
        assert!(line("closed").contains(ERROR_FILL), "{dot}");
        assert!(line("main").contains(PATH_FILL), "{dot}");
        assert!(
            dot.contains(&format!(
                "\"n:main\" -> \"n:sales\" [label=\"1, 2\", color=\"{PATH_LINE}\", penwidth=3];"
            )),
            "{dot}"
        );
        assert!(
            dot.contains(&format!(
                "\"did:0730000000\" -> \"n:entry\" [label=\"entry\", color=\"{PATH_LINE}\", penwidth=3];"
            )),
            "{dot}"
        );
    }

    #[test]
    fn a_missing_target_is_drawn_as_a_red_stand_in() {
        let broken = content(json!({"nodes": [
            {"key": "m", "kind": "menu", "prompt": {"rec": "p"}, "routes": [{"digits": "1", "target": "gone"}]}
        ], "schedules": [], "entries": []}));
        let dot = dot(&broken, &Marks::default());
        assert!(
            dot.contains("\"n:gone\" [shape=box, label=\"gone (missing)\""),
            "{dot}"
        );
    }

    #[test]
    fn the_demo_flow_lays_out_as_svg() {
        let demo = FlowContent {
            nodes: crate::demo::nodes()
                .into_iter()
                .map(|n| (n.key.clone(), n))
                .collect(),
            schedules: [("office".to_owned(), crate::demo::schedule())].into(),
            entries: [(
                crate::demo::DEMO_DID.to_owned(),
                crate::flow::model::EntryPoint::at(crate::demo::DEMO_DID, "entry"),
            )]
            .into(),
            goodbye: Some(crate::demo::goodbye()),
        };
        let svg = svg(&dot(&demo, &Marks::default())).expect("laid out");
        assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{svg}");
        for key in [
            "main · MENU he:main_menu_he en:main_menu_en",
            "hours · PLAY he:hours_he en:hours_en",
            "entry · RULES (office: israel calendar)",
            "sales · CALL 0501234567",
            "DID 0730000000",
        ] {
            assert!(svg.contains(key), "{key} not drawn");
        }
        assert!(svg.contains("no answer"), "edge labels drawn");
    }

    #[test]
    fn loops_back_to_a_menu_and_to_itself_lay_out() {
        let svg = svg(&dot(&sample(), &Marks::default())).expect("laid out");
        assert!(svg.contains("main · MENU main_menu"));
    }

    #[test]
    fn back_arrows_are_merged_for_the_layout_which_stays_fast() {
        // 40 menus in a chain, each "1: next", "0: back".
        let mut nodes = Vec::new();
        for i in 0..40 {
            let mut routes = vec![json!({"digits": "0", "target": format!("m{}", i.max(1) - 1)})];
            if i < 39 {
                routes.push(json!({"digits": "1", "target": format!("m{}", i + 1)}));
            }
            nodes.push(json!({"key": format!("m{i}"), "kind": "menu", "prompt": {"rec": "p"}, "routes": routes}));
        }
        let chain = content(json!({"nodes": nodes, "schedules": [], "entries": []}));
        let marks = Marks {
            merge_back_arrows: true,
            ..Marks::default()
        };
        let dot = dot(&chain, &marks);
        assert!(
            dot.contains("\"n:m1\" -> \"n:m2\" [label=\"1 ⇄ 0\"];"),
            "{dot}"
        );
        let started = std::time::Instant::now();
        svg(&dot).expect("laid out");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn an_empty_flow_is_a_picture_that_says_so() {
        let svg = svg(&dot(&FlowContent::default(), &Marks::default())).unwrap();
        assert!(svg.contains("no node yet"));
    }

    #[test]
    fn keys_with_dots_are_marked_whole() {
        let flow = content(json!({"nodes": [
            {"key": "sales", "kind": "hangup"}, {"key": "sales.il", "kind": "hangup", "rec": "x"}
        ], "schedules": [], "entries": []}));
        let issues = [FlowIssue {
            severity: Severity::Error,
            path: "nodes.sales.il.rec".into(),
            message: "no recording".into(),
        }];
        let dot = dot(
            &flow,
            &Marks {
                issues: &issues,
                ..Marks::default()
            },
        );
        let line = |key: &str| {
            dot.lines()
                .find(|l| l.starts_with(&format!("  \"n:{key}\" [")))
                .unwrap()
                .to_owned()
        };
        assert!(line("sales.il").contains(ERROR_FILL), "{dot}");
        assert!(!line("sales").contains(ERROR_FILL), "{dot}");
    }

    #[test]
    fn malformed_dot_is_an_error_not_a_panic() {
        assert!(svg("digraph { a [shape=box]; a -> ").is_err());
    }
}
