//! Sans-IO Modbus PDU codec for both sides of the wire: the client encodes requests and decodes
//! responses against the request it sent; the server (the simulator) does the reverse.

use std::fmt;

mod request;
mod response;
mod wire;

pub use request::Request;
pub use response::Response;

#[cfg(test)]
pub(crate) use request::tests::requests as request_samples;
#[cfg(test)]
pub(crate) use response::tests::response_to as sample_response;

/// Most registers one read may ask for (FC03/FC04).
pub const MAX_READ_REGISTERS: u16 = 125;
/// Most registers one FC16 write may carry.
pub const MAX_WRITE_REGISTERS: u16 = 123;
/// Most coils or discrete inputs one read may ask for (FC01/FC02).
pub const MAX_READ_BITS: u16 = 2000;
/// Most coils one FC15 write may carry.
pub const MAX_WRITE_COILS: u16 = 1968;
/// Longest PDU a Modbus ADU can carry (RTU: 256 − address − CRC; TCP: same by convention).
pub const MAX_PDU_LEN: usize = 253;

/// Why a PDU could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// A zero-length PDU (not even a function code).
    #[error("empty PDU")]
    Empty,
    /// A function code this codec does not implement.
    #[error("unsupported function code {0:#04x}")]
    UnsupportedFunction(u8),
    /// The PDU ended before all fields of its function were read.
    #[error("truncated PDU for function {function:#04x}")]
    Truncated { function: u8 },
    /// Bytes left over after all fields of the function were read.
    #[error("{extra} trailing byte(s) in PDU for function {function:#04x}")]
    TrailingBytes { function: u8, extra: usize },
    /// A quantity of registers or bits outside what the function allows.
    #[error("quantity {quantity} out of range 1..={max} for function {function:#04x}")]
    InvalidQuantity {
        function: u8,
        quantity: u16,
        max: u16,
    },
    /// `address + quantity` runs past the end of the 16-bit address space.
    #[error("address range {address}+{quantity} exceeds 65536 for function {function:#04x}")]
    AddressOverflow {
        function: u8,
        address: u16,
        quantity: u16,
    },
    /// A byte count field that disagrees with the quantity it describes.
    #[error("byte count {actual} where {expected} expected for function {function:#04x}")]
    ByteCountMismatch {
        function: u8,
        expected: usize,
        actual: u8,
    },
    /// An FC05 value other than 0xFF00 or 0x0000.
    #[error("invalid single-coil value {0:#06x}")]
    InvalidCoilValue(u16),
    /// A response whose function code is neither the request's nor its exception form.
    #[error("response function {actual:#04x} does not match request function {expected:#04x}")]
    FunctionMismatch { expected: u8, actual: u8 },
    /// A write response whose echoed address, value or quantity differs from the request.
    #[error("write response for function {function:#04x} does not echo the request")]
    EchoMismatch { function: u8 },
    /// An exception response for a function byte that already has the exception bit set.
    #[error("invalid function code {0:#04x} for an exception response")]
    InvalidExceptionFunction(u8),
}

impl PduError {
    /// The exception a server answers when a request fails to decode with this error.
    pub fn server_exception(&self) -> ExceptionCode {
        match self {
            PduError::UnsupportedFunction(_) => ExceptionCode::IllegalFunction,
            PduError::AddressOverflow { .. } => ExceptionCode::IllegalDataAddress,
            _ => ExceptionCode::IllegalDataValue,
        }
    }
}

/// The function codes this codec implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionCode {
    ReadCoils,
    ReadDiscreteInputs,
    ReadHoldingRegisters,
    ReadInputRegisters,
    WriteSingleCoil,
    WriteSingleRegister,
    WriteMultipleCoils,
    WriteMultipleRegisters,
}

impl FunctionCode {
    /// The function code byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            FunctionCode::ReadCoils => 0x01,
            FunctionCode::ReadDiscreteInputs => 0x02,
            FunctionCode::ReadHoldingRegisters => 0x03,
            FunctionCode::ReadInputRegisters => 0x04,
            FunctionCode::WriteSingleCoil => 0x05,
            FunctionCode::WriteSingleRegister => 0x06,
            FunctionCode::WriteMultipleCoils => 0x0F,
            FunctionCode::WriteMultipleRegisters => 0x10,
        }
    }

    /// The function for a wire byte, if implemented.
    pub fn from_code(code: u8) -> Option<FunctionCode> {
        Some(match code {
            0x01 => FunctionCode::ReadCoils,
            0x02 => FunctionCode::ReadDiscreteInputs,
            0x03 => FunctionCode::ReadHoldingRegisters,
            0x04 => FunctionCode::ReadInputRegisters,
            0x05 => FunctionCode::WriteSingleCoil,
            0x06 => FunctionCode::WriteSingleRegister,
            0x0F => FunctionCode::WriteMultipleCoils,
            0x10 => FunctionCode::WriteMultipleRegisters,
            _ => return None,
        })
    }
}

/// A Modbus exception code; codes outside the standard set are kept as their raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExceptionCode {
    IllegalFunction,
    IllegalDataAddress,
    IllegalDataValue,
    ServerDeviceFailure,
    Acknowledge,
    ServerDeviceBusy,
    MemoryParityError,
    GatewayPathUnavailable,
    GatewayTargetFailedToRespond,
    /// A code the standard does not define.
    Other(u8),
}

impl ExceptionCode {
    /// The exception code byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            ExceptionCode::IllegalFunction => 1,
            ExceptionCode::IllegalDataAddress => 2,
            ExceptionCode::IllegalDataValue => 3,
            ExceptionCode::ServerDeviceFailure => 4,
            ExceptionCode::Acknowledge => 5,
            ExceptionCode::ServerDeviceBusy => 6,
            ExceptionCode::MemoryParityError => 8,
            ExceptionCode::GatewayPathUnavailable => 10,
            ExceptionCode::GatewayTargetFailedToRespond => 11,
            ExceptionCode::Other(code) => code,
        }
    }

    /// The exception for a wire byte.
    pub fn from_code(code: u8) -> ExceptionCode {
        match code {
            1 => ExceptionCode::IllegalFunction,
            2 => ExceptionCode::IllegalDataAddress,
            3 => ExceptionCode::IllegalDataValue,
            4 => ExceptionCode::ServerDeviceFailure,
            5 => ExceptionCode::Acknowledge,
            6 => ExceptionCode::ServerDeviceBusy,
            8 => ExceptionCode::MemoryParityError,
            10 => ExceptionCode::GatewayPathUnavailable,
            11 => ExceptionCode::GatewayTargetFailedToRespond,
            other => ExceptionCode::Other(other),
        }
    }

    /// True for the gateway codes, which say the device behind a bridge did not answer.
    pub fn is_gateway_failure(self) -> bool {
        matches!(
            self,
            ExceptionCode::GatewayPathUnavailable | ExceptionCode::GatewayTargetFailedToRespond
        )
    }
}

impl fmt::Display for ExceptionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ExceptionCode::IllegalFunction => "illegal function",
            ExceptionCode::IllegalDataAddress => "illegal data address",
            ExceptionCode::IllegalDataValue => "illegal data value",
            ExceptionCode::ServerDeviceFailure => "server device failure",
            ExceptionCode::Acknowledge => "acknowledge",
            ExceptionCode::ServerDeviceBusy => "server device busy",
            ExceptionCode::MemoryParityError => "memory parity error",
            ExceptionCode::GatewayPathUnavailable => "gateway path unavailable",
            ExceptionCode::GatewayTargetFailedToRespond => "gateway target failed to respond",
            ExceptionCode::Other(_) => "non-standard exception",
        };
        write!(f, "{name} ({})", self.code())
    }
}
