//! Soak with fault injection: simulated Modbus chargers run transactions continuously while
//! the CSMS restarts and drops connections, chargers fall silent, the gateway is killed with
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
use std::path::Path;
use std::time::{Duration, Instant};

use common::gateway::{is_call, loopback, scratch, status_of, write_config, Gateway};
use journal_support::{check_events, tx_events};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Record};
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

/// Counts of what was injected, for the table.
#[derive(Debug, Default)]
struct Faults {
    plugs: u64,
    unplugs: u64,
    csms_restarts: u64,
    connection_drops: u64,
    silences: u64,
    kills: u64,
    reloads: u64,
}

struct Soak {
    csms: Option<CsmsSim>,
    csms_addr: std::net::SocketAddr,
    /// Records of every CSMS instance that was stopped, in order.
    history: Vec<Record>,
    chargers: Vec<ModbusChargerSim>,
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
        self.gw = Some(Gateway::start(&self.config, &log));
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
        let n = self.chargers.len() as u64;
        let charger = &self.chargers[self.rng.below(n) as usize];
        match self.rng.below(100) {
            0..=69 => {
                if charger.status() == 0 {
                    charger.set_status(1);
                    charger.set_power_w(7400.0);
                    self.faults.plugs += 1;
                } else {
                    charger.set_power_w(0.0);
                    charger.set_status(0);
                    self.faults.unplugs += 1;
                }
            }
            70..=79 => charger.advance(Duration::from_secs(60)),
            80..=86 => {
                let station = format!("CP{:03}", self.rng.below(n) + 1);
                if let Some(csms) = &self.csms {
                    if csms.disconnect(&station) {
                        self.faults.connection_drops += 1;
                    }
                }
            }
            87..=90 => {
                charger.set_silent(true);
                self.faults.silences += 1;
                std::thread::sleep(Duration::from_millis(300));
                charger.set_silent(false);
            }
            91..=93 => self.restart_csms(),
            94..=96 => {
                if let Some(gw) = &self.gw {
                    gw.signal(libc::SIGHUP);
                    self.faults.reloads += 1;
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
    let seconds = env_or("SOAK_SECONDS", 40);
    let seed = env_or("SOAK_SEED", 0x50a6);
    let csms = CsmsSim::start(loopback(), options()).unwrap();
    let chargers: Vec<_> = (0..devices)
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let dir = scratch("soak");
    let addrs: Vec<_> = chargers.iter().map(|c| c.addr()).collect();
    let config = write_config(&dir, &csms.url(), &addrs, "");
    let mut soak = Soak {
        csms_addr: csms.addr(),
        csms: Some(csms),
        history: Vec::new(),
        chargers,
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
        c.set_power_w(0.0);
        c.set_status(0);
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
    for i in 1..=devices {
        let station = format!("CP{i:03}");
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
        "soak: devices={devices} seconds={seconds} seed={seed} plugs={} unplugs={} \
         csms_restarts={} connection_drops={} silences={} kills={} reloads={} \
         transactions={} transaction_events={calls} repeats={repeats} gaps=0 unended=0 \
         rss_kib={rss_early}->{rss_late} fds={fds_early}->{fds_late} panics=0",
        f.plugs,
        f.unplugs,
        f.csms_restarts,
        f.connection_drops,
        f.silences,
        f.kills,
        f.reloads,
        by_tx.len(),
    );
}
