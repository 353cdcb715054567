//! ocpp-gw: presents legacy Modbus and ECHONET Lite EV chargers to a CSMS as OCPP 2.0.1
//! charging stations.
//!
//! Threads own I/O and talk through bounded channels; protocol cores are sans-IO.

pub mod admin;
pub mod chan;
pub mod cli;
pub mod config;
pub mod daemon;
#[cfg(feature = "sim")]
pub mod demo;
pub mod device;
pub mod diag;
pub mod echonet;
pub mod fdlimit;
pub mod health;
pub mod hub;
pub mod journal;
pub mod logging;
pub mod mapping;
pub mod metrics;
pub mod modbus;
pub mod ocpp;
pub mod preflight;
pub mod sdnotify;
#[cfg(feature = "sim")]
pub mod sim;
pub mod station;
pub mod util;
pub mod watch;
