//! Modbus register notation (`40001`, `"400001"`) to a table and a 0-based address.

use thiserror::Error;

use crate::device::ModbusTable;

/// Why a register number could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegisterError {
    /// Not a plain run of decimal digits.
    #[error("register {0:?} is not a register number (digits only)")]
    NotDigits(String),
    /// Digits, but in none of the table ranges.
    #[error(
        "register {0} is outside 1-9999 (coils), 10001-19999 (discrete inputs), \
         30001-39999 (input registers), 40001-49999 (holding registers) \
         and their 6-digit forms 000001-065536, 100001-165536, 300001-365536, 400001-465536"
    )]
    OutOfRange(String),
}

/// Parses Modbus register notation.
///
/// Five digits or fewer: 1–9999 coils, 10001–19999 discrete inputs, 30001–39999 input registers,
/// 40001–49999 holding registers. Exactly six digits: the first digit picks the table (0, 1, 3, 4)
/// and the other five count from 00001 to 65536. A coil written `000001` has a leading zero, so in
/// TOML it can only be a string; every other form may be an integer or a string.
pub fn parse_register(notation: &str) -> Result<(ModbusTable, u16), RegisterError> {
    if notation.is_empty() || !notation.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RegisterError::NotDigits(notation.to_string()));
    }
    let out_of_range = || RegisterError::OutOfRange(notation.to_string());
    if notation.len() > 6 {
        return Err(out_of_range());
    }
    let n: u32 = notation.parse().map_err(|_| out_of_range())?;
    let (table, first) = if notation.len() == 6 {
        let table = match n / 100_000 {
            0 => ModbusTable::Coil,
            1 => ModbusTable::DiscreteInput,
            3 => ModbusTable::InputRegister,
            4 => ModbusTable::HoldingRegister,
            _ => return Err(out_of_range()),
        };
        let offset = n % 100_000;
        if !(1..=65_536).contains(&offset) {
            return Err(out_of_range());
        }
        (table, n - offset + 1)
    } else {
        match n {
            1..=9_999 => (ModbusTable::Coil, 1),
            10_001..=19_999 => (ModbusTable::DiscreteInput, 10_001),
            30_001..=39_999 => (ModbusTable::InputRegister, 30_001),
            40_001..=49_999 => (ModbusTable::HoldingRegister, 40_001),
            _ => return Err(out_of_range()),
        }
    };
    let address = u16::try_from(n - first).map_err(|_| out_of_range())?;
    Ok((table, address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModbusTable::*;

    fn ok(s: &str) -> (ModbusTable, u16) {
        match parse_register(s) {
            Ok(r) => r,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn five_digit_ranges_and_boundaries() {
        assert_eq!(ok("1"), (Coil, 0));
        assert_eq!(ok("00001"), (Coil, 0));
        assert_eq!(ok("9999"), (Coil, 9998));
        assert_eq!(ok("10001"), (DiscreteInput, 0));
        assert_eq!(ok("19999"), (DiscreteInput, 9998));
        assert_eq!(ok("30001"), (InputRegister, 0));
        assert_eq!(ok("39999"), (InputRegister, 9998));
        assert_eq!(ok("40001"), (HoldingRegister, 0));
        assert_eq!(ok("40011"), (HoldingRegister, 10));
        assert_eq!(ok("49999"), (HoldingRegister, 9998));
    }

    #[test]
    fn six_digit_ranges_and_boundaries() {
        assert_eq!(ok("000001"), (Coil, 0));
        assert_eq!(ok("065536"), (Coil, 65535));
        assert_eq!(ok("100001"), (DiscreteInput, 0));
        assert_eq!(ok("165536"), (DiscreteInput, 65535));
        assert_eq!(ok("300001"), (InputRegister, 0));
        assert_eq!(ok("365536"), (InputRegister, 65535));
        assert_eq!(ok("400001"), (HoldingRegister, 0));
        assert_eq!(ok("465536"), (HoldingRegister, 65535));
    }

    #[test]
    fn out_of_range() {
        for s in [
            "0", "00000", "10000", "20000", "29999", "30000", "40000", "50000", "99999", "000000",
            "065537", "099999", "100000", "165537", "200001", "300000", "365537", "400000",
            "465537", "500001", "900001", "4000001",
        ] {
            assert_eq!(
                parse_register(s),
                Err(RegisterError::OutOfRange(s.into())),
                "{s}"
            );
        }
    }

    #[test]
    fn not_digits() {
        for s in ["", "-1", "4000a", " 40001", "0x10", "40001.0"] {
            assert_eq!(
                parse_register(s),
                Err(RegisterError::NotDigits(s.into())),
                "{s:?}"
            );
        }
    }
}
