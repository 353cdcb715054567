//! Small helpers with no better home: wall-clock formatting, jitter.
