//! Counters of one RTU bus: every request's outcome by kind, so damaged frames are not only
//! rejected but visible.

use std::sync::atomic::{AtomicU64, Ordering};

use super::error::ModbusError;
use super::pdu::{PduError, Response};
use super::rtu::RtuFrameError;

/// What happened on one bus, counted since it started (for logs, metrics and tests).
#[derive(Debug, Default)]
pub struct RtuStats {
    pub(crate) requests: AtomicU64,
    answered: AtomicU64,
    exceptions: AtomicU64,
    timeouts: AtomicU64,
    truncated: AtomicU64,
    crc_errors: AtomicU64,
    garbage: AtomicU64,
    wrong_unit: AtomicU64,
    wrong_function: AtomicU64,
    malformed: AtomicU64,
    pub(crate) port_errors: AtomicU64,
    pub(crate) retries: AtomicU64,
    broadcasts: AtomicU64,
}

/// A snapshot of `RtuStats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtuCounts {
    /// Frames sent, retries and broadcasts included.
    pub requests: u64,
    /// Valid responses, exceptions included.
    pub answered: u64,
    /// Exception responses.
    pub exceptions: u64,
    /// Requests that heard nothing back.
    pub timeouts: u64,
    /// Responses that stopped short.
    pub truncated: u64,
    /// Responses with a bad CRC.
    pub crc_errors: u64,
    /// Bytes that start no frame, or frames too long for RTU.
    pub garbage: u64,
    /// Responses from another unit.
    pub wrong_unit: u64,
    /// Responses to another function.
    pub wrong_function: u64,
    /// Responses with the right function that do not answer the request.
    pub malformed: u64,
    /// Failed opens and I/O errors of the port.
    pub port_errors: u64,
    /// Requests sent again after a failure.
    pub retries: u64,
    /// Broadcast writes.
    pub broadcasts: u64,
}

impl RtuStats {
    /// The counters now.
    pub fn snapshot(&self) -> RtuCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RtuCounts {
            requests: get(&self.requests),
            answered: get(&self.answered),
            exceptions: get(&self.exceptions),
            timeouts: get(&self.timeouts),
            truncated: get(&self.truncated),
            crc_errors: get(&self.crc_errors),
            garbage: get(&self.garbage),
            wrong_unit: get(&self.wrong_unit),
            wrong_function: get(&self.wrong_function),
            malformed: get(&self.malformed),
            port_errors: get(&self.port_errors),
            retries: get(&self.retries),
            broadcasts: get(&self.broadcasts),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, result: &Result<Option<Response>, ModbusError>) {
        let counter = match result {
            Ok(Some(_)) => &self.answered,
            Ok(None) => &self.broadcasts,
            Err(ModbusError::Exception(_)) => {
                Self::bump(&self.answered);
                &self.exceptions
            }
            Err(ModbusError::Timeout) => &self.timeouts,
            Err(ModbusError::Rtu(RtuFrameError::Truncated { .. })) => &self.truncated,
            Err(ModbusError::Rtu(RtuFrameError::Crc { .. })) => &self.crc_errors,
            Err(ModbusError::Rtu(_)) => &self.garbage,
            Err(ModbusError::UnitMismatch { .. }) => &self.wrong_unit,
            Err(ModbusError::Pdu(PduError::FunctionMismatch { .. })) => &self.wrong_function,
            Err(ModbusError::Pdu(_) | ModbusError::WrongLength { .. }) => &self.malformed,
            Err(_) => &self.port_errors,
        };
        Self::bump(counter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::pdu::ExceptionCode;

    #[test]
    fn counters_by_outcome() {
        let stats = RtuStats::default();
        stats.record(&Ok(None));
        stats.record(&Err(ModbusError::Exception(
            ExceptionCode::IllegalDataAddress,
        )));
        stats.record(&Err(ModbusError::Rtu(RtuFrameError::Crc {
            expected: 1,
            actual: 2,
        })));
        stats.record(&Err(ModbusError::Rtu(RtuFrameError::Garbage(0x2B))));
        stats.record(&Err(ModbusError::Pdu(PduError::FunctionMismatch {
            expected: 3,
            actual: 4,
        })));
        stats.record(&Err(ModbusError::UnitMismatch {
            expected: 1,
            actual: 2,
        }));
        let c = stats.snapshot();
        assert_eq!(
            (
                c.broadcasts,
                c.answered,
                c.exceptions,
                c.crc_errors,
                c.garbage
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!((c.wrong_function, c.wrong_unit, c.timeouts), (1, 1, 0));
    }
}
