//! The error of every Modbus operation, over TCP or a serial line.

use std::io;
use std::time::Duration;

use super::mbap::FrameError;
use super::pdu::{ExceptionCode, PduError};
use super::rtu::RtuFrameError;

/// Why a Modbus request did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum ModbusError {
    /// Resolving or connecting to the endpoint failed.
    #[error("connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: io::Error,
    },
    /// The endpoint failed to connect recently; no attempt is made until the back-off ends.
    #[error("connect to {endpoint}: next attempt in {retry_in:?} (last error: {last})")]
    ConnectBackoff {
        endpoint: String,
        retry_in: Duration,
        last: String,
    },
    /// The serial port could not be opened or configured.
    #[error("serial port {port}: {message}")]
    Serial { port: String, message: String },
    /// Reading or writing the socket or serial port failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// No response arrived within the response timeout.
    #[error("no response within the timeout")]
    Timeout,
    /// The device answered with an exception: it is alive but refused the request.
    #[error("device exception: {0}")]
    Exception(ExceptionCode),
    /// The byte stream is not valid Modbus TCP.
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// The bytes on the serial line are not a valid RTU frame.
    #[error("rtu framing: {0}")]
    Rtu(#[from] RtuFrameError),
    /// A request could not be encoded or a response did not answer it.
    #[error("pdu: {0}")]
    Pdu(#[from] PduError),
    /// The response came from another unit than the one asked.
    #[error("response from unit {actual}, expected unit {expected}")]
    UnitMismatch { expected: u8, actual: u8 },
    /// A response carried a transaction id that was never sent on this connection.
    #[error("response with unknown transaction id {actual}, expected {expected}")]
    UnknownTransaction { expected: u16, actual: u16 },
    /// A read answered with another number of values than asked for.
    #[error("read of {expected} value(s) answered with {actual}")]
    WrongLength { expected: u16, actual: usize },
    /// The peer closed the connection, or an earlier error broke it.
    #[error("connection closed")]
    Disconnected,
    /// The request was not a Modbus write (e.g. an ECHONET Lite property).
    #[error("not a Modbus write")]
    NotModbus,
}
