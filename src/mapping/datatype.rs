//! How a device lays out a value in registers or bits, and the typed value that comes out.

use std::fmt;

/// The layout of a mapped value on the device. 32-bit types are two registers, high word first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One coil or discrete input.
    Bool,
    /// One register, unsigned.
    U16,
    /// One register, two's complement.
    I16,
    /// Two registers, unsigned.
    U32,
    /// Two registers, two's complement.
    I32,
    /// Two registers, IEEE 754 single precision.
    F32,
}

/// Template spellings, in the order error messages list them.
const NAMES: &[(&str, DataType)] = &[
    ("bool", DataType::Bool),
    ("uint16", DataType::U16),
    ("int16", DataType::I16),
    ("uint32", DataType::U32),
    ("int32", DataType::I32),
    ("float32", DataType::F32),
];

impl DataType {
    /// Parses the template spelling (`uint16`, `float32`, …).
    pub fn from_name(name: &str) -> Option<DataType> {
        NAMES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Every template spelling, for error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(n, _)| *n)
    }

    /// The template spelling.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::U16 => "uint16",
            DataType::I16 => "int16",
            DataType::U32 => "uint32",
            DataType::I32 => "int32",
            DataType::F32 => "float32",
        }
    }

    /// How many registers (or bits, for `Bool`) one value occupies.
    pub fn registers(self) -> u16 {
        match self {
            DataType::Bool | DataType::U16 | DataType::I16 => 1,
            DataType::U32 | DataType::I32 | DataType::F32 => 2,
        }
    }

    /// The device values an integer type can hold; `None` for `Bool` and `F32`.
    pub fn integer_range(self) -> Option<(i64, i64)> {
        match self {
            DataType::U16 => Some((0, u16::MAX.into())),
            DataType::I16 => Some((i16::MIN.into(), i16::MAX.into())),
            DataType::U32 => Some((0, u32::MAX.into())),
            DataType::I32 => Some((i32::MIN.into(), i32::MAX.into())),
            DataType::Bool | DataType::F32 => None,
        }
    }
}

/// A decoded variable value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A (scaled) measurement; always finite.
    Number(f64),
    /// An `enum` lookup result, e.g. a connector status.
    Text(String),
    /// A coil or discrete input.
    Bool(bool),
}

/// The OCPP string form: shortest decimal (`230.1`, `1234`), the text, or `true`/`false`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => f.write_str(t),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in DataType::names() {
            let t = DataType::from_name(name);
            assert_eq!(t.map(DataType::name), Some(name));
        }
        assert_eq!(DataType::from_name("u17"), None);
        assert_eq!(DataType::from_name("UINT16"), None);
    }

    #[test]
    fn widths_and_ranges() {
        assert_eq!(DataType::Bool.registers(), 1);
        assert_eq!(DataType::I16.registers(), 1);
        assert_eq!(DataType::F32.registers(), 2);
        assert_eq!(DataType::I16.integer_range(), Some((-32768, 32767)));
        assert_eq!(DataType::U32.integer_range(), Some((0, 4_294_967_295)));
        assert_eq!(DataType::F32.integer_range(), None);
        assert_eq!(DataType::Bool.integer_range(), None);
    }

    #[test]
    fn value_display_is_ocpp_form() {
        assert_eq!(Value::Number(1234.0).to_string(), "1234");
        assert_eq!(Value::Number(230.1).to_string(), "230.1");
        assert_eq!(Value::Number(-0.5).to_string(), "-0.5");
        assert_eq!(Value::Text("Occupied".into()).to_string(), "Occupied");
        assert_eq!(Value::Bool(true).to_string(), "true");
    }
}
