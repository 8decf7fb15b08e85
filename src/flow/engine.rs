//! The engine: what happens next in a call.
//!
//! [`decide`] is pure: (flow, DID entry, request, now) in, [`Decision`] out.
//! The per-call state travels in the menu identifier (see `state`), so
//! nothing else is needed.
//!
//! # Semantics
//!
//! * Start of the call (`MENU` `-1` or empty): enter the DID's entry node.
//! * `MENU` naming a menu or say-digits node: the caller's digits (trimmed)
//!   are matched against its routes in order and the first match is entered.
//!   A route's `set_language` becomes the caller's language for the rest of
//!   the call. Nothing pressed: `on_timeout`, else the menu is played again;
//!   digits matching no route: `on_invalid`, else the menu is played again.
//!   A fallback route pointing at the menu itself counts as playing it again.
//!   Playing it again counts a retry (and plays `retry_rec` when set); when
//!   the retries are used up: `on_exhausted`, else a hang-up with cause 16.
//!   A say-digits node is played again as a plain MENU (its menu part): the
//!   digits it said may not be known any more (they may have been pressed).
//! * An announcement node is answered as a MENU of one digit playing its
//!   prompt. `MENU` naming it: it has been played (or the caller pressed a
//!   key during it, which is ignored): enter its `next` (`Continued`).
//! * `MENU` naming any other node: Voicenter came back through a CALL's
//!   `NEXT_MENU` after a failed dial: enter that node.
//! * Entering a node resets the retries and keeps the caller's language.
//!   Rule nodes are resolved here (first rule whose condition holds, else the
//!   default), at most [`RULE_HOP_LIMIT`] of them in a row.
//! * A call node's `failover` becomes `NEXT_MENU`: the failover node's
//!   identifier in the current state. When that node is a menu or a
//!   say-digits node, `NEXT_MENU_RECORD/LOOP/SIZE/WAIT` come from its prompt
//!   and Voicenter plays it and comes back with the digits (a say-digits node
//!   does not say its digits there; an announcement is played the same
//!   way, with `NEXT_MENU_SIZE` 1); otherwise `NEXT_MENU_SIZE` is 0 and
//!   Voicenter comes straight back, and we enter the node (resolving rules at
//!   that moment).
//! * Language of an answer: the caller's choice > the answered node's
//!   language > the DID's > the tenant's. Every prompt given per language
//!   is played in it (see `rec`): the same node serves every language.
//! * Hang-ups the flow did not design (retries used up with no
//!   `on_exhausted`, and every broken-flow hang-up) and hangup nodes with
//!   no recording of their own play the flow's `goodbye`, when it has one.
//! * Every identifier answered carries the flow's version (`Flow::version`,
//!   see `state`): the caller of `decide` picks the flow by the version the
//!   request's `MENU` names, and the call stays on it.
//!
//! # Broken flows
//!
//! A flow that went through `validate` without errors is never broken. Any
//! other flow can be: a menu deleted mid-call, a dangling reference, a rule
//! loop, a missing schedule, an empty mandatory recording. The decision then
//! carries a [`FlowProblem`] and a polite HANGUP with Q.850 cause 41
//! (temporary failure: the caller's network may present it as "try again
//! later", which is the truth once the tenant fixes the flow). Numeric fields
//! out of the protocol's ranges are clamped into them, never sent as is.
//!
//! Hang-ups that are part of a sound flow (retries used up with no
//! `on_exhausted`) use cause 16, normal call clearing.

use chrono::{DateTime, Utc};

use super::model::{
    Announcement, Call, Condition, DidEntry, DigitsSource, Flow, Menu, Node, NodeKey, NodeKind,
    Prompt, Rec, Rules, SayDigits, Schedule, Vo, limits,
};
use super::pattern;
use super::schedule;
use super::state::{self, CallState};
use crate::voicenter::types::{
    Action, CallData, HangupData, IvrActionRequest, IvrAnswer, Language, MenuData, NextMenu,
    SayDigitsData, SilentRecordData, VoData,
};

/// The most rule nodes resolved in a row in one step; one more is a [`FlowProblem::RuleHops`].
pub const RULE_HOP_LIMIT: usize = 32;
/// Q.850 "normal call clearing": the flow ended the call on purpose.
pub const CAUSE_NORMAL_CLEARING: i64 = 16;
/// Q.850 "temporary failure": the flow is broken.
pub const CAUSE_TEMPORARY_FAILURE: i64 = 41;

/// What to answer to one `GET_IVR_ACTION`, and what to log about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Always valid and sendable, also when the flow is broken.
    pub answer: IvrAnswer,
    /// The node the request's `MENU` named (without the state), even when no
    /// such node exists; `None` at the start of the call.
    pub from: Option<NodeKey>,
    /// The node whose action is answered; `None` when the answer is a hang-up
    /// of our own (retries used up with no `on_exhausted`, or a problem).
    pub node: Option<NodeKey>,
    /// What happened at `from`, for the step log and the per-menu funnel.
    pub outcome: StepOutcome,
    /// Why the flow could not be followed; the answer is then a HANGUP with cause 41.
    pub problem: Option<FlowProblem>,
    /// The rule nodes resolved on the way to `node`, in order: which rule
    /// each took (the simulator shows why a call went where it went).
    pub rules: Vec<RuleTaken>,
}

/// One rule node resolved: the rule whose condition held, or its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTaken {
    /// The rule node.
    pub node: NodeKey,
    /// The index of the rule taken; `None`: no condition held, the default.
    pub rule: Option<usize>,
    pub target: NodeKey,
}

/// What the caller did at the menu of the request, and how the flow reacted.
///
/// Per-menu funnel: a menu is *reached* in steps whose `node` is it; at a
/// menu (`from`), `Matched` counts what was pressed (by route), `Timeout` and
/// `Invalid` count silences and wrong keys (with their consequence), and the
/// last step of a call tells where it *ended*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Start of the call: the DID's entry node was entered.
    Entered,
    /// `MENU` named a node that collects no digits (Voicenter came back
    /// through `NEXT_MENU` after a failed dial): that node was entered.
    Failover,
    /// `MENU` named an announcement: it was played, its `next` was entered.
    Continued,
    /// The digits matched the menu's route at this index, which was entered.
    Matched { route: usize },
    /// Nothing was pressed.
    Timeout(Fallback),
    /// The digits matched no route.
    Invalid(Fallback),
    /// `MENU` named no node of the flow.
    UnknownMenu,
}

impl StepOutcome {
    /// A stable name for the step log: `entered`, `failover`, `continued`, `matched`,
    /// `timeout_route`, `timeout_retry`, `timeout_exhausted`, `invalid_route`,
    /// `invalid_retry`, `invalid_exhausted`, `unknown_menu`. A funnel counts
    /// silences with `timeout_%`, wrong keys with `invalid_%`, give-ups with
    /// `%_exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Entered => "entered",
            StepOutcome::Failover => "failover",
            StepOutcome::Continued => "continued",
            StepOutcome::Matched { .. } => "matched",
            StepOutcome::Timeout(Fallback::Route) => "timeout_route",
            StepOutcome::Timeout(Fallback::Retry) => "timeout_retry",
            StepOutcome::Timeout(Fallback::Exhausted) => "timeout_exhausted",
            StepOutcome::Invalid(Fallback::Route) => "invalid_route",
            StepOutcome::Invalid(Fallback::Retry) => "invalid_retry",
            StepOutcome::Invalid(Fallback::Exhausted) => "invalid_exhausted",
            StepOutcome::UnknownMenu => "unknown_menu",
        }
    }
}

/// What a menu did after silence or invalid input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Took its `on_timeout` / `on_invalid` route.
    Route,
    /// Played itself again.
    Retry,
    /// Had no retry left: `on_exhausted`, or a hang-up.
    Exhausted,
}

/// Why a flow could not be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowProblem {
    /// Deleted mid-call, or not an identifier we ever sent.
    #[error("MENU {menu:?} names no node of the flow")]
    UnknownMenu { menu: String },
    #[error(
        "node {key:?} does not exist (referenced by {})",
        .referenced_by.as_deref().unwrap_or("the DID's entry")
    )]
    MissingNode {
        key: NodeKey,
        /// `None`: the DID's entry node.
        referenced_by: Option<NodeKey>,
    },
    #[error("schedule {schedule:?} used by rule node {node:?} does not exist")]
    MissingSchedule { schedule: String, node: NodeKey },
    #[error("more than {RULE_HOP_LIMIT} rule nodes in a row from {start:?}: a rule loop?")]
    RuleHops { start: NodeKey },
    #[error("node {key:?} cannot be answered: {reason}")]
    InvalidNode { key: NodeKey, reason: &'static str },
}

/// Decides the answer to one step of a call. Pure: no IO, no clock but `now`.
pub fn decide(
    flow: &Flow,
    entry: &DidEntry,
    request: &IvrActionRequest,
    now: DateTime<Utc>,
) -> Decision {
    let engine = Engine {
        flow,
        entry,
        request,
        now,
        rules: std::cell::RefCell::new(Vec::new()),
    };
    // Every identifier answered names the version being run, whatever the
    // request named (the caller of `decide` chose the flow by it).
    let menu = state::parse_menu(&request.menu).map(|(key, state)| {
        let state = CallState {
            version: flow.version,
            ..state
        };
        (key, state)
    });
    let (outcome, step) = match menu {
        None => {
            let start = CallState {
                version: flow.version,
                ..CallState::default()
            };
            (
                StepOutcome::Entered,
                engine.enter(&entry.entry_node, None, start),
            )
        }
        Some((key, state)) => engine.resume(key, state),
    };
    let from = menu.map(|(key, _)| key.to_owned());
    match step {
        Ok(answered) => Decision {
            answer: IvrAnswer {
                language: engine.language(
                    answered.language,
                    answered.node.and_then(|(_, node)| node.language),
                ),
                action: answered.action,
            },
            from,
            node: answered.node.map(|(key, _)| key.to_owned()),
            outcome,
            problem: None,
            rules: engine.rules.take(),
        },
        Err(problem) => {
            let language = engine.language(menu.and_then(|(_, state)| state.language), None);
            Decision {
                answer: IvrAnswer {
                    language,
                    action: engine.goodbye(CAUSE_TEMPORARY_FAILURE, language),
                },
                from,
                node: None,
                outcome,
                problem: Some(problem),
                rules: engine.rules.take(),
            }
        }
    }
}

struct Engine<'a> {
    flow: &'a Flow,
    entry: &'a DidEntry,
    request: &'a IvrActionRequest,
    now: DateTime<Utc>,
    /// The rules taken so far in this step.
    rules: std::cell::RefCell<Vec<RuleTaken>>,
}

/// The answer of a step through a sound flow.
struct Answered<'a> {
    /// The node answered, by its key in the flow; `None`: our own hang-up.
    node: Option<(&'a str, &'a Node)>,
    action: Action,
    /// The caller's language after this step.
    language: Option<Language>,
}

type Step<'a> = Result<Answered<'a>, FlowProblem>;

impl<'a> Engine<'a> {
    /// A step whose `MENU` named `key`, in `state`.
    fn resume(&self, key: &str, state: CallState) -> (StepOutcome, Step<'a>) {
        let Some((key, node)) = self.flow.nodes.get_key_value(key) else {
            let problem = FlowProblem::UnknownMenu {
                menu: self.request.menu.clone(),
            };
            return (StepOutcome::UnknownMenu, Err(problem));
        };
        match &node.kind {
            NodeKind::Menu(menu) | NodeKind::SayDigits(SayDigits { menu, .. }) => {
                self.input(key, node, menu, state)
            }
            NodeKind::Announcement(announcement) => (
                StepOutcome::Continued,
                self.enter(&announcement.next, Some(key), state.entering()),
            ),
            NodeKind::Call(_)
            | NodeKind::Hangup(_)
            | NodeKind::Vo(_)
            | NodeKind::SilentRecord(_)
            | NodeKind::Rules(_) => (
                StepOutcome::Failover,
                self.enter(key, None, state.entering()),
            ),
        }
    }

    /// The caller's digits at a menu.
    fn input(
        &self,
        key: &'a str,
        node: &'a Node,
        menu: &'a Menu,
        state: CallState,
    ) -> (StepOutcome, Step<'a>) {
        let digits = self.request.dtmf.trim();
        if digits.is_empty() {
            return self.fallback(
                key,
                node,
                menu,
                state,
                &menu.on_timeout,
                StepOutcome::Timeout,
            );
        }
        let matched = menu
            .routes
            .iter()
            .enumerate()
            .find(|(_, route)| pattern::matches(&route.digits, digits));
        match matched {
            Some((index, route)) => {
                let state = CallState {
                    retries: 0,
                    language: route.set_language.or(state.language),
                    ..state
                };
                (
                    StepOutcome::Matched { route: index },
                    self.enter(&route.target, Some(key), state),
                )
            }
            None => self.fallback(
                key,
                node,
                menu,
                state,
                &menu.on_invalid,
                StepOutcome::Invalid,
            ),
        }
    }

    /// Silence or invalid input at a menu: its route for that case, else play
    /// it again, else give up.
    fn fallback(
        &self,
        key: &'a str,
        node: &'a Node,
        menu: &'a Menu,
        state: CallState,
        route: &'a Option<NodeKey>,
        outcome: fn(Fallback) -> StepOutcome,
    ) -> (StepOutcome, Step<'a>) {
        if let Some(target) = route.as_deref().filter(|target| *target != key) {
            return (
                outcome(Fallback::Route),
                self.enter(target, Some(key), state.entering()),
            );
        }
        if state.retries < menu.max_retries.min(*limits::MAX_RETRIES.end()) {
            let state = CallState {
                retries: state.retries + 1,
                ..state
            };
            let language = self.language(state.language, node.language);
            let rec = self
                .optional(&menu.retry_rec, language)
                .unwrap_or_else(|| self.play(&menu.prompt.rec, language));
            let step = menu_data(key, menu, rec, state).map(|data| Answered {
                node: Some((key, node)),
                action: Action::Menu(data),
                language: state.language,
            });
            return (outcome(Fallback::Retry), step);
        }
        let step = match &menu.on_exhausted {
            Some(target) => self.enter(target, Some(key), state.entering()),
            None => Ok(Answered {
                node: None,
                action: self.goodbye(CAUSE_NORMAL_CLEARING, self.language(state.language, None)),
                language: state.language,
            }),
        };
        (outcome(Fallback::Exhausted), step)
    }

    /// Enters the node `key` (reached from `referenced_by`; `None`: the DID's
    /// entry), resolving rule nodes, and answers its action.
    fn enter(&self, key: &'a str, referenced_by: Option<&'a str>, state: CallState) -> Step<'a> {
        let start = key;
        let (mut key, mut referenced_by) = (key, referenced_by);
        // One more lookup than rule hops: the node a chain of RULE_HOP_LIMIT rules ends at.
        for _ in 0..=RULE_HOP_LIMIT {
            let (found, node) = self.node(key, referenced_by)?;
            let language = self.language(state.language, node.language);
            let action = match &node.kind {
                NodeKind::Rules(rules) => {
                    referenced_by = Some(found);
                    key = self.pick(found, rules)?;
                    continue;
                }
                NodeKind::Menu(menu) => Action::Menu(menu_data(
                    found,
                    menu,
                    self.play(&menu.prompt.rec, language),
                    state,
                )?),
                NodeKind::Announcement(announcement) => Action::Menu(announcement_data(
                    found,
                    announcement,
                    self.play(&announcement.prompt.rec, language),
                    state,
                )?),
                NodeKind::SayDigits(say) => self.say_digits(found, say, state, language)?,
                NodeKind::Call(call) => Action::Call(self.call(found, call, state, language)?),
                NodeKind::Hangup(end) => Action::Hangup(HangupData {
                    rec: self
                        .optional(&end.rec, language)
                        .or_else(|| self.goodbye_rec(language))
                        .map(str::to_owned),
                    cause: end
                        .cause
                        .filter(|cause| limits::HANGUP_CAUSE.contains(cause)),
                }),
                NodeKind::Vo(vo) => {
                    Action::Vo(vo_data(found, vo, self.play(&vo.prompt.rec, language))?)
                }
                NodeKind::SilentRecord(record) => Action::SilentRecord(SilentRecordData {
                    rec: self.optional(&record.rec, language).map(str::to_owned),
                    max_duration_secs: record
                        .max_duration_secs
                        .map(|secs| clamp(secs, &limits::MAX_CALL_SECS)),
                }),
            };
            return Ok(Answered {
                node: Some((found, node)),
                action,
                language: state.language,
            });
        }
        Err(FlowProblem::RuleHops {
            start: start.to_owned(),
        })
    }

    fn node(
        &self,
        key: &str,
        referenced_by: Option<&str>,
    ) -> Result<(&'a str, &'a Node), FlowProblem> {
        self.flow
            .nodes
            .get_key_value(key)
            .map(|(key, node)| (key.as_str(), node))
            .ok_or_else(|| FlowProblem::MissingNode {
                key: key.to_owned(),
                referenced_by: referenced_by.map(str::to_owned),
            })
    }

    /// The target of the first rule whose condition holds, else the default.
    fn pick(&self, key: &str, rules: &'a Rules) -> Result<&'a str, FlowProblem> {
        let mut taken = (None, rules.default.as_str());
        for (index, rule) in rules.rules.iter().enumerate() {
            if self.holds(key, &rule.when)? {
                taken = (Some(index), rule.target.as_str());
                break;
            }
        }
        self.rules.borrow_mut().push(RuleTaken {
            node: key.to_owned(),
            rule: taken.0,
            target: taken.1.to_owned(),
        });
        Ok(taken.1)
    }

    /// Does a condition of rule node `key` hold for this request, now?
    fn holds(&self, key: &str, condition: &Condition) -> Result<bool, FlowProblem> {
        let request = self.request;
        Ok(match condition {
            Condition::Open { schedule } => {
                schedule::is_open(self.schedule(key, schedule)?, self.flow.time_zone, self.now)
            }
            Condition::Holiday { schedule } => {
                schedule::is_holiday(self.schedule(key, schedule)?, self.flow.time_zone, self.now)
            }
            Condition::CallerIn { numbers } => numbers
                .iter()
                .any(|number| phone::same(&request.caller_id, number)),
            Condition::CallerPrefix { prefixes } => prefixes
                .iter()
                .any(|prefix| phone::has_prefix(&request.caller_id, prefix)),
            Condition::DidIn { numbers } => numbers
                .iter()
                .any(|number| phone::same(&request.did, number)),
            Condition::CallerHidden => phone::is_hidden(&request.caller_id),
        })
    }

    fn schedule(&self, key: &str, name: &str) -> Result<&'a Schedule, FlowProblem> {
        self.flow
            .schedules
            .get(name)
            .ok_or_else(|| FlowProblem::MissingSchedule {
                schedule: name.to_owned(),
                node: key.to_owned(),
            })
    }

    /// SAYDIGITS, or a plain MENU when there is no digit to say.
    fn say_digits(
        &self,
        key: &str,
        say: &SayDigits,
        state: CallState,
        language: Language,
    ) -> Result<Action, FlowProblem> {
        let menu = menu_data(
            key,
            &say.menu,
            self.play(&say.menu.prompt.rec, language),
            state,
        )?;
        let digits = self.digits(&say.digits);
        if digits.is_empty() {
            return Ok(Action::Menu(menu));
        }
        Ok(Action::SayDigits(SayDigitsData {
            menu,
            intro_rec: required(
                key,
                self.play(&say.intro_rec, language),
                "empty SAYDIGITSRECORD",
            )?
            .to_owned(),
            digits,
        }))
    }

    /// The recording of `rec` for `language` (see `Rec::play`).
    fn play<'r>(&self, rec: &'r Rec, language: Language) -> &'r str {
        rec.play(language, self.flow.language)
    }

    /// An optional recording for `language`; `None` when absent or blank.
    fn optional<'r>(&self, rec: &'r Option<Rec>, language: Language) -> Option<&'r str> {
        rec.as_ref()
            .map(|rec| self.play(rec, language))
            .filter(|name| !name.trim().is_empty())
    }

    /// The flow's goodbye recording for `language`, if it has one.
    fn goodbye_rec(&self, language: Language) -> Option<&'a str> {
        let flow: &'a Flow = self.flow;
        self.optional(&flow.goodbye, language)
    }

    /// A hang-up of our own with `cause`, saying the flow's goodbye.
    fn goodbye(&self, cause: i64, language: Language) -> Action {
        Action::Hangup(HangupData {
            rec: self.goodbye_rec(language).map(str::to_owned),
            cause: Some(cause),
        })
    }

    /// The digits to say: digits only (Voicenter ignores anything else);
    /// caller ID and DID in national form (see `phone::canonical`).
    fn digits(&self, source: &DigitsSource) -> String {
        let request = self.request;
        let digits_only = |text: &str| text.chars().filter(char::is_ascii_digit).collect();
        let national = |number: &str| phone::canonical(number, true).map(char::from).collect();
        match source {
            DigitsSource::Literal(text) => digits_only(text),
            DigitsSource::Pressed => digits_only(&request.dtmf),
            DigitsSource::CallerId => national(&request.caller_id),
            DigitsSource::Did => national(&request.did),
        }
    }

    fn call(
        &self,
        key: &'a str,
        call: &Call,
        state: CallState,
        language: Language,
    ) -> Result<CallData, FlowProblem> {
        let request = self.request;
        let next_menu = call
            .failover
            .as_deref()
            .map(|failover| self.next_menu(key, failover, state.entering()))
            .transpose()?;
        Ok(CallData {
            target: required(key, &call.target, "empty TARGET")?.to_owned(),
            caller_id: call
                .caller_id
                .clone()
                .unwrap_or_else(|| request.caller_id.clone()),
            caller_name: call
                .caller_name
                .clone()
                .unwrap_or_else(|| request.caller_name.clone()),
            caller_rec: self.optional(&call.caller_rec, language).map(str::to_owned),
            moh_class: non_blank(&call.moh_class).map(str::to_owned),
            target_rec: self.optional(&call.target_rec, language).map(str::to_owned),
            max_dial_secs: clamp(call.max_dial_secs, &limits::MAX_DIAL_SECS),
            max_call_secs: clamp(call.max_call_secs, &limits::MAX_CALL_SECS),
            next_menu,
            record: call.record,
            dtmf_play: non_blank(&call.dtmf_play).map(str::to_owned),
            dialstrings: call
                .dialstrings
                .iter()
                .filter(|dialstring| !dialstring.trim().is_empty())
                .cloned()
                .collect(),
        })
    }

    /// The `NEXT_MENU…` fields of call node `from` for its failover node `key`.
    fn next_menu(
        &self,
        from: &'a str,
        key: &'a str,
        state: CallState,
    ) -> Result<NextMenu, FlowProblem> {
        let (key, node) = self.node(key, Some(from))?;
        let language = self.language(state.language, node.language);
        let played =
            match &node.kind {
                NodeKind::Menu(menu) | NodeKind::SayDigits(SayDigits { menu, .. }) => Some(
                    menu_data(key, menu, self.play(&menu.prompt.rec, language), state)?,
                ),
                NodeKind::Announcement(announcement) => Some(announcement_data(
                    key,
                    announcement,
                    self.play(&announcement.prompt.rec, language),
                    state,
                )?),
                NodeKind::Call(_)
                | NodeKind::Hangup(_)
                | NodeKind::Vo(_)
                | NodeKind::SilentRecord(_)
                | NodeKind::Rules(_) => None,
            };
        Ok(match played {
            Some(data) => NextMenu {
                menu: data.menu,
                record: Some(data.rec),
                loops: Some(data.loops),
                size: Some(data.size),
                wait: Some(data.delay),
            },
            None => NextMenu {
                menu: identifier(key, state)?,
                record: None,
                loops: None,
                size: Some(0),
                wait: None,
            },
        })
    }

    fn language(&self, chosen: Option<Language>, node: Option<Language>) -> Language {
        chosen
            .or(node)
            .or(self.entry.language)
            .unwrap_or(self.flow.language)
    }
}

/// MENU DATA of menu `key`, playing `rec`.
fn menu_data(key: &str, menu: &Menu, rec: &str, state: CallState) -> Result<MenuData, FlowProblem> {
    let Prompt { loops, delay, .. } = menu.prompt;
    Ok(MenuData {
        rec: required(key, rec, "empty REC")?.to_owned(),
        loops: clamp(loops, &limits::LOOPS),
        delay: clamp(delay, &limits::DELAY_SECS),
        size: clamp(menu.max_digits, &limits::MAX_DIGITS),
        menu: identifier(key, state)?,
        validation: menu.validation,
    })
}

/// MENU DATA of announcement `key`, playing `rec`: one digit, no check;
/// whatever comes back continues to its `next`.
fn announcement_data(
    key: &str,
    announcement: &Announcement,
    rec: &str,
    state: CallState,
) -> Result<MenuData, FlowProblem> {
    let Prompt { loops, delay, .. } = announcement.prompt;
    Ok(MenuData {
        rec: required(key, rec, "empty REC")?.to_owned(),
        loops: clamp(loops, &limits::LOOPS),
        delay: clamp(delay, &limits::DELAY_SECS),
        size: 1,
        menu: identifier(key, state)?,
        validation: false,
    })
}

fn vo_data(key: &str, vo: &Vo, rec: &str) -> Result<VoData, FlowProblem> {
    if !limits::LAYER.contains(&vo.layer) {
        return Err(FlowProblem::InvalidNode {
            key: key.to_owned(),
            reason: "LAYER out of range",
        });
    }
    Ok(VoData {
        layer: vo.layer,
        record: required(key, rec, "empty RECORD")?.to_owned(),
        loops: clamp(vo.prompt.loops, &limits::LOOPS),
        delay: clamp(vo.prompt.delay, &limits::DELAY_SECS),
    })
}

/// The `MENU` identifier of node `key` in `state`, if the key survives the trip through Voicenter.
fn identifier(key: &str, state: CallState) -> Result<String, FlowProblem> {
    if !state::is_valid_key(key) {
        return Err(FlowProblem::InvalidNode {
            key: key.to_owned(),
            reason: "its key cannot be sent as MENU",
        });
    }
    Ok(state.encode(key))
}

fn required<'t>(key: &str, text: &'t str, reason: &'static str) -> Result<&'t str, FlowProblem> {
    if text.trim().is_empty() {
        return Err(FlowProblem::InvalidNode {
            key: key.to_owned(),
            reason,
        });
    }
    Ok(text)
}

fn non_blank(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|text| !text.trim().is_empty())
}

fn clamp(value: i64, range: &std::ops::RangeInclusive<i64>) -> i64 {
    value.clamp(*range.start(), *range.end())
}

/// Phone numbers as rule conditions compare them.
///
/// Only digits count: `+`, spaces, dashes, dots, parentheses are ignored.
/// Israeli numbers in international form are brought to national form, so
/// that `+972-50-123-4567`, `972501234567`, `00972501234567` and
/// `050-1234567` are all the same number: `972` or `00972` followed by 8 or 9
/// digits (the lengths of Israeli national numbers without the trunk `0`)
/// becomes `0` and those digits. A prefix is rewritten whatever its length
/// (`+9725` is the prefix `05`), since it is a beginning by nature. A number
/// or prefix without digits matches nothing.
mod phone {
    /// The digits that identify `raw`, Israeli numbers in national form.
    /// `whole`: `raw` is a whole number, not a prefix.
    pub(super) fn canonical(raw: &str, whole: bool) -> impl Iterator<Item = u8> + Clone + '_ {
        let digits = raw.bytes().filter(u8::is_ascii_digit);
        let skip = international_prefix_len(digits.clone(), whole);
        let trunk_zero = (skip > 0).then_some(b'0');
        trunk_zero.into_iter().chain(digits.skip(skip))
    }

    /// How many leading digits (`972` or `00972`) to replace with the trunk `0`.
    fn international_prefix_len(digits: impl Iterator<Item = u8> + Clone, whole: bool) -> usize {
        let prefix_len = [&b"00972"[..], &b"972"[..]]
            .into_iter()
            .find(|prefix| starts_with(digits.clone(), prefix.iter().copied()))
            .map_or(0, <[u8]>::len);
        let national_len = digits.count().saturating_sub(prefix_len);
        if prefix_len > 0 && (!whole || (8..=9).contains(&national_len)) {
            prefix_len
        } else {
            0
        }
    }

    fn starts_with(
        mut text: impl Iterator<Item = u8>,
        prefix: impl IntoIterator<Item = u8>,
    ) -> bool {
        prefix.into_iter().all(|digit| text.next() == Some(digit))
    }

    pub(super) fn same(a: &str, b: &str) -> bool {
        let a = canonical(a, true);
        a.clone().next().is_some() && a.eq(canonical(b, true))
    }

    pub(super) fn has_prefix(number: &str, prefix: &str) -> bool {
        let prefix = canonical(prefix, false);
        prefix.clone().next().is_some() && starts_with(canonical(number, true), prefix)
    }

    /// Hidden: no digit at all. Covers empty, `anonymous`, `unknown`,
    /// `private`, `restricted` and whatever word a network sends instead of a number.
    pub(super) fn is_hidden(caller_id: &str) -> bool {
        !caller_id.bytes().any(|b| b.is_ascii_digit())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn formatting_is_ignored() {
            assert!(same("050-123 4567", "0501234567"));
            assert!(same("(050) 123.4567", "0501234567"));
            assert!(!same("0501234567", "0501234568"));
        }

        #[test]
        fn israeli_international_form_is_national() {
            for international in [
                "+972501234567",
                "972501234567",
                "00972501234567",
                "+972-50-123-4567",
            ] {
                assert!(same(international, "0501234567"), "{international}");
                assert!(same("0501234567", international), "{international}");
            }
            // Landlines: 8 digits after the country code.
            assert!(same("+97221234567", "021234567"));
        }

        #[test]
        fn other_numbers_are_not_rewritten() {
            // Not 8-9 digits after 972: a short code, or another country's number.
            assert!(!same("9725", "05"));
            assert!(same("9725", "9725"));
            assert!(!same("+12125551234", "012125551234"));
            assert_eq!(
                canonical("+1 212 555 1234", true).collect::<Vec<_>>(),
                b"12125551234"
            );
        }

        #[test]
        fn prefixes() {
            assert!(has_prefix("0501234567", "050"));
            assert!(has_prefix("+972501234567", "050"));
            assert!(has_prefix("0501234567", "+9725"));
            assert!(has_prefix("0501234567", "+972"));
            assert!(has_prefix("0501234567", "0501234567"));
            assert!(!has_prefix("0501234567", "052"));
            assert!(!has_prefix("050", "0501"));
            assert!(!has_prefix("0501234567", ""));
            assert!(!has_prefix("0501234567", "+"));
        }

        #[test]
        fn numbers_without_digits_match_nothing() {
            assert!(!same("", ""));
            assert!(!same("anonymous", "anonymous"));
        }

        #[test]
        fn hidden() {
            for hidden in [
                "",
                " ",
                "anonymous",
                "Anonymous",
                "unknown",
                "private",
                "RESTRICTED",
            ] {
                assert!(is_hidden(hidden), "{hidden}");
            }
            assert!(!is_hidden("0501234567"));
            assert!(!is_hidden("+972501234567"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn flow(nodes: serde_json::Value) -> Flow {
        let nodes: Vec<Node> = serde_json::from_value(nodes).expect("test nodes");
        Flow {
            version: None,
            time_zone: chrono_tz::Asia::Jerusalem,
            language: Language::He,
            nodes: nodes
                .into_iter()
                .map(|node| (node.key.clone(), node))
                .collect(),
            schedules: HashMap::new(),
            goodbye: None,
        }
    }

    fn with_schedule(mut flow: Flow, schedule: serde_json::Value) -> Flow {
        let schedule: Schedule = serde_json::from_value(schedule).expect("test schedule");
        flow.schedules.insert(schedule.key.clone(), schedule);
        flow
    }

    fn entry(key: &str) -> DidEntry {
        DidEntry {
            tenant_id: 1,
            entry_node: key.into(),
            language: None,
        }
    }

    fn request(menu: &str, dtmf: &str) -> IvrActionRequest {
        IvrActionRequest {
            did: "0733000000".into(),
            caller_id: "0501234567".into(),
            caller_name: "Dana".into(),
            call_id: "c0ffee".into(),
            menu: menu.into(),
            previous_menu: "-1".into(),
            dtmf: dtmf.into(),
        }
    }

    /// A Sunday at noon in Jerusalem.
    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 2, 9, 0, 0)
            .single()
            .expect("valid instant")
    }

    fn step(flow: &Flow, menu: &str, dtmf: &str) -> Decision {
        decide(flow, &entry("main"), &request(menu, dtmf), noon())
    }

    /// The main menu used by most tests.
    fn shop() -> Flow {
        flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "welcome", "loops": 2, "delay": 3},
             "max_digits": 2, "retry_rec": "again", "max_retries": 2,
             "routes": [
                {"digits": "1", "target": "sales"},
                {"digits": "2", "target": "support", "set_language": "en"},
                {"digits": "_[3-4]", "target": "bye"},
                {"digits": "_X", "target": "catch_all"}
             ]},
            {"key": "sales", "kind": "call", "target": "0501111111", "failover": "busy"},
            {"key": "support", "kind": "menu", "prompt": {"rec": "support"}, "routes": []},
            {"key": "busy", "kind": "menu", "prompt": {"rec": "busy", "loops": 3, "delay": 2},
             "max_digits": 1, "routes": [{"digits": "1", "target": "sales"}]},
            {"key": "catch_all", "kind": "hangup", "rec": "sorry", "cause": 16},
            {"key": "bye", "kind": "hangup", "rec": "bye"}
        ]))
    }

    fn menu_data(decision: &Decision) -> &MenuData {
        match &decision.answer.action {
            Action::Menu(data) => data,
            Action::SayDigits(data) => &data.menu,
            other => panic!("not a menu: {other:?}"),
        }
    }

    fn call_data(decision: &Decision) -> &CallData {
        match &decision.answer.action {
            Action::Call(data) => data,
            other => panic!("not a call: {other:?}"),
        }
    }

    fn hangup_data(decision: &Decision) -> &HangupData {
        match &decision.answer.action {
            Action::Hangup(data) => data,
            other => panic!("not a hangup: {other:?}"),
        }
    }

    /// One tree for both languages: `main` in Hebrew or English, an
    /// announcement on the way back, a goodbye per language.
    fn bilingual() -> Flow {
        let mut flow = flow(json!([
            {"key": "main", "kind": "menu",
             "prompt": {"rec": {"he": "main_he", "en": "main_en"}},
             "retry_rec": {"he": "again_he", "default": "again_any"}, "max_retries": 1,
             "routes": [
                {"digits": "2", "target": "hours"},
                {"digits": "3", "target": "main", "set_language": "en"},
                {"digits": "5", "target": "sales"},
                {"digits": "8", "target": "gone"},
                {"digits": "9", "target": "bye"}
             ]},
            {"key": "hours", "kind": "announcement",
             "prompt": {"rec": {"he": "hours_he", "en": "hours_en"}, "loops": 2, "delay": 1},
             "next": "main"},
            {"key": "sales", "kind": "call", "target": "0501111111",
             "caller_rec": {"he": "wait_he", "en": "wait_en"}, "failover": "hours"},
            {"key": "bye", "kind": "hangup"}
        ]));
        flow.goodbye =
            Some(serde_json::from_value(json!({"he": "bye_he", "en": "bye_en"})).unwrap());
        flow
    }

    #[test]
    fn one_node_plays_the_prompt_of_the_call_language() {
        let flow = bilingual();
        let hebrew = step(&flow, "-1", "");
        assert_eq!(hebrew.answer.language, Language::He);
        assert_eq!(menu_data(&hebrew).rec, "main_he");
        let english = step(&flow, "main", "3");
        assert_eq!(english.answer.language, Language::En);
        assert_eq!(menu_data(&english).rec, "main_en");
        assert_eq!(menu_data(&english).menu, "main~en");
        // The retry prompt: Hebrew has its own, English takes the default.
        assert_eq!(menu_data(&step(&flow, "main", "")).rec, "again_he");
        assert_eq!(menu_data(&step(&flow, "main~en", "")).rec, "again_any");
        // A call's recordings too.
        assert_eq!(
            call_data(&step(&flow, "main~en", "5"))
                .caller_rec
                .as_deref(),
            Some("wait_en")
        );
        assert_eq!(
            call_data(&step(&flow, "main", "5")).caller_rec.as_deref(),
            Some("wait_he")
        );
        // The DID's language, when the caller chose none.
        let did_in_english = DidEntry {
            language: Some(Language::En),
            ..entry("main")
        };
        let start = decide(&flow, &did_in_english, &request("-1", ""), noon());
        assert_eq!(menu_data(&start).rec, "main_en");
    }

    #[test]
    fn an_announcement_plays_then_goes_on_whatever_comes_back() {
        let flow = bilingual();
        let hours = step(&flow, "main~en", "2");
        assert_eq!(hours.node.as_deref(), Some("hours"));
        assert_eq!(
            menu_data(&hours),
            &MenuData {
                rec: "hours_en".into(),
                loops: 2,
                delay: 1,
                size: 1,
                menu: "hours~en".into(),
                validation: false,
            }
        );
        for pressed in ["", "7", "#"] {
            let back = step(&flow, "hours~en", pressed);
            assert_eq!(back.outcome, StepOutcome::Continued);
            assert_eq!(back.from.as_deref(), Some("hours"));
            assert_eq!(back.node.as_deref(), Some("main"));
            assert_eq!(menu_data(&back).rec, "main_en");
            assert_eq!(menu_data(&back).menu, "main~en", "retries start afresh");
        }
        // As a call's failover, Voicenter plays it and comes back for `next`.
        let next = call_data(&step(&flow, "main", "5"))
            .next_menu
            .clone()
            .unwrap();
        assert_eq!(next.menu, "hours");
        assert_eq!(next.record.as_deref(), Some("hours_he"));
        assert_eq!(
            (next.loops, next.size, next.wait),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(step(&flow, "hours", "").node.as_deref(), Some("main"));
    }

    #[test]
    fn the_flows_own_hangups_say_its_goodbye_in_the_call_language() {
        let flow = bilingual();
        // Retries used up with no on_exhausted.
        let exhausted = step(&flow, "main~r1~en", "");
        assert_eq!(exhausted.outcome, StepOutcome::Timeout(Fallback::Exhausted));
        assert_eq!(
            hangup_data(&exhausted),
            &HangupData {
                rec: Some("bye_en".into()),
                cause: Some(CAUSE_NORMAL_CLEARING)
            }
        );
        // A hangup node without a recording of its own.
        assert_eq!(
            hangup_data(&step(&flow, "main", "9")).rec.as_deref(),
            Some("bye_he")
        );
        // A broken flow: a route to a deleted node, a node deleted mid-call.
        for (menu, dtmf) in [("main~en", "8"), ("deleted~en", "1")] {
            let broken = step(&flow, menu, dtmf);
            assert!(broken.problem.is_some());
            assert_eq!(
                hangup_data(&broken),
                &HangupData {
                    rec: Some("bye_en".into()),
                    cause: Some(CAUSE_TEMPORARY_FAILURE)
                }
            );
        }
        // Without a goodbye: silence, as before.
        let silent = Flow {
            goodbye: None,
            ..bilingual()
        };
        assert_eq!(hangup_data(&step(&silent, "main~r1", "")).rec, None);
    }

    #[test]
    fn start_of_call_enters_the_entry_node() {
        let flow = shop();
        for start in ["-1", "", " -1 "] {
            let decision = step(&flow, start, "");
            assert_eq!(decision.outcome, StepOutcome::Entered);
            assert_eq!(decision.from, None);
            assert_eq!(decision.node.as_deref(), Some("main"));
            assert_eq!(decision.problem, None);
            assert_eq!(
                decision.answer,
                IvrAnswer {
                    language: Language::He,
                    action: Action::Menu(MenuData {
                        rec: "welcome".into(),
                        loops: 2,
                        delay: 3,
                        size: 2,
                        menu: "main".into(),
                        validation: false,
                    }),
                }
            );
        }
    }

    #[test]
    fn matched_route_enters_its_target() {
        let decision = step(&shop(), "main", "1");
        assert_eq!(decision.outcome, StepOutcome::Matched { route: 0 });
        assert_eq!(decision.from.as_deref(), Some("main"));
        assert_eq!(decision.node.as_deref(), Some("sales"));
        assert_eq!(call_data(&decision).target, "0501111111");
    }

    #[test]
    fn routes_are_tried_in_order() {
        let flow = shop();
        assert_eq!(
            step(&flow, "main", "3").outcome,
            StepOutcome::Matched { route: 2 }
        );
        assert_eq!(
            step(&flow, "main", "7").outcome,
            StepOutcome::Matched { route: 3 }
        );
        assert_eq!(step(&flow, "main", "7").node.as_deref(), Some("catch_all"));
    }

    #[test]
    fn dtmf_is_trimmed() {
        assert_eq!(
            step(&shop(), "main", " 1\n").outcome,
            StepOutcome::Matched { route: 0 }
        );
        assert_eq!(
            step(&shop(), "main", "  ").outcome,
            StepOutcome::Timeout(Fallback::Retry)
        );
    }

    #[test]
    fn entering_resets_retries() {
        let decision = step(&shop(), "main~r2", "2");
        assert_eq!(menu_data(&decision).menu, "support~en");
    }

    #[test]
    fn silence_replays_the_menu_with_retry_rec() {
        let decision = step(&shop(), "main", "");
        assert_eq!(decision.outcome, StepOutcome::Timeout(Fallback::Retry));
        assert_eq!(decision.node.as_deref(), Some("main"));
        let data = menu_data(&decision);
        assert_eq!(data.menu, "main~r1");
        assert_eq!(data.rec, "again");
        assert_eq!((data.loops, data.delay, data.size), (2, 3, 2));
    }

    #[test]
    fn invalid_input_replays_the_menu() {
        let decision = step(&shop(), "main~r1", "55");
        assert_eq!(decision.outcome, StepOutcome::Invalid(Fallback::Retry));
        assert_eq!(menu_data(&decision).menu, "main~r2");
    }

    #[test]
    fn replay_without_retry_rec_plays_the_prompt() {
        let decision = step(&shop(), "support", "");
        assert_eq!(menu_data(&decision).rec, "support");
        assert_eq!(menu_data(&decision).menu, "support~r1");
    }

    #[test]
    fn exhausted_retries_hang_up_normally() {
        for (dtmf, outcome) in [
            ("", StepOutcome::Timeout(Fallback::Exhausted)),
            ("55", StepOutcome::Invalid(Fallback::Exhausted)),
        ] {
            let decision = step(&shop(), "main~r2", dtmf);
            assert_eq!(decision.outcome, outcome);
            assert_eq!(decision.node, None);
            assert_eq!(decision.problem, None);
            assert_eq!(
                hangup_data(&decision),
                &HangupData {
                    rec: None,
                    cause: Some(CAUSE_NORMAL_CLEARING)
                }
            );
        }
    }

    #[test]
    fn clamped_retry_counts_are_exhausted() {
        let decision = step(&shop(), "main~r4000000000", "");
        assert_eq!(decision.outcome, StepOutcome::Timeout(Fallback::Exhausted));
    }

    fn fallbacks() -> Flow {
        flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "welcome"}, "max_retries": 1,
             "routes": [{"digits": "1", "target": "bye"}],
             "on_timeout": "nobody", "on_invalid": "oops", "on_exhausted": "operator"},
            {"key": "strict", "kind": "menu", "prompt": {"rec": "strict"}, "max_retries": 0,
             "routes": [], "on_exhausted": "operator"},
            {"key": "selfish", "kind": "menu", "prompt": {"rec": "self"}, "max_retries": 1,
             "routes": [], "on_timeout": "selfish", "on_invalid": "selfish"},
            {"key": "nobody", "kind": "hangup"},
            {"key": "oops", "kind": "hangup", "cause": 17},
            {"key": "operator", "kind": "call", "target": "100"},
            {"key": "bye", "kind": "hangup"}
        ]))
    }

    #[test]
    fn timeout_and_invalid_routes() {
        let flow = fallbacks();
        let timeout = step(&flow, "main~r1", "");
        assert_eq!(timeout.outcome, StepOutcome::Timeout(Fallback::Route));
        assert_eq!(timeout.node.as_deref(), Some("nobody"));
        let invalid = step(&flow, "main", "9");
        assert_eq!(invalid.outcome, StepOutcome::Invalid(Fallback::Route));
        assert_eq!(invalid.node.as_deref(), Some("oops"));
        assert_eq!(hangup_data(&invalid).cause, Some(17));
    }

    #[test]
    fn exhausted_retries_go_to_on_exhausted() {
        let flow = fallbacks();
        // max_retries 0: the first silence exhausts.
        let decision = step(&flow, "strict", "");
        assert_eq!(decision.outcome, StepOutcome::Timeout(Fallback::Exhausted));
        assert_eq!(decision.node.as_deref(), Some("operator"));
        assert_eq!(call_data(&decision).target, "100");
    }

    #[test]
    fn a_fallback_to_the_menu_itself_counts_as_a_retry() {
        let flow = fallbacks();
        let first = step(&flow, "selfish", "");
        assert_eq!(first.outcome, StepOutcome::Timeout(Fallback::Retry));
        assert_eq!(menu_data(&first).menu, "selfish~r1");
        let second = step(&flow, "selfish~r1", "9");
        assert_eq!(second.outcome, StepOutcome::Invalid(Fallback::Exhausted));
        assert_eq!(hangup_data(&second).cause, Some(CAUSE_NORMAL_CLEARING));
    }

    #[test]
    fn caller_language_sticks_for_the_rest_of_the_call() {
        let mut flow = shop();
        if let Some(node) = flow.nodes.get_mut("busy") {
            node.language = Some(Language::He);
        }
        let chosen = step(&flow, "main", "2");
        assert_eq!(chosen.answer.language, Language::En);
        assert_eq!(menu_data(&chosen).menu, "support~en");
        // Retries keep it.
        let retry = step(&flow, "support~en", "");
        assert_eq!(retry.answer.language, Language::En);
        assert_eq!(menu_data(&retry).menu, "support~r1~en");
        // It wins over a node's own language, and travels through NEXT_MENU.
        let call = step(&flow, "main~en", "1");
        assert_eq!(call.answer.language, Language::En);
        let next = call_data(&call).next_menu.as_ref().expect("failover");
        assert_eq!(next.menu, "busy~en");
        let busy = step(&flow, "busy~en", "");
        assert_eq!(busy.answer.language, Language::En);
        // Even our own hang-ups speak it.
        assert_eq!(step(&flow, "main~r2~en", "").answer.language, Language::En);
    }

    #[test]
    fn language_precedence_node_then_did_then_tenant() {
        let mut flow = shop();
        assert_eq!(step(&flow, "-1", "").answer.language, Language::He);
        flow.language = Language::En;
        assert_eq!(step(&flow, "-1", "").answer.language, Language::En);
        let did_in_hebrew = DidEntry {
            language: Some(Language::He),
            ..entry("main")
        };
        let decide_at_did = |flow: &Flow| decide(flow, &did_in_hebrew, &request("-1", ""), noon());
        assert_eq!(decide_at_did(&flow).answer.language, Language::He);
        if let Some(node) = flow.nodes.get_mut("main") {
            node.language = Some(Language::En);
        }
        assert_eq!(decide_at_did(&flow).answer.language, Language::En);
    }

    #[test]
    fn call_uses_the_caller_identity_unless_configured() {
        let flow = flow(json!([
            {"key": "plain", "kind": "call", "target": "0501111111"},
            {"key": "branded", "kind": "call", "target": "0501111111",
             "caller_id": "0733000000", "caller_name": "Shop", "caller_rec": "wait",
             "moh_class": "jazz", "target_rec": "whisper", "max_dial_secs": 25,
             "max_call_secs": 3200, "record": true, "dtmf_play": "123#",
             "dialstrings": ["SIP/a", "", "SIP/b"]}
        ]));
        let plain = decide(&flow, &entry("plain"), &request("-1", ""), noon());
        assert_eq!(
            call_data(&plain),
            &CallData {
                target: "0501111111".into(),
                caller_id: "0501234567".into(),
                caller_name: "Dana".into(),
                caller_rec: None,
                moh_class: None,
                target_rec: None,
                max_dial_secs: 30,
                max_call_secs: 3600,
                next_menu: None,
                record: false,
                dtmf_play: None,
                dialstrings: vec![],
            }
        );
        let branded = decide(&flow, &entry("branded"), &request("-1", ""), noon());
        assert_eq!(
            call_data(&branded),
            &CallData {
                target: "0501111111".into(),
                caller_id: "0733000000".into(),
                caller_name: "Shop".into(),
                caller_rec: Some("wait".into()),
                moh_class: Some("jazz".into()),
                target_rec: Some("whisper".into()),
                max_dial_secs: 25,
                max_call_secs: 3200,
                next_menu: None,
                record: true,
                dtmf_play: Some("123#".into()),
                dialstrings: vec!["SIP/a".into(), "SIP/b".into()],
            }
        );
    }

    #[test]
    fn failover_to_a_menu_fills_next_menu_from_its_prompt() {
        let decision = step(&shop(), "main~r1", "1");
        assert_eq!(
            call_data(&decision).next_menu,
            Some(NextMenu {
                menu: "busy".into(),
                record: Some("busy".into()),
                loops: Some(3),
                size: Some(1),
                wait: Some(2),
            })
        );
        // Voicenter plays it, and comes back with the digits pressed there.
        let again = step(&shop(), "busy", "1");
        assert_eq!(again.outcome, StepOutcome::Matched { route: 0 });
        assert_eq!(again.node.as_deref(), Some("sales"));
    }

    #[test]
    fn failover_to_another_node_comes_straight_back() {
        let flow = flow(json!([
            {"key": "dial", "kind": "call", "target": "100", "failover": "after"},
            {"key": "after", "kind": "rules", "rules": [
                {"when": {"type": "caller_hidden"}, "target": "bye"}], "default": "voicemail"},
            {"key": "voicemail", "kind": "silent_record", "rec": "leave", "max_duration_secs": 120},
            {"key": "bye", "kind": "hangup"}
        ]));
        let decision = decide(&flow, &entry("dial"), &request("-1", ""), noon());
        assert_eq!(
            call_data(&decision).next_menu,
            Some(NextMenu {
                menu: "after".into(),
                record: None,
                loops: None,
                size: Some(0),
                wait: None,
            })
        );
        let back = decide(&flow, &entry("dial"), &request("after", ""), noon());
        assert_eq!(back.outcome, StepOutcome::Failover);
        assert_eq!(back.from.as_deref(), Some("after"));
        assert_eq!(back.node.as_deref(), Some("voicemail"));
        assert_eq!(
            back.answer.action,
            Action::SilentRecord(SilentRecordData {
                rec: Some("leave".into()),
                max_duration_secs: Some(120),
            })
        );
    }

    #[test]
    fn hangup_vo_and_silent_record_actions() {
        let flow = flow(json!([
            {"key": "bye", "kind": "hangup", "rec": "goodbye", "cause": 17},
            {"key": "quiet", "kind": "hangup"},
            {"key": "layer", "kind": "vo", "layer": 4, "prompt": {"rec": "transfer", "loops": 2, "delay": 1}},
            {"key": "vm", "kind": "silent_record"}
        ]));
        let at = |key: &str| {
            decide(&flow, &entry(key), &request("-1", ""), noon())
                .answer
                .action
        };
        assert_eq!(
            at("bye"),
            Action::Hangup(HangupData {
                rec: Some("goodbye".into()),
                cause: Some(17)
            })
        );
        assert_eq!(at("quiet"), Action::Hangup(HangupData::default()));
        assert_eq!(
            at("layer"),
            Action::Vo(VoData {
                layer: 4,
                record: "transfer".into(),
                loops: 2,
                delay: 1
            })
        );
        assert_eq!(at("vm"), Action::SilentRecord(SilentRecordData::default()));
    }

    fn say(source: serde_json::Value) -> Flow {
        flow(json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "enter"}, "max_digits": 10,
             "routes": [{"digits": "_X.", "target": "confirm"}]},
            {"key": "confirm", "kind": "say_digits", "digits": source, "intro_rec": "you_said",
             "menu": {"prompt": {"rec": "press_1"}, "routes": [{"digits": "1", "target": "bye"}]}},
            {"key": "bye", "kind": "hangup"}
        ]))
    }

    fn said(decision: &Decision) -> Option<&str> {
        match &decision.answer.action {
            Action::SayDigits(data) => Some(&data.digits),
            _ => None,
        }
    }

    #[test]
    fn say_digits_sources() {
        let pressed = step(&say(json!({"from": "pressed"})), "main", "0547*12#");
        assert_eq!(said(&pressed), Some("054712"));
        let SayDigitsData {
            menu, intro_rec, ..
        } = match &pressed.answer.action {
            Action::SayDigits(data) => data,
            other => panic!("{other:?}"),
        };
        assert_eq!(intro_rec, "you_said");
        assert_eq!(
            (menu.rec.as_str(), menu.menu.as_str()),
            ("press_1", "confirm")
        );

        let literal = step(
            &say(json!({"from": "literal", "value": "03-555 0000"})),
            "main",
            "12",
        );
        assert_eq!(said(&literal), Some("035550000"));
        let mut caller = request("main", "12");
        caller.caller_id = "+972-50-765-4321".into();
        let flow = say(json!({"from": "caller_id"}));
        let by_caller = decide(&flow, &entry("main"), &caller, noon());
        assert_eq!(said(&by_caller), Some("0507654321"));
        let did = step(&say(json!({"from": "did"})), "main", "12");
        assert_eq!(said(&did), Some("0733000000"));
    }

    #[test]
    fn say_digits_with_nothing_to_say_is_a_plain_menu() {
        let flow = say(json!({"from": "caller_id"}));
        let mut hidden = request("main", "12");
        hidden.caller_id = "anonymous".into();
        let decision = decide(&flow, &entry("main"), &hidden, noon());
        assert_eq!(said(&decision), None);
        assert_eq!(menu_data(&decision).menu, "confirm");
        assert_eq!(menu_data(&decision).rec, "press_1");
    }

    #[test]
    fn say_digits_collects_and_replays_as_a_menu() {
        let flow = say(json!({"from": "pressed"}));
        let confirmed = step(&flow, "confirm", "1");
        assert_eq!(confirmed.outcome, StepOutcome::Matched { route: 0 });
        assert_eq!(confirmed.node.as_deref(), Some("bye"));
        let replay = step(&flow, "confirm", "");
        assert_eq!(replay.outcome, StepOutcome::Timeout(Fallback::Retry));
        assert!(matches!(replay.answer.action, Action::Menu(_)));
        assert_eq!(menu_data(&replay).menu, "confirm~r1");
    }

    fn office() -> serde_json::Value {
        json!({"key": "office", "name": "Office",
               "hours": [{"day": "Sun", "opens": "08:00:00", "closes": "17:00:00"}],
               "holidays": [{"date": "2024-06-09", "name": "Shavuot"}]})
    }

    fn router(rules: serde_json::Value) -> Flow {
        let mut nodes =
            vec![json!({"key": "router", "kind": "rules", "rules": rules, "default": "default"})];
        for key in ["default", "a", "b"] {
            nodes.push(json!({"key": key, "kind": "hangup"}));
        }
        with_schedule(flow(serde_json::Value::Array(nodes)), office())
    }

    fn routed(flow: &Flow, caller: &str, did: &str, now: DateTime<Utc>) -> Option<NodeKey> {
        let mut request = request("-1", "");
        request.caller_id = caller.into();
        request.did = did.into();
        let decision = decide(flow, &entry("router"), &request, now);
        assert_eq!(decision.problem, None);
        decision.node
    }

    #[test]
    fn rules_first_match_wins_else_default() {
        let flow = router(json!([
            {"when": {"type": "caller_in", "numbers": ["+972 50 123 4567"]}, "target": "a"},
            {"when": {"type": "caller_prefix", "prefixes": ["050"]}, "target": "b"}
        ]));
        let did = "0733000000";
        assert_eq!(
            routed(&flow, "0501234567", did, noon()).as_deref(),
            Some("a")
        );
        assert_eq!(
            routed(&flow, "0509999999", did, noon()).as_deref(),
            Some("b")
        );
        assert_eq!(
            routed(&flow, "972509999999", did, noon()).as_deref(),
            Some("b")
        );
        assert_eq!(
            routed(&flow, "0529999999", did, noon()).as_deref(),
            Some("default")
        );
    }

    #[test]
    fn the_decision_tells_which_rule_each_rule_node_took() {
        let flow = router(json!([
            {"when": {"type": "caller_prefix", "prefixes": ["050"]}, "target": "a"},
            {"when": {"type": "caller_prefix", "prefixes": ["052"]}, "target": "b"}
        ]));
        let taken = |caller: &str| {
            let mut request = request("-1", "");
            request.caller_id = caller.into();
            decide(&flow, &entry("router"), &request, noon()).rules
        };
        let rule = |rule, target: &str| RuleTaken {
            node: "router".into(),
            rule,
            target: target.into(),
        };
        assert_eq!(taken("0521234567"), [rule(Some(1), "b")]);
        assert_eq!(taken("0541234567"), [rule(None, "default")]);
        // No rule node on the way: nothing.
        assert!(step(&shop(), "main", "1").rules.is_empty());
    }

    #[test]
    fn rules_on_did_and_hidden_caller() {
        let flow = router(json!([
            {"when": {"type": "caller_hidden"}, "target": "a"},
            {"when": {"type": "did_in", "numbers": ["073-3000000"]}, "target": "b"}
        ]));
        assert_eq!(
            routed(&flow, "", "0733000000", noon()).as_deref(),
            Some("a")
        );
        assert_eq!(
            routed(&flow, "Anonymous", "0733000000", noon()).as_deref(),
            Some("a")
        );
        assert_eq!(
            routed(&flow, "0501234567", "+972733000000", noon()).as_deref(),
            Some("b")
        );
        assert_eq!(
            routed(&flow, "0501234567", "0733000001", noon()).as_deref(),
            Some("default")
        );
    }

    #[test]
    fn rules_on_schedules() {
        let flow = router(json!([
            {"when": {"type": "holiday", "schedule": "office"}, "target": "b"},
            {"when": {"type": "open", "schedule": "office"}, "target": "a"}
        ]));
        let local = |y, m, d, h| {
            chrono_tz::Asia::Jerusalem
                .with_ymd_and_hms(y, m, d, h, 0, 0)
                .single()
                .expect("valid local time")
                .with_timezone(&Utc)
        };
        let caller = "0501234567";
        let did = "0733000000";
        assert_eq!(
            routed(&flow, caller, did, local(2024, 6, 2, 12)).as_deref(),
            Some("a")
        );
        assert_eq!(
            routed(&flow, caller, did, local(2024, 6, 2, 18)).as_deref(),
            Some("default")
        );
        assert_eq!(
            routed(&flow, caller, did, local(2024, 6, 9, 12)).as_deref(),
            Some("b")
        );
        assert_eq!(
            routed(&flow, caller, did, local(2024, 6, 3, 12)).as_deref(),
            Some("default")
        );
    }

    #[test]
    fn rule_chains_are_followed() {
        let flow = flow(json!([
            {"key": "first", "kind": "rules", "rules": [], "default": "second"},
            {"key": "second", "kind": "rules",
             "rules": [{"when": {"type": "caller_prefix", "prefixes": ["05"]}, "target": "mobile"}],
             "default": "bye"},
            {"key": "mobile", "kind": "hangup", "cause": 21},
            {"key": "bye", "kind": "hangup"}
        ]));
        let decision = decide(&flow, &entry("first"), &request("-1", ""), noon());
        assert_eq!(decision.node.as_deref(), Some("mobile"));
        assert_eq!(hangup_data(&decision).cause, Some(21));
    }

    /// `count` rule nodes in a row (`r0` → `r1` → …), the last one going to `end`.
    fn rule_chain(count: usize, end: &str) -> Flow {
        let mut nodes: Vec<_> = (0..count)
            .map(|i| {
                let next = if i + 1 == count {
                    end.to_owned()
                } else {
                    format!("r{}", i + 1)
                };
                json!({"key": format!("r{i}"), "kind": "rules", "rules": [], "default": next})
            })
            .collect();
        nodes.push(json!({"key": "end", "kind": "hangup"}));
        flow(serde_json::Value::Array(nodes))
    }

    #[track_caller]
    fn assert_broken(decision: &Decision, problem: FlowProblem) {
        assert_eq!(decision.problem, Some(problem));
        assert_eq!(decision.node, None);
        assert_eq!(
            decision.answer.action,
            Action::Hangup(HangupData {
                rec: None,
                cause: Some(CAUSE_TEMPORARY_FAILURE)
            })
        );
    }

    #[test]
    fn rule_hop_bound() {
        let at_limit = rule_chain(RULE_HOP_LIMIT, "end");
        let decision = decide(&at_limit, &entry("r0"), &request("-1", ""), noon());
        assert_eq!(decision.problem, None);
        assert_eq!(decision.node.as_deref(), Some("end"));

        let too_long = rule_chain(RULE_HOP_LIMIT + 1, "end");
        let decision = decide(&too_long, &entry("r0"), &request("-1", ""), noon());
        assert_broken(&decision, FlowProblem::RuleHops { start: "r0".into() });
    }

    #[test]
    fn rule_loops_end_at_the_hop_bound() {
        let looping = rule_chain(3, "r0");
        let decision = decide(&looping, &entry("r0"), &request("-1", ""), noon());
        assert_broken(&decision, FlowProblem::RuleHops { start: "r0".into() });
        assert_eq!(decision.outcome, StepOutcome::Entered);

        let selfish = rule_chain(1, "r0");
        let decision = decide(&selfish, &entry("r0"), &request("r0", "5"), noon());
        assert_broken(&decision, FlowProblem::RuleHops { start: "r0".into() });
        assert_eq!(decision.outcome, StepOutcome::Failover);
    }

    #[test]
    fn menu_deleted_mid_call() {
        let mut flow = shop();
        flow.nodes.remove("support");
        let decision = step(&flow, "support~r1~en", "1");
        assert_broken(
            &decision,
            FlowProblem::UnknownMenu {
                menu: "support~r1~en".into(),
            },
        );
        assert_eq!(decision.outcome, StepOutcome::UnknownMenu);
        assert_eq!(decision.from.as_deref(), Some("support"));
        // The caller's language is still known from the identifier.
        assert_eq!(decision.answer.language, Language::En);
    }

    #[test]
    fn garbage_menus_are_unknown() {
        for garbage in ["~~~", "~r1", "nope", "main main", "-2"] {
            let decision = step(&shop(), garbage, "1");
            assert_eq!(decision.outcome, StepOutcome::UnknownMenu, "{garbage}");
            assert!(
                matches!(decision.problem, Some(FlowProblem::UnknownMenu { .. })),
                "{garbage}"
            );
        }
    }

    #[test]
    fn route_to_a_missing_node() {
        let mut flow = shop();
        flow.nodes.remove("sales");
        let decision = step(&flow, "main", "1");
        assert_eq!(decision.outcome, StepOutcome::Matched { route: 0 });
        assert_broken(
            &decision,
            FlowProblem::MissingNode {
                key: "sales".into(),
                referenced_by: Some("main".into()),
            },
        );
    }

    #[test]
    fn missing_entry_node() {
        let decision = decide(&shop(), &entry("gone"), &request("-1", ""), noon());
        assert_broken(
            &decision,
            FlowProblem::MissingNode {
                key: "gone".into(),
                referenced_by: None,
            },
        );
        assert_eq!(
            decision.problem.map(|p| p.to_string()).as_deref(),
            Some("node \"gone\" does not exist (referenced by the DID's entry)")
        );
    }

    #[test]
    fn dangling_failover_is_a_problem() {
        let mut flow = shop();
        flow.nodes.remove("busy");
        let decision = step(&flow, "main", "1");
        assert_broken(
            &decision,
            FlowProblem::MissingNode {
                key: "busy".into(),
                referenced_by: Some("sales".into()),
            },
        );
    }

    #[test]
    fn missing_schedule() {
        let flow = router(json!([{"when": {"type": "open", "schedule": "night"}, "target": "a"}]));
        let decision = decide(&flow, &entry("router"), &request("-1", ""), noon());
        assert_broken(
            &decision,
            FlowProblem::MissingSchedule {
                schedule: "night".into(),
                node: "router".into(),
            },
        );
        let holiday =
            router(json!([{"when": {"type": "holiday", "schedule": "x"}, "target": "a"}]));
        let decision = decide(&holiday, &entry("router"), &request("-1", ""), noon());
        assert!(matches!(
            decision.problem,
            Some(FlowProblem::MissingSchedule { .. })
        ));
    }

    #[test]
    fn nodes_that_cannot_be_answered() {
        let flow = flow(json!([
            {"key": "silent", "kind": "menu", "prompt": {"rec": " "}, "routes": []},
            {"key": "nowhere", "kind": "call", "target": ""},
            {"key": "mute", "kind": "say_digits", "digits": {"from": "did"}, "intro_rec": "",
             "menu": {"prompt": {"rec": "x"}}},
            {"key": "deep", "kind": "vo", "layer": -1, "prompt": {"rec": "x"}},
            {"key": "a~b", "kind": "menu", "prompt": {"rec": "x"}},
            {"key": "-1", "kind": "menu", "prompt": {"rec": "x"}}
        ]));
        for (key, reason) in [
            ("silent", "empty REC"),
            ("nowhere", "empty TARGET"),
            ("mute", "empty SAYDIGITSRECORD"),
            ("deep", "LAYER out of range"),
            ("a~b", "its key cannot be sent as MENU"),
            ("-1", "its key cannot be sent as MENU"),
        ] {
            let decision = decide(&flow, &entry(key), &request("-1", ""), noon());
            assert_broken(
                &decision,
                FlowProblem::InvalidNode {
                    key: key.into(),
                    reason,
                },
            );
        }
    }

    #[test]
    fn out_of_range_numbers_are_clamped() {
        let flow = flow(json!([
            {"key": "loud", "kind": "menu", "prompt": {"rec": "x", "loops": 99, "delay": -5},
             "max_digits": 0, "max_retries": 1000, "routes": []},
            {"key": "dial", "kind": "call", "target": "1", "max_dial_secs": 0, "max_call_secs": 1000000},
            {"key": "bad_cause", "kind": "hangup", "cause": 500},
            {"key": "long_vm", "kind": "silent_record", "max_duration_secs": -1}
        ]));
        let at = |key: &str, menu: &str| decide(&flow, &entry(key), &request(menu, ""), noon());
        let loud = at("loud", "-1");
        let data = menu_data(&loud);
        assert_eq!((data.loops, data.delay, data.size), (10, 0, 1));
        // max_retries is clamped to 10 as well.
        assert_eq!(
            at("loud", "loud~r10").outcome,
            StepOutcome::Timeout(Fallback::Exhausted)
        );
        let dial = at("dial", "-1");
        assert_eq!(
            (
                call_data(&dial).max_dial_secs,
                call_data(&dial).max_call_secs
            ),
            (1, 86_400)
        );
        assert_eq!(hangup_data(&at("bad_cause", "-1")).cause, None);
        assert_eq!(
            at("long_vm", "-1").answer.action,
            Action::SilentRecord(SilentRecordData {
                rec: None,
                max_duration_secs: Some(1)
            })
        );
    }

    #[test]
    fn outcome_names_are_distinct() {
        let all = [
            StepOutcome::Entered,
            StepOutcome::Failover,
            StepOutcome::Matched { route: 0 },
            StepOutcome::Timeout(Fallback::Route),
            StepOutcome::Timeout(Fallback::Retry),
            StepOutcome::Timeout(Fallback::Exhausted),
            StepOutcome::Invalid(Fallback::Route),
            StepOutcome::Invalid(Fallback::Retry),
            StepOutcome::Invalid(Fallback::Exhausted),
            StepOutcome::UnknownMenu,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|o| o.as_str()).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(StepOutcome::Matched { route: 7 }.as_str(), "matched");
    }

    #[test]
    fn a_whole_call() {
        let flow = shop();
        let entry = entry("main");
        let mut menu = "-1".to_owned();
        let mut actions = vec![];
        // Start; silence; silence again; "1" (sales); "1" again in the failover menu.
        for dtmf in ["", "", "", "1", "1"] {
            let decision = decide(&flow, &entry, &request(&menu, dtmf), noon());
            assert_eq!(decision.problem, None);
            actions.push(decision.answer.action.name());
            menu = match &decision.answer.action {
                Action::Menu(data) => data.menu.clone(),
                Action::Call(data) => data
                    .next_menu
                    .as_ref()
                    .map(|next| next.menu.clone())
                    .unwrap_or_default(),
                other => panic!("the call ended: {other:?}"),
            };
        }
        assert_eq!(actions, ["MENU", "MENU", "MENU", "CALL", "CALL"]);
        assert_eq!(menu, "busy");
    }
}
