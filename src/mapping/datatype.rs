//! How a device lays out a value, and the typed value that comes out.

use std::fmt;

/// The layout of a mapped value on the device. Modbus values span whole registers (`bool` is one
/// coil or discrete input); ECHONET Lite values are big-endian bytes within the property's EDT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One coil or discrete input (Modbus only).
    Bool,
    /// One byte, unsigned (ECHONET Lite only).
    U8,
    /// One byte, two's complement (ECHONET Lite only).
    I8,
    /// 16 bits, unsigned.
    U16,
    /// 16 bits, two's complement.
    I16,
    /// 32 bits, unsigned.
    U32,
    /// 32 bits, two's complement.
    I32,
    /// 64 bits, unsigned (Modbus only).
    U64,
    /// 64 bits, two's complement (Modbus only).
    I64,
    /// IEEE 754 single precision (Modbus only).
    F32,
    /// IEEE 754 double precision (Modbus only).
    F64,
    /// Text, two characters per register or one per byte; ends at the first NUL.
    String,
    /// Raw bytes, shown as upper-case hex (ECHONET Lite only).
    Bytes,
}

/// Template spellings, in the order error messages list them.
const NAMES: &[(&str, DataType)] = &[
    ("bool", DataType::Bool),
    ("uint8", DataType::U8),
    ("int8", DataType::I8),
    ("uint16", DataType::U16),
    ("int16", DataType::I16),
    ("uint32", DataType::U32),
    ("int32", DataType::I32),
    ("uint64", DataType::U64),
    ("int64", DataType::I64),
    ("float32", DataType::F32),
    ("float64", DataType::F64),
    ("string", DataType::String),
    ("bytes", DataType::Bytes),
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
        NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("?", |(n, _)| *n)
    }

    /// Bytes of a fixed-size number; `None` for `bool`, `string` and `bytes`.
    pub fn byte_len(self) -> Option<usize> {
        match self {
            DataType::U8 | DataType::I8 => Some(1),
            DataType::U16 | DataType::I16 => Some(2),
            DataType::U32 | DataType::I32 | DataType::F32 => Some(4),
            DataType::U64 | DataType::I64 | DataType::F64 => Some(8),
            DataType::Bool | DataType::String | DataType::Bytes => None,
        }
    }

    /// Registers (or bits, for `bool`) one Modbus value occupies; `None` where the width is not
    /// fixed (`string`) or the type is not a Modbus type.
    pub fn registers(self) -> Option<u16> {
        match self {
            DataType::Bool | DataType::U16 | DataType::I16 => Some(1),
            DataType::U32 | DataType::I32 | DataType::F32 => Some(2),
            DataType::U64 | DataType::I64 | DataType::F64 => Some(4),
            DataType::U8 | DataType::I8 | DataType::String | DataType::Bytes => None,
        }
    }

    /// Whether a Modbus device can hold this type.
    pub fn is_modbus(self) -> bool {
        self == DataType::String || self.registers().is_some()
    }

    /// Whether an ECHONET Lite EDT can hold this type (the EDT types ECHONET Lite defines).
    pub fn is_echonet(self) -> bool {
        matches!(
            self,
            DataType::U8
                | DataType::I8
                | DataType::U16
                | DataType::I16
                | DataType::U32
                | DataType::I32
                | DataType::String
                | DataType::Bytes
        )
    }

    /// The device values an integer type can hold; `None` for every other type.
    pub fn integer_range(self) -> Option<(i128, i128)> {
        match self {
            DataType::U8 => Some((0, u8::MAX.into())),
            DataType::I8 => Some((i8::MIN.into(), i8::MAX.into())),
            DataType::U16 => Some((0, u16::MAX.into())),
            DataType::I16 => Some((i16::MIN.into(), i16::MAX.into())),
            DataType::U32 => Some((0, u32::MAX.into())),
            DataType::I32 => Some((i32::MIN.into(), i32::MAX.into())),
            DataType::U64 => Some((0, u64::MAX.into())),
            DataType::I64 => Some((i64::MIN.into(), i64::MAX.into())),
            DataType::Bool | DataType::F32 | DataType::F64 | DataType::String | DataType::Bytes => {
                None
            }
        }
    }

    /// Whether the type is a floating-point number.
    pub fn is_float(self) -> bool {
        matches!(self, DataType::F32 | DataType::F64)
    }

    /// Whether the type is text or raw bytes.
    pub fn is_text(self) -> bool {
        matches!(self, DataType::String | DataType::Bytes)
    }
}

/// A decoded variable value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A (scaled) measurement; always finite.
    Number(f64),
    /// An `enum` lookup result, a string, or bytes in hex.
    Text(String),
    /// A coil, a discrete input or an extracted bit.
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
        assert_eq!(DataType::names().count(), 13);
        for name in DataType::names() {
            let t = DataType::from_name(name);
            assert_eq!(t.map(DataType::name), Some(name));
        }
        assert_eq!(DataType::from_name("u17"), None);
        assert_eq!(DataType::from_name("UINT16"), None);
    }

    #[test]
    fn widths_and_ranges() {
        assert_eq!(DataType::Bool.registers(), Some(1));
        assert_eq!(DataType::I16.registers(), Some(1));
        assert_eq!(DataType::F32.registers(), Some(2));
        assert_eq!(DataType::U64.registers(), Some(4));
        assert_eq!(DataType::F64.registers(), Some(4));
        assert_eq!(DataType::String.registers(), None);
        assert_eq!(DataType::U8.registers(), None);
        assert_eq!(DataType::I8.byte_len(), Some(1));
        assert_eq!(DataType::I64.byte_len(), Some(8));
        assert_eq!(DataType::Bytes.byte_len(), None);
        assert_eq!(DataType::I16.integer_range(), Some((-32768, 32767)));
        assert_eq!(DataType::U32.integer_range(), Some((0, 4_294_967_295)));
        assert_eq!(
            DataType::U64.integer_range(),
            Some((0, 18_446_744_073_709_551_615))
        );
        assert_eq!(DataType::F32.integer_range(), None);
        assert_eq!(DataType::Bool.integer_range(), None);
    }

    #[test]
    fn protocol_fit() {
        let modbus: Vec<_> = NAMES
            .iter()
            .filter(|(_, t)| t.is_modbus())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            modbus,
            [
                "bool", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32",
                "float64", "string"
            ]
        );
        let echonet: Vec<_> = NAMES
            .iter()
            .filter(|(_, t)| t.is_echonet())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            echonet,
            ["uint8", "int8", "uint16", "int16", "uint32", "int32", "string", "bytes"]
        );
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
