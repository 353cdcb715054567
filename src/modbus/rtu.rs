//! Modbus RTU framing, sans-IO: unit id, PDU and CRC-16; the timing of a serial line; and where a
//! frame ends, predicted from its first bytes so a reader never has to wait for silence.

use std::time::Duration;

use super::crc::crc16;
use super::pdu::{Request, MAX_PDU_LEN};
use crate::config::Parity;

/// The unit id every server obeys and none answers.
pub const BROADCAST: u8 = 0;
/// Longest RTU frame: unit id, 253-byte PDU, CRC.
pub const MAX_FRAME_LEN: usize = 1 + MAX_PDU_LEN + 2;
/// Inter-frame silence used above 19,200 baud, where 3.5 characters would be too short for
/// UARTs and operating systems to honour (Modbus over serial line, 2.5.1.1).
const FAST_LINE_SILENCE: Duration = Duration::from_micros(1750);
/// Above this rate the fixed silence applies.
const FAST_LINE_BAUD: u32 = 19_200;
/// Set in the function byte of an exception response.
const EXCEPTION_FLAG: u8 = 0x80;

/// Character format and speed of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SerialLine {
    pub baud_rate: u32,
    pub data_bits: u8,
    pub parity: Parity,
    pub stop_bits: u8,
}

impl SerialLine {
    /// Bits on the wire per byte: start, data, parity, stop.
    pub fn bits_per_char(&self) -> u32 {
        let parity = u32::from(self.parity != Parity::None);
        1 + u32::from(self.data_bits) + parity + u32::from(self.stop_bits)
    }

    /// How long `bytes` characters take on the wire.
    pub fn wire_time(&self, bytes: usize) -> Duration {
        let bits = u64::try_from(bytes)
            .unwrap_or(u64::MAX)
            .saturating_mul(u64::from(self.bits_per_char()));
        // A zero baud rate is refused by config; max(1) keeps this total anyway.
        let nanos = bits.saturating_mul(1_000_000_000) / u64::from(self.baud_rate.max(1));
        Duration::from_nanos(nanos)
    }

    /// The silence (t3.5) that ends a frame and must precede the next one.
    pub fn frame_silence(&self) -> Duration {
        if self.baud_rate > FAST_LINE_BAUD {
            FAST_LINE_SILENCE
        } else {
            // 3.5 characters = 7 half characters.
            self.wire_time(7) / 2
        }
    }
}

/// Why bytes are not an RTU frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtuFrameError {
    /// The checksum does not match: a corrupted byte or a collision on the bus.
    #[error("CRC {actual:#06x} where {expected:#06x} expected")]
    Crc { expected: u16, actual: u16 },
    /// The line went quiet before the frame was complete.
    #[error("frame ended after {got} of {expected} bytes")]
    Truncated { expected: usize, got: usize },
    /// A function byte no frame starts with: noise, or a reader out of step with the line.
    #[error("function byte {0:#04x} starts no known frame")]
    Garbage(u8),
    /// A byte count that makes the frame longer than any RTU frame.
    #[error("frame of {0} bytes exceeds the RTU maximum of {MAX_FRAME_LEN}")]
    TooLong(usize),
    /// A PDU with no function code was given to `encode`.
    #[error("empty PDU")]
    EmptyPdu,
    /// A PDU too long for any RTU frame was given to `encode`.
    #[error("PDU of {0} bytes exceeds the Modbus maximum of {MAX_PDU_LEN}")]
    PduTooLong(usize),
}

/// One checked frame, borrowing its PDU from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtuFrame<'a> {
    pub unit: u8,
    pub pdu: &'a [u8],
}

/// Encodes one frame: unit id, PDU, CRC low byte first.
pub fn encode(unit: u8, pdu: &[u8]) -> Result<Vec<u8>, RtuFrameError> {
    if pdu.is_empty() {
        return Err(RtuFrameError::EmptyPdu);
    }
    if pdu.len() > MAX_PDU_LEN {
        return Err(RtuFrameError::PduTooLong(pdu.len()));
    }
    let mut out = Vec::with_capacity(pdu.len() + 3);
    out.push(unit);
    out.extend_from_slice(pdu);
    let crc = crc16(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Length of the response frame that `buf` begins, once enough of its header has arrived.
pub fn response_len(buf: &[u8]) -> Result<Option<usize>, RtuFrameError> {
    let Some(&function) = buf.get(1) else {
        return Ok(None);
    };
    let len = match function {
        f if f & EXCEPTION_FLAG != 0 && is_known(f & !EXCEPTION_FLAG) => 5,
        0x01..=0x04 => match buf.get(2) {
            Some(&count) => 5 + usize::from(count),
            None => return Ok(None),
        },
        0x05 | 0x06 | 0x0F | 0x10 => 8,
        other => return Err(RtuFrameError::Garbage(other)),
    };
    checked_len(len)
}

/// Length of the request frame that `buf` begins, once enough of its header has arrived.
pub fn request_len(buf: &[u8]) -> Result<Option<usize>, RtuFrameError> {
    let Some(&function) = buf.get(1) else {
        return Ok(None);
    };
    let len = match function {
        0x01..=0x06 => 8,
        0x0F | 0x10 => match buf.get(6) {
            Some(&count) => 9 + usize::from(count),
            None => return Ok(None),
        },
        other => return Err(RtuFrameError::Garbage(other)),
    };
    checked_len(len)
}

/// The length of a normal (non-exception) response to `request`, to bound how long to wait.
pub fn expected_response_len(request: &Request) -> usize {
    let data = match request {
        Request::ReadCoils { count, .. } | Request::ReadDiscreteInputs { count, .. } => {
            1 + usize::from(*count).div_ceil(8)
        }
        Request::ReadHoldingRegisters { count, .. } | Request::ReadInputRegisters { count, .. } => {
            1 + 2 * usize::from(*count)
        }
        Request::WriteSingleCoil { .. }
        | Request::WriteSingleRegister { .. }
        | Request::WriteMultipleCoils { .. }
        | Request::WriteMultipleRegisters { .. } => 4,
    };
    // unit + function + data + CRC
    (2 + data + 2).min(MAX_FRAME_LEN)
}

/// Cuts the response frame `buf` begins: `Ok(None)` while incomplete, else the checked frame
/// and the bytes it used.
pub fn decode_response(buf: &[u8]) -> Result<Option<(RtuFrame<'_>, usize)>, RtuFrameError> {
    cut(buf, response_len(buf)?)
}

/// Cuts the request frame `buf` begins (server side), like `decode_response`.
pub fn decode_request(buf: &[u8]) -> Result<Option<(RtuFrame<'_>, usize)>, RtuFrameError> {
    cut(buf, request_len(buf)?)
}

fn is_known(function: u8) -> bool {
    matches!(function, 0x01..=0x06 | 0x0F | 0x10)
}

fn checked_len(len: usize) -> Result<Option<usize>, RtuFrameError> {
    if len > MAX_FRAME_LEN {
        Err(RtuFrameError::TooLong(len))
    } else {
        Ok(Some(len))
    }
}

fn cut(buf: &[u8], len: Option<usize>) -> Result<Option<(RtuFrame<'_>, usize)>, RtuFrameError> {
    let Some(len) = len else {
        return Ok(None);
    };
    let Some(frame) = buf.get(..len) else {
        return Ok(None);
    };
    let body_len = len.saturating_sub(2);
    let (body, crc_bytes) = frame.split_at(body_len);
    let actual = match *crc_bytes {
        [lo, hi] => u16::from_le_bytes([lo, hi]),
        // ok: every predicted length is at least 5, so two CRC bytes follow the body.
        _ => {
            return Err(RtuFrameError::Truncated {
                expected: len,
                got: buf.len(),
            })
        }
    };
    let expected = crc16(body);
    if actual != expected {
        return Err(RtuFrameError::Crc { expected, actual });
    }
    match body.split_first() {
        Some((&unit, pdu)) => Ok(Some((RtuFrame { unit, pdu }, len))),
        None => Err(RtuFrameError::Truncated {
            expected: len,
            got: buf.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::pdu::{ExceptionCode, Response};
    use crate::util::rng::Rng;

    fn line(baud_rate: u32, parity: Parity, stop_bits: u8) -> SerialLine {
        SerialLine {
            baud_rate,
            data_bits: 8,
            parity,
            stop_bits,
        }
    }

    #[test]
    fn character_and_silence_times() {
        let l = line(9600, Parity::None, 1);
        assert_eq!(l.bits_per_char(), 10);
        assert_eq!(l.wire_time(96), Duration::from_millis(100));
        // 3.5 × 10 bits at 9600 baud = 3.6458 ms.
        assert_eq!(l.frame_silence(), Duration::from_nanos(3_645_833));
        let even = line(19_200, Parity::Even, 1);
        assert_eq!(even.bits_per_char(), 11);
        assert_eq!(even.frame_silence(), Duration::from_nanos(2_005_208));
        let two_stop = line(9600, Parity::None, 2);
        assert_eq!(two_stop.bits_per_char(), 11);
        for fast in [38_400, 115_200, 921_600] {
            assert_eq!(
                line(fast, Parity::None, 1).frame_silence(),
                Duration::from_micros(1750)
            );
        }
        let seven = SerialLine {
            baud_rate: 1200,
            data_bits: 7,
            parity: Parity::Odd,
            stop_bits: 1,
        };
        assert_eq!(seven.bits_per_char(), 10);
        assert_eq!(
            line(0, Parity::None, 1).wire_time(1),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn encode_then_decode() {
        let frame = encode(1, &[0x03, 0x00, 0x00, 0x00, 0x02]).unwrap();
        assert_eq!(frame, [0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xC4, 0x0B]);
        let (got, used) = decode_request(&frame).unwrap().unwrap();
        assert_eq!(used, 8);
        assert_eq!(got.unit, 1);
        assert_eq!(got.pdu, &frame[1..6]);
        assert_eq!(encode(1, &[]), Err(RtuFrameError::EmptyPdu));
        assert_eq!(encode(1, &[0; 254]), Err(RtuFrameError::PduTooLong(254)));
    }

    /// Every response to every request of the PDU tests is framed at exactly its length.
    #[test]
    fn response_length_is_predicted_for_every_function() {
        let requests = crate::modbus::pdu::request_samples();
        for request in &requests {
            let pdu = crate::modbus::pdu::sample_response(request)
                .encode()
                .unwrap();
            let frame = encode(7, &pdu).unwrap();
            assert_eq!(frame.len(), expected_response_len(request), "{request:?}");
            for cut in 0..frame.len() {
                assert_eq!(
                    decode_response(&frame[..cut]),
                    Ok(None),
                    "{request:?} at {cut}"
                );
            }
            let mut longer = frame.clone();
            longer.extend_from_slice(&[0xAA, 0xBB]);
            let (got, used) = decode_response(&longer).unwrap().unwrap();
            assert_eq!((got.unit, got.pdu, used), (7, &pdu[..], frame.len()));
            assert_eq!(
                Response::decode(request, got.pdu).unwrap().function_code(),
                pdu[0]
            );

            let req_frame = encode(7, &request.encode().unwrap()).unwrap();
            for cut in 0..req_frame.len() {
                assert_eq!(decode_request(&req_frame[..cut]), Ok(None));
            }
            assert_eq!(
                decode_request(&req_frame).unwrap().unwrap().1,
                req_frame.len()
            );
        }
    }

    #[test]
    fn exception_frames_are_five_bytes() {
        let pdu = Response::Exception {
            function: 0x04,
            code: ExceptionCode::IllegalDataAddress,
        }
        .encode()
        .unwrap();
        let frame = encode(3, &pdu).unwrap();
        assert_eq!(frame.len(), 5);
        assert_eq!(decode_response(&frame).unwrap().unwrap().1, 5);
        // 0x80 alone (exception of function 0) is not a frame.
        assert_eq!(response_len(&[3, 0x80]), Err(RtuFrameError::Garbage(0x80)));
    }

    #[test]
    fn corruption_is_rejected() {
        let frame = encode(9, &[0x03, 2, 0x12, 0x34]).unwrap();
        for i in 0..frame.len() {
            for bit in 0..8 {
                let mut bad = frame.clone();
                bad[i] ^= 1 << bit;
                match decode_response(&bad) {
                    Err(_) | Ok(None) => {}
                    Ok(Some((f, _))) => panic!("bit {bit} of byte {i} flipped, accepted {f:?}"),
                }
            }
        }
        let mut bad = frame.clone();
        bad[3] ^= 0xFF;
        assert!(matches!(
            decode_response(&bad),
            Err(RtuFrameError::Crc { .. })
        ));
        assert_eq!(response_len(&[1, 0x2B]), Err(RtuFrameError::Garbage(0x2B)));
        assert_eq!(request_len(&[1, 0x07]), Err(RtuFrameError::Garbage(0x07)));
        assert_eq!(
            response_len(&[1, 0x03, 0xFF]),
            Err(RtuFrameError::TooLong(260))
        );
        assert_eq!(response_len(&[1, 0x03, 251]), Ok(Some(256)));
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng::seeded(0xC0FFEE);
        for _ in 0..20_000 {
            let len = rng.below(300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if let Some(second) = bytes.get_mut(1) {
                *second = [1u8, 3, 4, 6, 0x10, 0x83, *second][rng.below(7) as usize];
            }
            if let Ok(Some((frame, used))) = decode_response(&bytes) {
                assert!(used <= bytes.len() && !frame.pdu.is_empty());
            }
            if let Ok(Some((frame, used))) = decode_request(&bytes) {
                assert!(used <= bytes.len() && !frame.pdu.is_empty());
            }
        }
    }
}
