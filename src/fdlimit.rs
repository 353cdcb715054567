//! The open-file limit (RLIMIT_NOFILE): raised at start to what the configured stations need,
//! raised again whenever a reloaded config adds stations, and read by the admin listeners to
//! keep a reserve of descriptors for everything else.

use std::io;

use crate::config::Config;

/// Descriptors the daemon needs besides its stations: journal, log file, listeners, epoll and
/// waker descriptors, config and template reads, serial ports.
const BASE: u64 = 128;
/// Descriptors per station: its CSMS WebSocket, its device connection, and one spare for a
/// reconnection that overlaps the old socket.
const PER_STATION: u64 = 3;

/// What the daemon needs for `stations` stations and `listeners` admin listeners of at most
/// `per_listener` connections each.
pub fn needed(stations: usize, listeners: usize, per_listener: usize) -> u64 {
    let stations = u64::try_from(stations).unwrap_or(u64::MAX);
    let listeners = u64::try_from(listeners.saturating_mul(per_listener)).unwrap_or(u64::MAX);
    BASE.saturating_add(stations.saturating_mul(PER_STATION))
        .saturating_add(listeners)
        .saturating_add(crate::admin::FD_RESERVE)
}

/// What `config` needs: its stations and its admin and metrics listeners.
pub fn needed_by(config: &Config) -> u64 {
    let listeners = usize::from(config.system.admin.is_some())
        + usize::from(config.system.metrics.prometheus_port.is_some());
    needed(
        config.devices.len(),
        listeners,
        crate::admin::MAX_CONNECTIONS,
    )
}

/// Raises the soft limit to what `config` needs, before it is applied: a reload or an added
/// device must not leave new stations short of descriptors. Warns when the hard limit is too
/// low; never lowers the limit, so stations of the running config keep theirs.
pub fn raise_for(config: &Config) {
    let needed = needed_by(config);
    match raise(needed) {
        Ok((limit, false)) => log::debug!("open-file limit {limit} (needed {needed})"),
        Ok((limit, true)) => log::warn!(
            "open-file limit {limit} is below the {needed} that {} device(s) need; raise the hard \
             limit (LimitNOFILE= in the systemd unit)",
            config.devices.len()
        ),
        Err(e) => log::warn!("cannot raise the open-file limit to {needed}: {e}"),
    }
}

/// The soft limit now (`u64::MAX` when unlimited or unknown).
pub fn soft_limit() -> u64 {
    get().map_or(u64::MAX, |(soft, _)| soft)
}

/// Raises the soft limit towards `needed` (never above the hard limit, never lowers it);
/// returns the soft limit in force afterwards, and whether it falls short of `needed`.
pub fn raise(needed: u64) -> io::Result<(u64, bool)> {
    let (soft, hard) = get()?;
    if soft >= needed {
        return Ok((soft, false));
    }
    let target = needed.min(hard);
    if target > soft {
        set(target, hard)?;
    }
    Ok((target.max(soft), target < needed))
}

fn get() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((as_u64(limit.rlim_cur), as_u64(limit.rlim_max)))
}

fn set(soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: from_u64(soft),
        rlim_max: from_u64(hard),
    };
    // SAFETY: setrlimit reads one rlimit through a valid pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

// rlim_t is 32 bits on some of the ARM targets the gateway is built for.
#[allow(clippy::useless_conversion)]
fn as_u64(value: libc::rlim_t) -> u64 {
    if value == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        u64::try_from(value).unwrap_or(u64::MAX)
    }
}

#[allow(clippy::useless_conversion)]
fn from_u64(value: u64) -> libc::rlim_t {
    if value == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        libc::rlim_t::try_from(value).unwrap_or(libc::RLIM_INFINITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_grow_with_stations_and_listeners() {
        assert!(needed(1000, 2, 64) >= 1000 * PER_STATION + 2 * 64);
        assert!(needed(0, 0, 0) >= BASE);
        assert_eq!(needed(usize::MAX, usize::MAX, usize::MAX), u64::MAX);
    }

    #[test]
    fn raising_to_what_is_there_changes_nothing() {
        let soft = soft_limit();
        assert_eq!(raise(1).unwrap(), (soft, false));
        assert_eq!(soft_limit(), soft);
    }

    /// A loaded config of `devices` generic chargers, with the metrics listener if `metrics`.
    fn config(name: &str, devices: u8, metrics: bool) -> Config {
        let dir =
            std::env::temp_dir().join(format!("ocpp-gw-fdlimit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates");
        let mut text = format!(
            "[system]\ntemplates_dir = {:?}\n{}[csms]\nurl = \"ws://127.0.0.1:9000\"\n",
            templates.display().to_string(),
            if metrics {
                "[system.metrics]\nprometheus_port = 9100\n"
            } else {
                ""
            },
        );
        for unit in 1..=devices {
            text.push_str(&format!(
                "[[devices]]\nid = \"d{unit}\"\ntemplate = \"generic_modbus_charger\"\n\
                 protocol = \"modbus_tcp\"\nocpp_id = \"D{unit}\"\n\
                 connection = {{ ip = \"10.0.0.1\", unit_id = {unit} }}\n"
            ));
        }
        let path = dir.join("ocpp-gw.toml");
        std::fs::write(&path, text).unwrap();
        let loaded = crate::config::load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        loaded.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_config_needs_descriptors_per_device_and_per_listener() {
        let one = needed_by(&config("one", 1, false));
        assert_eq!(one, needed(1, 0, crate::admin::MAX_CONNECTIONS));
        assert_eq!(
            needed_by(&config("twenty", 20, false)),
            one + 19 * PER_STATION
        );
        assert_eq!(
            needed_by(&config("metrics", 1, true)),
            one + crate::admin::MAX_CONNECTIONS as u64
        );
    }
}
