//! When and how long to wait before retrying a Port request.
//!
//! The schedule is [`backon`]'s exponential backoff (jittered, capped, bounded attempts): a small,
//! well-kept crate, and the retry loop it drives replaces our own. What stays here is Port's: which
//! statuses are worth retrying, and the wait Port asks for (`Retry-After`, `x-ratelimit-reset`),
//! read only on 429 and 503, where those headers mean "come back then".

use backon::ExponentialBuilder;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use std::time::{Duration, SystemTime};

/// Most attempts of one request (first try included).
pub const MAX_ATTEMPTS: u32 = 8;
/// Longest single wait, whatever the server asks.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
/// The first wait is between `BASE / 2` and `BASE`; each next one doubles, up to `CAP`.
const BASE: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(30);

/// Statuses worth retrying: throttling and transient server errors.
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The backoff between attempts: exponential with jitter, each wait between half its ceiling and
/// its ceiling (`BASE · 2ⁿ`, at most `CAP`), [`MAX_ATTEMPTS`] attempts in all.
pub fn schedule() -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(BASE / 2)
        .with_max_delay(CAP / 2)
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(MAX_ATTEMPTS as usize - 1)
}

/// The wait Port asked for in an answer with `status`: only 429 (rate limited) and 503
/// (unavailable) carry one.
pub fn requested_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    matches!(status.as_u16(), 429 | 503)
        .then(|| server_wait(headers, now))
        .flatten()
}

/// The wait the server asked for: `Retry-After` (seconds or HTTP date) first, then
/// `x-ratelimit-reset` (values above 10,000 are an epoch, smaller ones seconds, as Ocean reads it).
pub fn server_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = header("retry-after") {
        if let Ok(secs) = v.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some(Duration::from_secs_f64(secs).min(MAX_WAIT));
            }
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(at.duration_since(now).unwrap_or_default().min(MAX_WAIT));
        }
    }
    if let Some(v) = header("x-ratelimit-reset") {
        if let Ok(n) = v.parse::<f64>() {
            if n.is_finite() && n >= 0.0 {
                let wait = if n > 10_000.0 {
                    let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(n);
                    at.duration_since(now).unwrap_or_default()
                } else {
                    Duration::from_secs_f64(n)
                };
                return Some(wait.min(MAX_WAIT));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn honours_retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            server_wait(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            server_wait(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            server_wait(&headers(&[("retry-after", "100000")]), now),
            Some(MAX_WAIT)
        );
    }

    #[test]
    fn reads_ratelimit_reset_as_seconds_or_epoch() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            server_wait(&headers(&[("x-ratelimit-reset", "5")]), now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            server_wait(&headers(&[("x-ratelimit-reset", "1700000009")]), now),
            Some(Duration::from_secs(9))
        );
        assert_eq!(server_wait(&headers(&[]), now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        use backon::BackoffBuilder;
        let waits: Vec<Duration> = schedule().with_max_times(19).build().collect();
        for &d in &waits {
            assert!(d <= CAP, "{d:?}");
            assert!(d >= BASE.mul_f64(0.5).min(CAP));
        }
        assert!(waits[5] > waits[0]);
        assert_eq!(schedule().build().count(), MAX_ATTEMPTS as usize - 1);
    }

    #[test]
    fn reads_the_requested_wait_only_on_429_and_503() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = headers(&[("retry-after", "3"), ("x-ratelimit-reset", "9")]);
        for (status, expected) in [
            (429, Some(Duration::from_secs(3))),
            (503, Some(Duration::from_secs(3))),
            (500, None),
            (502, None),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(requested_wait(status, &h, now), expected, "{status}");
        }
    }
}
