//! A blocking Modbus RTU client for one-off requests (console diagnostics): one request at a
//! time on a serial port, no retries, the same framing and line timing as the bus worker.

use std::time::Duration;

use super::client::ModbusClient;
use super::error::ModbusError;
use super::pdu::{Request, Response};
use super::rtu::{self, SerialLine};
use super::serial::{self, Wire};

/// How long the line stays quiet after a broadcast, so units can act on it.
const BROADCAST_TURNAROUND: Duration = Duration::from_millis(100);

/// An open serial line to talk to units on.
pub struct RtuClient {
    wire: Wire,
    response_timeout: Duration,
}

impl RtuClient {
    /// Opens `path` with `line`'s settings.
    pub fn open(
        path: &str,
        line: SerialLine,
        response_timeout: Duration,
    ) -> Result<RtuClient, ModbusError> {
        let port = serial::open(path, &line)?;
        Ok(RtuClient {
            wire: Wire::new(port, line),
            response_timeout,
        })
    }
}

impl ModbusClient for RtuClient {
    fn transact(&mut self, unit: u8, request: &Request) -> Result<Option<Response>, ModbusError> {
        let frame = rtu::encode(unit, &request.encode()?)?;
        let answer = self.wire.exchange(
            unit,
            request,
            &frame,
            self.response_timeout,
            BROADCAST_TURNAROUND,
        )?;
        match answer {
            Some(Response::Exception { code, .. }) => Err(ModbusError::Exception(code)),
            other => Ok(other),
        }
    }
}
