//! No client of the admin or metrics listener can kill the gateway or silence the listeners:
//! idle connections beyond the descriptors the process has, and slowloris clients dripping a
//! byte a second over HTTP and HTTPS (issue #13).

mod admin_common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use admin_common::{
    connect_from, exchange, loopback, request, scratch, wait_for, write_config, Answer, Gateway,
    Tokens, WAIT,
};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use rustls::pki_types::{CertificateDer, ServerName};

const STATION: &str = "CP001";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_booted(csms: &CsmsSim) {
    let booted = csms.wait_for(WAIT, |r| {
        r.dir == Dir::In && r.station == STATION && r.frame[2] == "StatusNotification"
    });
    assert!(booted.is_some(), "{STATION} never booted");
}

fn addr_of(url: &str) -> SocketAddr {
    let authority = url.split_once("://").unwrap().1;
    authority.parse().unwrap()
}

#[test]
fn idle_connections_cannot_kill_or_silence_the_listeners() {
    let dir = scratch("admin-limits-idle");
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let tokens = Tokens::new();
    let log = dir.join("gateway.log");
    let system = format!(
        "log_file = \"{}\"\n\n[system.metrics]\nprometheus_port = {}\n\n\
         [system.admin]\nbind = \"127.0.0.1:0\"\ntokens = {}\n",
        log.display(),
        free_port(),
        tokens.config
    );
    let config = write_config(&dir, &system, &csms.url(), &[charger.addr()]);
    // 1024 descriptors fell to ~517 idle connections; 128 fall to a few dozen.
    let mut gateway = Gateway::start_with_nofile(&config, &log, 128);
    let admin = gateway.admin_url("API, status page and metrics");
    let metrics = gateway.admin_url("metrics");
    wait_booted(&csms);
    let connections = csms.connection_count(STATION);

    let mut idle = Vec::new();
    let until = Instant::now() + Duration::from_secs(15);
    for url in [&admin, &metrics] {
        let addr = addr_of(url);
        for _ in 0..250 {
            if Instant::now() > until {
                break;
            }
            if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                idle.push(stream);
            }
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(gateway.alive(), "the gateway died:\n{}", gateway.log_text());
    assert!(csms.connected(STATION), "{STATION} lost its CSMS link");
    assert_eq!(
        csms.connection_count(STATION),
        connections,
        "{STATION} reconnected"
    );

    // Another client is still served while the idle connections are held.
    let other: IpAddr = [127, 0, 0, 2].into();
    let health = request(&admin, "GET", "/api/v1/health", None, Some(other));
    assert_eq!(health.status, 200, "{}", health.body);
    let scraped = request(&admin, "GET", "/metrics", None, Some(other));
    let refused: u64 = scraped
        .body
        .lines()
        .find_map(|l| l.strip_prefix("ocppgw_admin_connections_refused_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no refusal counter in {}", scraped.body));
    assert!(refused > 0, "no connection was refused");

    drop(idle);
    for (url, path) in [(&admin, "/api/v1/health"), (&metrics, "/metrics")] {
        let served = wait_for(WAIT, || {
            let a = request(url, "GET", path, None, None);
            (a.status == 200).then_some(a)
        });
        assert!(served.is_some(), "{url}{path} is not served any more");
    }
    assert!(gateway.alive());
    assert!(csms.connected(STATION));
    assert_eq!(csms.connection_count(STATION), connections);
}

/// A certificate for `localhost`, written as PEM files in `dir`.
fn certificate(dir: &Path) -> CertificateDer<'static> {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("admin.crt"), key.cert.pem()).unwrap();
    std::fs::write(dir.join("admin.key"), key.signing_key.serialize_pem()).unwrap();
    key.cert.der().clone()
}

/// Plain or TLS connections to one listener.
#[derive(Clone)]
struct Dialer {
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Dialer {
    fn new(url: &str, cert: Option<&CertificateDer<'static>>) -> Dialer {
        let tls = cert.map(|cert| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert.clone()).unwrap();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        });
        Dialer {
            addr: addr_of(url),
            tls,
        }
    }

    fn connect(&self) -> Box<dyn ReadWrite> {
        let sock = connect_from(self.addr, None);
        sock.set_read_timeout(Some(WAIT)).unwrap();
        sock.set_write_timeout(Some(WAIT)).unwrap();
        match &self.tls {
            None => Box::new(sock),
            Some(config) => {
                let name = ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
                Box::new(rustls::StreamOwned::new(conn, sock))
            }
        }
    }

    /// One GET, timed.
    fn get(&self, path: &str) -> (Answer, Duration) {
        let start = Instant::now();
        let text = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let answer = exchange(self.connect(), &text);
        (answer, start.elapsed())
    }
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

/// A client that sends `head` and then one byte of `drip` a second until `stop`.
fn slow_client(dialer: &Dialer, head: String, stop: &Arc<AtomicBool>) -> JoinHandle<()> {
    let (dialer, stop) = (dialer.clone(), Arc::clone(stop));
    std::thread::spawn(move || {
        let mut conn = dialer.connect();
        if conn
            .write_all(head.as_bytes())
            .and_then(|()| conn.flush())
            .is_err()
        {
            return;
        }
        while !stop.load(Ordering::SeqCst) {
            if conn.write_all(b"x").and_then(|()| conn.flush()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    })
}

/// Slow heads, slow bodies without a token and slow bodies with one, then normal requests
/// that must each be answered within a second.
fn slow_clients_leave_room(url: &str, cert: Option<&CertificateDer<'static>>, tokens: &Tokens) {
    let dialer = Dialer::new(url, cert);
    let stop = Arc::new(AtomicBool::new(false));
    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(slow_client(
            &dialer,
            "GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".into(),
            &stop,
        ));
        slow.push(slow_client(
            &dialer,
            "POST /api/v1/reload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"
                .into(),
            &stop,
        ));
        slow.push(slow_client(
            &dialer,
            format!(
                "POST /api/v1/reload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
                 Content-Length: 1000\r\n\r\n",
                tokens.operator
            ),
            &stop,
        ));
    }
    // Let every slow client get its connection and start dripping.
    std::thread::sleep(Duration::from_secs(2));
    let until = Instant::now() + Duration::from_secs(6);
    let mut served = 0;
    while Instant::now() < until {
        for path in ["/api/v1/health", "/metrics", "/"] {
            let (answer, took) = dialer.get(path);
            assert_eq!(answer.status, 200, "{url}{path}: {}", answer.body);
            assert!(
                took < Duration::from_secs(1),
                "{url}{path} took {took:?} beside slow clients"
            );
            served += 1;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(served >= 9);

    // A body is never waited for before the token is checked.
    let start = Instant::now();
    let mut conn = dialer.connect();
    let unauthorized = exchange(
        &mut conn,
        "POST /api/v1/reload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n",
    );
    assert_eq!(unauthorized.status, 401, "{}", unauthorized.body);
    assert!(start.elapsed() < Duration::from_secs(1));

    stop.store(true, Ordering::SeqCst);
    for client in slow {
        client.join().unwrap();
    }
}

#[test]
fn slow_clients_do_not_silence_http_or_https() {
    let dir = scratch("admin-limits-slow");
    let cert = certificate(&dir);
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let tokens = Tokens::new();
    let log = dir.join("gateway.log");
    let plain = format!(
        "log_file = \"{}\"\n\n[system.admin]\nbind = \"127.0.0.1:0\"\ntokens = {}\n",
        log.display(),
        tokens.config
    );
    let config = write_config(&dir, &plain, &csms.url(), &[charger.addr()]);
    let gateway = Gateway::start(&config, &log);
    let url = gateway.admin_url("API, status page and metrics");
    wait_booted(&csms);
    slow_clients_leave_room(&url, None, &tokens);
    drop(gateway);

    let https = format!(
        "log_file = \"{}\"\n\n[system.security]\ntls_cert_path = \"admin.crt\"\n\
         tls_key_path = \"admin.key\"\n\n[system.admin]\nbind = \"127.0.0.1:0\"\nhttps = true\n\
         tokens = {}\n",
        log.display(),
        tokens.config
    );
    std::fs::remove_file(&log).unwrap();
    let config = write_config(&dir, &https, &csms.url(), &[charger.addr()]);
    let gateway = Gateway::start(&config, &log);
    let url = gateway.admin_url("API, status page and metrics");
    slow_clients_leave_room(&url, Some(&cert), &tokens);
}
