//! Process-wide metrics on atomics, rendered in the Prometheus text exposition format.
//!
//! Threads update them without locks on the hot path except a read-locked map lookup for
//! labelled families; the admin server renders them on demand. Labelled series are created on
//! first use and kept for the life of the process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the device poll latency histogram; a whole poll of one device.
pub const POLL_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// A gauge at zero.
    pub const fn new() -> Gauge {
        Gauge(AtomicI64::new(0))
    }

    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Durations in the fixed [`POLL_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is above every bound.
    buckets: [AtomicU64; POLL_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let slot = POLL_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(POLL_BUCKETS.len());
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Per-device series.
#[derive(Debug, Default)]
pub struct DeviceMetrics {
    pub poll_seconds: Histogram,
    pub poll_errors: Counter,
    /// 1 while the device answers, 0 otherwise.
    pub online: Gauge,
    /// Milliseconds after [`epoch`] of the last successful poll, plus one; 0 = none yet.
    last_good_poll_ms: AtomicU64,
}

impl DeviceMetrics {
    /// When the device last answered a whole poll. Workers report only values that changed,
    /// so this, not a value's own time, says how fresh the readings are.
    pub fn last_good_poll(&self) -> Option<Instant> {
        match self.last_good_poll_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(epoch() + Duration::from_millis(ms - 1)),
        }
    }
}

/// Per-station series of the CSMS link.
#[derive(Debug, Default)]
pub struct StationMetrics {
    /// OCPP-J frames handed to the link worker.
    pub sent: Counter,
    /// OCPP-J frames received from the CSMS.
    pub received: Counter,
    /// Frames the link worker could not take (queue full or gone).
    pub failed: Counter,
    /// 1 while the WebSocket is open.
    pub connected: Gauge,
    pub connects: Counter,
    /// Connections after the first one.
    pub reconnects: Counter,
    pub connect_failures: Counter,
}

impl StationMetrics {
    /// The WebSocket opened.
    pub fn opened(&self) {
        self.connected.set(1);
        if self.connects.0.fetch_add(1, Ordering::Relaxed) > 0 {
            self.reconnects.inc();
        }
    }

    /// The WebSocket closed, or an attempt to open it failed.
    pub fn closed(&self, attempt_failed: bool) {
        self.connected.set(0);
        if attempt_failed {
            self.connect_failures.inc();
        }
    }
}

/// A labelled family: one `T` per label value.
#[derive(Debug)]
struct Family<T> {
    series: RwLock<BTreeMap<String, Arc<T>>>,
}

impl<T: Default> Family<T> {
    const fn new() -> Self {
        Family {
            series: RwLock::new(BTreeMap::new()),
        }
    }

    fn get(&self, label: &str) -> Arc<T> {
        let existing = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(label)
            .cloned();
        match existing {
            Some(series) => series,
            None => Arc::clone(
                self.series
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(label.to_owned())
                    .or_default(),
            ),
        }
    }

    fn snapshot(&self) -> Vec<(String, Arc<T>)> {
        self.series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }
}

static DEVICES: Family<DeviceMetrics> = Family::new();
static STATIONS: Family<StationMetrics> = Family::new();
/// Admin API requests refused for a missing or bad token.
pub static ADMIN_AUTH_FAILURES: Counter = Counter::new();
/// Admin API requests refused because the client address failed too often.
pub static ADMIN_RATE_LIMITED: Counter = Counter::new();
/// Admin and metrics connections refused at accept (too many, or too few descriptors left).
pub static ADMIN_CONNECTIONS_REFUSED: Counter = Counter::new();
/// Journaled messages dropped by the bound policy (`system.journal.max_messages`).
pub static JOURNAL_DROPPED: Counter = Counter::new();
/// Journal commits that failed (disk full, read-only, I/O error); each is retried.
pub static JOURNAL_WRITE_ERRORS: Counter = Counter::new();
/// 1 while every journal write has been applied, 0 while some wait for a retry (or no
/// journal could be opened).
pub static JOURNAL_HEALTHY: Gauge = Gauge::new();
/// Journal writes that failed and wait for a retry, over every station.
pub static JOURNAL_UNWRITTEN: Gauge = Gauge::new();
/// ECHONET Lite announcements (INF, INFC) dropped because their node sent too many.
pub static ECHONET_INF_DISCARDED: Counter = Counter::new();
static STARTED: OnceLock<Instant> = OnceLock::new();
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// A fixed instant that times stored in atomics are counted from.
fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// The series of device `name` (the config's device id).
pub fn device(name: &str) -> Arc<DeviceMetrics> {
    DEVICES.get(name)
}

/// The series of station `ocpp_id`.
pub fn station(ocpp_id: &str) -> Arc<StationMetrics> {
    STATIONS.get(ocpp_id)
}

/// Records one poll of device `name`: how long it took and whether it failed.
pub fn poll_finished(name: &str, took: Duration, ok: bool) {
    let d = device(name);
    d.poll_seconds.observe(took);
    if ok {
        let ms = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        d.last_good_poll_ms.store(ms + 1, Ordering::Relaxed);
    } else {
        d.poll_errors.inc();
    }
}

/// Notes the gateway's start; the first call wins.
pub fn mark_start() {
    STARTED.get_or_init(Instant::now);
}

/// Time since [`mark_start`] (zero before it).
pub fn uptime() -> Duration {
    STARTED.get().map(Instant::elapsed).unwrap_or_default()
}

mod render;

pub use render::{render, HubGauges, ProcessStats};
