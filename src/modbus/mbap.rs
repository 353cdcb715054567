//! Modbus TCP (MBAP) framing: a 7-byte header (transaction id, protocol id 0, length, unit id)
//! followed by one PDU. Sans-IO: frames are cut from whatever bytes the caller has buffered.

use super::pdu::MAX_PDU_LEN;

/// Bytes in the MBAP header, unit id included.
pub const HEADER_LEN: usize = 7;
/// Smallest length field: the unit id plus a function code.
const MIN_LENGTH: u16 = 2;
/// Largest length field: the unit id plus the longest PDU.
const MAX_LENGTH: u16 = 1 + MAX_PDU_LEN as u16;

/// Why bytes are not a Modbus TCP frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The protocol id is not 0 (Modbus); the stream is not Modbus TCP or lost sync.
    #[error("protocol id {0} is not Modbus (0)")]
    BadProtocolId(u16),
    /// The length field is outside 2..=254.
    #[error("MBAP length {0} outside {MIN_LENGTH}..={MAX_LENGTH}")]
    BadLength(u16),
    /// A PDU too long for any Modbus frame was given to `encode`.
    #[error("PDU of {0} bytes exceeds the Modbus maximum of {MAX_PDU_LEN}")]
    PduTooLong(usize),
    /// A PDU with no function code was given to `encode`.
    #[error("empty PDU")]
    EmptyPdu,
}

/// One decoded frame, borrowing its PDU from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Matches a response to its request.
    pub transaction_id: u16,
    /// Selects the device behind a TCP-to-RTU bridge.
    pub unit_id: u8,
    /// The PDU: function code and data.
    pub pdu: &'a [u8],
}

/// Encodes one frame; fails only for a PDU no Modbus frame can carry.
pub fn encode(transaction_id: u16, unit_id: u8, pdu: &[u8]) -> Result<Vec<u8>, FrameError> {
    if pdu.is_empty() {
        return Err(FrameError::EmptyPdu);
    }
    if pdu.len() > MAX_PDU_LEN {
        return Err(FrameError::PduTooLong(pdu.len()));
    }
    // ok to narrow: at most 1 + 253.
    let length = (pdu.len() + 1) as u16;
    let mut out = Vec::with_capacity(HEADER_LEN + pdu.len());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
    out.push(unit_id);
    out.extend_from_slice(pdu);
    Ok(out)
}

/// Cuts the first frame from `buf`: `Ok(None)` while incomplete, else the frame and the number
/// of bytes it used. Header fields are checked as soon as they arrive so garbage fails early.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(&[t0, t1, p0, p1]) = buf.get(..4) else {
        return Ok(None);
    };
    let protocol = u16::from_be_bytes([p0, p1]);
    if protocol != 0 {
        return Err(FrameError::BadProtocolId(protocol));
    }
    let Some(&[l0, l1]) = buf.get(4..6) else {
        return Ok(None);
    };
    let length = u16::from_be_bytes([l0, l1]);
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(FrameError::BadLength(length));
    }
    let total = 6 + usize::from(length);
    let Some(&unit_id) = buf.get(6) else {
        return Ok(None);
    };
    let Some(pdu) = buf.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    let frame = Frame {
        transaction_id: u16::from_be_bytes([t0, t1]),
        unit_id,
        pdu,
    };
    Ok(Some((frame, total)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    #[test]
    fn round_trip() {
        let pdu = [0x03, 0x00, 0x0A, 0x00, 0x02];
        let bytes = encode(0x1234, 7, &pdu).unwrap();
        assert_eq!(
            bytes,
            [0x12, 0x34, 0, 0, 0, 6, 7, 0x03, 0x00, 0x0A, 0x00, 0x02]
        );
        let (frame, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(frame.transaction_id, 0x1234);
        assert_eq!(frame.unit_id, 7);
        assert_eq!(frame.pdu, pdu);
    }

    #[test]
    fn incomplete_at_every_length() {
        let bytes = encode(1, 1, &[0x10; 40]).unwrap();
        for len in 0..bytes.len() {
            assert_eq!(decode(&bytes[..len]), Ok(None), "prefix of {len} bytes");
        }
    }

    #[test]
    fn two_frames_in_one_buffer() {
        let mut bytes = encode(1, 1, &[0x01, 0x02]).unwrap();
        bytes.extend(encode(2, 9, &[0x83, 0x02]).unwrap());
        bytes.push(0x00);
        let (first, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!((first.transaction_id, first.pdu), (1, &[0x01, 0x02][..]));
        let (second, used2) = decode(&bytes[used..]).unwrap().unwrap();
        assert_eq!((second.transaction_id, second.unit_id), (2, 9));
        assert_eq!(decode(&bytes[used + used2..]), Ok(None));
    }

    #[test]
    fn bad_protocol_id_fails_before_the_rest_arrives() {
        assert_eq!(decode(&[0, 1, 0, 5]), Err(FrameError::BadProtocolId(5)));
    }

    #[test]
    fn bad_lengths() {
        for length in [0u16, 1, 255, 0xFFFF] {
            let [hi, lo] = length.to_be_bytes();
            assert_eq!(
                decode(&[0, 1, 0, 0, hi, lo]),
                Err(FrameError::BadLength(length))
            );
        }
    }

    #[test]
    fn encode_rejects_unframeable_pdus() {
        assert_eq!(encode(1, 1, &[]), Err(FrameError::EmptyPdu));
        assert_eq!(encode(1, 1, &[0u8; 254]), Err(FrameError::PduTooLong(254)));
        let longest = encode(1, 1, &[0u8; 253]).unwrap();
        assert_eq!(decode(&longest).unwrap().unwrap().1, longest.len());
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng::seeded(7);
        for _ in 0..5000 {
            let len = rng.below(300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if rng.below(2) == 0 && bytes.len() >= 4 {
                bytes[2] = 0;
                bytes[3] = 0;
            }
            if let Ok(Some((frame, used))) = decode(&bytes) {
                assert!(used <= bytes.len());
                assert!(!frame.pdu.is_empty());
            }
        }
    }
}
