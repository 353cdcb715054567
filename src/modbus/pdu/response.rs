//! Responses: encoded by the server, decoded by the client against the request it sent.

use crate::device::RawValue;

use super::wire::{
    bit_bytes, check_quantity, check_range, coil_value, expect_echo, pack_bits, put_counted,
    put_u16, quantity, register_bytes, unpack_bits, unpack_registers, Reader, COIL_OFF, COIL_ON,
    EXCEPTION_FLAG,
};
use super::{
    ExceptionCode, FunctionCode, PduError, Request, MAX_READ_BITS, MAX_READ_REGISTERS,
    MAX_WRITE_COILS, MAX_WRITE_REGISTERS,
};

/// A server response, including exception responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    ReadCoils(Vec<bool>),
    ReadDiscreteInputs(Vec<bool>),
    ReadHoldingRegisters(Vec<u16>),
    ReadInputRegisters(Vec<u16>),
    WriteSingleCoil {
        address: u16,
        value: bool,
    },
    WriteSingleRegister {
        address: u16,
        value: u16,
    },
    WriteMultipleCoils {
        address: u16,
        count: u16,
    },
    WriteMultipleRegisters {
        address: u16,
        count: u16,
    },
    /// `function` is the request's function byte, without the exception flag.
    Exception {
        function: u8,
        code: ExceptionCode,
    },
}

impl Response {
    /// The registers or bits a read returned; `None` for any other response.
    pub fn into_raw(self) -> Option<RawValue> {
        match self {
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                Some(RawValue::Bits(bits))
            }
            Response::ReadHoldingRegisters(regs) | Response::ReadInputRegisters(regs) => {
                Some(RawValue::Registers(regs))
            }
            _ => None,
        }
    }

    /// The function byte this response answers (without the exception flag).
    pub fn function_code(&self) -> u8 {
        let function = match self {
            Response::ReadCoils(_) => FunctionCode::ReadCoils,
            Response::ReadDiscreteInputs(_) => FunctionCode::ReadDiscreteInputs,
            Response::ReadHoldingRegisters(_) => FunctionCode::ReadHoldingRegisters,
            Response::ReadInputRegisters(_) => FunctionCode::ReadInputRegisters,
            Response::WriteSingleCoil { .. } => FunctionCode::WriteSingleCoil,
            Response::WriteSingleRegister { .. } => FunctionCode::WriteSingleRegister,
            Response::WriteMultipleCoils { .. } => FunctionCode::WriteMultipleCoils,
            Response::WriteMultipleRegisters { .. } => FunctionCode::WriteMultipleRegisters,
            Response::Exception { function, .. } => return *function,
        };
        function.code()
    }

    /// Encodes the response PDU (server side), refusing contents no client could accept.
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::new();
        match self {
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                let fc = self.function_code();
                check_quantity(fc, quantity(bits.len()), MAX_READ_BITS)?;
                out.push(fc);
                put_counted(&mut out, &pack_bits(bits));
            }
            Response::ReadHoldingRegisters(regs) | Response::ReadInputRegisters(regs) => {
                let fc = self.function_code();
                check_quantity(fc, quantity(regs.len()), MAX_READ_REGISTERS)?;
                out.push(fc);
                put_counted(&mut out, &register_bytes(regs));
            }
            Response::WriteSingleCoil { address, value } => {
                out.push(FunctionCode::WriteSingleCoil.code());
                put_u16(&mut out, *address);
                put_u16(&mut out, if *value { COIL_ON } else { COIL_OFF });
            }
            Response::WriteSingleRegister { address, value } => {
                out.push(FunctionCode::WriteSingleRegister.code());
                put_u16(&mut out, *address);
                put_u16(&mut out, *value);
            }
            Response::WriteMultipleCoils { address, count } => {
                let fc = FunctionCode::WriteMultipleCoils.code();
                check_range(fc, *address, *count, MAX_WRITE_COILS)?;
                out.push(fc);
                put_u16(&mut out, *address);
                put_u16(&mut out, *count);
            }
            Response::WriteMultipleRegisters { address, count } => {
                let fc = FunctionCode::WriteMultipleRegisters.code();
                check_range(fc, *address, *count, MAX_WRITE_REGISTERS)?;
                out.push(fc);
                put_u16(&mut out, *address);
                put_u16(&mut out, *count);
            }
            Response::Exception { function, code } => {
                if function & EXCEPTION_FLAG != 0 {
                    return Err(PduError::InvalidExceptionFunction(*function));
                }
                out.push(function | EXCEPTION_FLAG);
                out.push(code.code());
            }
        }
        Ok(out)
    }

    /// Decodes the response PDU to `request`, checking that it answers exactly that request.
    pub fn decode(request: &Request, pdu: &[u8]) -> Result<Response, PduError> {
        let expected = request.function().code();
        let fc_byte = *pdu.first().ok_or(PduError::Empty)?;
        if fc_byte == expected | EXCEPTION_FLAG {
            let mut r = Reader::new(fc_byte, pdu);
            let code = ExceptionCode::from_code(r.u8()?);
            r.finish()?;
            return Ok(Response::Exception {
                function: expected,
                code,
            });
        }
        if fc_byte != expected {
            return Err(PduError::FunctionMismatch {
                expected,
                actual: fc_byte,
            });
        }
        let mut r = Reader::new(fc_byte, pdu);
        let response = match request {
            Request::ReadCoils { count, .. } | Request::ReadDiscreteInputs { count, .. } => {
                let bits = unpack_bits(r.counted(bit_bytes(*count))?, *count);
                if matches!(request, Request::ReadCoils { .. }) {
                    Response::ReadCoils(bits)
                } else {
                    Response::ReadDiscreteInputs(bits)
                }
            }
            Request::ReadHoldingRegisters { count, .. }
            | Request::ReadInputRegisters { count, .. } => {
                let regs = unpack_registers(r.counted(usize::from(*count) * 2)?);
                if matches!(request, Request::ReadHoldingRegisters { .. }) {
                    Response::ReadHoldingRegisters(regs)
                } else {
                    Response::ReadInputRegisters(regs)
                }
            }
            Request::WriteSingleCoil { address, value } => {
                let echo = (r.u16()?, coil_value(r.u16()?)?);
                expect_echo(fc_byte, echo == (*address, *value))?;
                Response::WriteSingleCoil {
                    address: echo.0,
                    value: echo.1,
                }
            }
            Request::WriteSingleRegister { address, value } => {
                let echo = (r.u16()?, r.u16()?);
                expect_echo(fc_byte, echo == (*address, *value))?;
                Response::WriteSingleRegister {
                    address: echo.0,
                    value: echo.1,
                }
            }
            Request::WriteMultipleCoils { address, values } => {
                let echo = (r.u16()?, r.u16()?);
                expect_echo(fc_byte, echo == (*address, quantity(values.len())))?;
                Response::WriteMultipleCoils {
                    address: echo.0,
                    count: echo.1,
                }
            }
            Request::WriteMultipleRegisters { address, values } => {
                let echo = (r.u16()?, r.u16()?);
                expect_echo(fc_byte, echo == (*address, quantity(values.len())))?;
                Response::WriteMultipleRegisters {
                    address: echo.0,
                    count: echo.1,
                }
            }
        };
        r.finish()?;
        Ok(response)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::request::tests::requests;
    use super::*;
    use crate::util::rng::Rng;

    /// A plausible answer to `request`, shared with the RTU framing tests.
    pub(crate) fn response_to(request: &Request) -> Response {
        match request {
            Request::ReadCoils { count, .. } => {
                Response::ReadCoils((0..*count).map(|i| i % 3 == 0).collect())
            }
            Request::ReadDiscreteInputs { count, .. } => {
                Response::ReadDiscreteInputs((0..*count).map(|i| i % 5 == 1).collect())
            }
            Request::ReadHoldingRegisters { count, .. } => {
                Response::ReadHoldingRegisters((0..*count).map(|i| i * 257).collect())
            }
            Request::ReadInputRegisters { count, .. } => {
                Response::ReadInputRegisters((0..*count).map(|i| !i).collect())
            }
            Request::WriteSingleCoil { address, value } => Response::WriteSingleCoil {
                address: *address,
                value: *value,
            },
            Request::WriteSingleRegister { address, value } => Response::WriteSingleRegister {
                address: *address,
                value: *value,
            },
            Request::WriteMultipleCoils { address, values } => Response::WriteMultipleCoils {
                address: *address,
                count: quantity(values.len()),
            },
            Request::WriteMultipleRegisters { address, values } => {
                Response::WriteMultipleRegisters {
                    address: *address,
                    count: quantity(values.len()),
                }
            }
        }
    }

    #[test]
    fn every_function_round_trips_both_sides() {
        for request in requests() {
            let bytes = request.encode().unwrap();
            assert_eq!(Request::decode(&bytes).unwrap(), request);
            let response = response_to(&request);
            let bytes = response.encode().unwrap();
            assert_eq!(Response::decode(&request, &bytes).unwrap(), response);
            assert_eq!(response.function_code(), request.function().code());
        }
    }

    #[test]
    fn truncated_pdus_fail_at_every_length() {
        for request in requests() {
            let bytes = request.encode().unwrap();
            for len in 0..bytes.len() {
                assert!(
                    Request::decode(&bytes[..len]).is_err(),
                    "{request:?} cut at {len}"
                );
            }
            let bytes = response_to(&request).encode().unwrap();
            for len in 0..bytes.len() {
                assert!(
                    Response::decode(&request, &bytes[..len]).is_err(),
                    "response to {request:?} cut at {len}"
                );
            }
        }
    }

    #[test]
    fn exception_responses() {
        let request = Request::ReadInputRegisters {
            address: 0,
            count: 1,
        };
        for raw in [1u8, 2, 3, 4, 5, 6, 8, 10, 11, 0x42] {
            let code = ExceptionCode::from_code(raw);
            assert_eq!(code.code(), raw);
            let response = Response::Exception { function: 4, code };
            let bytes = response.encode().unwrap();
            assert_eq!(bytes, [0x84, raw]);
            assert_eq!(Response::decode(&request, &bytes).unwrap(), response);
        }
        assert_eq!(ExceptionCode::from_code(0x42), ExceptionCode::Other(0x42));
        assert_eq!(
            Response::decode(&request, &[0x84, 2, 0]),
            Err(PduError::TrailingBytes {
                function: 0x84,
                extra: 1
            })
        );
        assert_eq!(
            Response::decode(&request, &[0x83, 2]),
            Err(PduError::FunctionMismatch {
                expected: 4,
                actual: 0x83
            })
        );
        let bad = Response::Exception {
            function: 0x83,
            code: ExceptionCode::IllegalFunction,
        };
        assert_eq!(bad.encode(), Err(PduError::InvalidExceptionFunction(0x83)));
    }

    #[test]
    fn response_must_answer_the_request() {
        let request = Request::ReadHoldingRegisters {
            address: 10,
            count: 2,
        };
        assert_eq!(
            Response::decode(&request, &[0x04, 4, 0, 1, 0, 2]),
            Err(PduError::FunctionMismatch {
                expected: 3,
                actual: 4
            })
        );
        assert!(matches!(
            Response::decode(&request, &[0x03, 2, 0, 1]),
            Err(PduError::ByteCountMismatch {
                expected: 4,
                actual: 2,
                ..
            })
        ));
        let write = Request::WriteSingleRegister {
            address: 5,
            value: 7,
        };
        assert_eq!(
            Response::decode(&write, &[0x06, 0, 5, 0, 8]),
            Err(PduError::EchoMismatch { function: 6 })
        );
        let multi = Request::WriteMultipleRegisters {
            address: 5,
            values: vec![1, 2],
        };
        assert_eq!(
            Response::decode(&multi, &[0x10, 0, 5, 0, 3]),
            Err(PduError::EchoMismatch { function: 0x10 })
        );
        let coil = Request::WriteSingleCoil {
            address: 5,
            value: true,
        };
        assert_eq!(
            Response::decode(&coil, &[0x05, 0, 5, 0x12, 0x34]),
            Err(PduError::InvalidCoilValue(0x1234))
        );
        let bits = Request::ReadCoils {
            address: 0,
            count: 9,
        };
        assert!(matches!(
            Response::decode(&bits, &[0x01, 1, 0xFF]),
            Err(PduError::ByteCountMismatch { expected: 2, .. })
        ));
        assert_eq!(
            Response::decode(&bits, &[0x01, 2, 0xFF, 0xFF]).unwrap(),
            Response::ReadCoils(vec![true; 9]),
            "padding bits beyond the count are dropped"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng::seeded(0x5EED);
        let all = requests();
        for _ in 0..20_000 {
            let len = rng.below(260) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            // Bias the first byte toward real function codes so deeper paths are exercised.
            if let Some(first) = bytes.first_mut() {
                *first = [1u8, 2, 3, 4, 5, 6, 15, 16, 0x83, *first][rng.below(10) as usize];
            }
            if let Ok(request) = Request::decode(&bytes) {
                let again = request.encode().unwrap();
                assert_eq!(Request::decode(&again).unwrap(), request);
            }
            let request = &all[rng.below(all.len() as u64) as usize];
            let _ = Response::decode(request, &bytes);
        }
    }
}
