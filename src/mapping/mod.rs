//! Templates: what a device register means in OCPP terms, and the conversions between them.
//!
//! Pure data and functions; loading template files lives in `config`.

mod datatype;
mod register;
mod template;
mod vocabulary;

use std::fmt;

use thiserror::Error;

use crate::device::RawValue;

pub use datatype::{DataType, Value};
pub use register::{parse_register, RegisterError};
pub use template::{Source, Template, Variable};
pub use vocabulary::{OcppName, CONNECTOR_STATUSES};

/// Why a raw reading could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MappingError {
    /// The worker delivered a different number or kind of values than the data type needs.
    #[error("raw value has {got}, expected {expected}")]
    WrongShape { expected: RawShape, got: RawShape },
    /// An enum-mapped device value that the template does not list.
    #[error("device value {value} is not in the template's enum")]
    NotInEnum { value: i64 },
    /// A float32 NaN or infinity, or a value scaled beyond f64.
    #[error("device value is not a finite number")]
    NotFinite,
}

/// The kind and count of values in a `RawValue`, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawShape {
    Bits(usize),
    Registers(usize),
    Bytes(usize),
}

impl RawShape {
    /// The shape of `raw`.
    pub fn of(raw: &RawValue) -> RawShape {
        match raw {
            RawValue::Bits(b) => RawShape::Bits(b.len()),
            RawValue::Registers(r) => RawShape::Registers(r.len()),
            RawValue::Bytes(b) => RawShape::Bytes(b.len()),
        }
    }
}

impl fmt::Display for RawShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawShape::Bits(1) => f.write_str("1 bit"),
            RawShape::Bits(n) => write!(f, "{n} bits"),
            RawShape::Registers(1) => f.write_str("1 register"),
            RawShape::Registers(n) => write!(f, "{n} registers"),
            RawShape::Bytes(1) => f.write_str("1 byte"),
            RawShape::Bytes(n) => write!(f, "{n} bytes"),
        }
    }
}
