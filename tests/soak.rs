//! Soak with fault injection: simulated Modbus and ECHONET Lite chargers run transactions
//! continuously while the CSMS restarts, drops connections, refuses them and leaves answers
//! unsent; chargers fall silent or refuse every read; ECHONET Lite answers are lost and INF is
//! spoofed from a charger's address; the disk fills up for a while; the gateway is killed with
//! SIGKILL and its configuration reloaded. At the end every charger is unplugged and left
//! alone, and the CSMS's view is checked: no lost, gapped or duplicated transaction event
//! (beyond the resend of an unacknowledged one), exactly one Ended per Started, every
//! station's last status true, no panic, and memory and descriptors flat over the last run.
//!
//! The suite runs a short version; `scripts/soak.sh` runs it long and large (release build)
//! and prints the table recorded in BENCHMARKS.md. Sizes come from `SOAK_DEVICES` and
//! `SOAK_SECONDS`.

mod common;
mod journal_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::gateway::{is_call, loopback, scratch, status_of, write_config, Gateway};
use journal_support::{check_events, limit_file_size, start_limited, tx_events};
use ocpp_gw::echonet::{Esv, Frame, Property, NODE_PROFILE};
use ocpp_gw::modbus::ExceptionCode;
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Record};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use ocpp_gw::util::rng::Rng;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory (KiB) and open descriptors of a process, from /proc.
fn usage(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// The gateway's ECHONET Lite interface and its nodes' addresses: loopback addresses no other
/// test uses.
const EL_GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 76, 1, 1);
fn el_node(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 76, 2, i as u8 + 1)
}

/// Counts of what was injected, for the table.
#[derive(Debug, Default)]
struct Faults {
    plugs: u64,
    unplugs: u64,
    csms_restarts: u64,
    connection_drops: u64,
    connections_refused: u64,
    answers_withheld: u64,
    silences: u64,
    refused_reads: u64,
    el_answers_lost: u64,
    spoofed_inf: u64,
    disk_full: u64,
    kills: u64,
    reloads: u64,
}

struct Soak {
    csms: Option<CsmsSim>,
    csms_addr: std::net::SocketAddr,
    /// Records of every CSMS instance that was stopped, in order.
    history: Vec<Record>,
    chargers: Vec<ModbusChargerSim>,
    nodes: Vec<EchonetChargerSim>,
    dir: std::path::PathBuf,
    config: std::path::PathBuf,
    gw: Option<Gateway>,
    lives: u32,
    faults: Faults,
    rng: Rng,
}

impl Soak {
    fn start_gateway(&mut self) {
        self.lives += 1;
        let log = self.dir.join(format!("gateway-{}.log", self.lives));
        // SIGXFSZ ignored, so that a file-size limit set later acts as a full disk.
        self.gw = Some(start_limited(&self.config, &log, None, &[]));
    }

    fn restart_csms(&mut self) {
        if let Some(csms) = self.csms.take() {
            csms.stop();
            self.history.extend(csms.records());
        }
        // The port is free again at once (SO_REUSEADDR); retry briefly in case it is not.
        for _ in 0..50 {
            if let Ok(csms) = CsmsSim::start(self.csms_addr, options()) {
                self.csms = Some(csms);
                self.faults.csms_restarts += 1;
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("could not restart the CSMS on {}", self.csms_addr);
    }

    fn records(&self) -> Vec<Record> {
        let mut all = self.history.clone();
        if let Some(csms) = &self.csms {
            all.extend(csms.records());
        }
        all
    }

    /// One random event: mostly charger activity, sometimes a fault.
    fn step(&mut self) {
        let stations = self.chargers.len() + self.nodes.len();
        let pick = self.rng.below(stations as u64) as usize;
        let station = station_name(pick, self.chargers.len());
        // Charger activity grows with the fleet; faults come at the same rate per second
        // whatever its size (about 1.75/s), so a large soak is not a kill loop.
        let fault_permille = (3_500 / stations as u64).min(350);
        if self.rng.below(1_000) >= fault_permille {
            if self.rng.below(9) == 0 {
                if let Some(c) = self.chargers.get(pick) {
                    c.advance(Duration::from_secs(60));
                }
            } else {
                self.toggle(pick);
            }
            return;
        }
        match self.rng.below(29) {
            0..=4 => {
                if let Some(csms) = &self.csms {
                    if csms.disconnect(&station) {
                        self.faults.connection_drops += 1;
                    }
                }
            }
            5..=7 => {
                // The CSMS takes the upgrade and closes at once, for a while.
                if let Some(csms) = &self.csms {
                    csms.set_close_at_once(&station, true);
                    self.faults.connections_refused += 1;
                    csms.disconnect(&station);
                    std::thread::sleep(Duration::from_millis(400));
                    csms.set_close_at_once(&station, false);
                }
            }
            8..=11 => {
                // A slow CSMS: the next status or transaction message goes unanswered and
                // times out at the station, which must send it again.
                if let Some(csms) = &self.csms {
                    let action = if self.rng.below(2) == 0 {
                        "StatusNotification"
                    } else {
                        "TransactionEvent"
                    };
                    csms.withhold_answers(&station, action, 1);
                    self.faults.answers_withheld += 1;
                }
            }
            12..=14 => match self.chargers.get(pick) {
                Some(c) if self.rng.below(2) == 0 => {
                    c.set_silent(true);
                    self.faults.silences += 1;
                    std::thread::sleep(Duration::from_millis(300));
                    c.set_silent(false);
                }
                Some(c) => {
                    c.refuse_reads(Some(ExceptionCode::IllegalDataAddress));
                    self.faults.refused_reads += 1;
                    std::thread::sleep(Duration::from_millis(300));
                    c.refuse_reads(None);
                }
                None => {
                    let node = &self.nodes[pick - self.chargers.len()];
                    node.drop_answers(1 + self.rng.below(3) as u32);
                    self.faults.el_answers_lost += 1;
                }
            },
            15..=16 => self.spoof(),
            17..=19 => self.restart_csms(),
            20..=23 => {
                if let Some(gw) = &self.gw {
                    gw.signal(libc::SIGHUP);
                    self.faults.reloads += 1;
                }
            }
            24..=25 => {
                // The disk is full for a while: no file of the gateway's may grow.
                if let Some(gw) = &self.gw {
                    limit_file_size(gw, Some(0));
                    self.faults.disk_full += 1;
                    std::thread::sleep(Duration::from_millis(1_500));
                    limit_file_size(gw, None);
                }
            }
            _ => {
                drop(self.gw.take()); // SIGKILL
                self.faults.kills += 1;
                std::thread::sleep(Duration::from_millis(200));
                self.start_gateway();
            }
        }
    }

    /// Plugs in (and charges) or unplugs the vehicle of station `pick`.
    fn toggle(&mut self, pick: usize) {
        let plug = match self.chargers.get(pick) {
            Some(c) => {
                let plug = c.status() == 0;
                c.set_power_w(if plug { 7400.0 } else { 0.0 });
                c.set_status(u16::from(plug));
                plug
            }
            None => {
                let node = &self.nodes[pick - self.chargers.len()];
                let plug = node.property(0xC7) != Some(vec![0x41]);
                node.set_property(0xC7, &[if plug { 0x41 } else { 0x30 }]);
                plug
            }
        };
        if plug {
            self.faults.plugs += 1;
        } else {
            self.faults.unplugs += 1;
        }
    }

    /// A burst of INF claiming plug-ins and unplugs, sent from an ECHONET Lite node's address.
    fn spoof(&mut self) {
        let Some(node) = self
            .nodes
            .get(self.rng.below(self.nodes.len().max(1) as u64) as usize)
        else {
            return;
        };
        let Ok(spoofer) = UdpSocket::bind(SocketAddr::from((node.addr().ip(), 0))) else {
            return;
        };
        for tid in 0..200u16 {
            let vehicle = if tid % 2 == 0 { 0x41 } else { 0x30 };
            let props = vec![Property::new(0xC7, [vehicle])];
            let frame = Frame::new(tid, node.eoj(), NODE_PROFILE, Esv::Inf, props);
            if let Ok(bytes) = frame.encode() {
                let _ = spoofer.send_to(&bytes, (EL_GATEWAY, 3610));
            }
        }
        self.faults.spoofed_inf += 200;
    }
}

/// `CP001…` for the Modbus chargers, `EL001…` for the ECHONET Lite nodes after them.
fn station_name(pick: usize, chargers: usize) -> String {
    if pick < chargers {
        format!("CP{:03}", pick + 1)
    } else {
        format!("EL{:03}", pick - chargers + 1)
    }
}

fn options() -> CsmsOptions {
    CsmsOptions {
        max_records: 1_000_000,
        ..CsmsOptions::default()
    }
}

/// The last StatusNotification of each station, in arrival order.
fn last_statuses(records: &[Record]) -> BTreeMap<String, String> {
    let mut last = BTreeMap::new();
    for r in records {
        if let Some(status) = status_of(r) {
            last.insert(r.station.clone(), status.to_string());
        }
    }
    last
}

fn panics_in_logs(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            found.extend(
                text.lines()
                    .filter(|l| l.contains("panicked"))
                    .map(|l| format!("{}: {l}", path.display())),
            );
        }
    }
    found
}

#[test]
fn transactions_survive_every_fault_and_the_csms_converges() {
    let devices = env_or("SOAK_DEVICES", 10) as usize;
    // One station in five is an ECHONET Lite node.
    let el_count = (devices / 5).max(1);
    let modbus_count = devices - el_count;
    let seconds = env_or("SOAK_SECONDS", 40);
    let seed = env_or("SOAK_SEED", 0x50a6);
    let csms = CsmsSim::start(loopback(), options()).unwrap();
    let chargers: Vec<_> = (0..modbus_count)
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let nodes: Vec<_> = (0..el_count)
        .map(|i| {
            let mut node = SimConfig::charger(el_node(i));
            node.multicast = false;
            node.notify = vec![(EL_GATEWAY, 3610).into()];
            let sim = EchonetChargerSim::start(node).unwrap();
            sim.set_property(0xC7, &[0x30]);
            sim
        })
        .collect();
    // Per process: a debug and a release run may soak side by side.
    let dir = scratch(&format!("soak-{}", std::process::id()));
    let addrs: Vec<_> = chargers.iter().map(|c| c.addr()).collect();
    let config = write_config(&dir, &csms.url(), &addrs, "response_timeout_sec = 2\n");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .unwrap();
    write!(
        file,
        "\n[echonet]\ninterface = \"{EL_GATEWAY}\"\nresponse_timeout_ms = 300\n"
    )
    .unwrap();
    for i in 0..el_count {
        write!(
            file,
            "\n[[devices]]\nid = \"el-{n}\"\ntemplate = \"echonet_ev_charger\"\n\
             protocol = \"echonet_lite\"\nocpp_id = \"EL{n:03}\"\npoll_interval_ms = 1000\n\
             [devices.connection]\nip = \"{ip}\"\neoj = \"0x02A101\"\n",
            n = i + 1,
            ip = el_node(i),
        )
        .unwrap();
    }
    drop(file);
    let mut soak = Soak {
        csms_addr: csms.addr(),
        csms: Some(csms),
        history: Vec::new(),
        chargers,
        nodes,
        dir,
        config,
        gw: None,
        lives: 0,
        faults: Faults::default(),
        rng: Rng::seeded(seed),
    };
    soak.start_gateway();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    // Spread the events so that each charger sees a few per second at most.
    let pause = Duration::from_millis((2_000 / devices as u64).clamp(5, 200));
    while Instant::now() < until {
        soak.step();
        std::thread::sleep(pause);
    }

    // Quiet end: everything unplugged and answering, one last gateway life that is measured.
    for c in &soak.chargers {
        c.set_silent(false);
        c.refuse_reads(None);
        c.set_power_w(0.0);
        c.set_status(0);
    }
    for node in &soak.nodes {
        node.set_property(0xC7, &[0x30]);
    }
    if soak.csms.is_none() {
        soak.restart_csms();
    }
    drop(soak.gw.take());
    soak.start_gateway();
    let pid = soak.gw.as_ref().unwrap().0.id();
    let settle = Duration::from_secs(env_or("SOAK_SETTLE_SECONDS", 20));
    let quiet_from = Instant::now();
    let mut samples = Vec::new();
    while quiet_from.elapsed() < settle {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(u) = usage(pid) {
            samples.push(u);
        }
    }
    let records = soak.records();

    // Every transaction event arrived, in order, gap-free, repeats only with the same content.
    let (by_tx, repeats) = check_events(&tx_events(&records));
    let mut unended = Vec::new();
    for (tx, events) in &by_tx {
        let ended = events.iter().filter(|e| e["eventType"] == "Ended").count();
        if ended != 1 {
            unended.push(tx.clone());
        }
    }
    assert!(
        unended.is_empty(),
        "transactions without exactly one Ended once everything was unplugged: {unended:?}"
    );
    // The CSMS converged: every station's last status is the device's (all unplugged).
    let last = last_statuses(&records);
    for i in 0..devices {
        let station = station_name(i, modbus_count);
        assert_eq!(
            last.get(&station).map(String::as_str),
            Some("Available"),
            "{station}'s last status at the CSMS"
        );
    }
    let errors = common::validate_records(&records);
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
    let panics = panics_in_logs(&soak.dir);
    assert!(panics.is_empty(), "{panics:#?}");

    // Flat over the quiet run: the last samples no higher than the first half's peak plus slack.
    let half = samples.len() / 2;
    let peak = |s: &[(u64, usize)]| {
        s.iter()
            .fold((0, 0), |(r, f), &(r2, f2)| (r.max(r2), f.max(f2)))
    };
    let (rss_early, fds_early) = peak(&samples[..half.max(1)]);
    let (rss_late, fds_late) = peak(&samples[half..]);
    assert!(
        rss_late <= rss_early + rss_early / 10 + 1024,
        "RSS grew while idle: {rss_early} KiB → {rss_late} KiB"
    );
    assert!(
        fds_late <= fds_early + 2,
        "fds grew while idle: {fds_early} → {fds_late}"
    );

    let calls = records
        .iter()
        .filter(|r| is_call(r, "TransactionEvent"))
        .count();
    let f = &soak.faults;
    println!(
        "soak: devices={devices} (modbus={modbus_count} echonet={el_count}) seconds={seconds} \
         seed={seed} plugs={} unplugs={} csms_restarts={} connection_drops={} \
         connections_refused={} answers_withheld={} silences={} refused_reads={} \
         el_answers_lost={} spoofed_inf={} disk_full={} kills={} reloads={} transactions={} \
         transaction_events={calls} repeats={repeats} gaps=0 unended=0 \
         rss_kib={rss_early}->{rss_late} fds={fds_early}->{fds_late} panics=0",
        f.plugs,
        f.unplugs,
        f.csms_restarts,
        f.connection_drops,
        f.connections_refused,
        f.answers_withheld,
        f.silences,
        f.refused_reads,
        f.el_answers_lost,
        f.spoofed_inf,
        f.disk_full,
        f.kills,
        f.reloads,
        by_tx.len(),
    );
}
