//! Bounded-channel sends that never block the sender and never go unnoticed when full.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Sender, TrySendError};

/// Count of sends refused because a channel was full, for the metrics endpoint.
pub static CHANNEL_FULL_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Why a message could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError<T> {
    /// The receiver is behind; the message is handed back so the caller can keep it.
    Full(T),
    /// The receiver is gone (shutting down).
    Closed(T),
}

/// Queues `msg` without blocking; a full channel is counted and logged under `what`.
pub fn try_send<T>(tx: &Sender<T>, msg: T, what: &str) -> Result<(), SendError<T>> {
    match tx.try_send(msg) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(msg)) => {
            let n = CHANNEL_FULL_TOTAL.fetch_add(1, Ordering::Relaxed) + 1;
            log::warn!("channel {what} is full ({n} full events so far)");
            Err(SendError::Full(msg))
        }
        Err(TrySendError::Disconnected(msg)) => Err(SendError::Closed(msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_channel_hands_message_back_and_counts() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        assert_eq!(try_send(&tx, 1, "test"), Ok(()));
        let before = CHANNEL_FULL_TOTAL.load(Ordering::Relaxed);
        assert_eq!(try_send(&tx, 2, "test"), Err(SendError::Full(2)));
        assert!(CHANNEL_FULL_TOTAL.load(Ordering::Relaxed) > before);
        drop(rx);
        assert_eq!(try_send(&tx, 3, "test"), Err(SendError::Closed(3)));
    }
}
