//! Simulators for `ocpp-gw demo` and the tests: a Modbus TCP EV charger and a minimal CSMS.

pub mod csms;
pub mod echonet_charger;
pub mod modbus_charger;
