//! Field-level helpers shared by the request and response codecs: a bounds-checked reader,
//! limit checks and bit/register packing.

use super::PduError;

/// Wire value of an ON coil in FC05 requests and echoes.
pub(super) const COIL_ON: u16 = 0xFF00;
/// Wire value of an OFF coil in FC05 requests and echoes.
pub(super) const COIL_OFF: u16 = 0x0000;
/// Set in the function byte of an exception response.
pub(super) const EXCEPTION_FLAG: u8 = 0x80;

/// Bounds-checked big-endian field reader over one PDU; every shortfall is a typed error.
pub(super) struct Reader<'a> {
    function: u8,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts after the function byte.
    pub(super) fn new(function: u8, pdu: &'a [u8]) -> Reader<'a> {
        Reader {
            function,
            rest: pdu.get(1..).unwrap_or(&[]),
        }
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], PduError> {
        if self.rest.len() < n {
            return Err(PduError::Truncated {
                function: self.function,
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(super) fn u8(&mut self) -> Result<u8, PduError> {
        match *self.bytes(1)? {
            [byte] => Ok(byte),
            _ => Err(PduError::Truncated {
                function: self.function,
            }),
        }
    }

    pub(super) fn u16(&mut self) -> Result<u16, PduError> {
        match *self.bytes(2)? {
            [hi, lo] => Ok(u16::from_be_bytes([hi, lo])),
            _ => Err(PduError::Truncated {
                function: self.function,
            }),
        }
    }

    /// Reads a byte-count field that must equal `expected`, then that many bytes.
    pub(super) fn counted(&mut self, expected: usize) -> Result<&'a [u8], PduError> {
        let actual = self.u8()?;
        if usize::from(actual) != expected {
            return Err(PduError::ByteCountMismatch {
                function: self.function,
                expected,
                actual,
            });
        }
        self.bytes(expected)
    }

    pub(super) fn finish(self) -> Result<(), PduError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(PduError::TrailingBytes {
                function: self.function,
                extra: self.rest.len(),
            })
        }
    }
}

/// A slice length as a Modbus quantity; lengths beyond u16 saturate so the limit check rejects them.
pub(super) fn quantity(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

pub(super) fn check_quantity(function: u8, quantity: u16, max: u16) -> Result<(), PduError> {
    if (1..=max).contains(&quantity) {
        Ok(())
    } else {
        Err(PduError::InvalidQuantity {
            function,
            quantity,
            max,
        })
    }
}

pub(super) fn check_range(
    function: u8,
    address: u16,
    quantity: u16,
    max: u16,
) -> Result<(), PduError> {
    check_quantity(function, quantity, max)?;
    if u32::from(address) + u32::from(quantity) > 0x1_0000 {
        return Err(PduError::AddressOverflow {
            function,
            address,
            quantity,
        });
    }
    Ok(())
}

pub(super) fn expect_echo(function: u8, matches: bool) -> Result<(), PduError> {
    if matches {
        Ok(())
    } else {
        Err(PduError::EchoMismatch { function })
    }
}

pub(super) fn coil_value(raw: u16) -> Result<bool, PduError> {
    match raw {
        COIL_ON => Ok(true),
        COIL_OFF => Ok(false),
        other => Err(PduError::InvalidCoilValue(other)),
    }
}

/// Bytes needed to pack `count` bits.
pub(super) fn bit_bytes(count: u16) -> usize {
    usize::from(count).div_ceil(8)
}

pub(super) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Packs bits LSB-first, eight to a byte, as FC01/02/15 carry them.
pub(super) fn pack_bits(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u8, |byte, (i, &on)| byte | (u8::from(on) << i))
        })
        .collect()
}

pub(super) fn register_bytes(regs: &[u16]) -> Vec<u8> {
    regs.iter().flat_map(|reg| reg.to_be_bytes()).collect()
}

/// Appends a byte-count field and the data; callers validated quantities, so data is ≤ 250 bytes.
pub(super) fn put_counted(out: &mut Vec<u8>, data: &[u8]) {
    out.push(u8::try_from(data.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(data);
}

pub(super) fn unpack_bits(data: &[u8], count: u16) -> Vec<bool> {
    data.iter()
        .flat_map(|byte| (0..8).map(move |i| byte & (1 << i) != 0))
        .take(usize::from(count))
        .collect()
}

pub(super) fn unpack_registers(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|pair| match *pair {
            [hi, lo] => u16::from_be_bytes([hi, lo]),
            // ok: chunks_exact(2) yields only pairs.
            _ => 0,
        })
        .collect()
}
