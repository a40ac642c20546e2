//! The stored facts: scopes, the entity records of a scope, the changes a unit writes, and the
//! per-installation scope index.

use super::error::StateError;
use super::fingerprint::Fingerprint;
pub use super::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The separator of stored keys. Port forbids it in blueprint identifiers; the parts of a
/// [`ScopeKey`] must not contain it either (checked by [`ScopeKey::validate`]).
pub const SEP: char = '#';

/// What one unit syncs and owns: the entities one installation wrote for one kind in one
/// account and region. `kind` is the aws-v3 kind name (`AWS::EC2::Instance`); `region` is
/// `global` for account-wide kinds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopeKey {
    pub installation: String,
    pub account_id: String,
    pub region: String,
    pub kind: String,
}

impl ScopeKey {
    /// A scope key from its four parts.
    pub fn new(
        installation: impl Into<String>,
        account_id: impl Into<String>,
        region: impl Into<String>,
        kind: impl Into<String>,
    ) -> ScopeKey {
        ScopeKey {
            installation: installation.into(),
            account_id: account_id.into(),
            region: region.into(),
            kind: kind.into(),
        }
    }

    /// Refuses empty parts and parts containing [`SEP`], which would make two scopes share a
    /// stored key.
    pub fn validate(&self) -> Result<(), StateError> {
        for (what, value) in [
            ("installation", &self.installation),
            ("account id", &self.account_id),
            ("region", &self.region),
            ("kind", &self.kind),
        ] {
            check_part(what, value)?;
        }
        Ok(())
    }

    /// The key both backends store the scope's records under: `S#{installation}#{account}#{region}#{kind}`.
    pub fn storage_key(&self) -> String {
        format!("S{SEP}{}{SEP}{}", self.installation, self.index_key())
    }

    /// The scope's key within its installation's index: `{account}#{region}#{kind}`.
    pub fn index_key(&self) -> String {
        format!("{}{SEP}{}{SEP}{}", self.account_id, self.region, self.kind)
    }

    /// The unit label used in summaries and run outcomes: `{account}/{region}/{kind}`.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.account_id, self.region, self.kind)
    }
}

impl fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of installation {}", self.label(), self.installation)
    }
}

/// Refuses an empty key part or one containing [`SEP`].
pub(crate) fn check_part(what: &'static str, value: &str) -> Result<(), StateError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.contains(SEP) {
        "it contains '#', the separator of stored keys"
    } else {
        return Ok(());
    };
    Err(StateError::InvalidKey {
        what,
        value: value.to_owned(),
        reason,
    })
}

/// `(blueprint, identifier)`: one entity in Port.
pub type EntityKey = (String, String);

/// One entity this installation wrote, as Port confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRecord {
    pub blueprint: String,
    pub identifier: String,
    /// The fingerprint of what was written ([`super::fingerprint::fingerprint`]).
    pub fingerprint: Fingerprint,
    pub written_at: Timestamp,
    /// After this the entity is written again even when unchanged
    /// ([`super::fingerprint::ExpiryPolicy`]).
    pub expires_at: Timestamp,
}

impl EntityRecord {
    /// `(blueprint, identifier)`.
    pub fn key(&self) -> EntityKey {
        (self.blueprint.clone(), self.identifier.clone())
    }

    /// Whether the fingerprint still vouches for the entity at `now`.
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// The records of one scope, looked up by `(blueprint, identifier)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeState {
    records: BTreeMap<EntityKey, EntityRecord>,
}

impl ScopeState {
    /// A state from records; a later record of the same key replaces an earlier one.
    pub fn from_records(records: impl IntoIterator<Item = EntityRecord>) -> ScopeState {
        ScopeState {
            records: records.into_iter().map(|r| (r.key(), r)).collect(),
        }
    }

    /// The record of one entity.
    pub fn get(&self, blueprint: &str, identifier: &str) -> Option<&EntityRecord> {
        // BTreeMap<(String, String)> cannot be searched by (&str, &str) without allocating.
        self.records
            .get(&(blueprint.to_owned(), identifier.to_owned()))
    }

    /// Whether the entity must be written: no record, another fingerprint, or an expired one.
    pub fn needs_write(
        &self,
        blueprint: &str,
        identifier: &str,
        fingerprint: &Fingerprint,
        now: Timestamp,
    ) -> bool {
        match self.get(blueprint, identifier) {
            Some(r) => r.fingerprint != *fingerprint || !r.is_fresh(now),
            None => true,
        }
    }

    /// The recorded entities not in `produced`: the candidates for deletion.
    pub fn not_produced(&self, produced: &BTreeSet<EntityKey>) -> Vec<EntityKey> {
        self.records
            .keys()
            .filter(|k| !produced.contains(*k))
            .cloned()
            .collect()
    }

    /// All records, ordered by `(blueprint, identifier)`.
    pub fn records(&self) -> impl Iterator<Item = &EntityRecord> {
        self.records.values()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records per blueprint.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for (blueprint, _) in self.records.keys() {
            *counts.entry(blueprint.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The state after `changes` (removals first, then upserts).
    pub fn apply(&mut self, changes: &ScopeChanges) {
        for key in &changes.removed {
            self.records.remove(key);
        }
        for record in &changes.upserted {
            self.records.insert(record.key(), record.clone());
        }
    }

    /// Per-blueprint counts after `changes`, without copying the records.
    pub fn counts_after(&self, changes: &ScopeChanges) -> BTreeMap<String, u64> {
        let mut counts = self.counts();
        let changes = changes.clone().normalized();
        for key in &changes.removed {
            if self.records.contains_key(key) {
                decrement(&mut counts, &key.0);
            }
        }
        for record in &changes.upserted {
            if !self.records.contains_key(&record.key()) {
                *counts.entry(record.blueprint.clone()).or_insert(0) += 1;
            }
        }
        counts
    }
}

fn decrement(counts: &mut BTreeMap<String, u64>, blueprint: &str) {
    if let Some(n) = counts.get_mut(blueprint) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(blueprint);
        }
    }
}

/// What a unit writes after Port confirmed it: records of entities upserted (new fingerprint
/// and expiry) and keys of entities deleted. Only confirmed writes belong here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeChanges {
    pub upserted: Vec<EntityRecord>,
    pub removed: Vec<EntityKey>,
}

impl ScopeChanges {
    pub fn is_empty(&self) -> bool {
        self.upserted.is_empty() && self.removed.is_empty()
    }

    /// One change per key, as the backends need it (DynamoDB refuses a batch naming a key
    /// twice): the last upsert of a key wins, and a key both removed and upserted is upserted.
    pub fn normalized(self) -> ScopeChanges {
        let upserted: BTreeMap<EntityKey, EntityRecord> =
            self.upserted.into_iter().map(|r| (r.key(), r)).collect();
        let removed: BTreeSet<EntityKey> = self
            .removed
            .into_iter()
            .filter(|k| !upserted.contains_key(k))
            .collect();
        ScopeChanges {
            upserted: upserted.into_values().collect(),
            removed: removed.into_iter().collect(),
        }
    }

    /// Refuses blueprints that are empty or contain [`SEP`] (Port forbids `#` in blueprint
    /// identifiers) and empty identifiers. Identifiers may contain anything else, `#` included.
    pub fn validate(&self) -> Result<(), StateError> {
        let keys = self
            .upserted
            .iter()
            .map(|r| (&r.blueprint, &r.identifier))
            .chain(self.removed.iter().map(|(b, i)| (b, i)));
        for (blueprint, identifier) in keys {
            check_part("blueprint", blueprint)?;
            if identifier.is_empty() {
                return Err(StateError::InvalidKey {
                    what: "identifier",
                    value: String::new(),
                    reason: "it is empty",
                });
            }
        }
        Ok(())
    }
}

/// One scope with state, as the installation's scope index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSummary {
    pub scope: ScopeKey,
    /// Records per blueprint.
    pub counts: BTreeMap<String, u64>,
    /// When the scope's state was last written.
    pub updated_at: Timestamp,
}

impl ScopeSummary {
    /// Records over all blueprints.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bp: &str, id: &str, fp: &str, expires: i64) -> EntityRecord {
        EntityRecord {
            blueprint: bp.into(),
            identifier: id.into(),
            fingerprint: Fingerprint::from_hex(fp).unwrap(),
            written_at: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(expires),
        }
    }

    const FP_A: &str = "0123456789abcdef0123456789abcdef";
    const FP_B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn scope_keys_refuse_the_separator_and_empty_parts() {
        assert!(ScopeKey::new("i", "1", "r", "AWS::S3::Bucket")
            .validate()
            .is_ok());
        let err = ScopeKey::new("a#b", "1", "r", "k").validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the installation `a#b` cannot be stored: it contains '#', the separator of stored keys"
        );
        assert!(ScopeKey::new("i", "", "r", "k").validate().is_err());
        assert_eq!(
            ScopeKey::new("i", "1", "global", "K").storage_key(),
            "S#i#1#global#K"
        );
    }

    #[test]
    fn needs_write_when_new_changed_or_expired() {
        let state = ScopeState::from_records([record("b", "x", FP_A, 100)]);
        let a = Fingerprint::from_hex(FP_A).unwrap();
        let b = Fingerprint::from_hex(FP_B).unwrap();
        let now = Timestamp::from_millis(50);
        assert!(!state.needs_write("b", "x", &a, now));
        assert!(state.needs_write("b", "x", &b, now));
        assert!(state.needs_write("b", "y", &a, now));
        assert!(state.needs_write("b", "x", &a, Timestamp::from_millis(100)));
    }

    #[test]
    fn normalizing_keeps_one_change_per_key_and_upserts_win() {
        let changes = ScopeChanges {
            upserted: vec![record("b", "x", FP_A, 1), record("b", "x", FP_B, 2)],
            removed: vec![
                ("b".into(), "x".into()),
                ("b".into(), "y".into()),
                ("b".into(), "y".into()),
            ],
        }
        .normalized();
        assert_eq!(changes.upserted, vec![record("b", "x", FP_B, 2)]);
        assert_eq!(changes.removed, vec![("b".to_owned(), "y".to_owned())]);
    }

    #[test]
    fn counts_after_changes_match_the_applied_state() {
        let mut state = ScopeState::from_records([
            record("b1", "x", FP_A, 1),
            record("b1", "y", FP_A, 1),
            record("b2", "z", FP_A, 1),
        ]);
        let changes = ScopeChanges {
            upserted: vec![record("b1", "x", FP_B, 2), record("b3", "n", FP_A, 1)],
            removed: vec![("b2".into(), "z".into()), ("b2".into(), "absent".into())],
        };
        let predicted = state.counts_after(&changes);
        state.apply(&changes);
        assert_eq!(predicted, state.counts());
        assert_eq!(
            state.not_produced(&BTreeSet::from([("b1".to_owned(), "x".to_owned())])),
            vec![
                ("b1".to_owned(), "y".to_owned()),
                ("b3".to_owned(), "n".to_owned())
            ]
        );
    }

    #[test]
    fn blueprints_with_the_separator_are_refused_identifiers_are_not() {
        let ok = ScopeChanges {
            upserted: vec![record("b", "a#b/c", FP_A, 1)],
            removed: vec![],
        };
        assert!(ok.validate().is_ok());
        let bad = ScopeChanges {
            upserted: vec![],
            removed: vec![("b#1".into(), "x".into())],
        };
        assert!(bad.validate().is_err());
    }
}
