//! Tests of the whole codec: the spec's examples, each quirk of DESIGN.md §1,
//! answers on the wire, hostile input, and properties.

use std::borrow::Cow;

use super::types::*;
use super::value::{MAX_DEPTH, Value};
use super::*;

const LIMIT: usize = 64 * 1024;

/// Fixture files: the spec's examples (see tests/fixtures/spec/README.md).
macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/fixtures/spec/", $name)).as_slice()
    };
}

fn s(text: &str) -> Value<'_> {
    Value::Str(Cow::Borrowed(text))
}

fn data<'a>(members: &[(&'a str, Value<'a>)]) -> Value<'a> {
    Value::Struct(
        members
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), value.clone()))
            .collect(),
    )
}

fn xml_request(method: &str, data: &Value<'_>) -> Vec<u8> {
    let mut out = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params><param>"
    );
    xmlrpc::write_value(&mut out, data);
    out.push_str("</param></params></methodCall>");
    out.into_bytes()
}

fn json_request(method: &str, data: &Value<'_>) -> Vec<u8> {
    json::encode(&Value::Struct(vec![
        (Cow::Borrowed("METHOD"), s(method)),
        (Cow::Borrowed("DATA"), data.clone()),
    ]))
}

/// The same request in both encodings.
fn both(method: &str, data: &Value<'_>) -> [(Encoding, Vec<u8>); 2] {
    [
        (Encoding::XmlRpc, xml_request(method, data)),
        (Encoding::Json, json_request(method, data)),
    ]
}

/// A `GET_IVR_ACTION` methodCall whose DATA struct holds `members` (raw XML).
fn xml_members(members: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<methodCall><methodName>GET_IVR_ACTION</methodName>\
         <params><param><value><struct>{members}</struct></value></param></params></methodCall>"
    )
    .into_bytes()
}

fn member(name: &str, value_xml: &str) -> String {
    format!("<member><name>{name}</name><value>{value_xml}</value></member>")
}

/// DID and IVR_UNIQUE_ID, the two mandatory fields, as XML members.
fn mandatory_xml() -> String {
    member("DID", "<string>0730000000</string>") + &member("IVR_UNIQUE_ID", "<string>abc</string>")
}

fn decode(body: &[u8]) -> (Encoding, Request) {
    decode_request(body, LIMIT)
        .unwrap_or_else(|(_, e)| panic!("{e}\n{}", String::from_utf8_lossy(body)))
}

fn ivr(body: &[u8]) -> IvrActionRequest {
    match decode(body).1 {
        Request::IvrAction(request) => request,
        other => panic!("not GET_IVR_ACTION: {other:?}"),
    }
}

fn hangup(body: &[u8]) -> HangupReport {
    match decode(body).1 {
        Request::Hangup(report) => report,
        other => panic!("not HANGUP_CALL: {other:?}"),
    }
}

fn reject(body: &[u8]) -> DecodeError {
    match decode_request(body, LIMIT) {
        Ok(request) => panic!("accepted {request:?}\n{}", String::from_utf8_lossy(body)),
        Err((_, error)) => error,
    }
}

fn reject_code(body: &[u8]) -> DecodeErrorCode {
    reject(body).code
}

fn answer(body: &[u8]) -> (Encoding, IvrAnswer) {
    decode_answer(body).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(body)))
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("our output is UTF-8")
}

mod spec_fixtures {
    use super::*;

    /// The spec's first example, with or without its MENU/PREVIOUS_MENU/DTMF
    /// block: absent, they mean the start of the call.
    fn first_example() -> IvrActionRequest {
        IvrActionRequest {
            did: "0730000000".into(),
            caller_id: "0540000000".into(),
            caller_name: "017W".into(),
            call_id: "ced4619f30fc17182d8e41ddf4d6869X".into(),
            menu: "-1".into(),
            previous_menu: "-1".into(),
            dtmf: String::new(),
        }
    }

    #[test]
    fn get_ivr_action_xml_first_block_verbatim_lacks_a_value_end_tag() {
        let body = fixture!("get_ivr_action_request_block1_malformed.xml");
        assert_eq!(reject_code(body), DecodeErrorCode::Malformed);
        assert_eq!(decode_request(body, LIMIT).unwrap_err().0, Encoding::XmlRpc);
    }

    #[test]
    fn get_ivr_action_xml_first_block_without_menu_fields_starts_the_call() {
        let request = ivr(fixture!("get_ivr_action_request_block1_reconstructed.xml"));
        assert_eq!(request, first_example());
        assert!(request.is_start_of_call());
    }

    #[test]
    fn get_ivr_action_xml_blocks_joined_verbatim_are_rejected() {
        assert_eq!(
            reject_code(fixture!("get_ivr_action_request_joined_malformed.xml")),
            DecodeErrorCode::Malformed
        );
    }

    #[test]
    fn get_ivr_action_xml_reconstructed() {
        let (encoding, request) = decode(fixture!("get_ivr_action_request_reconstructed.xml"));
        assert_eq!(encoding, Encoding::XmlRpc);
        assert_eq!(request, Request::IvrAction(first_example()));
    }

    #[test]
    fn get_ivr_action_json_with_unquoted_keys() {
        let (encoding, request) = decode(fixture!("get_ivr_action_request.json"));
        assert_eq!(encoding, Encoding::Json);
        assert_eq!(
            request,
            Request::IvrAction(IvrActionRequest {
                did: "0732793256".into(),
                caller_id: "n5zx1C2a".into(),
                caller_name: "n5zx1C2a".into(),
                call_id: "1bcd7954224861f85a2d70612f248282".into(),
                menu: "-1".into(),
                previous_menu: "-1".into(),
                dtmf: String::new(),
            })
        );
    }

    fn spec_hangup(duration_secs: i64, raw: serde_json::Value) -> HangupReport {
        HangupReport {
            did: "0730000000".into(),
            caller_id: "0540000000".into(),
            call_id: "ced4619f30fc17182d8e41ddf4d6869X".into(),
            target: "0500000555".into(),
            call_time_epoch: Some(15_616_841_651),
            call_start_epoch: Some(15_616_841_612),
            duration_secs: Some(duration_secs),
            dial_secs: Some(15),
            status: "ANSWER".into(),
            raw,
            unreadable: Vec::new(),
        }
    }

    fn spec_hangup_raw(duration_secs: i64) -> serde_json::Value {
        serde_json::json!({
            "DID": "0730000000",
            "CALLER_ID": "0540000000",
            "IVR_UNIQUE_ID": "ced4619f30fc17182d8e41ddf4d6869X",
            "TARGET": "0500000555",
            "CALL_TIME_EPOCH": 15_616_841_651_i64,
            "CALL_START_EPOCH": 15_616_841_612_i64,
            "CALL_DURATION": duration_secs,
            "CALL_DAILTIME": 15,
            "CALL_STATUS": "ANSWERED"
        })
    }

    #[test]
    fn hangup_call_xml() {
        let (encoding, request) = decode(fixture!("hangup_call_request.xml"));
        assert_eq!(encoding, Encoding::XmlRpc);
        assert_eq!(
            request,
            Request::Hangup(spec_hangup(125, spec_hangup_raw(125)))
        );
    }

    #[test]
    fn hangup_call_json() {
        let (encoding, request) = decode(fixture!("hangup_call_request.json"));
        assert_eq!(encoding, Encoding::Json);
        assert_eq!(
            request,
            Request::Hangup(spec_hangup(650, spec_hangup_raw(650)))
        );
    }

    #[test]
    fn hangup_call_ack_xml_verbatim_closes_with_method_call() {
        let error = decode_status(fixture!("hangup_call_ack_malformed.xml")).unwrap_err();
        assert_eq!(error.code, DecodeErrorCode::Malformed);
    }

    #[test]
    fn hangup_call_ack_xml_reconstructed_and_json() {
        let ok = StatusReply {
            status: 0,
            error_code: None,
            error_message: None,
        };
        let xml = decode_status(fixture!("hangup_call_ack_reconstructed.xml")).unwrap();
        assert_eq!(xml, (Encoding::XmlRpc, ok.clone()));
        assert_eq!(
            decode_status(fixture!("hangup_call_ack.json")).unwrap(),
            (Encoding::Json, ok)
        );
    }

    #[test]
    fn hangup_answer_xml_and_json() {
        let expected = IvrAnswer {
            language: Language::He,
            action: Action::Hangup(HangupData {
                rec: Some("blank".into()),
                cause: Some(16),
            }),
        };
        assert_eq!(
            answer(fixture!("answer_hangup.xml")),
            (Encoding::XmlRpc, expected.clone())
        );
        assert_eq!(
            answer(fixture!("answer_hangup.json")),
            (Encoding::Json, expected)
        );
    }

    #[test]
    fn call_answer_xml_verbatim_is_not_well_formed() {
        let error = decode_answer(fixture!("answer_call_malformed.xml")).unwrap_err();
        assert_eq!(error.code, DecodeErrorCode::Malformed);
    }

    #[test]
    fn call_answer_xml_reconstructed() {
        let (encoding, decoded) = answer(fixture!("answer_call_reconstructed.xml"));
        assert_eq!(encoding, Encoding::XmlRpc);
        assert_eq!(decoded.language, Language::He);
        let Action::Call(mut call) = decoded.action else {
            panic!("{decoded:?}")
        };
        // `<string>3` + line break + indentation + `</string>`: kept as sent.
        let dtmf_play = call.dtmf_play.take().unwrap();
        assert!(
            dtmf_play.starts_with("3\n") && dtmf_play.trim() == "3",
            "{dtmf_play:?}"
        );
        assert_eq!(
            call,
            CallData {
                target: "0540123456".into(),
                caller_id: "Unknown".into(),
                caller_name: "??????".into(),
                caller_rec: Some("now_calling".into()),
                moh_class: Some("californication".into()),
                target_rec: Some("blank".into()),
                max_dial_secs: 35,
                max_call_secs: 600,
                next_menu: Some(NextMenu {
                    menu: "SOME-MENU".into(),
                    record: Some("record-filename".into()),
                    loops: Some(3),
                    size: Some(4),
                    wait: Some(1),
                }),
                record: true,
                dtmf_play: None,
                // An untyped `<value> SIP/…</value>` is a string, verbatim.
                dialstrings: vec![
                    " SIP/972547000000@provider1".into(),
                    "SIP/972547000000@provider2".into()
                ],
            }
        );
    }

    #[test]
    fn call_answer_json_with_numbers_as_strings() {
        let expected = IvrAnswer {
            language: Language::He,
            action: Action::Call(CallData {
                target: "0540123456".into(),
                caller_id: "0500000000".into(),
                caller_name: String::new(),
                caller_rec: Some("rec".into()),
                moh_class: Some("musiconhold".into()),
                target_rec: Some(String::new()),
                max_dial_secs: 25,
                max_call_secs: 3200,
                next_menu: Some(NextMenu {
                    menu: "16".into(),
                    record: Some("rec".into()),
                    loops: Some(1),
                    size: Some(2),
                    wait: Some(1),
                }),
                record: false,
                dtmf_play: Some("16".into()),
                dialstrings: vec![
                    "SIP/972547000000@provider1".into(),
                    "SIP/972547000000@provider2".into(),
                ],
            }),
        };
        assert_eq!(
            answer(fixture!("answer_call.json")),
            (Encoding::Json, expected)
        );
    }

    #[test]
    fn menu_answer_xml_and_json() {
        let xml = IvrAnswer {
            language: Language::He,
            action: Action::Menu(MenuData {
                rec: "record_filename".into(),
                loops: 2,
                delay: 1,
                size: 4,
                menu: "menu_name".into(),
                validation: true,
            }),
        };
        assert_eq!(answer(fixture!("answer_menu.xml")), (Encoding::XmlRpc, xml));
        let json = IvrAnswer {
            language: Language::He,
            action: Action::Menu(MenuData {
                rec: "record".into(),
                loops: 4,
                delay: 3,
                size: 2,
                menu: "menu".into(),
                validation: false,
            }),
        };
        assert_eq!(answer(fixture!("answer_menu.json")), (Encoding::Json, json));
    }

    #[test]
    fn saydigits_answer_xml_verbatim_is_not_well_formed() {
        let error = decode_answer(fixture!("answer_saydigits_malformed.xml")).unwrap_err();
        assert_eq!(error.code, DecodeErrorCode::Malformed);
    }

    #[test]
    fn saydigits_answer_xml_reconstructed() {
        let expected = IvrAnswer {
            language: Language::He,
            action: Action::SayDigits(SayDigitsData {
                menu: MenuData {
                    rec: "record_filename".into(),
                    loops: 2,
                    delay: 1,
                    size: 4,
                    menu: "menu_name".into(),
                    validation: true,
                },
                intro_rec: "blank".into(),
                digits: "154654".into(),
            }),
        };
        assert_eq!(
            answer(fixture!("answer_saydigits_reconstructed.xml")),
            (Encoding::XmlRpc, expected)
        );
    }

    #[test]
    fn saydigits_answer_json_verbatim_lacks_a_brace() {
        let error = decode_answer(fixture!("answer_saydigits_malformed.json")).unwrap_err();
        assert_eq!(error.code, DecodeErrorCode::Malformed);
    }

    #[test]
    fn saydigits_answer_json_verbatim_with_only_the_brace_added_has_no_saydigitsrecord() {
        // The duplicate VALIDATION keys stay; the last one wins, and the
        // fields the example meant to send are missing.
        let mut body = fixture!("answer_saydigits_malformed.json").to_vec();
        body.extend_from_slice(b"}");
        let error = decode_answer(&body).unwrap_err();
        assert_eq!(error.code, DecodeErrorCode::InvalidField, "{error}");
        assert!(error.message.contains("VALIDATION"), "{error}");
    }

    #[test]
    fn saydigits_answer_json_reconstructed_with_spaces_around_the_action() {
        let expected = IvrAnswer {
            language: Language::He,
            action: Action::SayDigits(SayDigitsData {
                menu: MenuData {
                    rec: "record".into(),
                    loops: 4,
                    delay: 3,
                    size: 2,
                    menu: "menu".into(),
                    validation: false,
                },
                intro_rec: "blank".into(),
                digits: "154654".into(),
            }),
        };
        assert_eq!(
            answer(fixture!("answer_saydigits_reconstructed.json")),
            (Encoding::Json, expected)
        );
    }
}

/// DESIGN.md §1, one quirk at a time, in both encodings where it applies.
mod request_quirks {
    use super::*;

    fn base() -> Vec<(&'static str, Value<'static>)> {
        vec![("DID", s("0730000000")), ("IVR_UNIQUE_ID", s("abc"))]
    }

    fn with(extra: &[(&'static str, Value<'static>)]) -> Value<'static> {
        let mut members = base();
        members.extend_from_slice(extra);
        data(&members)
    }

    #[test]
    fn method_names_are_trimmed_and_case_insensitive() {
        for method in ["GET_IVR_ACTION", " get_ivr_action\n", "Get_Ivr_Action"] {
            for (_, body) in both(method, &with(&[])) {
                assert!(
                    matches!(decode(&body).1, Request::IvrAction(_)),
                    "{method:?}"
                );
            }
        }
        for method in ["HANGUP_CALL", "\thangup_call "] {
            for (_, body) in both(method, &with(&[])) {
                assert!(matches!(decode(&body).1, Request::Hangup(_)), "{method:?}");
            }
        }
    }

    #[test]
    fn field_names_are_case_insensitive_and_the_last_duplicate_wins() {
        let body = data(&[
            ("did", s("1")),
            ("Ivr_Unique_Id", s("abc")),
            ("caller_id", s("054")),
            ("DID", s("2")),
        ]);
        for (_, body) in both("GET_IVR_ACTION", &body) {
            let request = ivr(&body);
            assert_eq!(
                (request.did.as_str(), request.caller_id.as_str()),
                ("2", "054")
            );
        }
    }

    #[test]
    fn numbers_sent_for_strings_are_accepted_as_their_text() {
        let body = data(&[
            ("DID", Value::Int(730_000_000)),
            ("IVR_UNIQUE_ID", Value::Int(42)),
            ("CALLER_ID", Value::Double(547.0)),
            ("DTMF", Value::Int(12)),
            ("MENU", Value::Int(3)),
        ]);
        for (_, body) in both("GET_IVR_ACTION", &body) {
            let request = ivr(&body);
            assert_eq!(request.did, "730000000");
            assert_eq!(request.call_id, "42");
            assert_eq!(request.caller_id, "547");
            assert_eq!(request.dtmf, "12");
            assert_eq!(request.menu, "3");
        }
    }

    #[test]
    fn strings_sent_for_integers_are_accepted_with_surrounding_whitespace() {
        let body = with(&[
            ("CALL_TIME_EPOCH", s(" 15616841651 ")),
            ("CALL_START_EPOCH", s("\n15616841612\n")),
            ("CALL_DURATION", s("125")),
            ("CALL_DAILTIME", Value::Double(15.0)),
        ]);
        for (_, body) in both("HANGUP_CALL", &body) {
            let report = hangup(&body);
            assert_eq!(report.call_time_epoch, Some(15_616_841_651));
            assert_eq!(report.call_start_epoch, Some(15_616_841_612));
            assert_eq!(report.duration_secs, Some(125));
            assert_eq!(report.dial_secs, Some(15));
        }
        let xml =
            xml_members(&(mandatory_xml() + &member("CALL_DURATION", "<int>\n  125\n</int>")));
        let xml = String::from_utf8(xml)
            .unwrap()
            .replace("GET_IVR_ACTION", "HANGUP_CALL");
        assert_eq!(hangup(xml.as_bytes()).duration_secs, Some(125));
    }

    #[test]
    fn blank_or_absent_integers_are_none() {
        for (_, body) in both(
            "HANGUP_CALL",
            &with(&[("CALL_DURATION", s("")), ("CALL_DAILTIME", s("  "))]),
        ) {
            let report = hangup(&body);
            assert_eq!((report.duration_secs, report.dial_secs), (None, None));
            assert_eq!(
                (report.call_time_epoch, report.call_start_epoch),
                (None, None)
            );
            assert_eq!(report.status, "");
            assert_eq!(report.target, "");
        }
    }

    #[test]
    fn epochs_beyond_32_bits() {
        let body = with(&[("CALL_TIME_EPOCH", Value::Int(15_616_841_651))]);
        for (_, body) in both("HANGUP_CALL", &body) {
            assert_eq!(hangup(&body).call_time_epoch, Some(15_616_841_651));
        }
        let xml = String::from_utf8(xml_members(
            &(mandatory_xml() + &member("CALL_TIME_EPOCH", "<i8>15616841651</i8>")),
        ))
        .unwrap()
        .replace("GET_IVR_ACTION", "HANGUP_CALL");
        assert_eq!(hangup(xml.as_bytes()).call_time_epoch, Some(15_616_841_651));
    }

    #[test]
    fn call_status_is_trimmed_upper_cased_and_answered_means_answer() {
        for (sent, expected) in [
            ("ANSWER", "ANSWER"),
            ("ANSWERED", "ANSWER"),
            (" answered\n", "ANSWER"),
            ("busy", "BUSY"),
            ("NOANSWER", "NOANSWER"),
            ("SOMETHING_NEW", "SOMETHING_NEW"),
        ] {
            for (_, body) in both("HANGUP_CALL", &with(&[("CALL_STATUS", s(sent))])) {
                assert_eq!(hangup(&body).status, expected, "{sent:?}");
            }
        }
    }

    #[test]
    fn identifiers_lose_all_inner_whitespace() {
        let body = data(&[
            ("DID", s(" 073 000 0000 ")),
            (
                "IVR_UNIQUE_ID",
                s("ced4619f30fc17182d8e41ddf4\n                            d6869X"),
            ),
            ("CALLER_ID", s("\t054\u{a0}0000000")),
            ("MENU", s(" sales~r1 ")),
            ("PREVIOUS_MENU", s("main\n")),
            ("DTMF", s(" 1 2 ")),
        ]);
        for (_, body) in both("GET_IVR_ACTION", &body) {
            let request = ivr(&body);
            assert_eq!(request.did, "0730000000");
            assert_eq!(request.call_id, "ced4619f30fc17182d8e41ddf4d6869X");
            assert_eq!(request.caller_id, "0540000000");
            assert_eq!(request.menu, "sales~r1");
            assert_eq!(request.previous_menu, "main");
            assert_eq!(request.dtmf, "12");
        }
        let target = with(&[("TARGET", s(" 050 0000555\n"))]);
        for (_, body) in both("HANGUP_CALL", &target) {
            assert_eq!(hangup(&body).target, "0500000555");
        }
    }

    #[test]
    fn caller_name_is_only_trimmed() {
        for (_, body) in both(
            "GET_IVR_ACTION",
            &with(&[("CALLER_NAME", s("  ישראל  ישראלי \n"))]),
        ) {
            assert_eq!(ivr(&body).caller_name, "ישראל  ישראלי");
        }
    }

    #[test]
    fn menu_defaults_to_start_of_call_and_dtmf_to_empty() {
        for extra in [
            vec![],
            vec![("MENU", s("")), ("PREVIOUS_MENU", s(" ")), ("DTMF", s(""))],
        ] {
            for (_, body) in both("GET_IVR_ACTION", &with(&extra)) {
                let request = ivr(&body);
                assert_eq!(
                    (request.menu.as_str(), request.previous_menu.as_str()),
                    ("-1", "-1")
                );
                assert_eq!(request.dtmf, "");
                assert_eq!(
                    (request.caller_id.as_str(), request.caller_name.as_str()),
                    ("", "")
                );
                assert!(request.is_start_of_call());
            }
        }
    }

    #[test]
    fn nil_and_null_mean_absent() {
        let body = with(&[("MENU", Value::Nil), ("CALLER_NAME", Value::Nil)]);
        for (_, body) in both("GET_IVR_ACTION", &body) {
            let request = ivr(&body);
            assert_eq!(
                (request.menu.as_str(), request.caller_name.as_str()),
                ("-1", "")
            );
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_kept_in_raw() {
        let body = with(&[
            ("CALL_STATUS", s("ANSWERED")),
            ("CALLER_NAME", s("x")),
            (
                "EXTRA",
                Value::Array(vec![Value::Int(1), data(&[("deep", Value::Bool(true))])]),
            ),
        ]);
        for (_, body) in both("HANGUP_CALL", &body) {
            assert_eq!(
                hangup(&body).raw,
                serde_json::json!({
                    "DID": "0730000000",
                    "IVR_UNIQUE_ID": "abc",
                    "CALL_STATUS": "ANSWERED",
                    "CALLER_NAME": "x",
                    "EXTRA": [1, {"deep": true}]
                })
            );
        }
        for (_, body) in both("GET_IVR_ACTION", &with(&[("EXTRA", data(&[]))])) {
            assert_eq!(ivr(&body).did, "0730000000");
        }
    }

    #[test]
    fn raw_keeps_field_names_as_sent() {
        let body = data(&[("did", s("1")), ("Ivr_Unique_Id", s("2"))]);
        for (_, body) in both("HANGUP_CALL", &body) {
            assert_eq!(
                hangup(&body).raw,
                serde_json::json!({"did": "1", "Ivr_Unique_Id": "2"})
            );
        }
    }

    #[test]
    fn xml_untyped_value_is_a_string_verbatim() {
        let members = member("DID", "0730000000")
            + &member("IVR_UNIQUE_ID", "\n abc \n")
            + &member("CALLER_NAME", " Dana ");
        let request = ivr(&xml_members(&members));
        assert_eq!(request.did, "0730000000");
        assert_eq!(request.call_id, "abc");
        assert_eq!(request.caller_name, "Dana");
    }

    #[test]
    fn xml_empty_string_forms() {
        for empty in ["<string/>", "<string></string>", "", "<string>   </string>"] {
            let members = mandatory_xml() + &member("MENU", empty) + &member("DTMF", empty);
            let request = ivr(&xml_members(&members));
            assert_eq!(
                (request.menu.as_str(), request.dtmf.as_str()),
                ("-1", ""),
                "{empty:?}"
            );
        }
        let members = mandatory_xml() + "<member><name>MENU</name><value/></member>";
        assert_eq!(ivr(&xml_members(&members)).menu, "-1");
    }

    #[test]
    fn xml_scalar_types() {
        let members = mandatory_xml()
            + &member("CALLER_ID", "<i4>540000000</i4>")
            + &member("DTMF", "<int> 12 </int>")
            + &member("MENU", "<boolean>1</boolean>")
            + &member("PREVIOUS_MENU", "<double>2.5</double>")
            + &member("CALLER_NAME", "<nil/>");
        let request = ivr(&xml_members(&members));
        assert_eq!(request.caller_id, "540000000");
        assert_eq!(request.dtmf, "12");
        assert_eq!(request.menu, "1");
        assert_eq!(request.previous_menu, "2.5");
        assert_eq!(request.caller_name, "");
    }

    #[test]
    fn xml_value_parser_types() {
        let cases: [(&str, Value<'_>); 13] = [
            ("<i4>-5</i4>", Value::Int(-5)),
            ("<i8>15616841651</i8>", Value::Int(15_616_841_651)),
            ("<int>\n 7 \n</int>", Value::Int(7)),
            ("<boolean> 0 </boolean>", Value::Bool(false)),
            ("<boolean>true</boolean>", Value::Bool(true)),
            ("<double> 1.5 </double>", Value::Double(1.5)),
            ("<nil/>", Value::Nil),
            ("<nil></nil>", Value::Nil),
            ("<base64>aGk=</base64>", s("aGk=")),
            (
                "<dateTime.iso8601>20240101T10:00:00</dateTime.iso8601>",
                s("20240101T10:00:00"),
            ),
            ("<struct/>", Value::Struct(vec![])),
            ("<array><data/></array>", Value::Array(vec![])),
            (
                "<array><data><value/><value>x</value><value><int>1</int></value></data></array>",
                Value::Array(vec![s(""), s("x"), Value::Int(1)]),
            ),
        ];
        for (xml, expected) in cases {
            let body = format!(
                "<methodResponse><params><param><value>{xml}</value></param></params></methodResponse>"
            );
            assert_eq!(
                xmlrpc::parse_method_response(body.as_bytes()).unwrap(),
                expected,
                "{xml}"
            );
        }
    }

    #[test]
    fn xml_whitespace_comments_and_pis_between_tags_are_ignored() {
        let body = "\u{feff}<?xml version=\"1.0\"?>\r\n<!-- hi -->\n<methodCall>\n\t<methodName>\n GET_IVR_ACTION \n</methodName>\r\n\
                    <params> <!-- c --> <param>\n<value>\n<?pi x?>\n<struct>\n<member>\n<name> DID </name>\n\
                    <value>\n\t<string>0730000000</string>\n</value>\n</member>\n<member><name>IVR_UNIQUE_ID</name>\
                    <value><string>abc</string></value></member>\n</struct>\n</value>\n</param>\n</params>\n</methodCall>\n<!-- end -->\n";
        let request = ivr(body.as_bytes());
        assert_eq!(
            (request.did.as_str(), request.call_id.as_str()),
            ("0730000000", "abc")
        );
    }

    #[test]
    fn xml_cdata_and_references_are_text() {
        let members = mandatory_xml()
            + &member("CALLER_NAME", "<string><![CDATA[<Tom & Jerry>]]></string>")
            + &member("MENU", "<![CDATA[m1]]>")
            + &member(
                "PREVIOUS_MENU",
                "<string>a&amp;b&lt;&gt;&apos;&quot;&#65;&#x42;<![CDATA[&c]]></string>",
            );
        let request = ivr(&xml_members(&members));
        assert_eq!(request.caller_name, "<Tom & Jerry>");
        assert_eq!(request.menu, "m1");
        assert_eq!(request.previous_menu, "a&b<>'\"AB&c");
    }

    #[test]
    fn json_unquoted_keys_single_quotes_and_trailing_commas() {
        let body = b"{METHOD: 'GET_IVR_ACTION', DATA: {DID: 730000000, IVR_UNIQUE_ID: 'abc',},}";
        let (encoding, request) = decode(body);
        assert_eq!(encoding, Encoding::Json);
        let Request::IvrAction(request) = request else {
            panic!()
        };
        assert_eq!(
            (request.did.as_str(), request.call_id.as_str()),
            ("730000000", "abc")
        );
    }

    #[test]
    fn json_envelope_names_are_case_insensitive() {
        let request =
            ivr(br#"{"method": "get_ivr_action", "Data": {"did": "1", "ivr_unique_id": "2"}}"#);
        assert_eq!((request.did.as_str(), request.call_id.as_str()), ("1", "2"));
    }

    #[test]
    fn extra_xml_params_are_ignored() {
        let body = b"<methodCall><methodName>GET_IVR_ACTION</methodName><params>\
            <param><value><struct><member><name>DID</name><value>1</value></member>\
            <member><name>IVR_UNIQUE_ID</name><value>2</value></member></struct></value></param>\
            <param><value>ignored</value></param></params></methodCall>";
        assert_eq!(ivr(body).did, "1");
    }
}

mod request_errors {
    use super::*;

    #[test]
    fn missing_or_empty_mandatory_fields() {
        let cases: [(&[(&str, Value<'_>)], &str); 6] = [
            (&[("IVR_UNIQUE_ID", s("abc"))], "DID"),
            (&[("DID", s("")), ("IVR_UNIQUE_ID", s("abc"))], "DID"),
            (&[("DID", s(" \n ")), ("IVR_UNIQUE_ID", s("abc"))], "DID"),
            (&[("DID", Value::Nil), ("IVR_UNIQUE_ID", s("abc"))], "DID"),
            (&[("DID", s("1"))], "IVR_UNIQUE_ID"),
            (
                &[("DID", s("1")), ("IVR_UNIQUE_ID", s(""))],
                "IVR_UNIQUE_ID",
            ),
        ];
        for (members, field) in cases {
            for method in ["GET_IVR_ACTION", "HANGUP_CALL"] {
                for (_, body) in both(method, &data(members)) {
                    let error = reject(&body);
                    assert_eq!(error.code, DecodeErrorCode::MissingField, "{error}");
                    assert!(error.message.starts_with(field), "{error}");
                }
            }
        }
    }

    #[test]
    fn a_struct_or_array_where_a_string_is_expected() {
        for field in [
            "DID",
            "IVR_UNIQUE_ID",
            "CALLER_ID",
            "CALLER_NAME",
            "MENU",
            "PREVIOUS_MENU",
            "DTMF",
        ] {
            for wrong in [data(&[("x", s("1"))]), Value::Array(vec![s("1")])] {
                let mut members = vec![("DID", s("1")), ("IVR_UNIQUE_ID", s("2"))];
                members.push((field, wrong));
                for (_, body) in both("GET_IVR_ACTION", &data(&members)) {
                    let error = reject(&body);
                    assert_eq!(error.code, DecodeErrorCode::InvalidField, "{error}");
                    assert!(error.message.contains(field), "{error}");
                }
            }
        }
    }

    #[test]
    fn a_non_numeric_number_in_a_cdr_is_left_out_not_the_cdr() {
        for field in [
            "CALL_TIME_EPOCH",
            "CALL_START_EPOCH",
            "CALL_DURATION",
            "CALL_DAILTIME",
        ] {
            for (fraction, whole) in [
                (Value::Double(1.5), 1),
                (s(" 12.9 "), 12),
                (Value::Double(-3.7), -3),
                (s("2e3"), 2000),
            ] {
                let members = [
                    ("DID", s("1")),
                    ("IVR_UNIQUE_ID", s("2")),
                    (field, fraction),
                ];
                for (_, body) in both("HANGUP_CALL", &data(&members)) {
                    let report = hangup(&body);
                    let numbers = [
                        report.call_time_epoch,
                        report.call_start_epoch,
                        report.duration_secs,
                        report.dial_secs,
                    ];
                    assert!(numbers.contains(&Some(whole)), "{field}: {numbers:?}");
                    assert!(report.unreadable.is_empty());
                }
            }
            for wrong in [
                s("abc"),
                s("12s"),
                s("NaN"),
                s("inf"),
                Value::Double(1e300),
                Value::Array(vec![]),
                data(&[]),
            ] {
                let members = [("DID", s("1")), ("IVR_UNIQUE_ID", s("2")), (field, wrong)];
                for (_, body) in both("HANGUP_CALL", &data(&members)) {
                    // Kept, without that number: the raw report has it.
                    let report = hangup(&body);
                    assert_eq!(report.unreadable, vec![field]);
                    assert_eq!(
                        [
                            report.call_time_epoch,
                            report.call_start_epoch,
                            report.duration_secs,
                            report.dial_secs
                        ],
                        [None; 4]
                    );
                    assert!(report.raw.get(field).is_some(), "{:?}", report.raw);
                }
            }
        }
        let members = [
            ("DID", s("1")),
            ("IVR_UNIQUE_ID", s("2")),
            ("CALL_STATUS", Value::Array(vec![])),
        ];
        for (_, body) in both("HANGUP_CALL", &data(&members)) {
            assert_eq!(reject_code(&body), DecodeErrorCode::InvalidField);
        }
    }

    #[test]
    fn unknown_method_names_the_method() {
        for (encoding, body) in both("GET_IVR_MENU", &data(&[("DID", s("1"))])) {
            let (detected, error) = decode_request(&body, LIMIT).unwrap_err();
            assert_eq!(detected, encoding);
            assert_eq!(error.code, DecodeErrorCode::UnknownMethod);
            assert!(error.message.contains("GET_IVR_MENU"), "{error}");
        }
        let long = "X".repeat(10_000);
        let error = reject(&json_request(&long, &data(&[])));
        assert_eq!(error.code, DecodeErrorCode::UnknownMethod);
        assert!(
            error.message.len() < 100,
            "the message quotes a bounded preview"
        );
        let body = b"<methodCall><methodName/><params/></methodCall>";
        assert_eq!(reject_code(body), DecodeErrorCode::UnknownMethod);
    }

    #[test]
    fn envelope_errors_are_malformed() {
        let cases: [&[u8]; 13] = [
            br#"{"DATA": {"DID": "1", "IVR_UNIQUE_ID": "2"}}"#,
            br#"{"METHOD": "GET_IVR_ACTION"}"#,
            br#"{"METHOD": "GET_IVR_ACTION", "DATA": "x"}"#,
            br#"{"METHOD": "GET_IVR_ACTION", "DATA": [1]}"#,
            br#"{"METHOD": {"a": 1}, "DATA": {}}"#,
            br#"{"METHOD": null, "DATA": {}}"#,
            b"[1, 2]",
            b"<methodCall><methodName>GET_IVR_ACTION</methodName></methodCall>",
            b"<methodCall><methodName>GET_IVR_ACTION</methodName><params/></methodCall>",
            b"<methodCall><methodName>GET_IVR_ACTION</methodName><params><param><value>x</value></param></params></methodCall>",
            b"<methodResponse><params><param><value><struct/></value></param></params></methodResponse>",
            b"<methodCall/>",
            b"<foo/>",
        ];
        for body in cases {
            assert_eq!(
                reject_code(body),
                DecodeErrorCode::Malformed,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn xml_that_is_not_xml_rpc_is_malformed() {
        let wrap = |inner: &str| xml_members(&(mandatory_xml() + inner));
        let cases = [
            wrap("<member><value>x</value></member>"),
            wrap("<member><name>A</name></member>"),
            wrap("<member><name>A</name><value>x</value><value>y</value></member>"),
            wrap("<member/>"),
            wrap("<foo/>"),
            wrap("text"),
            wrap(&member("A", "<foo>x</foo>")),
            wrap(&member("A", "x<string>y</string>")),
            wrap(&member("A", "<string>x</string>y")),
            wrap(&member("A", "<string><b>x</b></string>")),
            wrap(&member("A", "<string>x</string><string>y</string>")),
            wrap(&member("A", "<int>abc</int>")),
            wrap(&member("A", "<int>1.5</int>")),
            wrap(&member("A", "<int>99999999999999999999</int>")),
            wrap(&member("A", "<int/>")),
            wrap(&member("A", "<boolean>yes</boolean>")),
            wrap(&member("A", "<double>x</double>")),
            wrap(&member("A", "<nil>x</nil>")),
            wrap(&member("A", "<array><value>x</value></array>")),
            wrap(&member(
                "A",
                "<array><data><string>x</string></data></array>",
            )),
            wrap(&member("A", "<array><data/><data/></array>")),
        ];
        for body in cases {
            assert_eq!(
                reject_code(&body),
                DecodeErrorCode::Malformed,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn xml_that_is_not_well_formed_is_malformed() {
        let cases: [&[u8]; 10] = [
            b"<methodCall><methodName>GET_IVR_ACTION</methodName></methodCall><methodCall/>",
            b"<methodCall><methodName>GET_IVR_ACTION</methodName></methodCall>trailing",
            b"<methodCall><methodName>GET_IVR_ACTION</methodCall>",
            b"<methodCall><methodName>GET_IVR_ACTION</methodName>",
            b"<methodCall><methodName>A & B</methodName></methodCall>",
            b"<methodCall><methodName>&#xD800;</methodName></methodCall>",
            b"<methodCall><methodName>&#0;</methodName></methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><![CDATA[x</value></param></params></methodCall>",
            b"<",
            b"<?xml version=\"1.0\"",
        ];
        for body in cases {
            assert_eq!(
                reject_code(body),
                DecodeErrorCode::Malformed,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

mod hostile_input {
    use super::*;

    #[test]
    fn doctype_is_forbidden_wherever_it_is() {
        let billion_laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<methodCall><methodName>&lol3;</methodName></methodCall>"#;
        let external = br#"<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>GET_IVR_ACTION</methodName><params><param><value><struct>
<member><name>DID</name><value>&xxe;</value></member></struct></value></param></params></methodCall>"#;
        let cases: [&[u8]; 6] = [
            billion_laughs,
            external,
            b"<!doctype methodCall><methodCall/>",
            b"<!DOCTYPE methodCall>",
            b"<!DOCTYPE x [ <!ENTITY a 'b'",
            b"<methodCall><methodName>X</methodName></methodCall><!DOCTYPE x>",
        ];
        for body in cases {
            assert_eq!(
                reject_code(body),
                DecodeErrorCode::Forbidden,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            decode_answer(billion_laughs).unwrap_err().code,
            DecodeErrorCode::Forbidden
        );
    }

    #[test]
    fn undeclared_entities_are_forbidden_and_never_expanded() {
        let cases = [
            xml_members(&(mandatory_xml() + &member("CALLER_NAME", "<string>&foo;</string>"))),
            xml_members(&(mandatory_xml() + &member("CALLER_NAME", "&nbsp;"))),
            xml_members(&format!(
                "<member><name>&foo;</name><value>x</value></member>{}",
                mandatory_xml()
            )),
            b"<methodCall><methodName>&xxe;</methodName></methodCall>".to_vec(),
            b"<methodCall a=\"&foo;\"><methodName>GET_IVR_ACTION</methodName></methodCall>"
                .to_vec(),
        ];
        for body in cases {
            assert_eq!(
                reject_code(&body),
                DecodeErrorCode::Forbidden,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        let predefined =
            b"<methodCall a=\"&amp;&#65;\"><methodName>GET_IVR_ACTION</methodName></methodCall>";
        assert_eq!(
            reject_code(predefined),
            DecodeErrorCode::Malformed,
            "attributes are checked, then ignored"
        );
    }

    fn nested_xml(levels: usize) -> Vec<u8> {
        let open = "<value><array><data>".repeat(levels);
        let close = "</data></array></value>".repeat(levels);
        xml_members(
            &(mandatory_xml()
                + &member(
                    "EXTRA",
                    &format!("<array><data>{open}{close}</data></array>"),
                )),
        )
    }

    #[test]
    fn xml_nesting_is_limited() {
        // The DATA struct and EXTRA's array are two levels already.
        assert!(decode_request(&nested_xml(MAX_DEPTH - 2), LIMIT).is_ok());
        assert_eq!(
            reject_code(&nested_xml(MAX_DEPTH - 1)),
            DecodeErrorCode::TooDeep
        );
        let deep = nested_xml(100_000);
        assert_eq!(
            decode_request(&deep, usize::MAX).unwrap_err().1.code,
            DecodeErrorCode::TooDeep
        );
        let elements = format!("<methodCall>{}", "<a>".repeat(100_000));
        assert_eq!(
            decode_request(elements.as_bytes(), usize::MAX)
                .unwrap_err()
                .1
                .code,
            DecodeErrorCode::Malformed
        );
        let structs = "<value><struct><member><name>a</name>".repeat(100_000);
        let body = format!("<methodResponse><params><param>{structs}");
        assert_eq!(
            decode_answer(body.as_bytes()).unwrap_err().code,
            DecodeErrorCode::TooDeep
        );
    }

    fn nested_json(levels: usize) -> Vec<u8> {
        format!(
            r#"{{"METHOD": "GET_IVR_ACTION", "DATA": {{"DID": "1", "IVR_UNIQUE_ID": "2", "EXTRA": {}{}}}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
        .into_bytes()
    }

    #[test]
    fn json_nesting_is_limited() {
        // The envelope and DATA are two levels already.
        assert!(decode_request(&nested_json(MAX_DEPTH - 2), LIMIT).is_ok());
        assert_eq!(
            reject_code(&nested_json(MAX_DEPTH - 1)),
            DecodeErrorCode::TooDeep
        );
        for body in [
            "[".repeat(100_000),
            "{\"a\":".repeat(100_000),
            format!("{{a: {}", "[".repeat(100_000)),
        ] {
            assert_eq!(
                decode_request(body.as_bytes(), usize::MAX)
                    .unwrap_err()
                    .1
                    .code,
                DecodeErrorCode::TooDeep
            );
            assert_eq!(
                decode_answer(body.as_bytes()).unwrap_err().code,
                DecodeErrorCode::TooDeep
            );
        }
    }

    #[test]
    fn every_truncation_of_the_spec_examples_is_malformed() {
        for body in [
            fixture!("get_ivr_action_request_reconstructed.xml"),
            fixture!("hangup_call_request.xml"),
            fixture!("get_ivr_action_request.json"),
            fixture!("hangup_call_request.json"),
        ] {
            let complete = body.trim_ascii_end().len();
            for end in 0..complete {
                let (_, error) = decode_request(&body[..end], LIMIT).unwrap_err();
                assert_eq!(
                    error.code,
                    DecodeErrorCode::Malformed,
                    "{error} for {:?}",
                    String::from_utf8_lossy(&body[..end])
                );
            }
        }
    }

    #[test]
    fn garbage_empty_and_non_utf8_bodies_are_malformed() {
        let cases: [&[u8]; 10] = [
            b"",
            b"   \n",
            b"\xEF\xBB\xBF",
            b"\x00\x01\x02\xff\xfe",
            b"GET_IVR_ACTION",
            b"<\xff\xfe>",
            b"<methodCall><methodName>\xff</methodName></methodCall>",
            b"{\"METHOD\": \"GET_IVR_ACTION\", \"DATA\": {\"DID\": \"\xc3\x28\"}}",
            b"{METHOD: '\xff'}",
            b"null",
        ];
        for body in cases {
            assert_eq!(reject_code(body), DecodeErrorCode::Malformed, "{body:?}");
        }
    }

    /// A body that starts with neither `<` nor `{` is read in the encoding
    /// `Content-Type` names, the encoding of its error reply: a broken
    /// `text/xml` body was reported as "not valid JSON" in an XML-RPC reply.
    #[test]
    fn garbage_sent_as_xml_is_reported_as_broken_xml() {
        for body in [&b"garbage"[..], b"", b"  \n", b"GET_IVR_ACTION"] {
            let (encoding, error) =
                decode_request_sent_as(body, Some("text/xml; charset=utf-8"), LIMIT).unwrap_err();
            assert_eq!(
                (encoding, error.code),
                (Encoding::XmlRpc, DecodeErrorCode::Malformed),
                "{body:?}"
            );
            assert!(
                !error.message.contains("JSON"),
                "{body:?}: {}",
                error.message
            );
            let (encoding, error) =
                decode_request_sent_as(body, Some("application/json"), LIMIT).unwrap_err();
            assert_eq!(
                (encoding, error.code),
                (Encoding::Json, DecodeErrorCode::Malformed)
            );
            assert!(error.message.contains("JSON"), "{}", error.message);
        }
        // The body still decides when it can.
        let (encoding, _) = decode_request_sent_as(
            fixture!("hangup_call_request.xml"),
            Some("application/json"),
            LIMIT,
        )
        .unwrap();
        assert_eq!(encoding, Encoding::XmlRpc);
    }

    #[test]
    fn bodies_over_the_limit_are_too_large_before_anything_else() {
        let body = fixture!("hangup_call_request.xml");
        assert!(decode_request(body, body.len()).is_ok());
        let (encoding, error) = decode_request(body, body.len() - 1).unwrap_err();
        assert_eq!(
            (encoding, error.code),
            (Encoding::XmlRpc, DecodeErrorCode::TooLarge)
        );
        let (encoding, error) = decode_request(&"[".repeat(1000).into_bytes(), 100).unwrap_err();
        assert_eq!(
            (encoding, error.code),
            (Encoding::Json, DecodeErrorCode::TooLarge)
        );
    }

    #[test]
    fn errors_report_the_encoding_detected_from_the_body() {
        assert_eq!(
            decode_request(b"<nope", LIMIT).unwrap_err().0,
            Encoding::XmlRpc
        );
        assert_eq!(
            decode_request(b"{nope", LIMIT).unwrap_err().0,
            Encoding::Json
        );
        assert_eq!(decode_request(b"", LIMIT).unwrap_err().0, Encoding::Json);
    }
}

mod answers {
    use super::*;

    fn menu() -> MenuData {
        MenuData {
            rec: "welcome".into(),
            loops: 2,
            delay: 1,
            size: 4,
            menu: "main~r0~he".into(),
            validation: true,
        }
    }

    fn full_call() -> CallData {
        CallData {
            target: "0540123456".into(),
            caller_id: "0730000000".into(),
            caller_name: "Support".into(),
            caller_rec: Some("now_calling".into()),
            moh_class: Some("californication".into()),
            target_rec: Some("whisper".into()),
            max_dial_secs: 35,
            max_call_secs: 600,
            next_menu: Some(NextMenu {
                menu: "fallback".into(),
                record: Some("sorry".into()),
                loops: Some(3),
                size: Some(4),
                wait: Some(1),
            }),
            record: true,
            dtmf_play: Some("1234#".into()),
            dialstrings: vec![
                "SIP/972547000000@provider1".into(),
                "SIP/972547000000@provider2".into(),
            ],
        }
    }

    fn minimal_call() -> CallData {
        CallData {
            target: "0540123456".into(),
            caller_id: "0730000000".into(),
            caller_name: String::new(),
            caller_rec: None,
            moh_class: None,
            target_rec: None,
            max_dial_secs: 35,
            max_call_secs: 600,
            next_menu: None,
            record: false,
            dtmf_play: None,
            dialstrings: vec![],
        }
    }

    /// Every action, with all optional fields set and with none set.
    fn all_answers() -> Vec<IvrAnswer> {
        let bare_next_menu = CallData {
            next_menu: Some(NextMenu {
                menu: "n".into(),
                record: None,
                loops: None,
                size: None,
                wait: None,
            }),
            ..minimal_call()
        };
        [
            Action::Menu(menu()),
            Action::Menu(MenuData {
                validation: false,
                ..menu()
            }),
            Action::Call(full_call()),
            Action::Call(minimal_call()),
            Action::Call(bare_next_menu),
            Action::Hangup(HangupData {
                rec: Some("goodbye".into()),
                cause: Some(16),
            }),
            Action::Hangup(HangupData::default()),
            Action::SayDigits(SayDigitsData {
                menu: menu(),
                intro_rec: "your_number_is".into(),
                digits: "0547000000".into(),
            }),
            Action::Vo(VoData {
                layer: 7,
                record: "transfer".into(),
                loops: 1,
                delay: 0,
            }),
            Action::SilentRecord(SilentRecordData {
                rec: Some("leave_message".into()),
                max_duration_secs: Some(120),
            }),
            Action::SilentRecord(SilentRecordData::default()),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, action)| IvrAnswer {
            language: if i % 2 == 0 {
                Language::He
            } else {
                Language::En
            },
            action,
        })
        .collect()
    }

    #[test]
    fn every_action_round_trips_through_both_encodings() {
        for original in all_answers() {
            for encoding in [Encoding::XmlRpc, Encoding::Json] {
                let body = encode_answer(encoding, &original);
                assert_eq!(
                    answer(&body),
                    (encoding, original.clone()),
                    "{}",
                    text(&body)
                );
            }
        }
    }

    #[test]
    fn menu_on_the_wire_exactly() {
        let menu = IvrAnswer {
            language: Language::He,
            action: Action::Menu(menu()),
        };
        assert_eq!(
            text(&encode_answer(Encoding::Json, &menu)),
            r#"{"STATUS":0,"ACTION":"MENU","LANGUAGE":"he","DATA":{"REC":"welcome","LOOP":2,"DELAY":1,"SIZE":4,"MENU":"main~r0~he","VALIDATION":1}}"#
        );
        assert_eq!(
            text(&encode_answer(Encoding::XmlRpc, &menu)),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<methodResponse><params><param><value><struct>\
             <member><name>STATUS</name><value><int>0</int></value></member>\
             <member><name>ACTION</name><value><string>MENU</string></value></member>\
             <member><name>LANGUAGE</name><value><string>he</string></value></member>\
             <member><name>DATA</name><value><struct>\
             <member><name>REC</name><value><string>welcome</string></value></member>\
             <member><name>LOOP</name><value><int>2</int></value></member>\
             <member><name>DELAY</name><value><int>1</int></value></member>\
             <member><name>SIZE</name><value><int>4</int></value></member>\
             <member><name>MENU</name><value><string>main~r0~he</string></value></member>\
             <member><name>VALIDATION</name><value><int>1</int></value></member>\
             </struct></value></member></struct></value></param></params></methodResponse>\n"
        );
    }

    #[test]
    fn saydigits_digits_are_a_string_with_their_leading_zero() {
        let say = IvrAnswer {
            language: Language::En,
            action: Action::SayDigits(SayDigitsData {
                menu: menu(),
                intro_rec: "intro".into(),
                digits: "0547000000".into(),
            }),
        };
        let xml = encode_answer(Encoding::XmlRpc, &say);
        let xml = text(&xml);
        assert!(
            xml.contains("<name>DIGITS</name><value><string>0547000000</string></value>"),
            "{xml}"
        );
        assert!(
            xml.contains("<name>SAYDIGITSRECORD</name><value><string>intro</string></value>"),
            "{xml}"
        );
        assert!(
            xml.contains("<name>VALIDATION</name><value><int>1</int></value>"),
            "{xml}"
        );
        assert!(
            xml.contains("<name>LANGUAGE</name><value><string>en</string></value>"),
            "{xml}"
        );
        let json = encode_answer(Encoding::Json, &say);
        assert!(
            text(&json).ends_with(r#""SAYDIGITSRECORD":"intro","DIGITS":"0547000000"}}"#),
            "{}",
            text(&json)
        );
    }

    #[test]
    fn call_fields_have_their_wire_names_types_and_order() {
        let call = IvrAnswer {
            language: Language::He,
            action: Action::Call(full_call()),
        };
        let json = encode_answer(Encoding::Json, &call);
        assert_eq!(
            text(&json),
            r#"{"STATUS":0,"ACTION":"CALL","LANGUAGE":"he","DATA":{"TARGET":"0540123456","CALLERID":"0730000000","CALLERNAME":"Support","CALLER_REC":"now_calling","MOH_CLASS":"californication","TARGET_REC":"whisper","CALL_MAX_DIAL":35,"CALL_MAX":600,"NEXT_MENU":"fallback","NEXT_MENU_RECORD":"sorry","NEXT_MENU_LOOP":3,"NEXT_MENU_SIZE":4,"NEXT_MENU_WAIT":1,"REC_STATUS":1,"DTMF_PLAY":"1234#","DIALSTRINGS":["SIP/972547000000@provider1","SIP/972547000000@provider2"]}}"#
        );
        let xml = encode_answer(Encoding::XmlRpc, &call);
        let xml = text(&xml);
        for expected in [
            "<name>TARGET</name><value><string>0540123456</string></value>",
            "<name>CALLERID</name><value><string>0730000000</string></value>",
            "<name>CALL_MAX_DIAL</name><value><int>35</int></value>",
            "<name>NEXT_MENU_LOOP</name><value><int>3</int></value>",
            "<name>REC_STATUS</name><value><int>1</int></value>",
            "<name>DIALSTRINGS</name><value><array><data><value><string>SIP/972547000000@provider1</string></value>\
             <value><string>SIP/972547000000@provider2</string></value></data></array></value>",
        ] {
            assert!(xml.contains(expected), "{expected}\n{xml}");
        }
    }

    #[test]
    fn unset_optional_fields_are_omitted() {
        let call = IvrAnswer {
            language: Language::He,
            action: Action::Call(minimal_call()),
        };
        assert_eq!(
            text(&encode_answer(Encoding::Json, &call)),
            r#"{"STATUS":0,"ACTION":"CALL","LANGUAGE":"he","DATA":{"TARGET":"0540123456","CALLERID":"0730000000","CALLERNAME":"","CALL_MAX_DIAL":35,"CALL_MAX":600,"REC_STATUS":0}}"#
        );
        let xml = encode_answer(Encoding::XmlRpc, &call);
        for absent in [
            "CALLER_REC",
            "MOH_CLASS",
            "TARGET_REC",
            "NEXT_MENU",
            "DTMF_PLAY",
            "DIALSTRINGS",
            "<array>",
        ] {
            assert!(!text(&xml).contains(absent), "{absent}");
        }
        for action in [
            Action::Hangup(HangupData::default()),
            Action::SilentRecord(SilentRecordData::default()),
        ] {
            let answer = IvrAnswer {
                language: Language::He,
                action,
            };
            assert!(text(&encode_answer(Encoding::Json, &answer)).ends_with(r#""DATA":{}}"#));
            assert!(
                text(&encode_answer(Encoding::XmlRpc, &answer))
                    .contains("<name>DATA</name><value><struct></struct></value>")
            );
        }
    }

    #[test]
    fn hangup_vo_and_silentrecord_fields() {
        let json = |action: Action| {
            text(&encode_answer(
                Encoding::Json,
                &IvrAnswer {
                    language: Language::He,
                    action,
                },
            ))
            .to_owned()
        };
        assert!(
            json(Action::Hangup(HangupData {
                rec: Some("bye".into()),
                cause: Some(17)
            }))
            .ends_with(r#""DATA":{"HANGUP_REC":"bye","HANGUP_CAUSE":17}}"#)
        );
        assert!(json(Action::Vo(VoData { layer: 2, record: "r".into(), loops: 3, delay: 4 }))
            .ends_with(r#""ACTION":"VO","LANGUAGE":"he","DATA":{"LAYER":2,"RECORD":"r","LOOP":3,"DELAY":4}}"#));
        assert!(
            json(Action::SilentRecord(SilentRecordData {
                rec: Some("beep".into()),
                max_duration_secs: Some(60)
            }))
            .ends_with(
                r#""ACTION":"SILENTRECORD","LANGUAGE":"he","DATA":{"REC":"beep","MAXDURATION":60}}"#
            )
        );
    }

    #[test]
    fn strings_are_escaped() {
        let rec = "a&b<c>d\"e'f]]>g\r\nh\tiשלום";
        let answer = IvrAnswer {
            language: Language::He,
            action: Action::Hangup(HangupData {
                rec: Some(rec.into()),
                cause: None,
            }),
        };
        let xml = encode_answer(Encoding::XmlRpc, &answer);
        assert!(
            text(&xml).contains("<string>a&amp;b&lt;c&gt;d\"e'f]]&gt;g&#13;\nh\tiשלום</string>"),
            "{}",
            text(&xml)
        );
        let json = encode_answer(Encoding::Json, &answer);
        assert!(
            text(&json).contains(r#""a&b<c>d\"e'f]]>g\r\nh\tiשלום""#),
            "{}",
            text(&json)
        );
        for body in [xml, json] {
            assert_eq!(super::answer(&body).1, answer);
        }
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        let answer = IvrAnswer {
            language: Language::He,
            action: Action::Hangup(HangupData {
                rec: Some("a\u{0}b\u{1b}c\u{fffe}".into()),
                cause: None,
            }),
        };
        let xml = encode_answer(Encoding::XmlRpc, &answer);
        let Action::Hangup(decoded) = super::answer(&xml).1.action else {
            panic!()
        };
        assert_eq!(decoded.rec.as_deref(), Some("a\u{fffd}b\u{fffd}c\u{fffd}"));
    }

    #[test]
    fn hangup_ack_and_errors() {
        assert_eq!(text(&encode_hangup_ack(Encoding::Json)), r#"{"STATUS":0}"#);
        assert_eq!(
            text(&encode_hangup_ack(Encoding::XmlRpc)),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<methodResponse><params><param><value><struct>\
             <member><name>STATUS</name><value><int>0</int></value></member>\
             </struct></value></param></params></methodResponse>\n"
        );
        assert_eq!(
            text(&encode_error(
                Encoding::Json,
                "missing_field",
                "DID is missing"
            )),
            r#"{"STATUS":1,"ERROR_CODE":"missing_field","ERROR_MESSAGE":"DID is missing"}"#
        );
        for encoding in [Encoding::XmlRpc, Encoding::Json] {
            let ack = decode_status(&encode_hangup_ack(encoding)).unwrap();
            assert_eq!(
                ack,
                (
                    encoding,
                    StatusReply {
                        status: 0,
                        error_code: None,
                        error_message: None
                    }
                )
            );
            let body = encode_error(encoding, "unavailable", "<db> & \"pool\" down");
            assert!(!text(&body).contains("fault"));
            let (decoded_encoding, reply) = decode_status(&body).unwrap();
            assert_eq!(decoded_encoding, encoding);
            assert_eq!(
                reply,
                StatusReply {
                    status: 1,
                    error_code: Some("unavailable".into()),
                    error_message: Some("<db> & \"pool\" down".into()),
                }
            );
            let error = decode_answer(&body).unwrap_err();
            assert_eq!(error.code, DecodeErrorCode::InvalidField, "{error}");
        }
        let xml = encode_error(Encoding::XmlRpc, DecodeErrorCode::TooDeep.as_str(), "x");
        assert!(text(&xml).contains("<name>STATUS</name><value><int>1</int></value>"));
        assert!(
            text(&xml).contains("<name>ERROR_CODE</name><value><string>too_deep</string></value>")
        );
    }

    #[test]
    fn decoding_answers_accepts_the_spec_quirks() {
        let body = br#"{"STATUS": "0", "ACTION": " saydigits ", "LANGUAGE": " HE ", "DATA": {
            "rec": "r", "LOOP": "2", "DELAY": 1.0, "SIZE": " 4 ", "MENU": 5, "VALIDATION": true,
            "SAYDIGITSRECORD": "s", "DIGITS": "0547"}}"#;
        let expected = IvrAnswer {
            language: Language::He,
            action: Action::SayDigits(SayDigitsData {
                menu: MenuData {
                    rec: "r".into(),
                    loops: 2,
                    delay: 1,
                    size: 4,
                    menu: "5".into(),
                    validation: true,
                },
                intro_rec: "s".into(),
                digits: "0547".into(),
            }),
        };
        assert_eq!(answer(body), (Encoding::Json, expected));
    }

    #[test]
    fn decoding_answers_reports_bad_fields() {
        let cases: [(&[u8], DecodeErrorCode, &str); 9] = [
            (br#"{"ACTION": "HANGUP", "LANGUAGE": "he", "DATA": {}}"#, DecodeErrorCode::MissingField, "STATUS"),
            (br#"{"STATUS": 0, "ACTION": "HANGUP", "DATA": {}}"#, DecodeErrorCode::MissingField, "LANGUAGE"),
            (br#"{"STATUS": 0, "ACTION": "HANGUP", "LANGUAGE": "fr", "DATA": {}}"#, DecodeErrorCode::InvalidField, "LANGUAGE"),
            (br#"{"STATUS": 0, "LANGUAGE": "he", "DATA": {}}"#, DecodeErrorCode::MissingField, "ACTION"),
            (br#"{"STATUS": 0, "ACTION": "DANCE", "LANGUAGE": "he", "DATA": {}}"#, DecodeErrorCode::InvalidField, "ACTION"),
            (br#"{"STATUS": 0, "ACTION": "HANGUP", "LANGUAGE": "he"}"#, DecodeErrorCode::MissingField, "DATA"),
            (br#"{"STATUS": 0, "ACTION": "HANGUP", "LANGUAGE": "he", "DATA": 1}"#, DecodeErrorCode::Malformed, "DATA"),
            (br#"{"STATUS": 0, "ACTION": "VO", "LANGUAGE": "he", "DATA": {"LAYER": "x"}}"#, DecodeErrorCode::InvalidField, "LAYER"),
            (
                br#"{"STATUS": 0, "ACTION": "CALL", "LANGUAGE": "he", "DATA": {"TARGET": "1", "CALLERID": "2", "CALLERNAME": "", "CALL_MAX_DIAL": 1, "CALL_MAX": 2, "REC_STATUS": 0, "DIALSTRINGS": "SIP/x"}}"#,
                DecodeErrorCode::InvalidField,
                "DIALSTRINGS",
            ),
        ];
        for (body, code, field) in cases {
            let error = decode_answer(body).unwrap_err();
            assert_eq!(error.code, code, "{error}");
            assert!(error.message.contains(field), "{error}");
        }
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Text XML 1.0 can carry (other control characters are replaced on
    /// encoding, see `characters_xml_cannot_carry_are_replaced`).
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,12}",
            Just(String::new()),
            Just(" 0547 ".to_owned()),
            Just("a&b<c>]]>\r\n".to_owned()),
        ]
    }

    fn number() -> impl Strategy<Value = i64> {
        prop_oneof![any::<i64>(), 0i64..100]
    }

    fn menu() -> impl Strategy<Value = MenuData> {
        (text(), number(), number(), number(), text(), any::<bool>()).prop_map(
            |(rec, loops, delay, size, menu, validation)| MenuData {
                rec,
                loops,
                delay,
                size,
                menu,
                validation,
            },
        )
    }

    fn next_menu() -> impl Strategy<Value = NextMenu> {
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(number()),
            proptest::option::of(number()),
            proptest::option::of(number()),
        )
            .prop_map(|(menu, record, loops, size, wait)| NextMenu {
                menu,
                record,
                loops,
                size,
                wait,
            })
    }

    fn call() -> impl Strategy<Value = CallData> {
        (
            (
                text(),
                text(),
                text(),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
            ),
            (
                number(),
                number(),
                proptest::option::of(next_menu()),
                any::<bool>(),
                proptest::option::of(text()),
            ),
            proptest::collection::vec(text(), 0..4),
        )
            .prop_map(
                |(
                    (target, caller_id, caller_name, caller_rec, moh_class, target_rec),
                    (max_dial_secs, max_call_secs, next_menu, record, dtmf_play),
                    dialstrings,
                )| CallData {
                    target,
                    caller_id,
                    caller_name,
                    caller_rec,
                    moh_class,
                    target_rec,
                    max_dial_secs,
                    max_call_secs,
                    next_menu,
                    record,
                    dtmf_play,
                    dialstrings,
                },
            )
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            menu().prop_map(Action::Menu),
            call().prop_map(Action::Call),
            (proptest::option::of(text()), proptest::option::of(number()))
                .prop_map(|(rec, cause)| Action::Hangup(HangupData { rec, cause })),
            (menu(), text(), text()).prop_map(|(menu, intro_rec, digits)| Action::SayDigits(
                SayDigitsData {
                    menu,
                    intro_rec,
                    digits
                }
            )),
            (number(), text(), number(), number()).prop_map(|(layer, record, loops, delay)| {
                Action::Vo(VoData {
                    layer,
                    record,
                    loops,
                    delay,
                })
            }),
            (proptest::option::of(text()), proptest::option::of(number())).prop_map(
                |(rec, max_duration_secs)| Action::SilentRecord(SilentRecordData {
                    rec,
                    max_duration_secs
                })
            ),
        ]
    }

    fn ivr_answer() -> impl Strategy<Value = IvrAnswer> {
        (
            prop_oneof![Just(Language::He), Just(Language::En)],
            action(),
        )
            .prop_map(|(language, action)| IvrAnswer { language, action })
    }

    /// Fragments that steer random documents into the parsers' deeper paths.
    fn xmlish() -> impl Strategy<Value = String> {
        let fragment = proptest::sample::select(vec![
            "<methodCall>",
            "</methodCall>",
            "<methodResponse>",
            "<methodName>GET_IVR_ACTION</methodName>",
            "<params>",
            "</params>",
            "<param>",
            "</param>",
            "<value>",
            "</value>",
            "<struct>",
            "</struct>",
            "<member>",
            "</member>",
            "<name>DID</name>",
            "<array>",
            "<data>",
            "</data>",
            "</array>",
            "<string>",
            "</string>",
            "<int>",
            "</int>",
            "<nil/>",
            "<value/>",
            "&amp;",
            "&foo;",
            "&#x41;",
            "<![CDATA[",
            "]]>",
            "<!--",
            "-->",
            "<!DOCTYPE x>",
            "<?pi?>",
            " ",
            "1",
            "{",
            "}",
            "[",
            "]",
            "\"",
            "'",
            ":",
            ",",
            "//",
            "/*",
            "METHOD",
            "DATA",
        ]);
        proptest::collection::vec(fragment, 0..60).prop_map(|fragments| fragments.concat())
    }

    fn decode_everything(body: &[u8]) {
        let _ = decode_request(body, LIMIT);
        let _ = decode_answer(body);
        let _ = decode_status(body);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn answers_round_trip_through_both_encodings(original in ivr_answer()) {
            for encoding in [Encoding::XmlRpc, Encoding::Json] {
                let body = encode_answer(encoding, &original);
                prop_assert_eq!(decode_answer(&body), Ok((encoding, original.clone())));
            }
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            decode_everything(&body);
        }

        #[test]
        fn random_strings_never_panic(body in any::<String>()) {
            decode_everything(body.as_bytes());
        }

        #[test]
        fn random_xml_and_json_fragments_never_panic(body in xmlish()) {
            decode_everything(body.as_bytes());
        }

        #[test]
        fn mutated_spec_examples_never_panic(
            which in 0usize..4,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut body = [
                fixture!("get_ivr_action_request_reconstructed.xml"),
                fixture!("hangup_call_request.json"),
                fixture!("answer_call_reconstructed.xml"),
                fixture!("answer_call.json"),
            ][which].to_vec();
            for (at, byte) in edits {
                let at = at.index(body.len());
                body[at] = byte;
            }
            decode_everything(&body);
        }
    }
}
