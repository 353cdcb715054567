//! A blocking Modbus TCP client: one request in flight, answered or timed out before the next.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::error::ModbusError;
use super::mbap;
use super::pdu::{PduError, Request, Response};
use crate::device::{ModbusTable, RawValue};

/// Largest read per syscall: one maximal MBAP frame.
const READ_CHUNK: usize = mbap::HEADER_LEN + super::pdu::MAX_PDU_LEN;
/// Transaction ids this far behind the current one count as late answers, not protocol errors.
const STALE_WINDOW: u16 = 0x7FFF;

/// A connection to one Modbus TCP endpoint, shared by every unit id behind it.
#[derive(Debug)]
pub struct TcpClient {
    stream: TcpStream,
    endpoint: String,
    response_timeout: Duration,
    next_tid: u16,
    /// Bytes read but not yet framed.
    rx: Vec<u8>,
    /// Set after an error that leaves the stream in an unknown state.
    broken: bool,
}

impl TcpClient {
    /// Connects to `host:port`, trying each resolved address within `connect_timeout`.
    pub fn connect(
        host: &str,
        port: u16,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<TcpClient, ModbusError> {
        let endpoint = format!("{host}:{port}");
        let connect_error = |source| ModbusError::Connect {
            endpoint: endpoint.clone(),
            source,
        };
        let mut last_error = None;
        for addr in (host, port).to_socket_addrs().map_err(connect_error)? {
            match TcpStream::connect_timeout(&addr, connect_timeout) {
                Ok(stream) => {
                    // Requests are small and latency-bound; Nagle would only add delay.
                    stream.set_nodelay(true).map_err(connect_error)?;
                    // A zero timeout means "block forever" to the OS, so keep at least 1 ms.
                    let write_timeout = response_timeout.max(Duration::from_millis(1));
                    stream
                        .set_write_timeout(Some(write_timeout))
                        .map_err(connect_error)?;
                    return Ok(TcpClient {
                        stream,
                        endpoint,
                        response_timeout,
                        next_tid: 1,
                        rx: Vec::with_capacity(READ_CHUNK),
                        broken: false,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(connect_error(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "host resolved to no address")
        })))
    }

    /// The `host:port` this client is connected to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// True once an I/O, timeout or framing error has made the connection unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Sends one request and waits for its answer; exceptions become `ModbusError::Exception`.
    fn request(&mut self, unit: u8, request: &Request) -> Result<Response, ModbusError> {
        if self.broken {
            return Err(ModbusError::Disconnected);
        }
        let pdu = request.encode()?;
        let tid = self.next_tid;
        self.next_tid = tid.wrapping_add(1);
        let frame = mbap::encode(tid, unit, &pdu)?;
        let result = self.exchange(tid, unit, &frame, request);
        if let Err(e) = &result {
            if breaks_connection(e) {
                self.broken = true;
            }
        }
        match result? {
            Response::Exception { code, .. } => Err(ModbusError::Exception(code)),
            response => Ok(response),
        }
    }

    fn exchange(
        &mut self,
        tid: u16,
        unit: u8,
        frame: &[u8],
        request: &Request,
    ) -> Result<Response, ModbusError> {
        let deadline = Instant::now() + self.response_timeout;
        self.stream.write_all(frame).map_err(timeout_or_io)?;
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            while let Some((got, used)) = mbap::decode(&self.rx)? {
                let answer = if got.transaction_id == tid {
                    if got.unit_id != unit {
                        Some(Err(ModbusError::UnitMismatch {
                            expected: unit,
                            actual: got.unit_id,
                        }))
                    } else {
                        Some(Response::decode(request, got.pdu).map_err(ModbusError::from))
                    }
                } else if is_stale(tid, got.transaction_id) {
                    log::debug!(
                        "{}: discarding late response with transaction id {} (waiting for {tid})",
                        self.endpoint,
                        got.transaction_id
                    );
                    None
                } else {
                    Some(Err(ModbusError::UnknownTransaction {
                        expected: tid,
                        actual: got.transaction_id,
                    }))
                };
                self.rx.drain(..used);
                if let Some(answer) = answer {
                    return answer;
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ModbusError::Timeout);
            }
            self.stream.set_read_timeout(Some(remaining))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ModbusError::Disconnected),
                Ok(n) => self.rx.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(timeout_or_io(e)),
            }
        }
    }
}

/// True when `got` is an id sent earlier on this connection than `current`.
fn is_stale(current: u16, got: u16) -> bool {
    (1..=STALE_WINDOW).contains(&current.wrapping_sub(got))
}

/// Socket timeouts surface as WouldBlock or TimedOut depending on the platform.
fn timeout_or_io(e: io::Error) -> ModbusError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ModbusError::Timeout,
        _ => ModbusError::Io(e),
    }
}

/// Errors after which the byte stream can no longer be trusted to be in sync.
fn breaks_connection(e: &ModbusError) -> bool {
    matches!(
        e,
        ModbusError::Io(_)
            | ModbusError::Timeout
            | ModbusError::Frame(_)
            | ModbusError::UnknownTransaction { .. }
            | ModbusError::Disconnected
    )
}

/// One Modbus request at a time to a unit, over TCP or a serial line; the reads and writes
/// every caller needs are built on the one request each transport implements.
pub trait ModbusClient {
    /// Sends `request` to `unit` and waits for the answer; `None` for a broadcast, which no
    /// unit answers. Exception responses are `ModbusError::Exception`.
    fn transact(&mut self, unit: u8, request: &Request) -> Result<Option<Response>, ModbusError>;

    /// Reads `count` registers (input/holding) or bits (coil/discrete) starting at `address`.
    fn read(
        &mut self,
        unit: u8,
        table: ModbusTable,
        address: u16,
        count: u16,
    ) -> Result<RawValue, ModbusError> {
        let request = Request::read(table, address, count);
        let response = self.transact(unit, &request)?;
        let actual = response.as_ref().map_or(0, Response::function_code);
        // Nobody answers a broadcast, so a broadcast read has nothing to show.
        response
            .and_then(Response::into_raw)
            .ok_or(ModbusError::Pdu(PduError::FunctionMismatch {
                expected: request.function().code(),
                actual,
            }))
    }

    /// Writes holding registers: FC06 for one value, FC16 for more.
    fn write_registers(
        &mut self,
        unit: u8,
        address: u16,
        values: &[u16],
    ) -> Result<(), ModbusError> {
        self.transact(unit, &Request::write_registers(address, values))
            .map(drop)
    }

    /// Writes coils: FC05 for one value, FC15 for more.
    fn write_coils(&mut self, unit: u8, address: u16, values: &[bool]) -> Result<(), ModbusError> {
        self.transact(unit, &Request::write_coils(address, values))
            .map(drop)
    }
}

impl ModbusClient for TcpClient {
    fn transact(&mut self, unit: u8, request: &Request) -> Result<Option<Response>, ModbusError> {
        self.request(unit, request).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::pdu::ExceptionCode;
    use std::net::TcpListener;
    use std::thread;

    /// A one-connection server: for each request read, `script` returns the bytes to send back.
    fn scripted_server<F>(mut script: F) -> (u16, thread::JoinHandle<()>)
    where
        F: FnMut(u16, u8, &[u8]) -> Option<Vec<u8>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut rx = Vec::new();
            let mut chunk = [0u8; 512];
            loop {
                let n = match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                rx.extend_from_slice(&chunk[..n]);
                while let Some((frame, used)) = mbap::decode(&rx).unwrap() {
                    let reply = script(frame.transaction_id, frame.unit_id, frame.pdu);
                    rx.drain(..used);
                    match reply {
                        Some(bytes) => stream.write_all(&bytes).unwrap(),
                        None => return,
                    }
                }
            }
        });
        (port, handle)
    }

    fn connect(port: u16, response_timeout: Duration) -> TcpClient {
        TcpClient::connect("127.0.0.1", port, Duration::from_secs(5), response_timeout).unwrap()
    }

    fn frame(tid: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
        mbap::encode(tid, unit, pdu).unwrap()
    }

    #[test]
    fn stale_transaction_is_skipped() {
        let (port, server) = scripted_server(|tid, unit, _| {
            let mut bytes = frame(tid.wrapping_sub(1), unit, &[0x03, 2, 0xDE, 0xAD]);
            bytes.extend(frame(tid, unit, &[0x03, 2, 0x00, 0x2A]));
            Some(bytes)
        });
        let mut client = connect(port, Duration::from_secs(10));
        let value = client.read(3, ModbusTable::HoldingRegister, 0, 1).unwrap();
        assert_eq!(value, RawValue::Registers(vec![42]));
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn transaction_ids_increment_and_bytes_may_trickle_in() {
        let (port, server) =
            scripted_server(|tid, unit, _| Some(frame(tid, unit, &[0x01, 1, 0b101])));
        let mut client = connect(port, Duration::from_secs(10));
        for _ in 0..3 {
            let bits = client.read(1, ModbusTable::Coil, 0, 3).unwrap();
            assert_eq!(bits, RawValue::Bits(vec![true, false, true]));
        }
        assert_eq!(client.next_tid, 4);
        drop(client);
        server.join().unwrap();

        // The same answer split into single bytes across many segments.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_nodelay(true).unwrap();
            let mut request = [0u8; 12];
            stream.read_exact(&mut request).unwrap();
            let tid = u16::from_be_bytes([request[0], request[1]]);
            for byte in frame(tid, 1, &[0x04, 4, 0, 1, 0, 2]) {
                stream.write_all(&[byte]).unwrap();
                stream.flush().unwrap();
            }
        });
        let mut client = connect(port, Duration::from_secs(10));
        let regs = client.read(1, ModbusTable::InputRegister, 7, 2).unwrap();
        assert_eq!(regs, RawValue::Registers(vec![1, 2]));
        server.join().unwrap();
    }

    #[test]
    fn wrong_unit_is_a_typed_error() {
        let (port, server) =
            scripted_server(|tid, unit, _| Some(frame(tid, unit + 1, &[0x06, 0, 1, 0, 9])));
        let mut client = connect(port, Duration::from_secs(10));
        let err = client.write_registers(5, 1, &[9]).unwrap_err();
        assert!(matches!(
            err,
            ModbusError::UnitMismatch {
                expected: 5,
                actual: 6
            }
        ));
        assert!(
            !client.is_broken(),
            "framing is intact after a unit mismatch"
        );
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn exception_keeps_the_connection() {
        let (port, server) = scripted_server(|tid, unit, pdu| {
            let fc = pdu[0];
            if fc == 0x0F {
                Some(frame(tid, unit, &[0x8F, 0x02]))
            } else {
                Some(frame(tid, unit, &[0x05, 0, 4, 0xFF, 0]))
            }
        });
        let mut client = connect(port, Duration::from_secs(10));
        let err = client.write_coils(1, 4, &[true, false]).unwrap_err();
        assert!(matches!(
            err,
            ModbusError::Exception(ExceptionCode::IllegalDataAddress)
        ));
        assert!(!client.is_broken());
        client.write_coils(1, 4, &[true]).unwrap();
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn timeout_breaks_the_connection() {
        let (port, server) = scripted_server(|_, _, _| Some(Vec::new()));
        let mut client = connect(port, Duration::from_millis(100));
        let err = client
            .read(1, ModbusTable::HoldingRegister, 0, 1)
            .unwrap_err();
        assert!(matches!(err, ModbusError::Timeout), "{err:?}");
        assert!(client.is_broken());
        let err = client
            .read(1, ModbusTable::HoldingRegister, 0, 1)
            .unwrap_err();
        assert!(matches!(err, ModbusError::Disconnected), "{err:?}");
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn peer_close_is_disconnected() {
        let (port, server) = scripted_server(|_, _, _| None);
        let mut client = connect(port, Duration::from_secs(10));
        let err = client
            .read(1, ModbusTable::DiscreteInput, 0, 1)
            .unwrap_err();
        assert!(
            matches!(err, ModbusError::Disconnected | ModbusError::Io(_)),
            "{err:?}"
        );
        assert!(client.is_broken());
        server.join().unwrap();
    }

    #[test]
    fn garbage_and_unknown_transactions_break_the_connection() {
        let (port, server) = scripted_server(|tid, unit, _| {
            Some(frame(tid.wrapping_add(5), unit, &[0x03, 2, 0, 0]))
        });
        let mut client = connect(port, Duration::from_secs(10));
        let err = client
            .read(1, ModbusTable::HoldingRegister, 0, 1)
            .unwrap_err();
        assert!(matches!(
            err,
            ModbusError::UnknownTransaction {
                expected: 1,
                actual: 6
            }
        ));
        assert!(client.is_broken());
        drop(client);
        server.join().unwrap();

        let (port, server) = scripted_server(|_, _, _| Some(vec![0, 1, 0, 7, 0, 3, 1, 3, 0]));
        let mut client = connect(port, Duration::from_secs(10));
        let err = client
            .read(1, ModbusTable::HoldingRegister, 0, 1)
            .unwrap_err();
        assert!(matches!(err, ModbusError::Frame(_)), "{err:?}");
        assert!(client.is_broken());
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn malformed_response_is_a_pdu_error() {
        let (port, server) =
            scripted_server(|tid, unit, _| Some(frame(tid, unit, &[0x03, 4, 0, 1, 0, 2])));
        let mut client = connect(port, Duration::from_secs(10));
        let err = client
            .read(1, ModbusTable::HoldingRegister, 0, 1)
            .unwrap_err();
        assert!(matches!(err, ModbusError::Pdu(_)), "{err:?}");
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn invalid_requests_fail_locally() {
        let (port, server) = scripted_server(|_, _, _| None);
        let mut client = connect(port, Duration::from_secs(10));
        let err = client
            .read(1, ModbusTable::HoldingRegister, 0, 126)
            .unwrap_err();
        assert!(matches!(err, ModbusError::Pdu(_)), "{err:?}");
        let err = client.write_registers(1, 0, &[]).unwrap_err();
        assert!(matches!(err, ModbusError::Pdu(_)), "{err:?}");
        assert!(!client.is_broken());
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn connect_failure_names_the_endpoint() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = TcpClient::connect(
            "127.0.0.1",
            port,
            Duration::from_secs(5),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ModbusError::Connect { endpoint, .. } if endpoint.ends_with(&format!(":{port}")))
        );
    }

    #[test]
    fn stale_window() {
        assert!(is_stale(10, 9));
        assert!(is_stale(0, 0xFFFF));
        assert!(!is_stale(10, 10));
        assert!(!is_stale(10, 11));
    }
}
