//! Log set-up: `log` + `env_logger` to stderr (where journald picks it up) or to a file rotated
//! by size, and the most recent lines kept in memory for the admin API's logs route.
//!
//! Secrets never reach a log at any level: other crates log at most at info (tungstenite and
//! rustls dump frames and handshakes below that), whatever the config or `RUST_LOG` ask, and
//! every record is redacted ([`redact`]) before it reaches the file, stderr or the ring.

mod redact;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use log::LevelFilter;

use crate::config::{LogRotation, SystemConfig};

/// Lines kept for `recent`.
const RING_LINES: usize = 1000;
/// Longer lines are cut in the ring (not in the file), so the ring stays small.
const RING_LINE_BYTES: usize = 2048;

static RING: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Where and how much to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub level: LevelFilter,
    /// Log to this file instead of stderr.
    pub file: Option<PathBuf>,
    pub rotation: LogRotation,
}

impl LogSettings {
    /// The settings of `[system]`.
    pub fn from_config(system: &SystemConfig) -> LogSettings {
        LogSettings {
            level: system.log_level,
            file: system.log_file.clone(),
            rotation: system.log_rotation.clone(),
        }
    }
}

/// Logs to stderr at `level` unless `RUST_LOG` says otherwise; safe to call more than once.
pub fn init(level: LevelFilter) {
    init_with(&LogSettings {
        level,
        file: None,
        rotation: LogRotation {
            max_size_mb: 10,
            max_files: 5,
        },
    });
}

/// Logs as `settings` say; a log file that cannot be opened falls back to stderr with a
/// warning, since a gateway must keep running when its log disk is full or read-only.
pub fn init_with(settings: &LogSettings) {
    let (sink, failure) = match &settings.file {
        None => (Sink::Stderr, None),
        Some(path) => match RotatingFile::open(path, &settings.rotation) {
            Ok(file) => (Sink::File(file), None),
            Err(e) => (Sink::Stderr, Some(format!("{}: {e}", path.display()))),
        },
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(settings.level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder.format_timestamp_millis();
    builder.target(env_logger::Target::Pipe(Box::new(Tee {
        sink,
        partial: Vec::new(),
    })));
    let inner = builder.build();
    let max = inner.filter();
    // A second call (tests, demo) keeps the first logger.
    if log::set_boxed_logger(Box::new(Capped { inner })).is_ok() {
        log::set_max_level(max);
        if let Some(failure) = failure {
            log::warn!("cannot open the log file, logging to stderr: {failure}");
        }
    }
}

/// The most a log target may log: ours (and the audit lines) anything, other crates at most
/// info, since below that tungstenite logs whole frames and upgrade requests.
fn ceiling(target: &str) -> LevelFilter {
    let ours = target == "audit"
        || target
            .strip_prefix("ocpp_gw")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
    if ours {
        LevelFilter::Trace
    } else {
        LevelFilter::Info
    }
}

/// env_logger's filter, then [`ceiling`], which neither the config nor `RUST_LOG` can lift.
struct Capped {
    inner: env_logger::Logger,
}

impl log::Log for Capped {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= ceiling(metadata.target()) && self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// The last `lines` log lines (at most the 1000 kept), oldest first.
pub fn recent(lines: usize) -> Vec<String> {
    let ring = RING.lock().unwrap_or_else(PoisonError::into_inner);
    let skip = ring.len().saturating_sub(lines);
    ring.iter().skip(skip).cloned().collect()
}

fn remember(line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let mut text = text.trim_end_matches(['\r', '\n']).to_string();
    if text.len() > RING_LINE_BYTES {
        let mut cut = RING_LINE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    let mut ring = RING.lock().unwrap_or_else(PoisonError::into_inner);
    if ring.len() >= RING_LINES {
        ring.pop_front();
    }
    ring.push_back(text);
}

/// env_logger's output: each formatted record is redacted, then goes to the sink and, line by
/// line, to the ring.
struct Tee {
    sink: Sink,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
}

enum Sink {
    Stderr,
    File(RotatingFile),
}

impl Write for Tee {
    fn write(&mut self, raw: &[u8]) -> io::Result<usize> {
        // env_logger hands over one whole record per write.
        let text = String::from_utf8_lossy(raw);
        let redacted = redact::redact(&text);
        let buf = redacted.as_bytes();
        match &mut self.sink {
            Sink::Stderr => io::stderr().write_all(buf)?,
            Sink::File(file) => {
                if let Err(e) = file.write_record(buf) {
                    // Better on stderr (journald) than lost.
                    let _ = writeln!(io::stderr(), "log file {}: {e}", file.path.display());
                    io::stderr().write_all(buf)?;
                }
            }
        }
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            remember(&self.partial[..end]);
            self.partial.drain(..=end);
        }
        Ok(raw.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stderr => io::stderr().flush(),
            Sink::File(file) => file.file.flush(),
        }
    }
}

/// An append-only log file renamed to `<path>.1` (older ones shifted up to `<path>.<max_files>`)
/// when the next record would take it past the size limit.
struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
}

impl RotatingFile {
    fn open(path: &Path, rotation: &LogRotation) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            max_size: rotation.max_size_mb.saturating_mul(1024 * 1024),
            max_files: rotation.max_files,
        })
    }

    fn write_record(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size.saturating_add(buf.len() as u64) > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.size = self.size.saturating_add(buf.len() as u64);
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.max_files).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// `<path>.<n>`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = std::env::temp_dir().join(format!("ocpp-gw-log-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gw.log");
        let rotation = LogRotation {
            max_size_mb: 1,
            max_files: 2,
        };
        let mut f = RotatingFile::open(&path, &rotation).unwrap();
        let record = vec![b'x'; 400 * 1024];
        for _ in 0..10 {
            f.write_record(&record).unwrap();
        }
        let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&path) <= 1024 * 1024);
        assert_eq!(size(&numbered(&path, 1)), 800 * 1024);
        assert_eq!(size(&numbered(&path, 2)), 800 * 1024);
        assert!(!numbered(&path, 3).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tee_keeps_whole_lines_in_the_ring() {
        let mut tee = Tee {
            sink: Sink::Stderr,
            partial: Vec::new(),
        };
        tee.write_all(b"unit-test-ring first\nunit-test-ring sec")
            .unwrap();
        tee.write_all(b"ond\n").unwrap();
        let lines = recent(RING_LINES);
        let mine: Vec<_> = lines
            .iter()
            .filter(|l| l.starts_with("unit-test-ring"))
            .collect();
        assert_eq!(mine, ["unit-test-ring first", "unit-test-ring second"]);
    }

    #[test]
    fn tee_redacts_before_the_ring() {
        let mut tee = Tee {
            sink: Sink::Stderr,
            partial: Vec::new(),
        };
        tee.write_all(b"unit-test-redact Authorization: Basic c2VjcmV0\n")
            .unwrap();
        let lines = recent(RING_LINES);
        assert!(lines.iter().any(|l| l.starts_with("unit-test-redact")));
        assert!(!lines.iter().any(|l| l.contains("c2VjcmV0")), "{lines:?}");
    }

    #[test]
    fn other_crates_log_at_most_info() {
        assert_eq!(ceiling("ocpp_gw::station"), LevelFilter::Trace);
        assert_eq!(ceiling("ocpp_gw"), LevelFilter::Trace);
        assert_eq!(ceiling("audit"), LevelFilter::Trace);
        assert_eq!(ceiling("tungstenite::protocol"), LevelFilter::Info);
        assert_eq!(ceiling("rustls::conn"), LevelFilter::Info);
        assert_eq!(ceiling("ocpp_gwx"), LevelFilter::Info);
    }
}
