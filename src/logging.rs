//! Log set-up: `log` + `env_logger` to stderr (where journald picks it up) or to a file rotated
//! by size, and the most recent lines kept in memory for the admin API's logs route.

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
    // tungstenite traces the whole upgrade request, Authorization header included.
    builder.filter_module(
        "tungstenite::handshake::client",
        settings.level.min(LevelFilter::Debug),
    );
    builder.format_timestamp_millis();
    builder.target(env_logger::Target::Pipe(Box::new(Tee {
        sink,
        partial: Vec::new(),
    })));
    // A second call (tests, demo) keeps the first logger.
    if builder.try_init().is_ok() {
        if let Some(failure) = failure {
            log::warn!("cannot open the log file, logging to stderr: {failure}");
        }
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

/// env_logger's output: each formatted record goes to the sink and, line by line, to the ring.
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
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
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
        Ok(buf.len())
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
}
