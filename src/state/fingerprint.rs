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
use crate::mapping::Entity;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
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
    let mut hasher = start(upsert_options);
    write_canonical(entity_json, &mut HashWriter(&mut hasher));
    finish(hasher)
}

/// [`fingerprint`] of `entity.to_port_body()`, read from the entity in place: no copy of its
/// body is made, and the canonical text goes straight into the hash.
pub fn fingerprint_entity(entity: &Entity, upsert_options: &str) -> Fingerprint {
    let mut hasher = start(upsert_options);
    write_entity_canonical(entity, &mut HashWriter(&mut hasher));
    finish(hasher)
}

fn start(upsert_options: &str) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(ENCODING);
    hasher.update((upsert_options.len() as u64).to_be_bytes());
    hasher.update(upsert_options.as_bytes());
    hasher
}

fn finish(hasher: Sha256) -> Fingerprint {
    let digest = hasher.finalize();
    let hex = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Fingerprint(hex)
}

/// Feeds what is written into the hash.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Compact JSON with every object's keys sorted (by their UTF-8 bytes). Strings and numbers use
/// serde_json's own encoding, which is deterministic.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// One member of an object being written: a JSON value, a string or an object held as a map.
enum Member<'a> {
    Value(&'a Value),
    Str(&'a str),
    Object(&'a Map<String, Value>),
}

/// A member that `to_port_body` writes: present and not `null`.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// The canonical text of [`Entity::to_port_body`] without building it: the same members, in
/// their sorted order (`icon`, `identifier`, `properties`, `relations`, `team`, `title`).
fn write_entity_canonical(entity: &Entity, out: &mut impl Write) {
    let members: [(&str, Option<Member>); 6] = [
        ("icon", present(entity.icon.as_ref()).map(Member::Value)),
        ("identifier", Some(Member::Str(&entity.identifier))),
        ("properties", Some(Member::Object(&entity.properties))),
        ("relations", Some(Member::Object(&entity.relations))),
        ("team", present(entity.team.as_ref()).map(Member::Value)),
        ("title", present(Some(&entity.title)).map(Member::Value)),
    ];
    put(out, b"{");
    let mut first = true;
    for (key, member) in members {
        let Some(member) = member else { continue };
        if !first {
            put(out, b",");
        }
        first = false;
        put_string(out, key);
        put(out, b":");
        match member {
            Member::Str(s) => put_string(out, s),
            Member::Value(v) => write_canonical(v, out),
            Member::Object(map) => write_object(map, out),
        }
    }
    put(out, b"}");
}

fn put(out: &mut impl Write, bytes: &[u8]) {
    // Writing to a Vec or to the hash cannot fail.
    let _ = out.write_all(bytes);
}

fn put_string(out: &mut impl Write, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_object(map: &Map<String, Value>, out: &mut impl Write) {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    put(out, b"{");
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            put(out, b",");
        }
        put_string(out, key);
        put(out, b":");
        write_canonical(item, out);
    }
    put(out, b"}");
}

fn write_canonical(value: &Value, out: &mut impl Write) {
    match value {
        Value::Object(map) => write_object(map, out),
        Value::Array(items) => {
            put(out, b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    put(out, b",");
                }
                write_canonical(item, out);
            }
            put(out, b"]");
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
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

    #[test]
    fn entity_fingerprint_is_the_fingerprint_of_its_port_body() {
        let mut entity = Entity {
            identifier: "i-0abc\"/é".into(),
            title: json!("web \u{1F600}"),
            blueprint: "ec2Instance".into(),
            icon: Some(json!("EC2")),
            team: Some(json!(["b", "a"])),
            properties: serde_json::from_value(
                json!({"z": 1.5, "a": {"y": [2, {"b": null, "a": true}], "x": "s"}, "m": -3}),
            )
            .unwrap(),
            relations: serde_json::from_value(json!({"vpc": "vpc-1", "account": ["1", "2"]}))
                .unwrap(),
        };
        let options = "upsert=true&merge=true";
        let check = |e: &Entity| {
            assert_eq!(
                fingerprint_entity(e, options),
                fingerprint(&e.to_port_body(), options),
                "{e:?}"
            );
        };
        check(&entity);
        entity.title = Value::Null;
        entity.icon = Some(Value::Null);
        entity.team = None;
        check(&entity);
        entity.properties.clear();
        entity.relations.clear();
        check(&entity);
        let before = fingerprint_entity(&entity, options);
        entity.identifier.push('x');
        assert_ne!(fingerprint_entity(&entity, options), before);
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
