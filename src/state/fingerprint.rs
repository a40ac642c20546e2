//! Fingerprints of what was written to Port, and when a fingerprint stops vouching for an
//! entity.
//!
//! A fingerprint is the first 128 bits of SHA-256 over a canonical JSON encoding of the entity
//! (object keys sorted at every level, no whitespace) and the upsert options (`merge`,
//! `create_missing_related_entities`, ...): writing the same entity with the same options gives
//! the same fingerprint on every machine and Rust version, whatever the key order the mapping
//! produced. std's `DefaultHasher` is not used because its output may change between Rust
//! releases, which would rewrite every entity after an upgrade.

use super::model::Timestamp;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

/// A version tag hashed first, so a future change of the encoding changes every fingerprint
/// (a one-time rewrite) instead of risking a collision with the old encoding.
const ENCODING: &[u8] = b"port-aws-sync fingerprint v1\0";

/// 128 bits as 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Reads a stored fingerprint; `None` unless it is 32 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<Fingerprint> {
        let ok = hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Fingerprint(hex.to_owned()))
    }

    /// The 32 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fingerprint of `entity_json` (the body sent to Port) written with `upsert_options` (the
/// query string or any text naming the options, e.g. `upsert=true&merge=true`).
pub fn fingerprint(entity_json: &serde_json::Value, upsert_options: &str) -> Fingerprint {
    let mut canonical = String::new();
    write_canonical(entity_json, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(ENCODING);
    hasher.update((upsert_options.len() as u64).to_be_bytes());
    hasher.update(upsert_options.as_bytes());
    hasher.update(canonical.as_bytes());
    let digest = hasher.finalize();
    let hex = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Fingerprint(hex)
}

/// Compact JSON with every object's keys sorted (by their UTF-8 bytes). Strings and numbers use
/// serde_json's own encoding, which is deterministic.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// How long a fingerprint vouches for an entity: an unchanged entity is still rewritten once its
/// record expires, so every entity is rewritten at least every `max_age` (an edit in Port's UI
/// or a lost write heals within that time). Expiry is jittered so that entities first written
/// together do not all expire in the same run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpiryPolicy {
    /// Default 7 days.
    pub max_age: Duration,
    /// The largest share of `max_age` taken off at random, in `[0, 1)`; default 0.2.
    pub jitter: f64,
}

impl Default for ExpiryPolicy {
    fn default() -> Self {
        ExpiryPolicy {
            max_age: Duration::from_secs(7 * 24 * 3600),
            jitter: 0.2,
        }
    }
}

impl ExpiryPolicy {
    /// `written_at + max_age * (1 - j)` with `j` uniform in `[0, jitter)`.
    pub fn expires_at(&self, written_at: Timestamp) -> Timestamp {
        self.expires_at_with(written_at, fastrand::f64())
    }

    /// [`Self::expires_at`] with the random draw given: `sample` in `[0, 1)` picks
    /// `j = sample * jitter`. Out-of-range samples and jitters are clamped.
    pub fn expires_at_with(&self, written_at: Timestamp, sample: f64) -> Timestamp {
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let keep = 1.0 - sample * jitter;
        written_at.plus(self.max_age.mul_f64(keep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_fingerprint() {
        let a: serde_json::Value = serde_json::from_str(
            r#"{"identifier":"i-1","properties":{"b":1,"a":[{"y":2,"x":1}]}}"#,
        )
        .unwrap();
        let b: serde_json::Value = serde_json::from_str(
            r#"{"properties":{"a":[{"x":1,"y":2}],"b":1},"identifier":"i-1"}"#,
        )
        .unwrap();
        assert_eq!(fingerprint(&a, "merge=true"), fingerprint(&b, "merge=true"));
        assert_eq!(
            canonical_json(&b),
            r#"{"identifier":"i-1","properties":{"a":[{"x":1,"y":2}],"b":1}}"#
        );
    }

    #[test]
    fn content_options_and_array_order_change_the_fingerprint() {
        let base = json!({"identifier": "i-1", "team": ["a", "b"]});
        let fp = fingerprint(&base, "merge=true");
        assert_ne!(
            fp,
            fingerprint(
                &json!({"identifier": "i-1", "team": ["b", "a"]}),
                "merge=true"
            )
        );
        assert_ne!(
            fp,
            fingerprint(
                &json!({"identifier": "i-2", "team": ["a", "b"]}),
                "merge=true"
            )
        );
        assert_ne!(fp, fingerprint(&base, "merge=false"));
        assert_ne!(
            fingerprint(&json!({"a": 1}), ""),
            fingerprint(&json!({"a": 1.0}), "")
        );
    }

    #[test]
    fn fingerprints_are_stable_128_bit_hex() {
        // Pinned (cross-checked with Python hashlib and json.dumps(sort_keys=True)): a change
        // here rewrites every entity of every installation once.
        let fp = fingerprint(
            &json!({"identifier": "x", "properties": {"n": 1}}),
            "upsert=true",
        );
        assert_eq!(fp.as_str().len(), 32);
        assert_eq!(Fingerprint::from_hex(fp.as_str()), Some(fp.clone()));
        assert_eq!(fp.as_str(), PINNED);
        assert_eq!(Fingerprint::from_hex("ABC"), None);
    }

    const PINNED: &str = "ca5bfb9dc1a4d153572559ac9c183265";

    #[test]
    fn expiry_lies_between_eighty_and_one_hundred_percent_of_max_age() {
        let policy = ExpiryPolicy::default();
        let t = Timestamp::from_millis(1_000_000);
        let week = 7 * 24 * 3600 * 1000;
        assert_eq!(policy.expires_at_with(t, 0.0).millis(), 1_000_000 + week);
        let almost = policy.expires_at_with(t, 0.999_999).millis() - 1_000_000;
        assert!(
            almost > week * 8 / 10 && almost < week * 8 / 10 + 10_000,
            "{almost}"
        );
        for _ in 0..1000 {
            let age = policy.expires_at(t).millis() - 1_000_000;
            assert!(age > week * 8 / 10 && age <= week, "{age}");
        }
        let none = ExpiryPolicy {
            jitter: 0.0,
            ..policy
        };
        assert_eq!(none.expires_at(t).millis(), 1_000_000 + week);
        let wild = ExpiryPolicy {
            jitter: f64::NAN,
            ..policy
        };
        assert_eq!(wild.expires_at_with(t, 2.0).millis(), 1_000_000 + week);
    }
}
