//! Diagnostics for the serial console and SSH: talk to one device or the CSMS directly, next to
//! a running daemon, and say in plain words what failed.

pub mod csms;
pub mod modbus;
