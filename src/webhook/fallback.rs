//! The safe answer given when the flow cannot answer a call step.

use crate::config::ServeSettings;
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

/// The configured fallback number if there is one, else a polite hang-up.
pub fn safe_answer(
    settings: &ServeSettings,
    request: &IvrActionRequest,
    language: Language,
    reason: FallbackReason,
) -> IvrAnswer {
    let action = match &settings.fallback_target {
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
            rec: settings.fallback_rec.clone(),
            cause: Some(cause(reason)),
        }),
    };
    IvrAnswer { language, action }
}
