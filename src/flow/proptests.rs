//! Property tests of the engine: random flows (sound and broken), random
//! requests, random instants.
//!
//! * `decide` never panics and always answers within the protocol's ranges;
//!   a MENU identifier it sends names an existing node, and a problem is
//!   always answered with a HANGUP;
//! * it terminates (the rule hop bound), also on flows full of rule loops;
//! * whole calls through flows `validate` accepts never meet a problem, and
//!   every recording they play is the one for the call's language (the
//!   language analysis of `validate` agrees with the engine).

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, TimeZone, Utc, Weekday};
use proptest::prelude::*;
use proptest::sample::select;

use super::engine::{CAUSE_TEMPORARY_FAILURE, Decision, decide};
use super::model::*;
use super::state::{self, CallState};
use super::validate::{Context, validate};
use super::{pattern, schedule};
use crate::voicenter::types::{Action, IvrActionRequest, Language, MenuData, NextMenu};

const SCHEDULES: [&str; 2] = ["s0", "s1"];
const VALID_PATTERNS: [&str; 14] = [
    "1", "2", "3", "12", "*", "#", "_X", "_Z", "_N", "_[1-3]", "_X.", "_1!", "_[147]X", "_!",
];
const BROKEN_PATTERNS: [&str; 6] = ["_", "", "1a", "_[", "_[5-1]", "123456789012345678901"];
/// Whole calls simulated through random flows.
const CALL_CASES: u32 = 2000;
/// The elements `naive` knows.
const PATTERN_ELEMENTS: [&str; 11] = ["1", "2", "*", "#", "X", "Z", "N", "[1-3]", "[0#]", ".", "!"];
const NUMBERS: [&str; 6] = [
    "0501234567",
    "+972501234567",
    "050",
    "03-1234567",
    "0733000000",
    "972",
];

/// How a random flow is built: sound, or broken in one or several ways.
/// Sound flows may still have rule loops, unmatchable routes and empty
/// opening hours, which `validate` reports.
#[derive(Debug, Clone)]
struct Shape {
    /// The node keys, by index.
    names: Vec<String>,
    /// References may name missing nodes and schedules, or weird keys.
    dangling: bool,
    /// Empty recordings, targets that are not numbers, out-of-range numbers.
    broken: bool,
}

fn weird_key() -> impl Strategy<Value = String> {
    select(vec!["", "-1", "a~b", " k0", "k0~r1", "x y"]).prop_map(str::to_owned)
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    // (dangling, weird_keys, broken), each alone so that every check of `validate` is needed.
    let modes = prop_oneof![
        6 => Just((false, false, false)),
        2 => Just((true, false, false)),
        1 => Just((false, true, false)),
        1 => Just((false, false, true)),
        2 => Just((true, true, true)),
    ];
    (1..=8usize, modes).prop_flat_map(|(count, (dangling, weird_keys, broken))| {
        let names: Vec<BoxedStrategy<String>> = (0..count)
            .map(|index| {
                let plain = Just(format!("k{index}"));
                if weird_keys {
                    prop_oneof![3 => plain, 1 => weird_key()].boxed()
                } else {
                    plain.boxed()
                }
            })
            .collect();
        // Some node keys are weird (`-1`, `a~b`…) when `weird_keys`.
        names.prop_map(move |names| Shape {
            names,
            dangling,
            broken,
        })
    })
}

fn arb_ref(shape: &Shape) -> BoxedStrategy<NodeKey> {
    let existing = select(shape.names.clone());
    if shape.dangling {
        prop_oneof![8 => existing, 1 => Just("missing".to_owned()), 1 => weird_key()].boxed()
    } else {
        existing.boxed()
    }
}

/// A number in `range`; in broken flows, now and then one nearby outside it.
fn arb_int(shape: &Shape, range: std::ops::RangeInclusive<i64>) -> BoxedStrategy<i64> {
    if shape.broken {
        let nearby = range.start() - 5..=range.end() + 5;
        prop_oneof![6 => range, 1 => nearby].boxed()
    } else {
        range.boxed()
    }
}

/// A recording's name; in broken flows, now and then an empty one.
fn arb_name(shape: &Shape) -> BoxedStrategy<String> {
    let names =
        select(vec!["rec", "hello", "menu_1", "hello_en", "hello_he"]).prop_map(str::to_owned);
    if shape.broken {
        prop_oneof![6 => names, 1 => select(vec!["", " "]).prop_map(str::to_owned)].boxed()
    } else {
        names.boxed()
    }
}

/// A prompt: one name, or one per language (some languages missing, with
/// or without a `default`: validation must catch the gaps).
fn arb_rec(shape: &Shape) -> BoxedStrategy<Rec> {
    let per_language = (
        prop::option::of(arb_name(shape)),
        prop::option::of(arb_name(shape)),
        prop::option::of(arb_name(shape)),
        arb_name(shape),
    )
        .prop_map(|(he, en, default, any)| {
            let mut by_language: std::collections::BTreeMap<Language, String> =
                [(Language::He, he), (Language::En, en)]
                    .into_iter()
                    .filter_map(|(language, name)| Some((language, name?)))
                    .collect();
            if by_language.is_empty() && default.is_none() {
                by_language.insert(Language::He, any);
            }
            Rec::PerLanguage {
                by_language,
                default,
            }
        });
    prop_oneof![2 => arb_name(shape).prop_map(Rec::One), 1 => per_language].boxed()
}

fn arb_language() -> impl Strategy<Value = Option<Language>> {
    prop::option::of(prop_oneof![Just(Language::He), Just(Language::En)])
}

fn arb_prompt(shape: &Shape) -> impl Strategy<Value = Prompt> + use<> {
    (
        arb_rec(shape),
        arb_int(shape, limits::LOOPS),
        arb_int(shape, limits::DELAY_SECS),
    )
        .prop_map(|(rec, loops, delay)| Prompt { rec, loops, delay })
}

fn arb_route(shape: &Shape) -> impl Strategy<Value = DtmfRoute> + use<> {
    let patterns = if shape.broken {
        prop_oneof![
            3 => select(VALID_PATTERNS.to_vec()),
            1 => select(BROKEN_PATTERNS.to_vec())
        ]
        .boxed()
    } else {
        select(VALID_PATTERNS.to_vec()).boxed()
    };
    (patterns, arb_ref(shape), arb_language()).prop_map(|(digits, target, set_language)| {
        DtmfRoute {
            digits: digits.to_owned(),
            target,
            set_language,
        }
    })
}

fn arb_menu(shape: &Shape) -> impl Strategy<Value = Menu> + use<> {
    let target = || prop::option::of(arb_ref(shape));
    (
        arb_prompt(shape),
        arb_int(shape, 1..=3),
        any::<bool>(),
        prop::collection::vec(arb_route(shape), 0..4),
        (target(), target(), target()),
        prop::option::of(arb_rec(shape)),
        if shape.broken {
            prop_oneof![6 => 0..=3u32, 1 => 11..=20u32].boxed()
        } else {
            (0..=3u32).boxed()
        },
    )
        .prop_map(
            |(
                prompt,
                max_digits,
                validation,
                routes,
                (on_timeout, on_invalid, on_exhausted),
                retry_rec,
                max_retries,
            )| Menu {
                prompt,
                max_digits,
                validation,
                routes,
                on_timeout,
                on_invalid,
                retry_rec,
                max_retries,
                on_exhausted,
            },
        )
}

fn arb_call(shape: &Shape) -> impl Strategy<Value = Call> + use<> {
    let targets = if shape.broken {
        select(vec!["0501111111", "", "100"]).boxed()
    } else {
        select(vec!["0501111111", "100"]).boxed()
    };
    (
        targets,
        prop::option::of(select(vec!["0733000000", "100"])),
        prop::option::of(arb_rec(shape)),
        arb_int(shape, limits::MAX_DIAL_SECS),
        arb_int(shape, limits::MAX_CALL_SECS),
        prop::option::of(arb_ref(shape)),
    )
        .prop_map(
            |(target, caller_id, caller_rec, max_dial_secs, max_call_secs, failover)| Call {
                target: target.to_owned(),
                caller_id: caller_id.map(str::to_owned),
                caller_name: None,
                caller_rec,
                moh_class: None,
                target_rec: None,
                max_dial_secs,
                max_call_secs,
                record: false,
                dtmf_play: None,
                dialstrings: vec![],
                failover,
            },
        )
}

fn arb_condition(shape: &Shape) -> impl Strategy<Value = Condition> + use<> {
    let schedules = if shape.dangling {
        select(vec!["s0", "s1", "nope"]).boxed()
    } else {
        select(SCHEDULES.to_vec()).boxed()
    };
    let numbers = || prop::collection::vec(select(NUMBERS.to_vec()).prop_map(str::to_owned), 1..3);
    prop_oneof![
        schedules.clone().prop_map(|s| Condition::Open {
            schedule: s.to_owned()
        }),
        schedules.prop_map(|s| Condition::Holiday {
            schedule: s.to_owned()
        }),
        numbers().prop_map(|numbers| Condition::CallerIn { numbers }),
        numbers().prop_map(|prefixes| Condition::CallerPrefix { prefixes }),
        numbers().prop_map(|numbers| Condition::DidIn { numbers }),
        Just(Condition::CallerHidden),
    ]
}

fn arb_kind(shape: &Shape) -> impl Strategy<Value = NodeKind> + use<> {
    let digits = prop_oneof![
        select(vec!["123", "0501234567"]).prop_map(|d| DigitsSource::Literal(d.to_owned())),
        Just(DigitsSource::CallerId),
        Just(DigitsSource::Did),
        Just(DigitsSource::Pressed),
    ];
    let say_digits =
        (digits, arb_rec(shape), arb_menu(shape)).prop_map(|(digits, intro_rec, menu)| SayDigits {
            digits,
            intro_rec,
            menu,
        });
    let rec = || prop::option::of(arb_rec(shape));
    let hangup = (
        rec(),
        prop::option::of(arb_int(shape, limits::HANGUP_CAUSE)),
    )
        .prop_map(|(rec, cause)| Hangup { rec, cause });
    let vo =
        (arb_int(shape, 0..=5), arb_prompt(shape)).prop_map(|(layer, prompt)| Vo { layer, prompt });
    let silent_record =
        (rec(), prop::option::of(arb_int(shape, 1..=600))).prop_map(|(rec, max_duration_secs)| {
            SilentRecord {
                rec,
                max_duration_secs,
            }
        });
    let rule =
        (arb_condition(shape), arb_ref(shape)).prop_map(|(when, target)| Rule { when, target });
    let rules = (prop::collection::vec(rule, 0..3), arb_ref(shape))
        .prop_map(|(rules, default)| Rules { rules, default });
    let announcement = (arb_prompt(shape), arb_ref(shape))
        .prop_map(|(prompt, next)| Announcement { prompt, next });
    prop_oneof![
        3 => arb_menu(shape).prop_map(NodeKind::Menu),
        1 => announcement.prop_map(NodeKind::Announcement),
        1 => say_digits.prop_map(NodeKind::SayDigits),
        2 => arb_call(shape).prop_map(NodeKind::Call),
        1 => hangup.prop_map(NodeKind::Hangup),
        1 => vo.prop_map(NodeKind::Vo),
        1 => silent_record.prop_map(NodeKind::SilentRecord),
        3 => rules.prop_map(NodeKind::Rules),
    ]
}

fn arb_hours() -> impl Strategy<Value = OpeningHours> {
    let day = select(vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]);
    let time = (0..24u32, select(vec![0u32, 30]))
        .prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN));
    (day, time.clone(), time).prop_map(|(day, opens, closes)| OpeningHours { day, opens, closes })
}

fn arb_schedule(key: &'static str) -> impl Strategy<Value = Schedule> {
    let holiday = (0..3650i64).prop_map(|days| Holiday {
        date: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default()
            + chrono::Days::new(days.unsigned_abs()),
        name: String::new(),
    });
    let time = (0..24u32, select(vec![0u32, 30]))
        .prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN));
    let range = (time.clone(), time).prop_map(|(opens, closes)| DayHours { opens, closes });
    let rule = prop_oneof![
        Just(DayRule::Closed),
        Just(DayRule::Usual),
        prop::collection::vec(range, 0..3).prop_map(DayRule::Hours),
    ];
    let occasion = select(super::calendar::Occasion::ALL.to_vec());
    let calendar = (
        rule.clone(),
        rule.clone(),
        rule.clone(),
        prop::collection::btree_map(occasion, rule, 0..3),
    )
        .prop_map(
            |(rest_days, eves, other_days, exceptions)| ScheduleCalendar {
                name: super::calendar::CalendarName::Israel,
                rest_days,
                eves,
                other_days,
                exceptions,
            },
        );
    (
        prop::collection::vec(arb_hours(), 0..5),
        prop::collection::vec(holiday, 0..3),
        prop::option::of(calendar),
    )
        .prop_map(move |(hours, holidays, calendar)| Schedule {
            key: key.to_owned(),
            name: key.to_owned(),
            hours,
            holidays,
            calendar,
        })
}

/// A flow, its shape, and the entry node of the DID under test.
fn arb_flow() -> impl Strategy<Value = (Flow, Shape, DidEntry)> {
    arb_shape().prop_flat_map(|shape| {
        let nodes: Vec<_> = shape
            .names
            .iter()
            .map(|name| (Just(name.clone()), arb_language(), arb_kind(&shape)))
            .collect();
        let zones = select(vec![
            chrono_tz::Asia::Jerusalem,
            chrono_tz::UTC,
            chrono_tz::America::New_York,
        ]);
        let entry = (select(shape.names.clone()), arb_language());
        (
            nodes,
            arb_schedule(SCHEDULES[0]),
            arb_schedule(SCHEDULES[1]),
            zones,
            entry,
            (
                Just(shape.clone()),
                proptest::option::of(1u32..1000),
                prop::option::of(arb_rec(&shape)),
            ),
        )
            .prop_map(
                |(nodes, s0, s1, time_zone, (entry_node, language), (shape, version, goodbye))| {
                    let flow = Flow {
                        version,
                        time_zone,
                        language: Language::He,
                        nodes: nodes
                            .into_iter()
                            .map(|(key, language, kind)| {
                                (
                                    key.clone(),
                                    Node {
                                        key,
                                        language,
                                        kind,
                                    },
                                )
                            })
                            .collect(),
                        schedules: HashMap::from([(s0.key.clone(), s0), (s1.key.clone(), s1)]),
                        goodbye,
                    };
                    let entry = DidEntry {
                        tenant_id: 1,
                        entry_node,
                        language,
                    };
                    (flow, shape, entry)
                },
            )
    })
}

fn arb_menu_field(shape: &Shape) -> impl Strategy<Value = String> + use<> {
    let suffix = select(vec![
        "",
        "~r1",
        "~r2~en",
        "~he",
        "~r99999999999",
        "~zz",
        "~",
        "~r3~r0",
    ]);
    prop_oneof![
        Just("-1".to_owned()),
        Just(String::new()),
        ".{0,12}",
        (select(shape.names.clone()), suffix.clone()).prop_map(|(key, suffix)| key + suffix),
        (Just("missing"), suffix).prop_map(|(key, suffix)| key.to_owned() + suffix),
    ]
}

/// A flow and a few unrelated requests against it: start of call, this
/// flow's nodes with any state suffix, missing nodes, garbage.
fn arb_steps() -> impl Strategy<Value = (Flow, DidEntry, Vec<(IvrActionRequest, DateTime<Utc>)>)> {
    arb_flow().prop_flat_map(|(flow, shape, entry)| {
        let step = (
            arb_menu_field(&shape),
            arb_dtmf(),
            arb_caller(),
            arb_did(),
            arb_instant(),
        )
            .prop_map(|(menu, dtmf, caller, did, now)| (request(menu, dtmf, caller, did), now));
        (Just(flow), Just(entry), prop::collection::vec(step, 1..6))
    })
}

fn arb_dtmf() -> impl Strategy<Value = String> {
    prop_oneof![8 => "[0-9*#]{0,4}", 1 => ".{0,3}", 1 => Just(" 1 ".to_owned())]
}

fn arb_caller() -> impl Strategy<Value = String> {
    prop_oneof![
        select(NUMBERS.to_vec()).prop_map(str::to_owned),
        Just("anonymous".to_owned()),
        "[0-9+ -]{0,14}",
    ]
}

fn arb_instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2020-01-01 to 2030-01-01: many DST changes in all three zones.
    (1_577_836_800i64..1_893_456_000)
        .prop_map(|secs| Utc.timestamp_opt(secs, 0).single().unwrap_or_default())
}

fn request(menu: String, dtmf: String, caller_id: String, did: String) -> IvrActionRequest {
    IvrActionRequest {
        did,
        caller_id,
        caller_name: "Caller".into(),
        call_id: "0123456789abcdef0123456789abcdef".into(),
        menu,
        previous_menu: "-1".into(),
        dtmf,
    }
}

fn arb_did() -> impl Strategy<Value = String> {
    select(vec!["0733000000", "+972733000000", "035551234"]).prop_map(str::to_owned)
}

/// The checks every answer passes, whatever the flow.
fn check_answer(flow: &Flow, decision: &Decision) -> Result<(), TestCaseError> {
    let blank = |text: &str| text.trim().is_empty();
    let names_node = |identifier: &str| -> Result<(), TestCaseError> {
        let parsed = state::parse_menu(identifier);
        prop_assert!(
            parsed.is_some_and(|(key, _)| flow.nodes.contains_key(key)),
            "identifier {identifier:?} names no node"
        );
        prop_assert_eq!(
            parsed.and_then(|(_, state)| state.version),
            flow.version,
            "identifier {} names another version than the flow's",
            identifier
        );
        Ok(())
    };
    let check_menu = |data: &MenuData| -> Result<(), TestCaseError> {
        prop_assert!(!blank(&data.rec));
        prop_assert!(limits::LOOPS.contains(&data.loops));
        prop_assert!(limits::DELAY_SECS.contains(&data.delay));
        prop_assert!(limits::MAX_DIGITS.contains(&data.size));
        names_node(&data.menu)?;
        prop_assert_eq!(
            state::parse_menu(&data.menu).map(|(key, _)| key),
            decision.node.as_deref()
        );
        Ok(())
    };
    if decision.problem.is_some() {
        prop_assert_eq!(decision.node.as_deref(), None);
        prop_assert!(matches!(
            &decision.answer.action,
            Action::Hangup(hangup) if hangup.cause == Some(CAUSE_TEMPORARY_FAILURE)
        ));
    }
    if let Some(node) = &decision.node {
        prop_assert!(flow.nodes.contains_key(node));
    }
    match &decision.answer.action {
        Action::Menu(data) => check_menu(data)?,
        Action::SayDigits(data) => {
            check_menu(&data.menu)?;
            prop_assert!(!blank(&data.intro_rec));
            prop_assert!(
                !data.digits.is_empty() && data.digits.bytes().all(|b| b.is_ascii_digit())
            );
        }
        Action::Call(data) => {
            prop_assert!(!blank(&data.target));
            prop_assert!(limits::MAX_DIAL_SECS.contains(&data.max_dial_secs));
            prop_assert!(limits::MAX_CALL_SECS.contains(&data.max_call_secs));
            if let Some(NextMenu {
                menu,
                record,
                loops,
                size,
                wait,
            }) = &data.next_menu
            {
                names_node(menu)?;
                prop_assert!(record.as_deref().is_none_or(|rec| !blank(rec)));
                prop_assert!(loops.is_none_or(|loops| limits::LOOPS.contains(&loops)));
                prop_assert!(wait.is_none_or(|wait| limits::DELAY_SECS.contains(&wait)));
                prop_assert!(
                    size.is_some_and(|size| size == 0 || limits::MAX_DIGITS.contains(&size))
                );
            }
        }
        Action::Hangup(data) => {
            prop_assert!(data.rec.as_deref().is_none_or(|rec| !blank(rec)));
            prop_assert!(
                data.cause
                    .is_none_or(|cause| limits::HANGUP_CAUSE.contains(&cause))
            );
        }
        Action::Vo(data) => {
            prop_assert!(!blank(&data.record));
            prop_assert!(limits::LAYER.contains(&data.layer));
            prop_assert!(limits::LOOPS.contains(&data.loops));
            prop_assert!(limits::DELAY_SECS.contains(&data.delay));
        }
        Action::SilentRecord(data) => {
            prop_assert!(data.rec.as_deref().is_none_or(|rec| !blank(rec)));
            prop_assert!(
                data.max_duration_secs
                    .is_none_or(|secs| limits::MAX_CALL_SECS.contains(&secs))
            );
        }
    }
    Ok(())
}

/// Every recording a step of a sound flow plays is the one its prompt
/// gives for the answer's language (not `Rec::play`'s last resort).
fn check_language(flow: &Flow, decision: &Decision) -> Result<(), TestCaseError> {
    let language = decision.answer.language;
    let mut expected: Vec<&str> = flow
        .goodbye
        .iter()
        .filter_map(|rec| rec.pick(language))
        .collect();
    if let Some(node) = decision.node.as_ref().and_then(|key| flow.nodes.get(key)) {
        for (_, rec) in super::validate::prompts(node) {
            expected.extend(rec.pick(language));
        }
    }
    let played: Vec<&str> = match &decision.answer.action {
        Action::Menu(data) => vec![&data.rec],
        Action::SayDigits(data) => vec![&data.menu.rec, &data.intro_rec],
        Action::Call(data) => data
            .caller_rec
            .iter()
            .chain(&data.target_rec)
            .map(String::as_str)
            .collect(),
        Action::Hangup(data) => data.rec.iter().map(String::as_str).collect(),
        Action::Vo(data) => vec![&data.record],
        Action::SilentRecord(data) => data.rec.iter().map(String::as_str).collect(),
    };
    for rec in played {
        prop_assert!(
            expected.contains(&rec),
            "{:?} played in {:?}, not among {:?}",
            rec,
            language,
            expected
        );
    }
    Ok(())
}

proptest! {
    // Most generated flows are sound or broken in many ways at once; the
    // cases that matter most (broken in a single way validate must catch)
    // are rarer, hence more cases here.
    #![proptest_config(ProptestConfig::with_cases(CALL_CASES))]

    #[test]
    fn whole_calls_through_validated_flows_meet_no_problem(
        (flow, _shape, entry) in arb_flow(),
        dtmfs in prop::collection::vec(arb_dtmf(), 12),
        caller in arb_caller(),
        did in arb_did(),
        start in arb_instant(),
    ) {
        let entries = [EntryPoint {
            language: entry.language,
            ..EntryPoint::at("0730000000", &entry.entry_node)
        }];
        let issues = validate(&flow, &Context { entries: &entries, recordings: None, today: None });
        let sound = !issues.iter().any(|issue| issue.is_error());
        let mut menu = "-1".to_owned();
        for (step, dtmf) in (0i64..).zip(dtmfs) {
            let now = start + chrono::Duration::seconds(step * 20);
            let ask = request(menu, dtmf, caller.clone(), did.clone());
            let decision = decide(&flow, &entry, &ask, now);
            check_answer(&flow, &decision)?;
            if sound {
                prop_assert_eq!(
                    &decision.problem, &None, "step {} of a sound flow: {:?}", step, issues
                );
                check_language(&flow, &decision)?;
            }
            menu = match &decision.answer.action {
                Action::Menu(data) => data.menu.clone(),
                Action::SayDigits(data) => data.menu.menu.clone(),
                Action::Call(data) => match &data.next_menu {
                    Some(next) => next.menu.clone(),
                    None => break,
                },
                _ => break,
            };
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_request_against_any_flow_gets_a_valid_answer((flow, entry, steps) in arb_steps()) {
        // Validation never panics either.
        let entries = [EntryPoint::at("0730000000", &entry.entry_node)];
        let _ = validate(&flow, &Context { entries: &entries, recordings: None, today: None });
        for (request, now) in steps {
            let decision = decide(&flow, &entry, &request, now);
            check_answer(&flow, &decision)?;
        }
    }

    #[test]
    fn state_round_trips(
        key in "[A-Za-z0-9_.-]{1,64}",
        version in proptest::option::of(any::<u32>()),
        retries in 0..=state::MAX_RETRIES,
        language in arb_language(),
    ) {
        prop_assume!(state::is_valid_key(&key));
        let state = CallState { version, retries, language };
        let identifier = state.encode(&key);
        prop_assert_eq!(state::parse_menu(&identifier), Some((key.as_str(), state)));
    }

    #[test]
    fn parse_menu_is_total(menu in ".{0,40}") {
        if let Some((key, state)) = state::parse_menu(&menu) {
            prop_assert!(!key.contains(state::SEPARATOR));
            prop_assert!(state.retries <= state::MAX_RETRIES);
        }
    }

    #[test]
    fn patterns_match_like_a_naive_matcher(
        elements in prop::collection::vec(select(PATTERN_ELEMENTS.to_vec()), 1..6),
        input in "[0-9*#]{0,7}",
    ) {
        let pattern = format!("_{}", elements.concat());
        prop_assert!(pattern::parse(&pattern).is_ok());
        let expected = naive(&elements, input.as_bytes());
        prop_assert_eq!(pattern::matches(&pattern, &input), expected, "{} vs {}", pattern, input);
    }

    #[test]
    fn patterns_never_panic(pattern in ".{0,12}", input in ".{0,8}") {
        let parsed = pattern::parse(&pattern);
        // Whatever matches is a valid pattern.
        if pattern::matches(&pattern, &input) {
            prop_assert!(parsed.is_ok());
        }
    }

    #[test]
    fn schedules_never_panic(schedule in arb_schedule("s"), now in arb_instant()) {
        for zone in [chrono_tz::Asia::Jerusalem, chrono_tz::Pacific::Chatham, chrono_tz::UTC] {
            let open = schedule::is_open(&schedule, zone, now);
            if schedule::is_holiday(&schedule, zone, now) {
                prop_assert!(!open);
            }
        }
    }
}

/// A straightforward recursive matcher, as the reference for `pattern::matches`.
fn naive(elements: &[&str], input: &[u8]) -> bool {
    let Some((first, rest)) = elements.split_first() else {
        return input.is_empty();
    };
    let one = |accepts: &dyn Fn(u8) -> bool| {
        input
            .split_first()
            .is_some_and(|(c, tail)| accepts(*c) && naive(rest, tail))
    };
    match *first {
        "X" => one(&|c| c.is_ascii_digit()),
        "Z" => one(&|c| (b'1'..=b'9').contains(&c)),
        "N" => one(&|c| (b'2'..=b'9').contains(&c)),
        "[1-3]" => one(&|c| (b'1'..=b'3').contains(&c)),
        "[0#]" => one(&|c| c == b'0' || c == b'#'),
        "." => (1..=input.len()).any(|n| naive(rest, &input[n..])),
        "!" => (0..=input.len()).any(|n| naive(rest, &input[n..])),
        literal => one(&|c| literal.as_bytes() == [c]),
    }
}
