//! Voicenter's External IVR protocol: XML-RPC and JSON <-> typed requests and
//! answers. No IO: bytes in, values out.
//!
//! Layers, bottom up: [`value`] (the encoding-neutral value model), `xmlrpc`
//! and `json` (bodies <-> values), `fields` (typed, lenient access to named
//! fields), `request` and `answer` (the protocol's mapping to [`types`]).

mod answer;
mod codec;
mod fields;
mod json;
mod request;
pub mod types;
pub mod value;
mod xmlrpc;

#[cfg(test)]
mod tests;

pub use answer::{
    StatusReply, decode_answer, decode_status, encode_answer, encode_error, encode_hangup_ack,
};
pub use codec::detect_encoding;
pub use request::{decode_request, decode_request_sent_as, normalize_status, without_whitespace};
pub use value::{MAX_DEPTH, Value};
