//! `ocpp-gw diag csms`: resolves, connects, checks TLS and the WebSocket upgrade with the
//! `ocpp2.0.1` subprotocol, exactly as a station of this config would, and says which step
//! failed and what that usually means. It sends no OCPP message.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::Connector;

use crate::config::Config;
use crate::hub::charger_specs;
use crate::ocpp::link::{upgrade_request, ConnectParams};
use crate::ocpp::SUBPROTOCOL;

/// Limit for each blocking step.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// How one step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    Failed(String),
    /// Not run: not needed, or an earlier step failed.
    Skipped(String),
}

/// The steps of one check, in order.
#[derive(Debug, Clone)]
pub struct Report {
    pub url: String,
    pub station: String,
    pub steps: Vec<(&'static str, Outcome)>,
}

impl Report {
    /// True when no step failed.
    pub fn ok(&self) -> bool {
        !self
            .steps
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Failed(_)))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = format!("CSMS check for station {}: ", self.station);
        writeln!(f, "{}", super::wrap(&head, &self.url, super::WIDTH))?;
        for (name, outcome) in &self.steps {
            let (word, text) = match outcome {
                Outcome::Ok(t) => ("ok", t),
                Outcome::Failed(t) => ("FAILED", t),
                Outcome::Skipped(t) => ("-", t),
            };
            let prefix = format!("  {name:<10} {word:<7} ");
            writeln!(f, "{}", super::wrap(&prefix, text, super::WIDTH))?;
        }
        if self.ok() {
            write!(
                f,
                "result: the CSMS accepts a WebSocket for {}",
                self.station
            )
        } else {
            write!(
                f,
                "result: a station of this config cannot connect (see FAILED above)"
            )
        }
    }
}

/// Checks the CSMS link of `station` (default: the first configured device's station).
pub fn run(config: &Config, station: Option<&str>) -> Report {
    let tls = match crate::daemon::tls_config(config) {
        Ok(tls) => tls,
        Err(e) => {
            return Report {
                url: config.csms.url.clone(),
                station: station.unwrap_or("-").to_string(),
                steps: vec![("tls", Outcome::Failed(e.to_string()))],
            }
        }
    };
    let specs = charger_specs(config, tls.clone(), &mut 1);
    let spec = specs
        .iter()
        .find(|s| station.map_or(true, |id| s.station.ocpp_id == id));
    let (id, params) = match spec {
        Some(spec) => (spec.station.ocpp_id.clone(), spec.connect.clone()),
        // A station that is not configured: same CSMS, TLS settings and no credentials.
        None => {
            let id = station.unwrap_or("ocpp-gw-diag").to_string();
            let params = ConnectParams {
                url: format!("{}/{id}", config.csms.url),
                basic_auth: None,
                tls,
                ping_interval: None,
                connect_timeout: STEP_TIMEOUT,
            };
            (id, params)
        }
    };
    check(&id, &params)
}

/// Runs every step for one station's connection parameters.
pub fn check(station: &str, params: &ConnectParams) -> Report {
    let mut report = Report {
        url: params.url.clone(),
        station: station.to_string(),
        steps: Vec::new(),
    };
    let skip_rest = |report: &mut Report, from: &[&'static str]| {
        for name in from {
            report
                .steps
                .push((name, Outcome::Skipped("not tried".into())));
        }
    };
    let request = match params.url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            report.steps.push(("url", Outcome::Failed(e.to_string())));
            return report;
        }
    };
    let uri = request.uri();
    let secure = uri.scheme_str() == Some("wss");
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });

    let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            report.steps.push((
                "resolve",
                Outcome::Failed(format!(
                    "{host}: {e} (check DNS and the host name in csms.url)"
                )),
            ));
            skip_rest(&mut report, &["tcp", "tls", "websocket"]);
            return report;
        }
    };
    let listed: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    report.steps.push((
        "resolve",
        Outcome::Ok(format!("{host} -> {}", listed.join(", "))),
    ));

    let (tcp, addr) = match connect_any(&addrs) {
        Ok(found) => found,
        Err(e) => {
            report
                .steps
                .push(("tcp", Outcome::Failed(tcp_hint(port, &e))));
            skip_rest(&mut report, &["tls", "websocket"]);
            return report;
        }
    };
    report.steps.push(("tcp", Outcome::Ok(tcp)));

    match (&params.tls, secure) {
        (_, false) => report
            .steps
            .push(("tls", Outcome::Skipped("not used (ws://)".into()))),
        (None, true) => report.steps.push((
            "tls",
            Outcome::Skipped("checked by the upgrade below, against the public web roots".into()),
        )),
        (Some(config), true) => match tls_handshake(config, &host, addr) {
            Ok(text) => report.steps.push(("tls", Outcome::Ok(text))),
            Err(text) => {
                report.steps.push(("tls", Outcome::Failed(text)));
                skip_rest(&mut report, &["websocket"]);
                return report;
            }
        },
    }
    report.steps.push(("websocket", upgrade(params, addr)));
    report
}

fn connect_any(addrs: &[SocketAddr]) -> Result<(String, SocketAddr), io::Error> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for addr in addrs {
        let started = Instant::now();
        match TcpStream::connect_timeout(addr, STEP_TIMEOUT) {
            Ok(_) => {
                let ms = started.elapsed().as_millis();
                return Ok((format!("{addr} in {ms} ms"), *addr));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn tcp_hint(port: u16, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("port {port}: connection refused (nothing listens there: wrong port, or the CSMS is down)")
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
            "port {port}: no answer within {}s (a firewall, or no route to the CSMS)",
            STEP_TIMEOUT.as_secs()
        ),
        _ => format!("port {port}: {e}"),
    }
}

fn tls_handshake(
    config: &Arc<rustls::ClientConfig>,
    host: &str,
    addr: SocketAddr,
) -> Result<String, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host:?} cannot be checked against a certificate: {e}"))?;
    let mut conn =
        rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let mut sock = TcpStream::connect_timeout(&addr, STEP_TIMEOUT).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(STEP_TIMEOUT))
        .and_then(|()| sock.set_write_timeout(Some(STEP_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| tls_hint(host, &e))?;
    }
    let version = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let chain = conn.peer_certificates().map_or(0, |c| c.len());
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    Ok(format!(
        "{version} {suite}, chain of {chain} certificate(s) trusted by ca_cert_path, name {host} matches"
    ))
}

fn tls_hint(host: &str, e: &io::Error) -> String {
    use rustls::CertificateError as C;
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let hint = match inner {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            C::UnknownIssuer => "the CSMS certificate is not signed by a CA in ca_cert_path",
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the CSMS certificate is not issued for this host name"
            }
            C::Expired | C::ExpiredContext { .. } => {
                "the CSMS certificate has expired (or the gateway clock is wrong)"
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the CSMS certificate is not valid yet (is the gateway clock right?)"
            }
            _ => "the CSMS certificate was not accepted",
        },
        Some(rustls::Error::AlertReceived(_)) => {
            "the CSMS ended the handshake (does it require a client certificate?)"
        }
        _ => "the TLS handshake failed",
    };
    format!("{host}: {hint}: {e}")
}

fn upgrade(params: &ConnectParams, addr: SocketAddr) -> Outcome {
    let request = match upgrade_request(params) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e),
    };
    let stream = match TcpStream::connect_timeout(&addr, STEP_TIMEOUT) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    if let Err(e) = stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(STEP_TIMEOUT)))
    {
        return Outcome::Failed(e.to_string());
    }
    let connector = params
        .tls
        .as_ref()
        .map(|config| Connector::Rustls(Arc::clone(config)));
    match tungstenite::client_tls_with_config(request, stream, None, connector) {
        Ok((mut ws, response)) => {
            let _ = ws.close(None);
            let _ = ws.flush();
            Outcome::Ok(format!(
                "HTTP {}, subprotocol {SUBPROTOCOL} agreed",
                response.status().as_u16()
            ))
        }
        Err(HandshakeError::Interrupted(_)) => Outcome::Failed(format!(
            "no answer to the upgrade within {}s",
            STEP_TIMEOUT.as_secs()
        )),
        Err(HandshakeError::Failure(e)) => Outcome::Failed(upgrade_hint(e)),
    }
}

fn upgrade_hint(e: tungstenite::Error) -> String {
    use tungstenite::error::{ProtocolError, SubProtocolError};
    match e {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let hint = match status {
                401 | 403 => "the CSMS refused the station's credentials",
                404 => "the CSMS does not know this station identity, or the URL path is wrong",
                _ => "the CSMS refused the upgrade",
            };
            format!("HTTP {status}: {hint}")
        }
        tungstenite::Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol | SubProtocolError::InvalidSubProtocol,
        )) => format!(
            "the CSMS did not agree to subprotocol {SUBPROTOCOL} (is it an OCPP 2.0.1 endpoint?)"
        ),
        tungstenite::Error::Tls(e) => format!("TLS: {e}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(url: &str) -> ConnectParams {
        ConnectParams {
            url: url.into(),
            basic_auth: None,
            tls: None,
            ping_interval: None,
            connect_timeout: STEP_TIMEOUT,
        }
    }

    #[test]
    fn refused_port_fails_at_tcp() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let report = check("CP1", &params(&format!("ws://127.0.0.1:{port}/ocpp/CP1")));
        assert!(!report.ok());
        let names: Vec<_> = report.steps.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["resolve", "tcp", "tls", "websocket"]);
        assert!(matches!(&report.steps[1].1, Outcome::Failed(t) if t.contains("refused")));
        assert!(report.to_string().contains("FAILED"));
    }

    #[test]
    fn bad_url_fails_at_once() {
        let report = check("CP1", &params("not a url"));
        assert!(!report.ok());
        assert_eq!(report.steps.len(), 1);
    }
}
