//! Modbus: sans-IO PDU and MBAP codecs, a blocking TCP client, and the TCP pool worker.

pub mod mbap;
pub mod pdu;
