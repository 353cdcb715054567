//! Simulators for `ocpp-gw demo` and the tests: Modbus TCP and RTU EV chargers and a minimal CSMS.

pub mod csms;
pub mod echonet_charger;
pub mod modbus_charger;
pub mod modbus_rtu;
pub mod register_bank;
