//! Small helpers with no better home: wall-clock formatting, jitter.

pub mod rng;
pub mod time;
