//! One serial line in use: opening the port with the configured character format, and one
//! request/response exchange at a time with the RTU timing rules (inter-frame silence before
//! sending, turnaround after a broadcast, a response deadline from the predicted frame length).

use std::io::{self, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, DataBits, FlowControl, SerialPort, StopBits};

use super::error::ModbusError;
use super::pdu::{Request, Response};
use super::rtu::{self, RtuFrameError, SerialLine, BROADCAST, MAX_FRAME_LEN};
use crate::config::Parity;

/// Longest the reader keeps discarding a babbling line before giving up on silence.
const MAX_DRAIN: Duration = Duration::from_millis(500);
/// Shortest wait for silence; below this, scheduling noise looks like silence.
const MIN_SILENCE_WAIT: Duration = Duration::from_millis(2);

/// Opens `path` with `line`'s settings and empties whatever arrived before.
pub(crate) fn open(path: &str, line: &SerialLine) -> Result<Box<dyn SerialPort>, ModbusError> {
    let serial_error = |e: serialport::Error| ModbusError::Serial {
        port: path.to_owned(),
        message: e.to_string(),
    };
    let data_bits = match line.data_bits {
        5 => DataBits::Five,
        6 => DataBits::Six,
        7 => DataBits::Seven,
        _ => DataBits::Eight,
    };
    let parity = match line.parity {
        Parity::None => serialport::Parity::None,
        Parity::Even => serialport::Parity::Even,
        Parity::Odd => serialport::Parity::Odd,
    };
    let stop_bits = if line.stop_bits == 2 {
        StopBits::Two
    } else {
        StopBits::One
    };
    let port = serialport::new(path, line.baud_rate)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(stop_bits)
        .flow_control(FlowControl::None)
        .open()
        .map_err(serial_error)?;
    port.clear(ClearBuffer::Input).map_err(serial_error)?;
    Ok(port)
}

/// An open serial line and its timing state.
pub(crate) struct Wire {
    port: Box<dyn SerialPort>,
    line: SerialLine,
    /// Nothing may be sent before this: the silence after the last frame, or the turnaround
    /// after a broadcast.
    quiet_until: Instant,
    /// Bytes of the response being read.
    rx: Vec<u8>,
}

impl Wire {
    /// Wraps an open port.
    pub(crate) fn new(port: Box<dyn SerialPort>, line: SerialLine) -> Wire {
        Wire {
            port,
            line,
            quiet_until: Instant::now(),
            rx: Vec::with_capacity(MAX_FRAME_LEN),
        }
    }

    /// Sends `frame` (an encoded `request` for `unit`) and waits for the answer. A broadcast
    /// gets none: it returns `None` and holds the line for `turnaround`.
    pub(crate) fn exchange(
        &mut self,
        unit: u8,
        request: &Request,
        frame: &[u8],
        response_timeout: Duration,
        turnaround: Duration,
    ) -> Result<Option<Response>, ModbusError> {
        sleep_until(self.quiet_until);
        self.port.clear(ClearBuffer::Input).map_err(serial_io)?;
        self.rx.clear();
        // The port keeps the last read's timeout; a write gets the frame's own time and more.
        let write_limit = self.line.wire_time(frame.len()) * 2 + response_timeout;
        self.port.set_timeout(write_limit).map_err(serial_io)?;
        self.port.write_all(frame)?;
        // write() returns once the driver has the bytes; the line needs this long to send them.
        let sent = Instant::now() + self.line.wire_time(frame.len());
        let silence = self.line.frame_silence();
        if unit == BROADCAST {
            self.quiet_until = sent + turnaround.max(silence);
            return Ok(None);
        }
        let longest = self.line.wire_time(rtu::expected_response_len(request));
        let deadline = sent + response_timeout + longest;
        let result = self.read_response(unit, request, deadline);
        if matches!(result, Err(ModbusError::Rtu(_))) {
            // Whatever follows a bad frame belongs to it; only silence puts us back in step.
            self.drain_until_silent();
        }
        self.quiet_until = Instant::now() + silence;
        result.map(Some)
    }

    fn read_response(
        &mut self,
        unit: u8,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response, ModbusError> {
        let mut chunk = [0u8; MAX_FRAME_LEN];
        loop {
            if let Some((frame, used)) = rtu::decode_response(&self.rx)? {
                if used < self.rx.len() {
                    log::debug!(
                        "rtu: {} byte(s) after the response ignored",
                        self.rx.len() - used
                    );
                }
                if frame.unit != unit {
                    return Err(ModbusError::UnitMismatch {
                        expected: unit,
                        actual: frame.unit,
                    });
                }
                return match Response::decode(request, frame.pdu)? {
                    Response::Exception { code, .. } => Err(ModbusError::Exception(code)),
                    response => Ok(response),
                };
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.cut_short(request));
            }
            self.port.set_timeout(remaining).map_err(serial_io)?;
            match self.port.read(&mut chunk) {
                Ok(0) => return Err(ModbusError::Disconnected),
                Ok(n) => self.rx.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if is_timeout(&e) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ModbusError::Io(e)),
            }
        }
    }

    /// The error for a deadline that passed: nothing heard, or a frame that stopped short.
    fn cut_short(&self, request: &Request) -> ModbusError {
        if self.rx.is_empty() {
            return ModbusError::Timeout;
        }
        let expected = match rtu::response_len(&self.rx) {
            Ok(Some(len)) => len,
            _ => rtu::expected_response_len(request),
        };
        ModbusError::Rtu(RtuFrameError::Truncated {
            expected,
            got: self.rx.len(),
        })
    }

    /// Reads and discards until the line has been silent for an inter-frame gap.
    fn drain_until_silent(&mut self) {
        let limit = Instant::now() + MAX_DRAIN;
        let wait = self.line.frame_silence().max(MIN_SILENCE_WAIT);
        let mut chunk = [0u8; MAX_FRAME_LEN];
        let mut dropped = 0usize;
        while Instant::now() < limit {
            if self.port.set_timeout(wait).is_err() {
                break;
            }
            match self.port.read(&mut chunk) {
                Ok(n) if n > 0 => dropped += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        if dropped > 0 {
            log::debug!("rtu: discarded {dropped} byte(s) to resynchronise");
        }
    }
}

fn sleep_until(at: Instant) {
    let wait = at.saturating_duration_since(Instant::now());
    if !wait.is_zero() {
        thread::sleep(wait);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

fn serial_io(e: serialport::Error) -> ModbusError {
    ModbusError::Io(io::Error::from(e))
}
