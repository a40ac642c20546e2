//! The time a worker invocation may spend on units: what is left before the deadline the runtime
//! API gives, minus a margin to report.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Deadlines below this (September 2001 in epoch milliseconds) are durations: local runtime
/// emulators send the time left (e.g. `600000`) rather than an epoch timestamp.
const EPOCH_DEADLINE_FLOOR_MS: u64 = 1_000_000_000_000;

/// The time left before `deadline_ms` (epoch milliseconds, from the runtime API), minus a safety
/// margin for reporting: 10% of what is left, at least 2 s and at most 20 s. `None` when the
/// deadline is unknown (0).
pub fn work_budget(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    if deadline_ms == 0 {
        return None;
    }
    let left = if deadline_ms < EPOCH_DEADLINE_FLOOR_MS {
        Duration::from_millis(deadline_ms)
    } else {
        let now_ms = now.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    };
    let margin = (left / 10).clamp(Duration::from_secs(2), Duration::from_secs(20));
    Some(left.saturating_sub(margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_keeps_a_margin_for_reporting() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |secs: u64| 1_700_000_000_000 + secs * 1000;
        assert_eq!(work_budget(0, now), None);
        // 900 s left: 20 s margin (the cap).
        assert_eq!(work_budget(at(900), now), Some(Duration::from_secs(880)));
        // 60 s left: 10% = 6 s.
        assert_eq!(work_budget(at(60), now), Some(Duration::from_secs(54)));
        // 5 s left: the 2 s floor.
        assert_eq!(work_budget(at(5), now), Some(Duration::from_secs(3)));
        // Already past the deadline: nothing left.
        assert_eq!(work_budget(1_699_999_999_000, now), Some(Duration::ZERO));
        // A local emulator's relative deadline (cargo lambda sends 600000).
        assert_eq!(work_budget(600_000, now), Some(Duration::from_secs(580)));
    }
}
