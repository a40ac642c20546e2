//! Port's clock, as its answers tell it (the `Date` header), for comparing with the `$updatedAt`
//! Port stamps on entities. Our own clock may be off by minutes; Port's is the one `$updatedAt`
//! comes from.
//!
//! Each answer bounds the offset between Port's clock and ours: Port wrote `Date` (truncated to
//! the second) at some moment between our sending the request and our receiving the answer, so
//! `Date - received < offset < Date + 1 s - sent`. The bounds of every answer are intersected.
//! When they admit no offset at all (our clock agrees with Port's to the precision `Date` gives),
//! our clock is used as it is; otherwise our clock plus the lower bound, the earliest time Port's
//! clock can show (an early start only keeps entities, never deletes one).
//!
//! Before Port has answered (or when it sends no `Date`), our clock less [`FALLBACK_MARGIN`]
//! stands in: an entity Port stamped up to that much "before" our clock's now is still treated as
//! written during the run, so a skew below the margin can only keep an entity.

use reqwest::header::HeaderMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far our clock may be ahead of Port's before an entity written during a run could look
/// older than the run, when Port's own time is not known.
pub const FALLBACK_MARGIN: Duration = Duration::from_secs(120);

/// Bounds of Port's clock minus ours, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Offset {
    low: i128,
    high: i128,
}

/// Port's time as its answers bound it.
#[derive(Debug, Default)]
pub struct PortClock {
    offset: Mutex<Option<Offset>>,
}

fn millis(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

fn shifted(t: SystemTime, ms: i128) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs() as u64);
    if ms >= 0 {
        t + d
    } else {
        t - d
    }
}

impl PortClock {
    /// Takes in the `Date` of an answer to a request sent at `sent` and received at `received`
    /// (both on our clock).
    pub fn observe(&self, headers: &HeaderMap, sent: SystemTime, received: SystemTime) {
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok());
        let Some(date) = date else { return };
        let seen = Offset {
            low: millis(date) - millis(received),
            high: millis(date) + 1000 - millis(sent),
        };
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        let merged = match *offset {
            Some(known) => Offset {
                low: known.low.max(seen.low),
                high: known.high.min(seen.high),
            },
            None => seen,
        };
        // Bounds that contradict each other: a clock moved; start over from this answer.
        *offset = Some(if merged.low <= merged.high {
            merged
        } else {
            seen
        });
    }

    /// Port's time now (see the module's documentation).
    pub fn now(&self) -> SystemTime {
        let ours = SystemTime::now();
        match *self.offset.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(Offset { low, high }) if low <= 0 && 0 <= high => ours,
            Some(Offset { low, .. }) => shifted(ours, low),
            None => ours - FALLBACK_MARGIN,
        }
    }

    /// Whether Port's time is known (a `Date` was seen).
    pub fn known(&self) -> bool {
        self.offset
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn date(t: SystemTime) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::DATE,
            HeaderValue::from_str(&httpdate::fmt_http_date(t)).unwrap(),
        );
        headers
    }

    #[test]
    fn unknown_until_port_answers_then_our_clock_less_the_margin() {
        let clock = PortClock::default();
        assert!(!clock.known());
        let port = clock.now();
        let off = SystemTime::now().duration_since(port).unwrap();
        assert!(off >= FALLBACK_MARGIN && off < FALLBACK_MARGIN + Duration::from_secs(1));
        clock.observe(&HeaderMap::new(), SystemTime::now(), SystemTime::now());
        assert!(!clock.known(), "no Date, nothing learnt");
    }

    #[test]
    fn a_port_clock_an_hour_behind_ours_is_used() {
        let clock = PortClock::default();
        let now = SystemTime::now();
        clock.observe(&date(now - Duration::from_secs(3600)), now, now);
        assert!(clock.known());
        let off = SystemTime::now().duration_since(clock.now()).unwrap();
        assert!(
            off > Duration::from_secs(3599) && off < Duration::from_secs(3602),
            "{off:?}"
        );
        // An unreadable Date changes nothing.
        let mut bad = HeaderMap::new();
        bad.insert(reqwest::header::DATE, HeaderValue::from_static("yesterday"));
        clock.observe(&bad, now, now);
        let again = SystemTime::now().duration_since(clock.now()).unwrap();
        assert!(again > Duration::from_secs(3599), "{again:?}");
    }

    #[test]
    fn a_port_clock_that_agrees_with_ours_to_the_second_leaves_ours() {
        let clock = PortClock::default();
        let sent = SystemTime::now();
        let received = sent + Duration::from_millis(30);
        clock.observe(&date(sent), sent, received);
        let diff = millis(SystemTime::now()) - millis(clock.now());
        assert!(diff.abs() < 50, "{diff}");
    }
}
