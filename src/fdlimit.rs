//! The open-file limit (RLIMIT_NOFILE): raised at start to what the configured stations need,
//! and read by the admin listeners to keep a reserve of descriptors for everything else.

use std::io;

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
}
