//! When and how long to wait before retrying a Port request.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use std::time::{Duration, SystemTime};

/// Most attempts of one request (first try included).
pub const MAX_ATTEMPTS: u32 = 8;
/// Longest single wait, whatever the server asks.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
const BASE: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(30);

/// Statuses worth retrying: throttling and transient server errors.
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Exponential backoff with full jitter for attempt `n` (1-based).
pub fn backoff(attempt: u32) -> Duration {
    let exp = BASE.saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
    let ceiling = exp.min(CAP);
    let jitter = fastrand::f64();
    ceiling.mul_f64(0.5 + jitter / 2.0)
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
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= CAP, "{d:?}");
            assert!(d >= BASE.mul_f64(0.5).min(CAP));
        }
        assert!(backoff(6) > backoff(1));
    }
}
