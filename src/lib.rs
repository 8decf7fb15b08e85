pub mod flow;
pub mod voicenter;
