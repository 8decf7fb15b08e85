//! From Voicenter's end-of-call report to a stored CDR.

pub mod writer;

use chrono::{DateTime, Utc};

use crate::storage::cdrs::NewCdr;
use crate::voicenter::types::HangupReport;

/// The Q.850 cause a `CALL_STATUS` stands for. `None` for a status we do
/// not know (kept, never dropped) and for one that is not a cause at all.
///
/// The statuses are Asterisk's `DIALSTATUS` values (the spec's list), so
/// each is mapped to the cause Asterisk itself sets with it:
///
/// * ANSWER: answered, later cleared normally: 16 (normal clearing).
/// * BUSY: `AST_CAUSE_BUSY`, user busy: 17.
/// * NOANSWER: `AST_CAUSE_NO_ANSWER`, no answer from the user: 19.
/// * CANCEL: the caller hung up before the callee answered, a normal
///   clearing from the caller's side: 16 (SIP "BYE or CANCEL").
/// * CONGESTION: `AST_CAUSE_CONGESTION`, which Asterisk defines as
///   `AST_CAUSE_NORMAL_CIRCUIT_CONGESTION`: 34, no circuit available (not
///   42, switching equipment congestion; stored causes were re-derived by
///   migration V11).
/// * CHANUNAVAIL: the channel (e.g. an unregistered SIP peer) is
///   unavailable: 20, subscriber absent.
/// * DONTCALL / TORTURE: privacy mode, the callee rejected the call: 21.
/// * INVALIDARGS: the Dial command's arguments could not be parsed — a
///   configuration error on the dialling side, not a cause the network
///   gave: none (it used to be stored as 28, address incomplete; V11
///   cleared it). Reported under `cause: null` with its status.
pub fn cause_for_status(status: &str) -> Option<i16> {
    Some(match status {
        "ANSWER" => 16,
        "BUSY" => 17,
        "NOANSWER" => 19,
        "CANCEL" => 16,
        "CONGESTION" => 34,
        "CHANUNAVAIL" => 20,
        "DONTCALL" | "TORTURE" => 21,
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
    fn every_status_of_the_spec_has_the_cause_asterisk_gives_it() {
        let expected = [
            ("ANSWER", Some(16)),
            ("BUSY", Some(17)),
            ("NOANSWER", Some(19)),
            ("CANCEL", Some(16)),
            ("CONGESTION", Some(34)),
            ("CHANUNAVAIL", Some(20)),
            ("DONTCALL", Some(21)),
            ("TORTURE", Some(21)),
            ("INVALIDARGS", None),
            ("SOMETHING-NEW", None),
        ];
        for (status, cause) in expected {
            assert_eq!(cause_for_status(status), cause, "{status}");
        }
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
