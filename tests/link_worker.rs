//! The CSMS link worker against small WebSocket servers on loopback.

// tungstenite's handshake callback signature fixes the large error type.
#![allow(clippy::result_large_err)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use crossbeam_channel::Receiver;
use ocpp_gw::ocpp::link::{
    self, CloseWhy, ConnectParams, LinkCmd, LinkEvent, LinkHandle, LinkId, LinkSettings,
};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

fn start_worker() -> (LinkHandle, Receiver<LinkEvent>) {
    let (tx, rx) = crossbeam_channel::bounded(64);
    let (handle, _thread) = link::spawn(LinkSettings::default(), tx).unwrap();
    (handle, rx)
}

fn params(url: String, ping: Option<Duration>) -> ConnectParams {
    ConnectParams {
        url,
        basic_auth: Some(("CP1".into(), "secret".into())),
        tls: None,
        ping_interval: ping,
        connect_timeout: Duration::from_secs(5),
    }
}

fn next(rx: &Receiver<LinkEvent>) -> LinkEvent {
    rx.recv_timeout(WAIT).expect("link event")
}

/// Accepts one WebSocket, answering `ocpp2.0.1` when offered; returns the server side.
fn accept_ocpp(listener: &TcpListener) -> (tungstenite::WebSocket<TcpStream>, Option<String>) {
    let (stream, _) = listener.accept().unwrap();
    let mut auth = None;
    let ws = tungstenite::accept_hdr(stream, |req: &Request, mut resp: Response| {
        auth = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", "ocpp2.0.1".parse().unwrap());
        Ok(resp)
    })
    .unwrap();
    (ws, auth)
}

#[test]
fn carries_frames_both_ways_and_reports_a_server_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ocpp/CP1", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut ws, auth) = accept_ocpp(&listener);
        // "CP1:secret" in base64.
        assert_eq!(auth.as_deref(), Some("Basic Q1AxOnNlY3JldA=="));
        ws.send(Message::text("[2,\"1\",\"Heartbeat\",{}]"))
            .unwrap();
        let got = ws.read().unwrap();
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
        got.into_text().unwrap().to_string()
    });
    let (link, events) = start_worker();
    link.send(LinkCmd::Connect {
        link: LinkId(7),
        params: params(url, None),
    })
    .unwrap();
    assert_eq!(next(&events), LinkEvent::Connected { link: LinkId(7) });
    assert_eq!(
        next(&events),
        LinkEvent::Received {
            link: LinkId(7),
            text: "[2,\"1\",\"Heartbeat\",{}]".into()
        }
    );
    link.send(LinkCmd::Send {
        link: LinkId(7),
        text: "[3,\"1\",{}]".into(),
    })
    .unwrap();
    assert!(matches!(
        next(&events),
        LinkEvent::Closed {
            link: LinkId(7),
            ..
        }
    ));
    assert_eq!(server.join().unwrap(), "[3,\"1\",{}]");
    link.shutdown();
}

#[test]
fn a_peer_that_never_answers_pings_is_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ocpp/CP2", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        // Hold the socket open without ever reading, so no pong goes back.
        let (ws, _) = accept_ocpp(&listener);
        thread::sleep(Duration::from_secs(3));
        drop(ws);
    });
    let (link, events) = start_worker();
    let ping = Some(Duration::from_millis(200));
    link.send(LinkCmd::Connect {
        link: LinkId(1),
        params: params(url, ping),
    })
    .unwrap();
    assert_eq!(next(&events), LinkEvent::Connected { link: LinkId(1) });
    match next(&events) {
        LinkEvent::Closed { reason, .. } => assert!(reason.contains("no pong"), "{reason}"),
        other => panic!("expected a ping timeout, got {other:?}"),
    }
    server.join().unwrap();
    link.shutdown();
}

#[test]
fn refused_upgrades_are_reported_with_their_cause() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ocpp/CP3", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        // First: a server that ignores the subprotocol.
        let (stream, _) = listener.accept().unwrap();
        let _ = tungstenite::accept(stream);
        // Then: one that refuses the credentials.
        let (stream, _) = listener.accept().unwrap();
        let _ = tungstenite::accept_hdr(stream, |_: &Request, _| {
            let mut resp = tungstenite::handshake::server::ErrorResponse::new(None);
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            Err(resp)
        });
    });
    let (link, events) = start_worker();
    link.send(LinkCmd::Connect {
        link: LinkId(1),
        params: params(url.clone(), None),
    })
    .unwrap();
    match next(&events) {
        LinkEvent::ConnectFailed { auth, error, .. } => {
            assert!(!auth, "{error}");
            assert!(error.to_lowercase().contains("protocol"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    link.send(LinkCmd::Connect {
        link: LinkId(1),
        params: params(url, None),
    })
    .unwrap();
    match next(&events) {
        LinkEvent::ConnectFailed { auth, error, .. } => assert!(auth, "{error}"),
        other => panic!("{other:?}"),
    }
    server.join().unwrap();
    link.shutdown();
}

#[test]
fn connection_refused_is_a_failed_attempt() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (link, events) = start_worker();
    let url = format!("ws://127.0.0.1:{port}/ocpp/CP4");
    link.send(LinkCmd::Connect {
        link: LinkId(2),
        params: params(url, None),
    })
    .unwrap();
    assert!(matches!(
        next(&events),
        LinkEvent::ConnectFailed {
            link: LinkId(2),
            auth: false,
            ..
        }
    ));
    link.shutdown();
}

/// A server that accepts every connection, reads the upgrade request and answers it one byte
/// every `pace`, for ever.
fn dripping_server(pace: Duration) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                for byte in b"HTTP/1.1 101 Switching Protocols\r\n".iter().cycle() {
                    if stream.write_all(&[*byte]).is_err() {
                        return;
                    }
                    thread::sleep(pace);
                }
            });
        }
    });
    addr
}

#[test]
fn servers_dripping_their_upgrade_answer_neither_hold_the_connectors_nor_outlive_the_deadline() {
    let slow = dripping_server(Duration::from_millis(400));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let good = format!("ws://{}/ocpp/CP9", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut ws, _) = accept_ocpp(&listener);
        let _ = ws.read();
    });
    let (link, events) = start_worker();
    let deadline = Duration::from_secs(3);
    // More slow attempts than connector threads, all queued before the good one.
    for n in 0..6 {
        let mut p = params(format!("ws://{slow}/ocpp/SLOW{n}"), None);
        p.connect_timeout = deadline;
        link.send(LinkCmd::Connect {
            link: LinkId(100 + n),
            params: p,
        })
        .unwrap();
    }
    let started = std::time::Instant::now();
    link.send(LinkCmd::Connect {
        link: LinkId(9),
        params: params(good, None),
    })
    .unwrap();
    assert_eq!(next(&events), LinkEvent::Connected { link: LinkId(9) });
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the good CSMS waited {:?} behind the slow one",
        started.elapsed()
    );
    let mut failed = 0;
    while failed < 6 {
        match next(&events) {
            LinkEvent::ConnectFailed { error, auth, .. } => {
                assert!(!auth);
                assert!(error.contains("timed out"), "{error}");
                failed += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    let took = started.elapsed();
    assert!(
        took >= deadline - Duration::from_millis(100) && took < deadline * 2,
        "slow attempts ended after {took:?}"
    );
    link.send(LinkCmd::Close {
        link: LinkId(9),
        why: CloseWhy::Normal,
    })
    .unwrap();
    server.join().unwrap();
    link.shutdown();
}

#[test]
fn a_host_name_is_looked_up_and_every_address_tried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut ws, _) = accept_ocpp(&listener);
        let _ = ws.read();
    });
    let (link, events) = start_worker();
    link.send(LinkCmd::Connect {
        link: LinkId(5),
        params: params(format!("ws://localhost:{port}/ocpp/CP5"), None),
    })
    .unwrap();
    assert_eq!(next(&events), LinkEvent::Connected { link: LinkId(5) });
    link.send(LinkCmd::Close {
        link: LinkId(5),
        why: CloseWhy::Normal,
    })
    .unwrap();
    server.join().unwrap();
    link.shutdown();
}
