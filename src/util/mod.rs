//! Small helpers with no better home: wall-clock formatting, jitter.

pub mod base64;
pub mod rng;
pub mod time;
