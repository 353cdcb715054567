//! Watches the config file and the templates directory by polling their modification times,
//! and calls back once a change has settled (`system.watch_config = true`).
//!
//! Polling keeps this portable and needs no extra crate; the thread sleeps between polls in a
//! channel wait, which also lets `stop` end it at once.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// How often the files are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Modification time and length of each watched file; `None` where it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, Option<(SystemTime, u64)>>);

impl Snapshot {
    /// The config file and every `*.toml` directly in `templates_dir`.
    pub fn take(config: &Path, templates_dir: &Path) -> Snapshot {
        let stat = |path: &Path| {
            fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        };
        let mut files = BTreeMap::new();
        files.insert(config.to_path_buf(), stat(config));
        if let Ok(entries) = fs::read_dir(templates_dir) {
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                if path.extension().is_some_and(|x| x == "toml") {
                    let s = stat(&path);
                    files.insert(path, s);
                }
            }
        }
        Snapshot(files)
    }
}

/// Decides when a change is complete: a snapshot that differs from the last one acted on and
/// then stays the same for one more poll, since editors and deploy tools write in steps.
#[derive(Debug)]
pub struct Debounce {
    applied: Snapshot,
    pending: Option<Snapshot>,
}

impl Debounce {
    /// Starts from what is on disk now.
    pub fn new(initial: Snapshot) -> Debounce {
        Debounce {
            applied: initial,
            pending: None,
        }
    }

    /// Takes in the latest snapshot; true when a settled change should be acted on.
    pub fn observe(&mut self, now: Snapshot) -> bool {
        if now == self.applied {
            self.pending = None;
            false
        } else if self.pending.as_ref() == Some(&now) {
            self.applied = now;
            self.pending = None;
            true
        } else {
            self.pending = Some(now);
            false
        }
    }
}

/// A running watcher thread.
pub struct Watcher {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Watcher {
    /// Ends the thread and waits for it.
    pub fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            log::error!("config watcher panicked");
        }
    }
}

/// Starts watching `config` and `templates_dir` every `interval`; `on_change` runs on the
/// watcher thread for each settled change.
pub fn spawn(
    config: PathBuf,
    templates_dir: PathBuf,
    interval: Duration,
    mut on_change: impl FnMut() + Send + 'static,
) -> io::Result<Watcher> {
    let (stop, stopped): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name("config-watch".into())
        .spawn(move || {
            let mut debounce = Debounce::new(Snapshot::take(&config, &templates_dir));
            loop {
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                if debounce.observe(Snapshot::take(&config, &templates_dir)) {
                    log::info!("{} or its templates changed", config.display());
                    on_change();
                }
            }
        })?;
    Ok(Watcher { stop, thread })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(entries: &[(&str, u64)]) -> Snapshot {
        Snapshot(
            entries
                .iter()
                .map(|(p, len)| (PathBuf::from(p), Some((SystemTime::UNIX_EPOCH, *len))))
                .collect(),
        )
    }

    #[test]
    fn a_change_fires_once_it_has_settled() {
        let mut d = Debounce::new(snap(&[("a", 1)]));
        assert!(!d.observe(snap(&[("a", 1)])));
        assert!(!d.observe(snap(&[("a", 2)])), "first sight: not settled");
        assert!(!d.observe(snap(&[("a", 3)])), "still being written");
        assert!(d.observe(snap(&[("a", 3)])), "same twice: settled");
        assert!(!d.observe(snap(&[("a", 3)])), "acted on already");
    }

    #[test]
    fn a_change_undone_before_settling_does_not_fire() {
        let mut d = Debounce::new(snap(&[("a", 1)]));
        assert!(!d.observe(snap(&[("a", 1), ("b", 1)])));
        assert!(!d.observe(snap(&[("a", 1)])));
        assert!(!d.observe(snap(&[("a", 1)])));
    }

    #[test]
    fn snapshots_see_edits_new_and_deleted_templates() {
        let dir = std::env::temp_dir().join(format!("ocpp-gw-watch-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let templates = dir.join("templates");
        fs::create_dir_all(&templates).unwrap_or_else(|e| panic!("{e}"));
        let config = dir.join("gw.toml");
        let write = |p: &Path, text: &str| fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
        write(&config, "a");
        write(&templates.join("t.toml"), "x");
        write(&templates.join("notes.txt"), "ignored");
        let first = Snapshot::take(&config, &templates);
        assert_eq!(first.0.len(), 2);
        write(&templates.join("notes.txt"), "still ignored");
        assert_eq!(Snapshot::take(&config, &templates), first);
        write(&config, "ab");
        assert_ne!(Snapshot::take(&config, &templates), first);
        let second = Snapshot::take(&config, &templates);
        write(&templates.join("u.toml"), "y");
        assert_ne!(Snapshot::take(&config, &templates), second);
        let third = Snapshot::take(&config, &templates);
        fs::remove_file(templates.join("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(Snapshot::take(&config, &templates), third);
        let _ = fs::remove_dir_all(&dir);
    }
}
