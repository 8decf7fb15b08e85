//! Requests as Voicenter sends them, and their answers read back.

use ivrhub::voicenter::decode_answer;
use ivrhub::voicenter::types::{Encoding, IvrAnswer};

use crate::harness::{Response, TestApp};

pub const DEMO_DID: &str = "0730000000";
pub const CALLER: &str = "0540000000";

/// A GET_IVR_ACTION step in XML-RPC, laid out as in the spec's example.
pub fn xml_step(did: &str, caller: &str, call_id: &str, menu: &str, dtmf: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<methodCall>
    <methodName>GET_IVR_ACTION</methodName>
    <params><param><value><struct>
        <member><name>DID</name><value><string>{did}</string></value></member>
        <member><name>CALLER_ID</name><value><string>{caller}</string></value></member>
        <member><name>CALLER_NAME</name><value><string>017W</string></value></member>
        <member><name>IVR_UNIQUE_ID</name><value><string>{call_id}</string></value></member>
        <member><name>DTMF</name><value><string>{dtmf}</string></value></member>
        <member><name>MENU</name><value><string>{menu}</string></value></member>
        <member><name>PREVIOUS_MENU</name><value><string>-1</string></value></member>
    </struct></value></param></params>
</methodCall>"#
    )
}

/// The same step in JSON.
pub fn json_step(did: &str, caller: &str, call_id: &str, menu: &str, dtmf: &str) -> String {
    serde_json::json!({
        "METHOD": "GET_IVR_ACTION",
        "DATA": {
            "DID": did, "CALLER_ID": caller, "CALLER_NAME": "n5zx1C2a", "IVR_UNIQUE_ID": call_id,
            "DTMF": dtmf, "MENU": menu, "PREVIOUS_MENU": "-1"
        }
    })
    .to_string()
}

pub fn json_hangup(did: &str, call_id: &str, status: &str) -> String {
    serde_json::json!({
        "METHOD": "HANGUP_CALL",
        "DATA": {
            "DID": did, "CALLER_ID": CALLER, "IVR_UNIQUE_ID": call_id, "TARGET": "0500000555",
            "CALL_TIME_EPOCH": 1_700_000_000, "CALL_START_EPOCH": 1_700_000_010,
            "CALL_DURATION": 125, "CALL_DAILTIME": 15, "CALL_STATUS": status
        }
    })
    .to_string()
}

/// One caller's call, step by step, in one encoding.
pub struct Call<'a> {
    pub app: &'a TestApp,
    pub encoding: Encoding,
    pub did: String,
    pub caller: String,
    pub call_id: String,
}

impl<'a> Call<'a> {
    pub fn new(app: &'a TestApp, encoding: Encoding, call_id: &str) -> Call<'a> {
        Call {
            app,
            encoding,
            did: DEMO_DID.into(),
            caller: CALLER.into(),
            call_id: call_id.into(),
        }
    }

    /// Sends one step and returns the raw response and the decoded answer.
    pub async fn step_raw(&self, menu: &str, dtmf: &str) -> (Response, IvrAnswer) {
        let response = match self.encoding {
            Encoding::XmlRpc => {
                let body = xml_step(&self.did, &self.caller, &self.call_id, menu, dtmf);
                self.app.post(&self.app.webhook, "text/xml", body).await
            }
            Encoding::Json => {
                let body = json_step(&self.did, &self.caller, &self.call_id, menu, dtmf);
                self.app
                    .post(&self.app.webhook, "application/json", body)
                    .await
            }
        };
        assert_eq!(response.status, 200, "{}", response.body);
        let (encoding, answer) = decode_answer(response.body.as_bytes())
            .unwrap_or_else(|e| panic!("undecodable answer {e}: {}", response.body));
        assert_eq!(
            encoding, self.encoding,
            "answered in the request's encoding"
        );
        (response, answer)
    }

    pub async fn step(&self, menu: &str, dtmf: &str) -> IvrAnswer {
        self.step_raw(menu, dtmf).await.1
    }
}
