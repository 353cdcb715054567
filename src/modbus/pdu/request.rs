//! Requests: encoded by the client, decoded and validated by the server.

use super::wire::{
    bit_bytes, check_range, coil_value, pack_bits, put_counted, put_u16, quantity, register_bytes,
    unpack_bits, unpack_registers, Reader, COIL_OFF, COIL_ON,
};
use super::{
    FunctionCode, PduError, MAX_READ_BITS, MAX_READ_REGISTERS, MAX_WRITE_COILS, MAX_WRITE_REGISTERS,
};

use crate::device::{ModbusTable, WriteValue};

/// A client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    ReadCoils { address: u16, count: u16 },
    ReadDiscreteInputs { address: u16, count: u16 },
    ReadHoldingRegisters { address: u16, count: u16 },
    ReadInputRegisters { address: u16, count: u16 },
    WriteSingleCoil { address: u16, value: bool },
    WriteSingleRegister { address: u16, value: u16 },
    WriteMultipleCoils { address: u16, values: Vec<bool> },
    WriteMultipleRegisters { address: u16, values: Vec<u16> },
}

impl Request {
    /// A read of `count` registers or bits of `table` from `address`.
    pub fn read(table: ModbusTable, address: u16, count: u16) -> Request {
        match table {
            ModbusTable::Coil => Request::ReadCoils { address, count },
            ModbusTable::DiscreteInput => Request::ReadDiscreteInputs { address, count },
            ModbusTable::InputRegister => Request::ReadInputRegisters { address, count },
            ModbusTable::HoldingRegister => Request::ReadHoldingRegisters { address, count },
        }
    }

    /// Holding registers from `address`: FC06 for one value, FC16 for more.
    pub fn write_registers(address: u16, values: &[u16]) -> Request {
        match values {
            [value] => Request::WriteSingleRegister {
                address,
                value: *value,
            },
            _ => Request::WriteMultipleRegisters {
                address,
                values: values.to_vec(),
            },
        }
    }

    /// Coils from `address`: FC05 for one value, FC15 for more.
    pub fn write_coils(address: u16, values: &[bool]) -> Request {
        match values {
            [value] => Request::WriteSingleCoil {
                address,
                value: *value,
            },
            _ => Request::WriteMultipleCoils {
                address,
                values: values.to_vec(),
            },
        }
    }

    /// The request that carries a device write; `None` for a write of another protocol.
    pub fn for_write(value: &WriteValue) -> Option<Request> {
        match value {
            WriteValue::Registers { address, values } => {
                Some(Request::write_registers(*address, values))
            }
            WriteValue::Coils { address, values } => Some(Request::write_coils(*address, values)),
            WriteValue::Epc { .. } => None,
        }
    }

    /// The request's function.
    pub fn function(&self) -> FunctionCode {
        match self {
            Request::ReadCoils { .. } => FunctionCode::ReadCoils,
            Request::ReadDiscreteInputs { .. } => FunctionCode::ReadDiscreteInputs,
            Request::ReadHoldingRegisters { .. } => FunctionCode::ReadHoldingRegisters,
            Request::ReadInputRegisters { .. } => FunctionCode::ReadInputRegisters,
            Request::WriteSingleCoil { .. } => FunctionCode::WriteSingleCoil,
            Request::WriteSingleRegister { .. } => FunctionCode::WriteSingleRegister,
            Request::WriteMultipleCoils { .. } => FunctionCode::WriteMultipleCoils,
            Request::WriteMultipleRegisters { .. } => FunctionCode::WriteMultipleRegisters,
        }
    }

    /// Checks quantity limits and the address range, as a server would.
    pub fn validate(&self) -> Result<(), PduError> {
        let fc = self.function().code();
        match self {
            Request::ReadCoils { address, count }
            | Request::ReadDiscreteInputs { address, count } => {
                check_range(fc, *address, *count, MAX_READ_BITS)
            }
            Request::ReadHoldingRegisters { address, count }
            | Request::ReadInputRegisters { address, count } => {
                check_range(fc, *address, *count, MAX_READ_REGISTERS)
            }
            Request::WriteSingleCoil { .. } | Request::WriteSingleRegister { .. } => Ok(()),
            Request::WriteMultipleCoils { address, values } => {
                check_range(fc, *address, quantity(values.len()), MAX_WRITE_COILS)
            }
            Request::WriteMultipleRegisters { address, values } => {
                check_range(fc, *address, quantity(values.len()), MAX_WRITE_REGISTERS)
            }
        }
    }

    /// Encodes the request PDU after validating it.
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        self.validate()?;
        let mut out = vec![self.function().code()];
        match self {
            Request::ReadCoils { address, count }
            | Request::ReadDiscreteInputs { address, count }
            | Request::ReadHoldingRegisters { address, count }
            | Request::ReadInputRegisters { address, count } => {
                put_u16(&mut out, *address);
                put_u16(&mut out, *count);
            }
            Request::WriteSingleCoil { address, value } => {
                put_u16(&mut out, *address);
                put_u16(&mut out, if *value { COIL_ON } else { COIL_OFF });
            }
            Request::WriteSingleRegister { address, value } => {
                put_u16(&mut out, *address);
                put_u16(&mut out, *value);
            }
            Request::WriteMultipleCoils { address, values } => {
                put_u16(&mut out, *address);
                put_u16(&mut out, quantity(values.len()));
                put_counted(&mut out, &pack_bits(values));
            }
            Request::WriteMultipleRegisters { address, values } => {
                put_u16(&mut out, *address);
                put_u16(&mut out, quantity(values.len()));
                put_counted(&mut out, &register_bytes(values));
            }
        }
        Ok(out)
    }

    /// Decodes and validates a request PDU (server side).
    pub fn decode(pdu: &[u8]) -> Result<Request, PduError> {
        let fc_byte = *pdu.first().ok_or(PduError::Empty)?;
        let function =
            FunctionCode::from_code(fc_byte).ok_or(PduError::UnsupportedFunction(fc_byte))?;
        let mut r = Reader::new(fc_byte, pdu);
        let address = r.u16()?;
        let request = match function {
            FunctionCode::ReadCoils => Request::ReadCoils {
                address,
                count: r.u16()?,
            },
            FunctionCode::ReadDiscreteInputs => Request::ReadDiscreteInputs {
                address,
                count: r.u16()?,
            },
            FunctionCode::ReadHoldingRegisters => Request::ReadHoldingRegisters {
                address,
                count: r.u16()?,
            },
            FunctionCode::ReadInputRegisters => Request::ReadInputRegisters {
                address,
                count: r.u16()?,
            },
            FunctionCode::WriteSingleCoil => Request::WriteSingleCoil {
                address,
                value: coil_value(r.u16()?)?,
            },
            FunctionCode::WriteSingleRegister => Request::WriteSingleRegister {
                address,
                value: r.u16()?,
            },
            FunctionCode::WriteMultipleCoils => {
                let count = r.u16()?;
                check_range(fc_byte, address, count, MAX_WRITE_COILS)?;
                let data = r.counted(bit_bytes(count))?;
                Request::WriteMultipleCoils {
                    address,
                    values: unpack_bits(data, count),
                }
            }
            FunctionCode::WriteMultipleRegisters => {
                let count = r.u16()?;
                check_range(fc_byte, address, count, MAX_WRITE_REGISTERS)?;
                let data = r.counted(usize::from(count) * 2)?;
                Request::WriteMultipleRegisters {
                    address,
                    values: unpack_registers(data),
                }
            }
        };
        r.finish()?;
        request.validate()?;
        Ok(request)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{ExceptionCode, Response};
    use super::*;

    /// One request of every function, with awkward addresses and counts.
    pub(crate) fn requests() -> Vec<Request> {
        vec![
            Request::ReadCoils {
                address: 19,
                count: 19,
            },
            Request::ReadDiscreteInputs {
                address: 0,
                count: MAX_READ_BITS,
            },
            Request::ReadHoldingRegisters {
                address: 10,
                count: 2,
            },
            Request::ReadInputRegisters {
                address: 0xFFFF,
                count: 1,
            },
            Request::WriteSingleCoil {
                address: 172,
                value: true,
            },
            Request::WriteSingleCoil {
                address: 3,
                value: false,
            },
            Request::WriteSingleRegister {
                address: 1,
                value: 0xABCD,
            },
            Request::WriteMultipleCoils {
                address: 19,
                values: vec![
                    true, false, true, true, false, false, true, true, true, false,
                ],
            },
            Request::WriteMultipleRegisters {
                address: 1,
                values: vec![0x000A, 0x0102],
            },
        ]
    }

    /// A plausible answer to each request.

    #[test]
    fn known_encodings_from_the_specification() {
        let read = Request::ReadHoldingRegisters {
            address: 0x006B,
            count: 3,
        };
        assert_eq!(read.encode().unwrap(), [0x03, 0x00, 0x6B, 0x00, 0x03]);
        let coils = Request::WriteMultipleCoils {
            address: 0x0013,
            values: vec![
                true, false, true, true, false, false, true, true, true, false,
            ],
        };
        assert_eq!(
            coils.encode().unwrap(),
            [0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01]
        );
        let single = Request::WriteSingleCoil {
            address: 0x00AC,
            value: true,
        };
        assert_eq!(single.encode().unwrap(), [0x05, 0x00, 0xAC, 0xFF, 0x00]);
        let regs = Response::ReadHoldingRegisters(vec![0x022B, 0x0000, 0x0064]);
        assert_eq!(
            regs.encode().unwrap(),
            [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64]
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        for request in requests() {
            let mut bytes = request.encode().unwrap();
            bytes.push(0);
            assert!(matches!(
                Request::decode(&bytes),
                Err(PduError::TrailingBytes { extra: 1, .. })
            ));
        }
    }

    #[test]
    fn quantity_limits() {
        let cases: [(u8, u16, u16); 4] = [
            (0x01, MAX_READ_BITS, 0),
            (0x03, MAX_READ_REGISTERS, 0),
            (0x0F, MAX_WRITE_COILS, 0),
            (0x10, MAX_WRITE_REGISTERS, 0),
        ];
        for (fc, max, address) in cases {
            for (count, ok) in [(0, false), (1, true), (max, true), (max + 1, false)] {
                let request = match fc {
                    0x01 => Request::ReadCoils { address, count },
                    0x03 => Request::ReadHoldingRegisters { address, count },
                    0x0F => Request::WriteMultipleCoils {
                        address,
                        values: vec![true; usize::from(count)],
                    },
                    _ => Request::WriteMultipleRegisters {
                        address,
                        values: vec![1; usize::from(count)],
                    },
                };
                assert_eq!(request.validate().is_ok(), ok, "fc {fc} count {count}");
                assert_eq!(request.encode().is_ok(), ok, "fc {fc} count {count}");
            }
        }
        // Hand-built requests: the decoder applies the same limits.
        assert!(matches!(
            Request::decode(&[0x03, 0, 0, 0, 126]),
            Err(PduError::InvalidQuantity { quantity: 126, .. })
        ));
        assert!(matches!(
            Request::decode(&[0x10, 0, 0, 0, 0, 0]),
            Err(PduError::InvalidQuantity { quantity: 0, .. })
        ));
        let too_many = Response::ReadInputRegisters(vec![0; 126]);
        assert!(too_many.encode().is_err());
    }

    #[test]
    fn request_decoding_errors_map_to_server_exceptions() {
        let unsupported = Request::decode(&[0x2B, 0x0E, 1, 0]).unwrap_err();
        assert_eq!(unsupported, PduError::UnsupportedFunction(0x2B));
        assert_eq!(
            unsupported.server_exception(),
            ExceptionCode::IllegalFunction
        );
        let overflow = Request::decode(&[0x03, 0xFF, 0xFF, 0, 2]).unwrap_err();
        assert_eq!(
            overflow.server_exception(),
            ExceptionCode::IllegalDataAddress
        );
        let bad_count = Request::decode(&[0x10, 0, 0, 0, 1, 3, 0, 1, 2]).unwrap_err();
        assert!(matches!(bad_count, PduError::ByteCountMismatch { .. }));
        assert_eq!(
            bad_count.server_exception(),
            ExceptionCode::IllegalDataValue
        );
        let bad_coil = Request::decode(&[0x05, 0, 0, 0x00, 0xFF]).unwrap_err();
        assert_eq!(bad_coil, PduError::InvalidCoilValue(0x00FF));
        assert_eq!(Request::decode(&[]), Err(PduError::Empty));
    }
}
