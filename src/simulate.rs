//! The simulator: a scripted caller walked through the very code that
//! answers Voicenter (`webhook::fallback::flow_answer`, then the wire
//! encoder), with the clock given, and no IO. Its transcript is what the
//! webhook would answer, byte for byte (a test holds them together).
//!
//! # The caller's script
//!
//! `inputs` are what the caller (or the network) does, one per step that
//! waits for one:
//! * at a menu (MENU, or SAYDIGITS' menu): digits (`"1"`, `"12#"`) or
//!   `silence` (nothing pressed: Voicenter sends an empty DTMF);
//! * at a CALL: `no_answer` (the dial failed: Voicenter comes back through
//!   `NEXT_MENU`, and a failover menu then takes the next input too); any
//!   other input means the call was answered, which ends the simulation.
//!
//! The walk ends when the answer ends the call (HANGUP, VO, SILENTRECORD, a
//! CALL that is answered or has no failover), when a menu waits for input
//! the script does not have, when an input does not fit the step (`no_answer`
//! at a menu), or after [`MAX_STEPS`] steps.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::flow::model::{DidEntry, Flow};
use crate::flow::{RuleTaken, StepOutcome};
use crate::voicenter::types::{Action, Encoding, IvrActionRequest, IvrAnswer};
use crate::voicenter::{encode_answer, without_whitespace};
use crate::webhook::fallback::{SafeAnswer, flow_answer};

/// The most inputs a script may have.
pub const MAX_INPUTS: usize = 200;
/// The most steps one simulation walks: every input may be followed by an
/// announcement, which takes a step of its own and no input.
pub const MAX_STEPS: usize = 2 * MAX_INPUTS + 2;
/// The IVR_UNIQUE_ID of simulated calls.
pub const CALL_ID: &str = "simulation";

/// What the caller does at one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Digits pressed at a menu.
    Press(String),
    /// Nothing pressed at a menu.
    Silence,
    /// The number a CALL dialled did not answer.
    NoAnswer,
}

impl Input {
    /// `silence`, `no_answer`, or 1 to 20 of `0-9 * #`.
    pub fn parse(text: &str) -> Option<Input> {
        match text {
            "silence" => Some(Input::Silence),
            "no_answer" => Some(Input::NoAnswer),
            digits
                if (1..=20).contains(&digits.len())
                    && digits
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#') =>
            {
                Some(Input::Press(digits.to_owned()))
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Input::Press(digits) => digits,
            Input::Silence => "silence",
            Input::NoAnswer => "no_answer",
        }
    }
}

/// A script's inputs as a request gives them, each checked: the problems
/// (path `inputs` or `inputs[i]`) when any is wrong.
pub fn parse_inputs(texts: &[String]) -> Result<Vec<Input>, Vec<crate::error::ErrorDetail>> {
    let detail = |path: String, message: String| crate::error::ErrorDetail { path, message };
    if texts.len() > MAX_INPUTS {
        let message = format!("at most {MAX_INPUTS} inputs ({} sent)", texts.len());
        return Err(vec![detail("inputs".into(), message)]);
    }
    let mut problems = Vec::new();
    let mut inputs = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        match Input::parse(text) {
            Some(input) => inputs.push(input),
            None => problems.push(detail(
                format!("inputs[{index}]"),
                "digits (1 to 20 of 0-9 * #), `silence` or `no_answer`".into(),
            )),
        }
    }
    if problems.is_empty() {
        Ok(inputs)
    } else {
        Err(problems)
    }
}

/// A script's clock: an instant with its offset (RFC 3339).
pub fn parse_at(text: &str) -> Option<DateTime<Utc>> {
    // A `+` left unencoded in a query string arrives as a space.
    let text = match text.rsplit_once(' ') {
        Some((instant, offset)) if offset.len() == 5 && instant.contains('T') => {
            format!("{instant}+{offset}")
        }
        _ => text.to_owned(),
    };
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// What to say of an `at` that does not parse.
pub const AT_FORMAT: &str = "an instant with its offset, e.g. 2026-12-01T10:00:00+02:00 (Z for UTC; in a URL write + as %2B)";

/// A scripted call.
#[derive(Debug, Clone)]
pub struct Script {
    pub did: String,
    pub caller_id: String,
    pub caller_name: String,
    /// The clock of every step.
    pub at: DateTime<Utc>,
    pub inputs: Vec<Input>,
}

/// The request Voicenter would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub struct SimulatedRequest {
    #[schema(example = "main~v8")]
    pub menu: String,
    #[schema(example = "1")]
    pub dtmf: String,
}

/// A rule node the step went through, and the rule it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleView {
    pub node: String,
    /// The index of the rule whose condition held; `null`: none held, the default.
    pub rule: Option<usize>,
    pub target: String,
}

impl From<RuleTaken> for RuleView {
    fn from(taken: RuleTaken) -> RuleView {
        RuleView {
            node: taken.node,
            rule: taken.rule,
            target: taken.target,
        }
    }
}

/// One step of the simulated call.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SimulatedStep {
    /// The input this step carried (`null` for the start of the call;
    /// `(played)` after an announcement, which takes no input).
    pub input: Option<String>,
    pub request: SimulatedRequest,
    /// The action answered: MENU, CALL, SAYDIGITS, HANGUP, VO, SILENTRECORD.
    #[schema(example = "MENU")]
    pub action: String,
    #[schema(example = "he")]
    pub language: String,
    /// The answer's body, exactly as the webhook would send it (in the
    /// encoding asked for).
    pub answer: String,
    /// The node the request's MENU named (where the input was given).
    pub from: Option<String>,
    /// The node whose action was answered; `null` for a hang-up of the
    /// engine's own (retries used up) or the safe answer.
    pub node: Option<String>,
    /// What happened at `from`: `entered`, `matched`, `timeout_route`,
    /// `timeout_retry`, `timeout_exhausted`, `invalid_route`, `invalid_retry`,
    /// `invalid_exhausted`, `failover`, `continued` (after an announcement),
    /// `unknown_menu`.
    #[schema(example = "matched")]
    pub outcome: String,
    /// The digits' route taken at `from` (its index in `routes`), for `matched`.
    pub route: Option<usize>,
    /// The rule nodes resolved on the way to `node`, in order.
    pub rules: Vec<RuleView>,
    /// Why the flow could not answer (the step got the safe answer).
    pub problem: Option<String>,
}

/// How the simulated call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Ending {
    /// HANGUP: the flow (or the safe answer) hung up.
    HungUp { cause: Option<i64> },
    /// A CALL was answered (the script had no `no_answer` for it).
    Connected { target: String },
    /// A CALL's dial failed and it has no failover: Voicenter ends the call.
    NotAnswered { target: String },
    /// VO: handed to a Voicenter IVR layer.
    HandedOver { layer: i64 },
    /// SILENTRECORD: the caller is recorded (voicemail).
    Recording,
    /// A menu waits for an input the script does not have.
    WaitingForInput { menu: String },
    /// The input at `index` does not fit the step (`no_answer` at a menu).
    InputDoesNotFit {
        index: usize,
        input: String,
        reason: String,
    },
    /// [`MAX_STEPS`] steps were walked.
    StepLimit { steps: usize },
}

/// A whole simulated call.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Transcript {
    pub steps: Vec<SimulatedStep>,
    pub ended: Ending,
    /// Inputs the call ended before using.
    pub unused_inputs: usize,
    /// Every node the call went through, in order: the nodes answered, the
    /// rule nodes on the way, failover menus Voicenter played by itself
    /// (give it to the diagram's `highlight`).
    pub route: Vec<String>,
}

impl Transcript {
    /// The nodes answered, in order (the "path" flow tests check).
    pub fn path(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter_map(|s| s.node.as_deref())
            .collect()
    }
}

/// Every node a call went through, in order (what the diagram's
/// `highlight` draws): the nodes answered, the rule nodes resolved on the
/// way, and failover menus Voicenter played by itself.
pub fn route(transcript: &Transcript) -> Vec<String> {
    let mut route: Vec<String> = Vec::new();
    for step in &transcript.steps {
        if let Some(from) = &step.from
            && route.last() != Some(from)
        {
            route.push(from.clone());
        }
        route.extend(step.rules.iter().map(|rule| rule.node.clone()));
        if let Some(node) = &step.node
            && route.last() != Some(node)
        {
            route.push(node.clone());
        }
    }
    route
}

/// Walks `script` through `flow`, entered as `entry` says.
pub fn simulate(
    flow: &Flow,
    entry: &DidEntry,
    script: &Script,
    encoding: Encoding,
    safe: &SafeAnswer,
) -> Transcript {
    let mut steps = Vec::new();
    let mut inputs = script.inputs.iter().enumerate().peekable();
    // The fields as the webhook's decoder would read them.
    let mut request = IvrActionRequest {
        did: without_whitespace(&script.did),
        caller_id: without_whitespace(&script.caller_id),
        caller_name: script.caller_name.trim().to_owned(),
        call_id: CALL_ID.to_owned(),
        dtmf: String::new(),
        menu: crate::voicenter::types::START_OF_CALL_MENU.to_owned(),
        previous_menu: crate::voicenter::types::START_OF_CALL_MENU.to_owned(),
    };
    let mut input: Option<String> = None;
    let ended = loop {
        if steps.len() == MAX_STEPS {
            break Ending::StepLimit { steps: MAX_STEPS };
        }
        let (decision, answer) = flow_answer(flow, entry, &request, script.at, safe);
        steps.push(step_view(
            input.take(),
            &request,
            &decision,
            &answer,
            encoding,
        ));
        let previous = std::mem::take(&mut request.menu);
        request.previous_menu = previous;
        match &answer.action {
            // An announcement waits for nothing: Voicenter plays it and
            // comes back, and the call goes on.
            Action::Menu(menu) if is_announcement(flow, &menu.menu) => {
                request.menu = menu.menu.clone();
                request.dtmf.clear();
                input = Some(PLAYED.to_owned());
            }
            Action::Menu(menu) => {
                let Some((index, next)) = inputs.next() else {
                    break Ending::WaitingForInput {
                        menu: menu.menu.clone(),
                    };
                };
                match next {
                    Input::Press(digits) => request.dtmf = digits.clone(),
                    Input::Silence => request.dtmf.clear(),
                    Input::NoAnswer => {
                        break misfit(index, next, "a menu waits for digits or silence");
                    }
                }
                request.menu = menu.menu.clone();
                input = Some(next.as_str().to_owned());
            }
            Action::SayDigits(say) => {
                let Some((index, next)) = inputs.next() else {
                    break Ending::WaitingForInput {
                        menu: say.menu.menu.clone(),
                    };
                };
                match next {
                    Input::Press(digits) => request.dtmf = digits.clone(),
                    Input::Silence => request.dtmf.clear(),
                    Input::NoAnswer => {
                        break misfit(index, next, "a menu waits for digits or silence");
                    }
                }
                request.menu = say.menu.menu.clone();
                input = Some(next.as_str().to_owned());
            }
            Action::Call(call) => {
                if !matches!(inputs.peek(), Some((_, Input::NoAnswer))) {
                    break Ending::Connected {
                        target: call.target.clone(),
                    };
                }
                inputs.next();
                let Some(next_menu) = &call.next_menu else {
                    break Ending::NotAnswered {
                        target: call.target.clone(),
                    };
                };
                request.menu = next_menu.menu.clone();
                request.dtmf.clear();
                input = Some(Input::NoAnswer.as_str().to_owned());
                // A failover menu is played by Voicenter itself: the digits
                // pressed there come back with the same request (an
                // announcement is only played).
                if next_menu.size.unwrap_or(0) > 0 && !is_announcement(flow, &next_menu.menu) {
                    let Some((index, pressed)) = inputs.next() else {
                        break Ending::WaitingForInput {
                            menu: next_menu.menu.clone(),
                        };
                    };
                    match pressed {
                        Input::Press(digits) => request.dtmf = digits.clone(),
                        Input::Silence => {}
                        Input::NoAnswer => {
                            break misfit(index, pressed, "a menu waits for digits or silence");
                        }
                    }
                    input = Some(format!("no_answer, {}", pressed.as_str()));
                }
            }
            Action::Hangup(hangup) => {
                break Ending::HungUp {
                    cause: hangup.cause,
                };
            }
            Action::Vo(vo) => break Ending::HandedOver { layer: vo.layer },
            Action::SilentRecord(_) => break Ending::Recording,
        }
    };
    let mut transcript = Transcript {
        unused_inputs: inputs.count(),
        steps,
        ended,
        route: Vec::new(),
    };
    transcript.route = route(&transcript);
    transcript
}

/// What a transcript shows as the input of the step after an announcement.
pub const PLAYED: &str = "(played)";

/// Does the MENU identifier `menu` name an announcement of `flow`?
fn is_announcement(flow: &Flow, menu: &str) -> bool {
    crate::flow::state::parse_menu(menu)
        .and_then(|(key, _)| flow.nodes.get(key))
        .is_some_and(|node| matches!(node.kind, crate::flow::model::NodeKind::Announcement(_)))
}

fn misfit(index: usize, input: &Input, reason: &str) -> Ending {
    Ending::InputDoesNotFit {
        index,
        input: input.as_str().to_owned(),
        reason: reason.to_owned(),
    }
}

fn step_view(
    input: Option<String>,
    request: &IvrActionRequest,
    decision: &crate::flow::Decision,
    answer: &IvrAnswer,
    encoding: Encoding,
) -> SimulatedStep {
    let body = encode_answer(encoding, answer);
    SimulatedStep {
        input,
        request: SimulatedRequest {
            menu: request.menu.clone(),
            dtmf: request.dtmf.clone(),
        },
        action: answer.action.name().to_owned(),
        language: answer.language.as_str().to_owned(),
        answer: String::from_utf8_lossy(&body).into_owned(),
        from: decision.from.clone(),
        node: decision.node.clone(),
        outcome: decision.outcome.as_str().to_owned(),
        route: match decision.outcome {
            StepOutcome::Matched { route } => Some(route),
            _ => None,
        },
        rules: decision.rules.iter().cloned().map(RuleView::from).collect(),
        problem: decision.problem.as_ref().map(ToString::to_string),
    }
}

/// The inputs of a command line, in the order given: `--press D`
/// (`--press=D`), `--silence`, `--no-answer`, `--input X` (any input).
/// Other arguments are skipped (clap reads them); order matters here, which
/// clap's derived parser does not keep across different flags.
pub fn inputs_in_order(args: &[String]) -> Vec<String> {
    let mut inputs = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--silence" => inputs.push("silence".to_owned()),
            "--no-answer" => inputs.push("no_answer".to_owned()),
            "--press" | "--input" => inputs.extend(args.next().cloned()),
            other => {
                if let Some(value) = other
                    .strip_prefix("--press=")
                    .or_else(|| other.strip_prefix("--input="))
                {
                    inputs.push(value.to_owned());
                }
            }
        }
    }
    inputs
}

/// A transcript for people: one block per step, then how the call ended.
pub fn render(transcript: &Transcript) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (index, step) in transcript.steps.iter().enumerate() {
        let input = step.input.as_deref().unwrap_or("call starts");
        let _ = writeln!(
            out,
            "{:>2}. [{input}] MENU {:?} DTMF {:?}",
            index + 1,
            step.request.menu,
            step.request.dtmf
        );
        for rule in &step.rules {
            let taken = rule
                .rule
                .map_or("default".to_owned(), |index| format!("rule {}", index + 1));
            let _ = writeln!(out, "    rules {}: {taken} → {}", rule.node, rule.target);
        }
        let at = step
            .from
            .as_deref()
            .map(|from| format!(" at {from}"))
            .unwrap_or_default();
        let node = step.node.as_deref().unwrap_or("(no node)");
        let _ = writeln!(
            out,
            "    {}{at} → {} {node} ({})",
            step.outcome, step.action, step.language
        );
        if let Some(problem) = &step.problem {
            let _ = writeln!(out, "    problem: {problem} (the safe answer was given)");
        }
        let _ = writeln!(out, "    answer: {}", step.answer.trim());
    }
    let ended = serde_json::to_string(&transcript.ended).unwrap_or_default();
    let _ = writeln!(out, "ended: {ended}");
    if transcript.unused_inputs > 0 {
        let _ = writeln!(out, "inputs not used: {}", transcript.unused_inputs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn command_line_inputs_keep_their_order() {
        assert_eq!(
            inputs_in_order(&args(
                "simulate --tenant Demo --press 1 --no-answer --silence --press=7 --json --input 12#"
            )),
            ["1", "no_answer", "silence", "7", "12#"]
        );
        assert!(inputs_in_order(&args("simulate --did 073")).is_empty());
    }

    #[test]
    fn an_instant_needs_its_offset_and_survives_an_unencoded_plus() {
        let expected = parse_at("2026-12-04T15:30:00+02:00").unwrap();
        assert_eq!(parse_at("2026-12-04T15:30:00 02:00"), Some(expected));
        assert_eq!(
            parse_at("2026-12-04T13:30:00Z"),
            Some(expected),
            "the same instant"
        );
        for bad in ["2026-12-04T15:30:00", "2026-12-04 02:00", "friday", ""] {
            assert_eq!(parse_at(bad), None, "{bad}");
        }
    }

    #[test]
    fn inputs_parse_strictly() {
        assert_eq!(Input::parse("12#"), Some(Input::Press("12#".into())));
        assert_eq!(Input::parse("silence"), Some(Input::Silence));
        assert_eq!(Input::parse("no_answer"), Some(Input::NoAnswer));
        for bad in ["", "1a", "Silence", &"1".repeat(21)] {
            assert_eq!(Input::parse(bad), None, "{bad:?}");
        }
    }
}
