//! Modbus: sans-IO PDU, MBAP and RTU codecs, the read planner, a blocking TCP client, the TCP
//! pool worker and the RTU bus worker.

pub mod client;
mod crc;
mod error;
pub mod mbap;
pub mod pdu;
pub mod planner;
mod poller;
pub mod pool;
pub mod rtu;
pub mod rtu_bus;
mod rtu_client;
mod rtu_stats;
mod serial;
pub mod settings;
mod tracker;

pub use client::{ModbusClient, TcpClient};
pub use crc::crc16;
pub use error::ModbusError;
pub use pdu::ExceptionCode;
pub use pool::{spawn_tcp_pool, EndpointSettings, PoolSettings};
pub use rtu_bus::{spawn_rtu_bus, RtuBus, RtuBusSettings};
pub use rtu_client::RtuClient;
pub use rtu_stats::{RtuCounts, RtuStats};
