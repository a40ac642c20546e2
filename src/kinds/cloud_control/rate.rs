//! The request-rate bound of Cloud Control calls: a token bucket per account and region, shared by
//! every type synced there, that every `ListResources` and `GetResource` request passes before it
//! is sent. Cloud Control's limits are low and, for reads, undocumented (see the module doc).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests per second and burst of one account and region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    per_second: f64,
    burst: u32,
}

impl RateLimit {
    /// A steady `per_second` rate (finite and above zero) allowing `burst` requests at once (at
    /// least one). `None` for a rate that is zero, negative or not a number.
    pub fn new(per_second: f64, burst: u32) -> Option<RateLimit> {
        (per_second.is_finite() && per_second > 0.0).then_some(RateLimit {
            per_second,
            burst: burst.max(1),
        })
    }

    /// Requests per second, in the long run.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Requests that may go at once after a quiet spell.
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

impl Default for RateLimit {
    /// 5 requests a second, 5 at once: a sixth of the ~30 per second at which Cloud Control has
    /// been seen to throttle, leaving room for the account's other callers and for the service
    /// calls each handler makes.
    fn default() -> Self {
        RateLimit {
            per_second: 5.0,
            burst: 5,
        }
    }
}

/// One token bucket. In any window of `t` seconds at most `burst + per_second * t` requests pass.
/// Waiters are served in the order they asked: a request that cannot go at once reserves the next
/// free slot and sleeps until it.
#[derive(Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    /// Tokens in hand; below zero, the slots already promised to waiters.
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(limit: RateLimit) -> TokenBucket {
        TokenBucket {
            limit,
            state: Mutex::new(BucketState {
                tokens: f64::from(limit.burst),
                last: Instant::now(),
            }),
        }
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        let wait = {
            let mut state = match self.state.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            state.reserve(&self.limit, Instant::now())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl BucketState {
    /// Takes one token at `now` and returns how long to wait before using it.
    fn reserve(&mut self, limit: &RateLimit, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / limit.per_second)
        }
    }
}

/// The buckets of a process, one per account and region, made on first use. Cheap to share
/// behind an `Arc`; build one per process next to the `AwsApi`.
#[derive(Debug)]
pub struct RateLimits {
    limit: RateLimit,
    buckets: Mutex<HashMap<(String, String), Arc<TokenBucket>>>,
}

/// Beyond this many buckets, the ones nobody holds are dropped (a large organization has
/// thousands of account-region pairs, each bucket is a few dozen bytes).
const MAX_BUCKETS: usize = 50_000;

impl RateLimits {
    pub fn new(limit: RateLimit) -> RateLimits {
        RateLimits {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limit every bucket gets.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// The one bucket of `account_id` in `region`.
    pub fn bucket(&self, account_id: &str, region: &str) -> Arc<TokenBucket> {
        let mut buckets = match self.buckets.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, bucket| Arc::strong_count(bucket) > 1);
        }
        buckets
            .entry((account_id.to_owned(), region.to_owned()))
            .or_insert_with(|| Arc::new(TokenBucket::new(self.limit)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: f64, burst: u32) -> RateLimit {
        RateLimit::new(per_second, burst).unwrap()
    }

    /// The send times of `n` requests all asked for at `start`.
    fn send_times(limit: RateLimit, n: usize) -> Vec<f64> {
        let start = Instant::now();
        let mut state = BucketState {
            tokens: f64::from(limit.burst),
            last: start,
        };
        (0..n)
            .map(|_| state.reserve(&limit, start).as_secs_f64())
            .collect()
    }

    #[test]
    fn lets_the_burst_through_then_spaces_requests_by_the_rate() {
        let times = send_times(limit(4.0, 2), 6);
        let expected = [0.0, 0.0, 0.25, 0.5, 0.75, 1.0];
        for (t, e) in times.iter().zip(expected) {
            assert!((t - e).abs() < 1e-9, "{times:?}");
        }
    }

    #[test]
    fn no_one_second_window_holds_more_than_rate_plus_burst() {
        let l = limit(5.0, 3);
        let times = send_times(l, 200);
        for (i, &from) in times.iter().enumerate() {
            let in_window = times[i..].iter().filter(|&&t| t < from + 1.0).count();
            assert!(
                in_window <= 5 + 3,
                "{in_window} requests in [{from}, {from}+1)"
            );
        }
        // 200 requests at 5/s with a burst of 3 need (200 - 3) / 5 seconds.
        assert!((times[199] - 197.0 / 5.0).abs() < 1e-6);
    }

    #[test]
    fn refills_with_time_but_never_beyond_the_burst() {
        let l = limit(2.0, 2);
        let start = Instant::now();
        let mut state = BucketState {
            tokens: 2.0,
            last: start,
        };
        assert_eq!(state.reserve(&l, start), Duration::ZERO);
        assert_eq!(state.reserve(&l, start), Duration::ZERO);
        assert_eq!(state.reserve(&l, start), Duration::from_millis(500));
        // An hour of quiet refills two tokens, not 7,200.
        let later = start + Duration::from_secs(3600);
        assert_eq!(state.reserve(&l, later), Duration::ZERO);
        assert_eq!(state.reserve(&l, later), Duration::ZERO);
        assert_eq!(state.reserve(&l, later), Duration::from_millis(500));
    }

    #[test]
    fn rejects_rates_that_are_not_positive_and_lifts_a_zero_burst() {
        assert_eq!(RateLimit::new(0.0, 1), None);
        assert_eq!(RateLimit::new(-1.0, 1), None);
        assert_eq!(RateLimit::new(f64::NAN, 1), None);
        assert_eq!(RateLimit::new(f64::INFINITY, 1), None);
        assert_eq!(limit(1.0, 0).burst(), 1);
    }

    #[test]
    fn one_bucket_per_account_and_region() {
        let limits = RateLimits::new(RateLimit::default());
        let a = limits.bucket("111111111111", "eu-west-1");
        let b = limits.bucket("111111111111", "eu-west-1");
        let c = limits.bucket("111111111111", "us-east-1");
        let d = limits.bucket("222222222222", "eu-west-1");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(!Arc::ptr_eq(&a, &d));
    }

    #[tokio::test]
    async fn acquire_returns_at_once_within_the_burst() {
        let bucket = TokenBucket::new(limit(1.0, 3));
        let started = Instant::now();
        for _ in 0..3 {
            bucket.acquire().await;
        }
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}
