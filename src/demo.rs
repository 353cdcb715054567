//! `ocpp-gw demo`: simulated Modbus chargers, a local CSMS and the real gateway on loopback,
//! with a readable live log of what the CSMS receives.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, tick};

use crate::config;
use crate::daemon::Daemon;
use crate::sim::csms::{CsmsOptions, CsmsSim, Dir, Record};
use crate::sim::modbus_charger::ModbusChargerSim;

const TEMPLATE_ID: &str = "generic_modbus_charger";
const TEMPLATE: &str = include_str!("../etc/templates/generic_modbus_charger.toml");

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("demo config is invalid (a bug):\n{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{0}")]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error("cannot make the demo token: the system random generator failed")]
    Token,
}

/// Runs the demo until Ctrl-C or for `duration`, with the admin API and status page on
/// `admin` (port 0 picks a free one).
pub fn run(
    chargers: usize,
    duration: Option<Duration>,
    admin: SocketAddr,
) -> Result<(), DemoError> {
    crate::logging::init(log::LevelFilter::Warn);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let csms = CsmsSim::start(loopback, CsmsOptions::default())?;
    let sims = (0..chargers)
        .map(|_| ModbusChargerSim::start(loopback))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, sim) in sims.iter().enumerate() {
        sim.set_voltage_v(230.0);
        sim.set_energy_wh(1_000 * (i as u32 + 1));
    }

    let dir = std::env::temp_dir().join(format!("ocpp-gw-demo-{}", std::process::id()));
    let (token, token_hash) = crate::admin::new_token().map_err(|_| DemoError::Token)?;
    let config_path = write_config(&dir, &csms.url(), &sims, admin, &token_hash)?;
    let config = config::load(&config_path)?;

    println!(
        "ocpp-gw demo: {chargers} simulated Modbus TCP charger(s), CSMS at {}",
        csms.url()
    );
    println!(
        "config: {} (check it with `ocpp-gw check-config`)",
        config_path.display()
    );
    println!("Ctrl-C stops the demo.\n");

    let records = csms.subscribe();
    let daemon = Daemon::start(&config)?;
    if let Some(url) = daemon.admin_url() {
        println!("status page: {url}/");
        println!("admin API:   {url}/api/v1 (OpenAPI at {url}/api/v1/openapi.json)");
        println!("demo operator token (this run only): {token}");
        println!("  try: OCPPGW_TOKEN={token} ocpp-gw status --url {url}\n");
    }
    let signals = signal_channel()?;
    let started = Instant::now();
    let steps = tick(Duration::from_secs(4));
    let mut step = 0usize;
    loop {
        select! {
            recv(records) -> r => match r {
                Ok(record) => print_record(&record, started),
                Err(_) => break,
            },
            recv(steps) -> _ => {
                if duration.is_some_and(|d| started.elapsed() >= d) {
                    break;
                }
                for sim in &sims {
                    sim.advance(Duration::from_secs(4));
                }
                scenario_step(&sims, step, started);
                step += 1;
            },
            recv(signals) -> _ => break,
        }
    }
    println!("\nstopping…");
    daemon.stop();
    drop(sims);
    csms.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Each step moves one charger along plug-in → charging → unplug, with a fault now and then.
fn scenario_step(sims: &[ModbusChargerSim], step: usize, started: Instant) {
    let index = step % sims.len();
    let sim = &sims[index];
    let name = format!("CP{:03}", index + 1);
    let round = step / sims.len();
    let (what, status, power) = match (round % 4, sim.status()) {
        (3, 0) if index == 0 => ("reports a fault", 4, 0.0),
        (_, 0) => ("cable plugged in, charging at 7.4 kW", 1, 7400.0),
        (_, 4) => ("fault cleared", 0, 0.0),
        _ => ("cable unplugged", 0, 0.0),
    };
    sim.set_status(status);
    sim.set_power_w(power);
    sim.set_current_a(if power > 0.0 { 32.0 } else { 0.0 });
    println!("{:>7}  [charger] {name}: {what}", clock(started));
}

fn print_record(record: &Record, started: Instant) {
    let frame = &record.frame;
    let arrow = match record.dir {
        Dir::In => "→ CSMS",
        Dir::Out => "← CSMS",
    };
    let body = match frame.get(0).and_then(|t| t.as_u64()) {
        Some(2) => format!(
            "{} {}",
            frame.get(2).and_then(|a| a.as_str()).unwrap_or("?"),
            frame.get(3).map(|p| p.to_string()).unwrap_or_default()
        ),
        Some(3) => format!(
            "CALLRESULT {}",
            frame.get(2).map(|p| p.to_string()).unwrap_or_default()
        ),
        Some(4) => format!(
            "CALLERROR {}",
            frame.get(2).and_then(|c| c.as_str()).unwrap_or("?")
        ),
        _ => frame.to_string(),
    };
    println!("{:>7}  {} {arrow}  {body}", clock(started), record.station);
}

fn clock(started: Instant) -> String {
    format!("{:.1}s", started.elapsed().as_secs_f64())
}

fn write_config(
    dir: &Path,
    csms_url: &str,
    sims: &[ModbusChargerSim],
    admin: SocketAddr,
    token_hash: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(
        dir.join("templates").join(format!("{TEMPLATE_ID}.toml")),
        TEMPLATE,
    )?;
    let mut text = format!(
        "[system]\nlog_level = \"warn\"\ndata_dir = \"{}\"\n\n\
         [system.admin]\nbind = \"{admin}\"\n\
         tokens = [{{ name = \"demo-operator\", role = \"operator\", sha256 = \"{token_hash}\" }}]\n\n\
         [csms]\nurl = \"{csms_url}\"\nreconnect_interval_sec = 2\nreconnect_random_range_sec = 1\n\
         heartbeat_interval_sec = 60\n",
        dir.join("data").display()
    );
    for (i, sim) in sims.iter().enumerate() {
        let addr = sim.addr();
        text.push_str(&format!(
            "\n[[devices]]\nid = \"charger-{n}\"\ntemplate = \"{TEMPLATE_ID}\"\nprotocol = \"modbus_tcp\"\n\
             ocpp_id = \"CP{n:03}\"\npoll_interval_ms = 500\n[devices.connection]\nip = \"{}\"\nport = {}\nunit_id = 1\n",
            addr.ip(),
            addr.port(),
            n = i + 1
        ));
    }
    let path = dir.join("ocpp-gw.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Delivers SIGINT/SIGTERM as a channel message so the demo loop can `select!` on it.
fn signal_channel() -> std::io::Result<crossbeam_channel::Receiver<()>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("demo-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.send(());
            }
        })?;
    Ok(rx)
}
