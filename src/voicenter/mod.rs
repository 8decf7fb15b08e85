//! Voicenter's External IVR protocol: XML-RPC and JSON <-> typed requests and
//! answers. No IO: bytes in, values out.

pub mod types;
