//! From Voicenter's end-of-call report to a stored CDR.

pub mod writer;

use chrono::{DateTime, Utc};

use crate::storage::cdrs::NewCdr;
use crate::voicenter::types::HangupReport;

/// The Q.850 cause a `CALL_STATUS` stands for, as the spec's table of causes
/// defines them. `None` for a status we do not know (kept, never dropped).
///
/// ANSWER: the call was answered and later cleared normally (16).
/// BUSY: user busy (17). NOANSWER: no answer from the user (19).
/// CANCEL: the caller hung up before the callee answered — normal clearing
/// from the caller's side (16, SIP "BYE or CANCEL").
/// CONGESTION: switching equipment congestion (42); the spec notes it usually
/// means an unrecognised number, but the cause that Asterisk reports is 42.
/// CHANUNAVAIL: the channel (e.g. an unregistered SIP peer) is unavailable:
/// subscriber absent (20). DONTCALL / TORTURE: privacy mode, the callee
/// rejected the call: call rejected (21). INVALIDARGS: the dial could not be
/// parsed: address incomplete (28).
pub fn cause_for_status(status: &str) -> Option<i16> {
    Some(match status {
        "ANSWER" => 16,
        "BUSY" => 17,
        "NOANSWER" => 19,
        "CANCEL" => 16,
        "CONGESTION" => 42,
        "CHANUNAVAIL" => 20,
        "DONTCALL" | "TORTURE" => 21,
        "INVALIDARGS" => 28,
        _ => return None,
    })
}

/// Epoch seconds to a time, when it is one PostgreSQL can store (the spec's
/// own example, 15616841651, is in the year 2464 and is kept as such).
fn epoch_to_time(epoch: Option<i64>) -> Option<DateTime<Utc>> {
    const YEAR_9999: i64 = 253_402_300_799;
    epoch
        .filter(|secs| (0..=YEAR_9999).contains(secs))
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
}

/// A duration, unless it is negative (no call lasts -7 s; a report's averages
/// must not count it). The raw payload keeps what was sent.
fn seconds(secs: Option<i64>) -> Option<i64> {
    secs.filter(|secs| *secs >= 0)
}

impl From<HangupReport> for NewCdr {
    fn from(report: HangupReport) -> NewCdr {
        NewCdr {
            cause: cause_for_status(&report.status),
            call_time: epoch_to_time(report.call_time_epoch),
            call_start: epoch_to_time(report.call_start_epoch),
            call_id: report.call_id,
            did: report.did,
            caller_id: report.caller_id,
            target: report.target,
            duration_secs: seconds(report.duration_secs),
            dial_secs: seconds(report.dial_secs),
            status: report.status,
            raw: report.raw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_of_the_spec_has_a_cause() {
        for status in [
            "ANSWER",
            "BUSY",
            "NOANSWER",
            "CANCEL",
            "CONGESTION",
            "CHANUNAVAIL",
            "DONTCALL",
            "TORTURE",
            "INVALIDARGS",
        ] {
            assert!(cause_for_status(status).is_some(), "{status}");
        }
        assert_eq!(cause_for_status("BUSY"), Some(17));
        assert_eq!(cause_for_status("SOMETHING-NEW"), None);
    }

    #[test]
    fn negative_durations_are_not_values() {
        assert_eq!(seconds(Some(-7)), None);
        assert_eq!(seconds(Some(0)), Some(0));
        assert_eq!(seconds(Some(125)), Some(125));
        assert_eq!(seconds(None), None);
    }

    #[test]
    fn epochs_beyond_32_bits_are_kept_and_absurd_ones_dropped() {
        let t = epoch_to_time(Some(15_616_841_651)).unwrap();
        assert_eq!(t.timestamp(), 15_616_841_651);
        assert_eq!(epoch_to_time(Some(-5)), None);
        assert_eq!(epoch_to_time(Some(i64::MAX)), None);
        assert_eq!(epoch_to_time(None), None);
    }
}
