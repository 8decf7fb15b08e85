//! The safe answer given when the flow cannot answer a call step.

use chrono::{DateTime, Utc};

use crate::config::{FallbackSettings, ServeSettings};
use crate::flow::model::{DidEntry, Flow, Rec};
use crate::flow::{Decision, decide};
use crate::metrics::FallbackReason;
use crate::voicenter::types::{
    Action, CallData, HangupData, IvrActionRequest, IvrAnswer, Language,
};

/// Q.850 cause of the safe hang-up: an unknown number is "unallocated" (1),
/// a disabled tenant's number rejects the call (21), anything broken on our
/// side is a "temporary failure" (41).
fn cause(reason: FallbackReason) -> i64 {
    match reason {
        FallbackReason::UnknownDid => 1,
        FallbackReason::TenantDisabled => 21,
        FallbackReason::BrokenFlow
        | FallbackReason::Unavailable
        | FallbackReason::NotPublished
        | FallbackReason::UnknownVersion
        | FallbackReason::VersionUnavailable => 41,
    }
}

/// The safe answer as configured: a fallback number, else a polite hang-up
/// saying a goodbye: the flow's, else the platform's (if set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafeAnswer {
    pub target: Option<String>,
    /// The platform's goodbye.
    pub rec: Option<Rec>,
}

impl SafeAnswer {
    pub fn from_settings(settings: &ServeSettings) -> SafeAnswer {
        SafeAnswer::configured(&settings.fallback)
    }

    pub fn configured(fallback: &FallbackSettings) -> SafeAnswer {
        SafeAnswer {
            target: fallback.fallback_target.clone(),
            rec: fallback.fallback_rec.clone(),
        }
    }

    /// The configured fallback number if there is one, else a polite
    /// hang-up saying `goodbye` (the flow's, when the tenant's flow is
    /// known), else the platform's goodbye, in `language`.
    pub fn answer(
        &self,
        request: &IvrActionRequest,
        language: Language,
        reason: FallbackReason,
        goodbye: Option<&Rec>,
    ) -> IvrAnswer {
        let action = match &self.target {
            Some(target) => Action::Call(CallData {
                target: target.clone(),
                caller_id: request.caller_id.clone(),
                caller_name: request.caller_name.clone(),
                caller_rec: None,
                moh_class: None,
                target_rec: None,
                max_dial_secs: 30,
                max_call_secs: 3600,
                next_menu: None,
                record: false,
                dtmf_play: None,
                dialstrings: Vec::new(),
            }),
            None => Action::Hangup(HangupData {
                rec: self.goodbye(goodbye, language, language),
                cause: Some(cause(reason)),
            }),
        };
        IvrAnswer { language, action }
    }

    /// The goodbye said in `language` (`otherwise`: the language a map
    /// without it falls back on): `flows`, else the platform's; `None` when
    /// there is none or it is blank.
    fn goodbye(
        &self,
        flows: Option<&Rec>,
        language: Language,
        otherwise: Language,
    ) -> Option<String> {
        flows
            .or(self.rec.as_ref())
            .map(|rec| rec.play(language, otherwise).to_owned())
            .filter(|name| !name.trim().is_empty())
    }
}

/// The answer to one step through `flow`: the flow's decision, or the safe
/// answer when the flow cannot be followed. The webhook and the simulator
/// both answer through here, so a simulation says what a call would hear.
pub fn flow_answer(
    flow: &Flow,
    entry: &DidEntry,
    request: &IvrActionRequest,
    now: DateTime<Utc>,
    safe: &SafeAnswer,
) -> (Decision, IvrAnswer) {
    let decision = decide(flow, entry, request, now);
    let answer = match &decision.problem {
        // The flow's own hang-up (retries used up) with no goodbye of the
        // flow's: the platform's, if it has one.
        None if decision.node.is_none() => {
            let mut answer = decision.answer.clone();
            if let Action::Hangup(hangup) = &mut answer.action
                && hangup.rec.is_none()
            {
                hangup.rec = safe.goodbye(None, answer.language, flow.language);
            }
            answer
        }
        None => decision.answer.clone(),
        Some(_) => safe.answer(
            request,
            decision.answer.language,
            FallbackReason::BrokenFlow,
            flow.goodbye.as_ref(),
        ),
    };
    (decision, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(goodbye: Option<&str>) -> Flow {
        let nodes: Vec<crate::flow::model::Node> = serde_json::from_value(serde_json::json!([
            {"key": "main", "kind": "menu", "prompt": {"rec": "m"}, "max_retries": 0},
            {"key": "bye", "kind": "hangup"}
        ]))
        .unwrap();
        Flow {
            version: Some(1),
            time_zone: chrono_tz::Asia::Jerusalem,
            language: Language::He,
            nodes: nodes.into_iter().map(|n| (n.key.clone(), n)).collect(),
            schedules: Default::default(),
            goodbye: goodbye.map(Rec::from),
        }
    }

    fn hangup_rec(flow: &Flow, menu: &str, safe: &SafeAnswer) -> Option<String> {
        let entry = DidEntry {
            tenant_id: 1,
            entry_node: "main".into(),
            language: None,
        };
        let request = IvrActionRequest {
            did: "0733".into(),
            caller_id: "054".into(),
            caller_name: String::new(),
            call_id: "c".into(),
            menu: menu.into(),
            previous_menu: "-1".into(),
            dtmf: String::new(),
        };
        match flow_answer(flow, &entry, &request, Utc::now(), safe)
            .1
            .action
        {
            Action::Hangup(hangup) => hangup.rec,
            other => panic!("not a hang-up: {other:?}"),
        }
    }

    #[test]
    fn the_flows_own_hang_ups_say_the_flows_goodbye_else_the_platforms() {
        let platform = SafeAnswer {
            target: None,
            rec: Some(
                serde_json::from_value(
                    serde_json::json!({"he": "platform_he", "en": "platform_en"}),
                )
                .unwrap(),
            ),
        };
        // Retries used up, the flow has no goodbye: the platform's, in the call's language.
        assert_eq!(
            hangup_rec(&flow(None), "main~v1", &platform).as_deref(),
            Some("platform_he")
        );
        assert_eq!(
            hangup_rec(&flow(None), "main~v1~en", &platform).as_deref(),
            Some("platform_en")
        );
        // The flow's own goodbye wins.
        assert_eq!(
            hangup_rec(&flow(Some("ours")), "main~v1", &platform).as_deref(),
            Some("ours")
        );
        // A broken flow (a node gone mid-call): the same.
        assert_eq!(
            hangup_rec(&flow(None), "gone~v1", &platform).as_deref(),
            Some("platform_he")
        );
        // No goodbye anywhere: silence.
        assert_eq!(
            hangup_rec(&flow(None), "main~v1", &SafeAnswer::default()),
            None
        );
    }
}
