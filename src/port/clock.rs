//! Port's clock, as its answers tell it (the `Date` header), for comparing with the `$updatedAt`
//! Port stamps on entities. Our own clock may be off by minutes; Port's is the one `$updatedAt`
//! comes from.
//!
//! The last `Date` seen, plus the time elapsed here since, estimates Port's time now. `Date` has a
//! resolution of one second and is truncated, so the estimate is never later than Port's time by
//! more than the network delay. Before Port has answered (or when it sends no `Date`), our own
//! clock less [`FALLBACK_MARGIN`] stands in: an entity Port stamped up to that much "before" our
//! clock's now is still treated as written during this run, so a skew below the margin can only
//! keep an entity, never delete one.

use reqwest::header::HeaderMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// How far our clock may be ahead of Port's before an entity written during a run could look
/// older than the run, when Port's own time is not known.
pub const FALLBACK_MARGIN: Duration = Duration::from_secs(120);

/// Port's time as last seen.
#[derive(Debug, Default)]
pub struct PortClock {
    seen: Mutex<Option<(SystemTime, Instant)>>,
}

impl PortClock {
    /// Remembers the `Date` of an answer of Port's.
    pub fn observe(&self, headers: &HeaderMap) {
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok());
        if let Some(date) = date {
            *self.seen.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((date, Instant::now()));
        }
    }

    /// Port's time now: the last `Date` plus the time since it arrived, or our clock less
    /// [`FALLBACK_MARGIN`] when Port has not told us its time.
    pub fn now(&self) -> SystemTime {
        match *self.seen.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((date, at)) => date + at.elapsed(),
            None => SystemTime::now() - FALLBACK_MARGIN,
        }
    }

    /// Whether Port's time is known (a `Date` was seen).
    pub fn known(&self) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn uses_ports_date_not_our_clock() {
        let clock = PortClock::default();
        let unknown = clock.now();
        let ours = SystemTime::now();
        assert!(!clock.known());
        assert!(unknown <= ours - FALLBACK_MARGIN + Duration::from_secs(1));
        let mut headers = HeaderMap::new();
        // Port's clock an hour behind ours.
        let port = SystemTime::now() - Duration::from_secs(3600);
        headers.insert(
            reqwest::header::DATE,
            HeaderValue::from_str(&httpdate::fmt_http_date(port)).unwrap(),
        );
        clock.observe(&headers);
        assert!(clock.known());
        let now = clock.now();
        let off = ours.duration_since(now).unwrap();
        assert!(
            off > Duration::from_secs(3590) && off < Duration::from_secs(3610),
            "{off:?}"
        );
        // An unreadable Date keeps what was known.
        headers.insert(reqwest::header::DATE, HeaderValue::from_static("yesterday"));
        clock.observe(&headers);
        assert!(clock.now() <= now + Duration::from_secs(1));
    }
}
