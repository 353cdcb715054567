//! `ocpp-gw diag …`: look at devices directly, without a configuration or a running gateway.

pub mod el;
mod el_format;
