//! The Prometheus text exposition of every metric, rendered on demand by the admin server.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::*;

/// Gauges that only the hub knows, sampled at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubGauges {
    pub device_event_queue: usize,
    pub link_event_queue: usize,
    pub admin_queue: usize,
    pub modbus_tcp_queue: usize,
}

/// Resident memory and CPU time of this process, from /proc/self.
#[derive(Debug, Clone, Copy)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub cpu_seconds: f64,
}

impl ProcessStats {
    /// Reads /proc/self/statm and /proc/self/stat; `None` where /proc is not available.
    pub fn read() -> Option<ProcessStats> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name may hold spaces and parentheses; the fields after it are plain.
        let after_comm = stat.get(stat.rfind(')')? + 1..)?;
        let mut fields = after_comm.split_whitespace();
        // utime and stime are fields 14 and 15 of stat(5), i.e. 12th and 13th after `comm`.
        let utime: u64 = fields.nth(11)?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let (page, ticks) = unsafe {
            (
                libc::sysconf(libc::_SC_PAGESIZE),
                libc::sysconf(libc::_SC_CLK_TCK),
            )
        };
        let (page, ticks) = (u64::try_from(page).ok()?, u64::try_from(ticks).ok()?);
        if ticks == 0 {
            return None;
        }
        Some(ProcessStats {
            resident_bytes: resident_pages.saturating_mul(page),
            cpu_seconds: (utime + stime) as f64 / ticks as f64,
        })
    }
}

/// Renders every metric in the Prometheus text format (version 0.0.4).
pub fn render(hub: Option<&HubGauges>) -> String {
    let mut out = String::with_capacity(4096);
    head(
        &mut out,
        "ocppgw_build_info",
        "gauge",
        "Version of the running gateway.",
    );
    let _ = writeln!(
        out,
        "ocppgw_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    head(
        &mut out,
        "ocppgw_uptime_seconds",
        "gauge",
        "Seconds since the gateway started.",
    );
    let _ = writeln!(out, "ocppgw_uptime_seconds {:.3}", uptime().as_secs_f64());
    if let Some(p) = ProcessStats::read() {
        head(
            &mut out,
            "ocppgw_process_resident_memory_bytes",
            "gauge",
            "Resident set size.",
        );
        let _ = writeln!(
            out,
            "ocppgw_process_resident_memory_bytes {}",
            p.resident_bytes
        );
        head(
            &mut out,
            "ocppgw_process_cpu_seconds_total",
            "counter",
            "User and system CPU time.",
        );
        let _ = writeln!(out, "ocppgw_process_cpu_seconds_total {:.3}", p.cpu_seconds);
    }
    head(
        &mut out,
        "ocppgw_channel_full_total",
        "counter",
        "Messages refused because a bounded channel was full.",
    );
    let full = crate::chan::CHANNEL_FULL_TOTAL.load(Ordering::Relaxed);
    let _ = writeln!(out, "ocppgw_channel_full_total {full}");
    head(
        &mut out,
        "ocppgw_admin_auth_failures_total",
        "counter",
        "Admin API requests with a missing or unknown token.",
    );
    let _ = writeln!(
        out,
        "ocppgw_admin_auth_failures_total {}",
        ADMIN_AUTH_FAILURES.get()
    );
    head(
        &mut out,
        "ocppgw_admin_rate_limited_total",
        "counter",
        "Admin API requests refused after too many failed authentications.",
    );
    let _ = writeln!(
        out,
        "ocppgw_admin_rate_limited_total {}",
        ADMIN_RATE_LIMITED.get()
    );
    head(
        &mut out,
        "ocppgw_admin_connections_refused_total",
        "counter",
        "Admin and metrics connections refused at accept: too many, or too few descriptors left.",
    );
    let _ = writeln!(
        out,
        "ocppgw_admin_connections_refused_total {}",
        ADMIN_CONNECTIONS_REFUSED.get()
    );
    head(
        &mut out,
        "ocppgw_journal_dropped_total",
        "counter",
        "Intermediate transaction messages dropped because the journal was full.",
    );
    let _ = writeln!(
        out,
        "ocppgw_journal_dropped_total {}",
        JOURNAL_DROPPED.get()
    );
    head(
        &mut out,
        "ocppgw_journal_write_errors_total",
        "counter",
        "Journal commits that failed; transaction messages wait until the retry succeeds.",
    );
    let _ = writeln!(
        out,
        "ocppgw_journal_write_errors_total {}",
        JOURNAL_WRITE_ERRORS.get()
    );
    head(
        &mut out,
        "ocppgw_journal_healthy",
        "gauge",
        "1 while every journal write is on disk, 0 while writes wait for a retry.",
    );
    let _ = writeln!(out, "ocppgw_journal_healthy {}", JOURNAL_HEALTHY.get());
    head(
        &mut out,
        "ocppgw_journal_unwritten",
        "gauge",
        "Journal writes that failed and wait for a retry.",
    );
    let _ = writeln!(out, "ocppgw_journal_unwritten {}", JOURNAL_UNWRITTEN.get());
    head(
        &mut out,
        "ocppgw_echonet_inf_discarded_total",
        "counter",
        "ECHONET Lite announcements dropped because their node exceeded its INF rate.",
    );
    let _ = writeln!(
        out,
        "ocppgw_echonet_inf_discarded_total {}",
        ECHONET_INF_DISCARDED.get()
    );
    if let Some(h) = hub {
        head(
            &mut out,
            "ocppgw_queue_depth",
            "gauge",
            "Messages waiting in a hub queue.",
        );
        for (queue, depth) in [
            ("device_events", h.device_event_queue),
            ("link_events", h.link_event_queue),
            ("admin", h.admin_queue),
            ("modbus_tcp", h.modbus_tcp_queue),
        ] {
            let _ = writeln!(out, "ocppgw_queue_depth{{queue=\"{queue}\"}} {depth}");
        }
    }
    render_devices(&mut out);
    render_stations(&mut out);
    out
}

/// The HELP and TYPE lines of one metric.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn render_devices(out: &mut String) {
    let devices = DEVICES.snapshot();
    head(
        out,
        "ocppgw_device_poll_duration_seconds",
        "histogram",
        "Time to poll every variable of a device once.",
    );
    for (name, d) in &devices {
        let label = escape(name);
        let mut cumulative = 0;
        for (i, bound) in POLL_BUCKETS.iter().enumerate() {
            cumulative += d
                .poll_seconds
                .buckets
                .get(i)
                .map_or(0, |b| b.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "ocppgw_device_poll_duration_seconds_bucket{{device=\"{label}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = d.poll_seconds.count();
        let sum = d.poll_seconds.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "ocppgw_device_poll_duration_seconds_bucket{{device=\"{label}\",le=\"+Inf\"}} {count}\n\
             ocppgw_device_poll_duration_seconds_sum{{device=\"{label}\"}} {sum:.6}\n\
             ocppgw_device_poll_duration_seconds_count{{device=\"{label}\"}} {count}"
        );
    }
    head(
        out,
        "ocppgw_device_poll_errors_total",
        "counter",
        "Polls that failed.",
    );
    for (name, d) in &devices {
        let _ = writeln!(
            out,
            "ocppgw_device_poll_errors_total{{device=\"{}\"}} {}",
            escape(name),
            d.poll_errors.get()
        );
    }
    head(
        out,
        "ocppgw_device_online",
        "gauge",
        "1 while the device answers, 0 otherwise.",
    );
    for (name, d) in &devices {
        let _ = writeln!(
            out,
            "ocppgw_device_online{{device=\"{}\"}} {}",
            escape(name),
            d.online.get()
        );
    }
}

/// Name, type, help and value of one per-station metric.
type StationSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&StationMetrics) -> i64,
);

fn render_stations(out: &mut String) {
    let stations = STATIONS.snapshot();
    let series: [StationSeries; 7] = [
        (
            "ocppgw_station_messages_sent_total",
            "counter",
            "OCPP-J frames sent to the CSMS.",
            |s| s.sent.get() as i64,
        ),
        (
            "ocppgw_station_messages_received_total",
            "counter",
            "OCPP-J frames received from the CSMS.",
            |s| s.received.get() as i64,
        ),
        (
            "ocppgw_station_messages_failed_total",
            "counter",
            "OCPP-J frames that could not be handed to the CSMS link.",
            |s| s.failed.get() as i64,
        ),
        (
            "ocppgw_csms_connected",
            "gauge",
            "1 while the station's WebSocket is open.",
            |s| s.connected.get(),
        ),
        (
            "ocppgw_csms_connects_total",
            "counter",
            "WebSocket connections opened.",
            |s| s.connects.get() as i64,
        ),
        (
            "ocppgw_csms_reconnects_total",
            "counter",
            "WebSocket connections opened after the first.",
            |s| s.reconnects.get() as i64,
        ),
        (
            "ocppgw_csms_connect_failures_total",
            "counter",
            "Failed WebSocket connection attempts.",
            |s| s.connect_failures.get() as i64,
        ),
    ];
    for (name, kind, help, value) in series {
        head(out, name, kind, help);
        for (station, s) in &stations {
            let _ = writeln!(
                out,
                "{name}{{station=\"{}\"}} {}",
                escape(station),
                value(s)
            );
        }
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        poll_finished("unit-test-dev", Duration::from_millis(3), true);
        poll_finished("unit-test-dev", Duration::from_millis(30), false);
        poll_finished("unit-test-dev", Duration::from_secs(9), false);
        let text = render(None);
        for line in [
            "ocppgw_device_poll_duration_seconds_bucket{device=\"unit-test-dev\",le=\"0.005\"} 1",
            "ocppgw_device_poll_duration_seconds_bucket{device=\"unit-test-dev\",le=\"0.05\"} 2",
            "ocppgw_device_poll_duration_seconds_bucket{device=\"unit-test-dev\",le=\"5\"} 2",
            "ocppgw_device_poll_duration_seconds_bucket{device=\"unit-test-dev\",le=\"+Inf\"} 3",
            "ocppgw_device_poll_duration_seconds_count{device=\"unit-test-dev\"} 3",
            "ocppgw_device_poll_errors_total{device=\"unit-test-dev\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        let polled = device("unit-test-dev").last_good_poll().unwrap();
        assert!(polled <= Instant::now());
        assert_eq!(device("never-polled").last_good_poll(), None);
    }

    #[test]
    fn label_values_are_escaped() {
        station("we\"ird\\id\n").sent.inc();
        let text = render(None);
        assert!(
            text.contains("ocppgw_station_messages_sent_total{station=\"we\\\"ird\\\\id\\n\"} 1")
        );
    }

    #[test]
    fn process_stats_come_from_proc() {
        let p = ProcessStats::read().expect("Linux has /proc/self");
        assert!(p.resident_bytes > 0);
        assert!(p.cpu_seconds >= 0.0);
    }
}
