//! Templates: what a device register or ECHONET Lite property means in OCPP terms, and the
//! conversions between them, both ways.
//!
//! Pure data and functions; loading template files (and merging `extends`) lives in `config`.

mod codec;
mod datatype;
mod order;
mod register;
mod template;
mod vocabulary;

use std::fmt;

use thiserror::Error;

use crate::device::RawValue;

pub use datatype::{DataType, Value};
pub use order::Order;
pub use register::{parse_register, RegisterError};
pub use template::{Access, Mutability, Source, Template, ValueKind, Variable};
pub use vocabulary::{
    Direction, OcppName, Phase, ValueRule, AVAILABILITY_COMMANDS, BOOLEAN_TEXTS, CHARGING_COMMANDS,
    CHARGING_STATES, CONNECTOR_STATUSES, MAX_NAME, RESET_COMMANDS, UNLOCK_COMMANDS,
};

/// Why a raw reading could not be decoded, or a value not encoded for a write.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MappingError {
    /// The worker delivered a different number or kind of values than the data type needs.
    #[error("raw value has {got}, expected {expected}")]
    WrongShape { expected: RawShape, got: RawShape },
    /// An enum-mapped device value that the template does not list.
    #[error("device value {value} is not in the template's enum")]
    NotInEnum { value: i128 },
    /// A float NaN or infinity, or a value scaled beyond f64.
    #[error("value is not a finite number")]
    NotFinite,
    /// A write to a variable that is read-only, a single bit, or an input table.
    #[error("variable is not writable")]
    NotWritable,
    /// A write of a text the template's enum does not list.
    #[error("no device value for {text:?} in the template's enum")]
    NoEnumEntry { text: String },
    /// A value of the wrong kind for the variable.
    #[error("{got:?} is not {expected}")]
    WrongValue { got: String, expected: &'static str },
    /// A write below the template's `min`.
    #[error("{value} is below the minimum {min}")]
    BelowMin { value: f64, min: f64 },
    /// A write above the template's `max`.
    #[error("{value} is above the maximum {max}")]
    AboveMax { value: f64, max: f64 },
    /// A write whose device value does not fit the data type.
    #[error("device value {value} does not fit {data_type}")]
    DeviceRange { value: f64, data_type: &'static str },
    /// A text longer than the registers or EDT that hold it.
    #[error("{len} bytes do not fit the device's {max}")]
    TooLong { len: usize, max: usize },
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
