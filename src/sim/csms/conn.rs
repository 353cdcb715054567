//! The accept thread and one thread per station connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, TryRecvError};
use serde_json::{json, Value};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode};
use tungstenite::{Message, WebSocket};

use super::state::{Shared, OUTBOX_CAPACITY};
use super::{tls, Dir, Refusal};
use crate::ocpp::frame::{ErrorCode, Frame};
use crate::ocpp::SUBPROTOCOL;
use crate::util::time::rfc3339;

/// How long a client may take to send its upgrade request, and a peer to take our writes.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Read timeout of an upgraded connection: how late a queued CALL or a stop may be noticed.
const POLL: Duration = Duration::from_millis(100);

/// Back-off after a failed accept (e.g. out of file descriptors), so it cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);

/// Accepts connections until the simulator stops, then waits for their threads.
pub(super) fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for incoming in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(e) => {
                log::warn!("CSMS simulator: accept failed: {e}");
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        workers.retain(|w| !w.is_finished());
        match spawn_connection(stream, shared) {
            Ok(worker) => workers.push(worker),
            Err(e) => log::warn!("CSMS simulator: cannot serve a connection: {e}"),
        }
    }
    for worker in workers {
        if worker.join().is_err() {
            log::error!("CSMS simulator connection thread panicked");
        }
    }
}

fn spawn_connection(stream: TcpStream, shared: &Arc<Shared>) -> io::Result<JoinHandle<()>> {
    let peer = stream.peer_addr()?;
    let connection = shared.add_socket(stream.try_clone()?);
    let worker_shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name(format!("csms-conn-{connection}"))
        .spawn(move || {
            let station = serve(stream, peer, connection, &worker_shared);
            worker_shared.detach(station.as_deref(), connection);
        });
    if spawned.is_err() {
        shared.detach(None, connection);
    }
    spawned
}

/// Runs TLS (when serving `wss://`), upgrades and serves one connection; returns the station
/// identity if the upgrade succeeded.
fn serve(stream: TcpStream, peer: SocketAddr, connection: u64, shared: &Shared) -> Option<String> {
    // Timeouts belong to the socket, so this handle also sets them under a TLS session.
    let socket = stream.try_clone();
    let socket = match socket.and_then(|s| {
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(s)
    }) {
        Ok(socket) => socket,
        Err(e) => {
            log::warn!("CSMS simulator: cannot set timeouts for {peer}: {e}");
            return None;
        }
    };
    let Some(config) = &shared.tls else {
        return upgrade(stream, &socket, None, peer, connection, shared);
    };
    match tls::handshake(config, stream) {
        Ok(tls) => {
            let client_cert = tls::client_certificate(&tls);
            upgrade(tls, &socket, client_cert, peer, connection, shared)
        }
        Err(reason) => {
            shared.refuse(Refusal {
                ts: rfc3339(SystemTime::now()),
                peer,
                path: String::new(),
                reason,
            });
            None
        }
    }
}

/// Upgrades `stream` to a WebSocket and serves it; `socket` is its TCP socket.
// tungstenite's `Callback` fixes the upgrade closure's large error type; it is not ours to shrink.
#[allow(clippy::result_large_err)]
fn upgrade<S: Read + Write>(
    stream: S,
    socket: &TcpStream,
    client_cert: Option<Vec<u8>>,
    peer: SocketAddr,
    connection: u64,
    shared: &Shared,
) -> Option<String> {
    // The verdict takes effect inside the callback, before the client sees the HTTP answer,
    // so a client that got its 101 (or 400) finds the simulator's state already updated.
    let (outbox_tx, outbox) = crossbeam_channel::bounded(OUTBOX_CAPACITY);
    let mut attach = Some((outbox_tx, client_cert));
    let mut verdict: Option<Result<String, ()>> = None;
    let upgraded = tungstenite::accept_hdr(stream, |req: &Request, resp: Response| {
        let checked = check_upgrade(req)
            .map_err(|reason| (StatusCode::BAD_REQUEST, reason))
            .and_then(|station| {
                let credentials = req.headers().get(tungstenite::http::header::AUTHORIZATION);
                match shared.check_credentials(&station, credentials) {
                    Ok(()) => Ok(station),
                    Err(reason) => Err((StatusCode::UNAUTHORIZED, reason)),
                }
            });
        match checked {
            Ok(station) => {
                if let Some((tx, cert)) = attach.take() {
                    shared.attach(&station, connection, tx, cert);
                }
                verdict = Some(Ok(station));
                Ok(accept_response(resp))
            }
            Err((status, reason)) => {
                let refused = refusal_response(status, &reason);
                shared.refuse(Refusal {
                    ts: rfc3339(SystemTime::now()),
                    peer,
                    path: req.uri().path().to_owned(),
                    reason,
                });
                verdict = Some(Err(()));
                Err(refused)
            }
        }
    })
    .map_err(|e| e.to_string());
    let (mut ws, station) = match (upgraded, verdict) {
        (Ok(ws), Some(Ok(station))) => (ws, station),
        (Err(e), Some(Ok(station))) => {
            log::warn!("CSMS simulator: {station} upgrade from {peer} failed: {e}");
            return Some(station);
        }
        (_, Some(Err(()))) => return None,
        (upgraded, None) => {
            let reason = match upgraded {
                Err(e) => format!("WebSocket handshake failed: {e}"),
                Ok(_) => "upgraded without a request check".to_owned(),
            };
            shared.refuse(Refusal {
                ts: rfc3339(SystemTime::now()),
                peer,
                path: String::new(),
                reason,
            });
            return None;
        }
    };
    log::info!("CSMS simulator: {station} connected from {peer} (connection {connection})");
    let link = Link {
        shared,
        station: &station,
        connection,
    };
    if shared.lock().faults.opened(&station) {
        log::info!("CSMS simulator: closing {station} connection {connection} at once");
        let _ = ws.close(None);
        let _ = ws.flush();
        return Some(station);
    }
    let ended = match socket.set_read_timeout(Some(POLL)) {
        Ok(()) => link.run(&mut ws, &outbox),
        Err(e) => format!("cannot set the read timeout: {e}"),
    };
    log::info!("CSMS simulator: {station} connection {connection} ended: {ended}");
    Some(station)
}

/// Accepts the request if its path names a station and it offers OCPP 2.0.1; returns the
/// station identity or why the upgrade is refused.
fn check_upgrade(req: &Request) -> Result<String, String> {
    let path = req.uri().path();
    let station = path.rsplit('/').next().unwrap_or_default();
    if station.is_empty() {
        return Err(format!("no station identity at the end of path {path:?}"));
    }
    let offered: Vec<&str> = req
        .headers()
        .get_all(tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if !offered.contains(&SUBPROTOCOL) {
        return Err(format!(
            "client did not offer subprotocol {SUBPROTOCOL} (offered: {offered:?})"
        ));
    }
    Ok(station.to_owned())
}

fn accept_response(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    resp
}

fn refusal_response(status: StatusCode, reason: &str) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(reason.to_owned()));
    *resp.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            tungstenite::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"OCPP\""),
        );
    }
    resp
}

/// One upgraded station connection.
struct Link<'a> {
    shared: &'a Shared,
    station: &'a str,
    connection: u64,
}

impl Link<'_> {
    /// Serves the connection until it ends; returns why it ended.
    fn run<S: Read + Write>(&self, ws: &mut WebSocket<S>, outbox: &Receiver<Frame>) -> String {
        loop {
            if self.shared.stopping.load(Ordering::SeqCst) {
                return "simulator stopping".to_owned();
            }
            loop {
                match outbox.try_recv() {
                    Ok(frame) => {
                        if let Err(e) = self.send(ws, &frame) {
                            return format!("send failed: {e}");
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        return "disconnected by the simulator".to_owned()
                    }
                }
            }
            match ws.read() {
                Ok(Message::Text(text)) => {
                    if let Some(reply) = self.on_text(text.as_str()) {
                        if let Err(e) = self.send(ws, &reply) {
                            return format!("send failed: {e}");
                        }
                    }
                }
                Ok(Message::Binary(_)) => {
                    log::warn!(
                        "CSMS simulator: {} sent a binary message; ignored",
                        self.station
                    )
                }
                Ok(Message::Close(frame)) => {
                    let code = frame.map(|f| u16::from(f.code));
                    self.shared.lock().faults.closed(self.station, code);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return e.to_string(),
            }
        }
    }

    /// Records, then sends: whatever a station has received is already in the log.
    fn send<S: Read + Write>(
        &self,
        ws: &mut WebSocket<S>,
        frame: &Frame,
    ) -> tungstenite::Result<()> {
        self.shared
            .record(self.station, Dir::Out, self.connection, frame.to_value());
        ws.send(Message::text(frame.to_text()))
    }

    /// Records an incoming message and returns the answer it needs, if any.
    fn on_text(&self, text: &str) -> Option<Frame> {
        let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
        self.shared
            .record(self.station, Dir::In, self.connection, value);
        match Frame::parse(text) {
            Ok(Frame::Call {
                id,
                action,
                payload,
            }) => {
                if self.shared.lock().faults.withhold(self.station, &action) {
                    log::info!("CSMS simulator: withholding the answer to {action} {id}");
                    return None;
                }
                Some(self.answer(&id, &action, &payload))
            }
            // Answers to our CALLs are only recorded.
            Ok(_) => None,
            Err(e) => {
                log::warn!("CSMS simulator: {}: {e}", self.station);
                e.reply()
            }
        }
    }

    fn answer(&self, id: &str, action: &str, request: &Value) -> Frame {
        let now = rfc3339(SystemTime::now());
        let payload = match action {
            "BootNotification" => {
                let boot = self.shared.boot_answer(self.station);
                json!({"currentTime": now, "interval": boot.interval, "status": boot.status.as_str()})
            }
            "Heartbeat" => json!({ "currentTime": now }),
            "Authorize" => json!({"idTokenInfo": {"status": "Accepted"}}),
            "TransactionEvent" => self.transaction_event_answer(request),
            "StatusNotification"
            | "MeterValues"
            | "NotifyEvent"
            | "NotifyReport"
            | "SecurityEventNotification"
            | "LogStatusNotification"
            | "FirmwareStatusNotification" => json!({}),
            _ => {
                return Frame::error(
                    id,
                    ErrorCode::NotImplemented,
                    format!("{action} is not implemented by the CSMS simulator"),
                )
            }
        };
        Frame::CallResult {
            id: id.to_owned(),
            payload,
        }
    }

    /// The verdict set with `CsmsSim::set_transaction_token_status` for the event's idToken.
    fn transaction_event_answer(&self, request: &Value) -> Value {
        let status = request["idToken"]["idToken"].as_str().and_then(|token| {
            self.shared
                .lock()
                .transaction_token_status
                .get(token)
                .cloned()
        });
        match status {
            Some(status) => json!({"idTokenInfo": {"status": status}}),
            None => json!({}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, protocols: &[&str]) -> Request {
        let mut builder = Request::builder().uri(path);
        for p in protocols {
            builder = builder.header("Sec-WebSocket-Protocol", *p);
        }
        builder.body(()).expect("static request")
    }

    #[test]
    fn identity_is_the_last_path_segment() {
        assert_eq!(
            check_upgrade(&request("/ocpp/CP1", &["ocpp2.0.1"])),
            Ok("CP1".into())
        );
        assert_eq!(
            check_upgrade(&request("/a/b/CP-2", &["ocpp2.0.1"])),
            Ok("CP-2".into())
        );
        let refused = check_upgrade(&request("/ocpp/", &["ocpp2.0.1"]));
        assert!(refused.is_err_and(|r| r.contains("no station identity")));
    }

    #[test]
    fn subprotocol_must_be_offered_in_any_position() {
        assert!(check_upgrade(&request("/CP1", &["ocpp1.6, ocpp2.0.1"])).is_ok());
        assert!(check_upgrade(&request("/CP1", &["ocpp1.6", "ocpp2.0.1"])).is_ok());
        for offered in [&[][..], &["ocpp1.6"][..], &["ocpp2.0"][..]] {
            let refused = check_upgrade(&request("/CP1", offered));
            assert!(
                refused.is_err_and(|r| r.contains("did not offer")),
                "{offered:?}"
            );
        }
    }
}
