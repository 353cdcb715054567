//! CRC-16/MODBUS (poly 0x8005 reflected as 0xA001, init 0xFFFF), the checksum of every RTU frame.

/// One entry per byte value, built at compile time so the per-byte step is a lookup.
const TABLE: [u16; 256] = build_table();

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        // ok to narrow: i < 256.
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// The CRC of `data`; on the wire it follows the frame low byte first.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF, |crc, &byte| {
        let index = usize::from((crc ^ u16::from(byte)) & 0xFF);
        // ok: index < 256 by the mask above.
        (crc >> 8) ^ TABLE[index]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_of_the_catalogue() {
        // The standard check value of CRC-16/MODBUS over "123456789".
        assert_eq!(crc16(b"123456789"), 0x4B37);
        assert_eq!(crc16(&[]), 0xFFFF);
    }

    #[test]
    fn known_frame() {
        // Read holding registers 0..2 of unit 1: the CRC bytes on the wire are C4 0B.
        let crc = crc16(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x02]);
        assert_eq!(crc.to_le_bytes(), [0xC4, 0x0B]);
    }

    #[test]
    fn a_frame_with_its_crc_checks_to_zero() {
        let mut frame = vec![0x11, 0x06, 0x00, 0x01, 0x00, 0x03];
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(crc16(&frame), 0);
    }
}
