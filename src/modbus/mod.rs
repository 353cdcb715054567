//! Modbus: sans-IO PDU and MBAP codecs, a blocking TCP client, and the TCP pool worker.

pub mod client;
mod error;
pub mod mbap;
pub mod pdu;
pub mod pool;
mod tracker;

pub use client::TcpClient;
pub use error::ModbusError;
pub use pdu::ExceptionCode;
pub use pool::{spawn_tcp_pool, PoolSettings};
