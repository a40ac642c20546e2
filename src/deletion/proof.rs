//! What proves that an entity may be deleted: the unit that owns its scope completed
//! ([`CompleteUnit`], only obtainable from a [`Completeness::Complete`] outcome), the entity is
//! owned and was neither produced by the run nor written since it started ([`stale_identifiers`]),
//! and the share deleted stays within `entityDeletionThreshold` ([`threshold_exceeded`]).

use crate::sync::plan::Unit;
use aws_smithy_types::date_time::{DateTime, Format};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::SystemTime;

/// Why a unit did not complete: any of these forbids its stale-entity deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncompleteReason {
    /// The account could not be reached (AssumeRole failed).
    Unreachable(String),
    /// An AWS call (any page) failed.
    Fetch(String),
    /// Writing (to Port, or the dry run's output) failed.
    Write(String),
    /// Objects the mapping could not map.
    Unmapped(usize),
    /// Entities Port refused (a 207 with errors counts).
    Refused(usize),
    /// The unit was stopped: a panic, the invocation deadline, a cancellation.
    Stopped(String),
    /// The fetch sent its objects but missed data (warnings: e.g. tags it was denied), so a
    /// selector or mapping may have dropped objects that still exist.
    Warnings(usize),
}

impl fmt::Display for IncompleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IncompleteReason::Unreachable(m)
            | IncompleteReason::Fetch(m)
            | IncompleteReason::Write(m)
            | IncompleteReason::Stopped(m) => f.write_str(m),
            IncompleteReason::Unmapped(n) => write!(f, "{n} object(s) could not be mapped"),
            IncompleteReason::Refused(n) => write!(f, "Port refused {n} entit(ies)"),
            IncompleteReason::Warnings(n) => {
                write!(f, "the fetch missed data ({n} warning(s))")
            }
        }
    }
}

/// The outcome of a unit. Serialised as `ok` and, when incomplete, `reason` (the reasons joined
/// with `; `); a skipped unit is `ok` with `skipped` (its reason).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Completeness {
    #[default]
    Complete,
    Incomplete(Vec<IncompleteReason>),
    /// Nothing to sync here (the service is not available in the region or for the account):
    /// not a failure, and no proof for deletion either.
    Skipped(String),
}

impl Completeness {
    /// Records one more reason the unit is incomplete.
    pub fn fail(&mut self, reason: IncompleteReason) {
        match self {
            Completeness::Complete | Completeness::Skipped(_) => {
                *self = Completeness::Incomplete(vec![reason])
            }
            Completeness::Incomplete(reasons) => reasons.push(reason),
        }
    }

    /// Marks a unit skipped, unless it already failed.
    pub fn skip(&mut self, reason: String) {
        if !matches!(self, Completeness::Incomplete(_)) {
            *self = Completeness::Skipped(reason);
        }
    }

    pub fn is_complete(&self) -> bool {
        matches!(self, Completeness::Complete)
    }

    /// Whether the unit did not fail: complete, or skipped.
    pub fn is_ok(&self) -> bool {
        !matches!(self, Completeness::Incomplete(_))
    }

    /// Why the unit was skipped.
    pub fn skipped(&self) -> Option<&str> {
        match self {
            Completeness::Skipped(reason) => Some(reason),
            _ => None,
        }
    }

    /// The reasons, joined with `; `; `None` when complete.
    pub fn reason(&self) -> Option<String> {
        match self {
            Completeness::Complete | Completeness::Skipped(_) => None,
            Completeness::Incomplete(reasons) => Some(
                reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

impl Serialize for Completeness {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let reason = self.reason();
        let skipped = self.skipped();
        let len = 1 + usize::from(reason.is_some()) + usize::from(skipped.is_some());
        let mut map = s.serialize_map(Some(len))?;
        map.serialize_entry("ok", &reason.is_none())?;
        if let Some(reason) = reason {
            map.serialize_entry("reason", &reason)?;
        }
        if let Some(skipped) = skipped {
            map.serialize_entry("skipped", skipped)?;
        }
        map.end()
    }
}

/// Proof that a unit completed, with what it produced: the only way into per-unit deletion.
/// Built by [`CompleteUnit::prove`], which refuses an incomplete outcome.
#[derive(Debug, Clone, Copy)]
pub struct CompleteUnit<'a> {
    unit: &'a Unit,
    produced: &'a BTreeMap<String, BTreeSet<String>>,
    started_at: SystemTime,
}

impl<'a> CompleteUnit<'a> {
    /// The proof for `unit` when `outcome` is complete; otherwise the reasons it is not (none for
    /// a skipped unit, which proves nothing either).
    /// `produced` holds the identifiers the unit mapped, per blueprint; `started_at` is when the
    /// unit started (entities written since then are never stale).
    pub fn prove(
        outcome: &'a Completeness,
        unit: &'a Unit,
        produced: &'a BTreeMap<String, BTreeSet<String>>,
        started_at: SystemTime,
    ) -> Result<CompleteUnit<'a>, &'a [IncompleteReason]> {
        match outcome {
            Completeness::Complete => Ok(CompleteUnit {
                unit,
                produced,
                started_at,
            }),
            Completeness::Incomplete(reasons) => Err(reasons),
            Completeness::Skipped(_) => Err(&[]),
        }
    }

    pub fn unit(&self) -> &'a Unit {
        self.unit
    }

    /// Identifiers the unit produced in `blueprint`.
    pub fn produced(&self, blueprint: &str) -> Option<&'a BTreeSet<String>> {
        self.produced.get(blueprint)
    }

    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }
}

/// An owned entity as Port's search returns it (`$identifier`, `$updatedAt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub identifier: String,
    /// `updatedAt`; `None` when absent or unreadable.
    pub updated_at: Option<DateTime>,
}

impl Owned {
    /// Reads search results, skipping entities without an identifier.
    pub fn from_search(entities: &[Value]) -> Vec<Owned> {
        entities
            .iter()
            .filter_map(|e| {
                Some(Owned {
                    identifier: e.get("identifier")?.as_str()?.to_owned(),
                    updated_at: e
                        .get("updatedAt")
                        .and_then(Value::as_str)
                        .and_then(|s| DateTime::from_str(s, Format::DateTimeWithOffset).ok()),
                })
            })
            .collect()
    }

    /// Written at or after `started` (by an overlapping run): not stale, whatever this run saw.
    pub fn updated_since(&self, started: DateTime) -> bool {
        self.updated_at.is_some_and(|t| t >= started)
    }
}

/// The owned entities not produced by this run and not written since it started.
pub fn stale_identifiers(
    owned: &[Owned],
    produced: &BTreeSet<String>,
    started: DateTime,
) -> Vec<String> {
    owned
        .iter()
        .filter(|e| !produced.contains(&e.identifier) && !e.updated_since(started))
        .map(|e| e.identifier.clone())
        .collect()
}

/// Whether deleting `stale` of `owned` entities exceeds `threshold` (Ocean's rule: delete only if
/// `stale / owned <= threshold`).
pub fn threshold_exceeded(stale: usize, owned: usize, threshold: f64) -> bool {
    owned > 0 && stale as f64 / owned as f64 > threshold
}

/// The sentence reporting a tripped threshold.
pub fn threshold_reason(stale: usize, owned: usize, threshold: f64, what: &str) -> String {
    format!(
        "{stale} of {owned} entities {what} would be deleted ({:.0}%), above entityDeletionThreshold {:.0}%: nothing deleted (a scope that suddenly returns nothing usually means missing permissions)",
        stale as f64 * 100.0 / owned.max(1) as f64,
        threshold * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Account;
    use crate::kinds::Kind;
    use serde_json::json;

    fn at(s: &str) -> DateTime {
        DateTime::from_str(s, Format::DateTimeWithOffset).unwrap()
    }

    fn owned(id: &str, updated: &str) -> Value {
        json!({"identifier": id, "updatedAt": updated})
    }

    #[test]
    fn stale_are_owned_not_produced_and_not_written_since_the_start() {
        let found = Owned::from_search(&[
            owned("kept-produced", "2026-01-01T00:00:00.000Z"),
            owned("gone", "2026-01-01T00:00:00.000Z"),
            owned("written-by-an-overlapping-run", "2026-01-01T00:10:00.000Z"),
            json!({"identifier": "no-timestamp"}),
            json!({"title": "no identifier"}),
        ]);
        assert_eq!(found.len(), 4);
        let produced = BTreeSet::from(["kept-produced".to_owned()]);
        assert_eq!(
            stale_identifiers(&found, &produced, at("2026-01-01T00:05:00.000Z")),
            vec!["gone", "no-timestamp"]
        );
    }

    #[test]
    fn threshold_allows_up_to_and_including_the_share() {
        assert!(!threshold_exceeded(9, 10, 0.9));
        assert!(threshold_exceeded(10, 10, 0.9));
        assert!(threshold_exceeded(1, 1, 0.9));
        assert!(!threshold_exceeded(1, 1, 1.0));
        assert!(threshold_exceeded(1, 10, 0.0));
        assert!(!threshold_exceeded(0, 0, 0.0));
        assert!(threshold_reason(3, 3, 0.9, "in this scope").contains("3 of 3"));
    }

    #[test]
    fn only_a_complete_outcome_proves_a_unit() {
        let unit = Unit {
            sync_id: "s".into(),
            account: Account::bare("111111111111", "aws", None),
            region: "us-east-1".into(),
            kind: Kind::Ec2Instance,
        };
        let produced = BTreeMap::new();
        let mut outcome = Completeness::Complete;
        assert!(CompleteUnit::prove(&outcome, &unit, &produced, SystemTime::now()).is_ok());
        assert_eq!(serde_json::to_value(&outcome).unwrap(), json!({"ok": true}));
        outcome.fail(IncompleteReason::Fetch("DescribeInstances failed".into()));
        outcome.fail(IncompleteReason::Refused(2));
        let reasons = CompleteUnit::prove(&outcome, &unit, &produced, SystemTime::now())
            .err()
            .unwrap();
        assert_eq!(reasons.len(), 2);
        assert_eq!(
            serde_json::to_value(&outcome).unwrap(),
            json!({"ok": false, "reason": "DescribeInstances failed; Port refused 2 entit(ies)"})
        );
    }

    #[test]
    fn warnings_and_skips_prove_nothing() {
        let unit = Unit {
            sync_id: "s".into(),
            account: Account::bare("111111111111", "aws", None),
            region: "us-east-1".into(),
            kind: Kind::S3Bucket,
        };
        let produced = BTreeMap::new();
        let mut outcome = Completeness::Complete;
        outcome.fail(IncompleteReason::Warnings(1));
        assert!(CompleteUnit::prove(&outcome, &unit, &produced, SystemTime::now()).is_err());
        assert!(!outcome.is_ok());
        let mut skipped = Completeness::Complete;
        skipped.skip("Lambda is not available in ap-east-1".into());
        assert!(skipped.is_ok());
        assert!(CompleteUnit::prove(&skipped, &unit, &produced, SystemTime::now()).is_err());
        assert_eq!(
            serde_json::to_value(&skipped).unwrap(),
            json!({"ok": true, "skipped": "Lambda is not available in ap-east-1"})
        );
    }
}
