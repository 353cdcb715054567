//! Reconnect back-off as OCPP 2.0.1 describes it (RetryBackOff* variables).

use std::time::Duration;

use crate::util::rng::Rng;

/// `RetryBackOffWaitMinimum`, `RetryBackOffRandomRange`, `RetryBackOffRepeatTimes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub wait_minimum: Duration,
    pub random_range: Duration,
    pub repeat_times: u32,
}

impl Backoff {
    /// The wait before attempt number `failures + 1`: the minimum doubled once per earlier
    /// failure (at most `repeat_times` times), plus a random part so that a thousand stations
    /// that lost the CSMS together do not come back together.
    pub fn wait(&self, failures: u32, rng: &mut Rng) -> Duration {
        let doublings = failures.min(self.repeat_times).min(16);
        let base = self.wait_minimum.saturating_mul(1 << doublings);
        let jitter_ms = rng.below(self.random_range.as_millis() as u64);
        base + Duration::from_millis(jitter_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_repeat_times_then_stays() {
        let b = Backoff {
            wait_minimum: Duration::from_secs(3),
            random_range: Duration::ZERO,
            repeat_times: 2,
        };
        let mut rng = Rng::seeded(1);
        let waits: Vec<u64> = (0..5).map(|f| b.wait(f, &mut rng).as_secs()).collect();
        assert_eq!(waits, [3, 6, 12, 12, 12]);
    }

    #[test]
    fn jitter_stays_inside_the_range() {
        let b = Backoff {
            wait_minimum: Duration::from_secs(1),
            random_range: Duration::from_secs(2),
            repeat_times: 0,
        };
        let mut rng = Rng::seeded(9);
        for _ in 0..100 {
            let w = b.wait(0, &mut rng);
            assert!(
                w >= Duration::from_secs(1) && w < Duration::from_secs(3),
                "{w:?}"
            );
        }
    }
}
