//! [`Timestamp`]: the one time type of stored state.

use crate::aws::api::timestamp::iso8601_millis;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the Unix epoch, UTC. Stored as is, so it round-trips
/// exactly through both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time of this machine's clock.
    pub fn now() -> Timestamp {
        let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp(millis)
    }

    /// The time `millis` milliseconds after the epoch.
    pub fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down), as DynamoDB's TTL attribute wants them.
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// `self + d`, saturating.
    pub fn plus(self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// `self - d`, saturating.
    pub fn minus(self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(ms))
    }

    /// ISO-8601 in UTC with milliseconds (`2026-12-05T17:08:22.123Z`); sorts as the time does
    /// for years 0000-9999.
    pub fn iso(self) -> String {
        iso8601_millis(&aws_smithy_types::DateTime::from_millis(self.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_sortable_iso_8601() {
        assert_eq!(
            Timestamp::from_millis(1_700_000_000_123).iso(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(Timestamp::from_millis(1_999).secs(), 1);
        assert_eq!(
            Timestamp::from_millis(5).plus(Duration::from_secs(1)),
            Timestamp::from_millis(1005)
        );
    }
}
