//! A blocking Modbus RTU client for one-off requests (console diagnostics): one request at a
//! time on a serial port, no retries, the same framing and line timing as the bus worker.

use std::time::Duration;

use super::error::ModbusError;
use super::pdu::{PduError, Request, Response};
use super::rtu::{self, SerialLine};
use super::serial::{self, Wire};
use crate::device::{ModbusTable, RawValue};

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

    /// Reads `count` registers or bits of `table` from `address` of `unit`.
    pub fn read(
        &mut self,
        unit: u8,
        table: ModbusTable,
        address: u16,
        count: u16,
    ) -> Result<RawValue, ModbusError> {
        let request = Request::read(table, address, count);
        let response = self.transact(unit, &request)?;
        let actual = response.as_ref().map_or(0, Response::function_code);
        // Nobody answers a broadcast, so a broadcast read has nothing to show.
        response
            .and_then(Response::into_raw)
            .ok_or(ModbusError::Pdu(PduError::FunctionMismatch {
                expected: request.function().code(),
                actual,
            }))
    }

    /// Writes holding registers: FC06 for one value, FC16 for more (unit 0: to every unit).
    pub fn write_registers(
        &mut self,
        unit: u8,
        address: u16,
        values: &[u16],
    ) -> Result<(), ModbusError> {
        self.transact(unit, &Request::write_registers(address, values))
            .map(drop)
    }

    /// Writes coils: FC05 for one value, FC15 for more.
    pub fn write_coils(
        &mut self,
        unit: u8,
        address: u16,
        values: &[bool],
    ) -> Result<(), ModbusError> {
        self.transact(unit, &Request::write_coils(address, values))
            .map(drop)
    }

    /// One request; `None` for a broadcast, which no unit answers.
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
