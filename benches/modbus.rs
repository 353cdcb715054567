//! Modbus benchmarks, run by `scripts/bench-modbus.sh` (ignored in the normal test run):
//! planner savings on the sample templates, RTU poll-cycle time against the wire time, and CPU
//! of the TCP pool thread polling 500 devices at 1 Hz. Figures go to BENCHMARKS.md.

#![cfg(feature = "sim")]

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use ocpp_gw::config::{self, Parity};
use ocpp_gw::device::{
    BusCmd, DeviceEvent, DeviceId, ModbusRtuDevice, ModbusTable, ModbusTcpDevice, PoolCmd,
    RegisterRead,
};
use ocpp_gw::modbus::planner::{DevicePlans, PlanLimits, ReadBlock, DEFAULT_MAX_READ_GAP};
use ocpp_gw::modbus::rtu::SerialLine;
use ocpp_gw::modbus::{spawn_rtu_bus, spawn_tcp_pool, PoolSettings, RtuBusSettings};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use ocpp_gw::sim::modbus_rtu::ModbusRtuSim;

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates")
}

/// The register reads of template `id`, loaded through the real config checks; `None` for a
/// template a Modbus device cannot use.
fn template_reads(id: &str) -> Option<Vec<RegisterRead>> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-{id}"));
    std::fs::create_dir_all(&dir).ok()?;
    let text = format!(
        "[system]\ntemplates_dir = {:?}\n[csms]\nurl = \"ws://127.0.0.1:9\"\n\
         [[devices]]\nid = \"d\"\ntemplate = {id:?}\nprotocol = \"modbus_tcp\"\nocpp_id = \"D\"\n\
         connection = {{ ip = \"127.0.0.1\" }}\n",
        templates_dir().display().to_string()
    );
    let path = dir.join("ocpp-gw.toml");
    std::fs::write(&path, text).ok()?;
    let config = config::load(&path).ok()?;
    let template = config.templates.get(id)?;
    Some(template.register_reads())
}

/// Bytes of one RTU read transaction: 8-byte request, answer of 5 bytes plus the data.
fn rtu_bytes(table: ModbusTable, count: u16) -> usize {
    let data = match table {
        ModbusTable::Coil | ModbusTable::DiscreteInput => usize::from(count).div_ceil(8),
        ModbusTable::InputRegister | ModbusTable::HoldingRegister => 2 * usize::from(count),
    };
    8 + 5 + data
}

fn blocks_bytes(blocks: &[ReadBlock]) -> usize {
    blocks.iter().map(|b| rtu_bytes(b.table, b.count)).sum()
}

#[test]
#[ignore = "benchmark: scripts/bench-modbus.sh"]
fn bench_planner_transactions_per_cycle() {
    let mut ids: Vec<String> = std::fs::read_dir(templates_dir())
        .expect("etc/templates")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    ids.sort();
    println!("| template | variables | one read per variable | planner, full cycle | planner, fast-only cycle | RTU bytes per full cycle (per variable → planned) |");
    println!("|---|---|---|---|---|---|");
    for id in ids {
        let Some(reads) = template_reads(&id) else {
            println!("| {id} | not a Modbus template | | | | |");
            continue;
        };
        let plans = DevicePlans::new(&reads, &PlanLimits::with_gap(DEFAULT_MAX_READ_GAP));
        let naive: usize = reads.iter().map(|r| rtu_bytes(r.table, r.count)).sum();
        println!(
            "| {id} | {} | {} | {} | {} | {naive} → {} |",
            reads.len(),
            reads.len(),
            plans.all.blocks.len(),
            plans.fast.blocks.len(),
            blocks_bytes(&plans.all.blocks)
        );
    }
}

fn line(baud_rate: u32) -> SerialLine {
    SerialLine {
        baud_rate,
        data_bits: 8,
        parity: Parity::None,
        stop_bits: 1,
    }
}

/// Measures the steady-state time for the bus to poll 25 units once each, every unit always due.
fn rtu_cycle(baud: u32, cycles: u64) {
    const UNITS: u8 = 25;
    let reads = template_reads("generic_modbus_charger").expect("generic template");
    let plan = DevicePlans::new(&reads, &PlanLimits::default());
    let l = line(baud);
    let silence = l.frame_silence();
    let theoretical: Duration = plan
        .all
        .blocks
        .iter()
        .map(|b| l.wire_time(rtu_bytes(b.table, b.count)) + silence * 2)
        .sum::<Duration>()
        * u32::from(UNITS);

    let sim = ModbusRtuSim::start(1..=UNITS, Some(l)).unwrap();
    let (event_tx, events) = bounded(1024);
    let (cmds, cmd_rx) = bounded(64);
    for unit in 1..=UNITS {
        cmds.send(BusCmd::Add(ModbusRtuDevice {
            id: DeviceId(u32::from(unit)),
            name: format!("unit{unit}"),
            unit_id: unit,
            // Shorter than a cycle: every unit is always due, the bus never idles.
            poll_interval: Duration::from_millis(10),
            slow_poll_interval: Duration::from_millis(10),
            reads: reads.clone(),
            offline_after_failures: 3,
        }))
        .unwrap();
    }
    let settings = RtuBusSettings::new(&sim.path().display().to_string(), l);
    let bus = spawn_rtu_bus(settings, event_tx, cmd_rx).unwrap();
    let mut online = 0;
    while online < UNITS {
        if let DeviceEvent::Online { .. } = events.recv_timeout(Duration::from_secs(60)).unwrap() {
            online += 1;
        }
    }
    let start_count = sim.answered();
    let start = Instant::now();
    let target = start_count + cycles * u64::from(UNITS) * plan.all.blocks.len() as u64;
    while sim.answered() < target {
        thread::sleep(Duration::from_millis(5));
        while events.try_recv().is_ok() {}
    }
    let measured = start.elapsed() / u32::try_from(cycles).unwrap();
    let counts = bus.stats.snapshot();
    cmds.send(BusCmd::Shutdown).unwrap();
    bus.thread.join().unwrap();
    println!(
        "| {baud} | {UNITS} | {} | {:.1} ms | {:.1} ms | {:.3} | {} | {} |",
        plan.all.blocks.len(),
        theoretical.as_secs_f64() * 1e3,
        measured.as_secs_f64() * 1e3,
        measured.as_secs_f64() / theoretical.as_secs_f64(),
        cycles,
        counts.timeouts + counts.crc_errors + counts.truncated + counts.garbage
    );
}

#[test]
#[ignore = "benchmark: scripts/bench-modbus.sh"]
fn bench_rtu_poll_cycle_25_units() {
    println!("| baud | units | requests per unit | theoretical cycle | measured cycle | ratio | cycles measured | failed requests |");
    println!("|---|---|---|---|---|---|---|---|");
    rtu_cycle(9600, 5);
    rtu_cycle(115_200, 30);
}

/// User plus system CPU time of this process's thread named `name`.
fn thread_cpu(name: &str) -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).expect("stat");
        // Fields after the parenthesised comm: state is field 3, utime 14 and stime 15.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        return Duration::from_millis(ticks * 1000 / hz);
    }
    panic!("no thread named {name}");
}

#[test]
#[ignore = "benchmark: scripts/bench-modbus.sh"]
fn bench_tcp_pool_cpu_500_devices_at_1hz() {
    const DEVICES: u32 = 500;
    const WINDOW: Duration = Duration::from_secs(30);
    let reads = template_reads("generic_modbus_charger").expect("generic template");
    let sims: Vec<_> = (0..DEVICES)
        .map(|_| ModbusChargerSim::start(([127, 0, 0, 1], 0).into()).unwrap())
        .collect();
    let (event_tx, events) = bounded(8192);
    let (cmds, cmd_rx) = bounded(1024);
    let pool = spawn_tcp_pool("bench", PoolSettings::default(), event_tx, cmd_rx).unwrap();
    for (i, sim) in sims.iter().enumerate() {
        cmds.send(PoolCmd::Add(ModbusTcpDevice {
            id: DeviceId(i as u32),
            name: format!("cp{i}"),
            host: sim.addr().ip().to_string(),
            port: sim.addr().port(),
            unit_id: 1,
            poll_interval: Duration::from_secs(1),
            slow_poll_interval: Duration::from_secs(10),
            reads: reads.clone(),
            offline_after_failures: 3,
        }))
        .unwrap();
    }
    let mut online = 0;
    while online < DEVICES {
        if let DeviceEvent::Online { .. } = events.recv_timeout(Duration::from_secs(60)).unwrap() {
            online += 1;
        }
    }
    thread::sleep(Duration::from_secs(2));
    let served = |sims: &[ModbusChargerSim]| sims.iter().map(|s| s.requests_served()).sum::<u64>();
    let (cpu0, served0, start) = (thread_cpu("mbtcp-bench"), served(&sims), Instant::now());
    thread::sleep(WINDOW);
    let (cpu1, served1, wall) = (thread_cpu("mbtcp-bench"), served(&sims), start.elapsed());
    while events.try_recv().is_ok() {}
    cmds.send(PoolCmd::Shutdown).unwrap();
    pool.join().unwrap();
    let cpu = cpu1 - cpu0;
    let requests = served1 - served0;
    println!(
        "| devices | poll interval | window | requests/s | pool thread CPU | CPU per request |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {DEVICES} | 1 s | {:.1} s | {:.0} | {:.2} % of one core | {:.1} µs |",
        wall.as_secs_f64(),
        requests as f64 / wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / requests.max(1) as f64
    );
}
