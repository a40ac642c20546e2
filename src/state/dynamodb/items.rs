//! The DynamoDB item layout: keys, attribute values and the conversion of each item kind to and
//! from the module's types. Attribute values are DynamoDB JSON (`{"S": ..}`, `{"N": ..}`).

use crate::state::fingerprint::Fingerprint;
use crate::state::model::{EntityRecord, ScopeKey, ScopeSummary, Timestamp, SEP};
use crate::state::runs::{RunRecord, UnitCounts, UnitOutcome};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Sort key of a scope's lease item (in the scope's partition).
pub const LEASE_SK: &str = "LEASE";
/// Sort key of a run's header (counters) in the run's partition.
pub const RUN_HEADER_SK: &str = "RUN";
/// Prefix of entity sort keys.
pub const ENTITY_PREFIX: &str = "E#";
/// Prefix of unit outcome sort keys.
pub const UNIT_PREFIX: &str = "U#";

/// `S#{installation}#{account}#{region}#{kind}`: a scope's entities and its lease.
pub fn scope_pk(scope: &ScopeKey) -> String {
    scope.storage_key()
}

/// DynamoDB's limit on a sort key, in UTF-8 bytes.
pub const MAX_SORT_KEY: usize = 1024;
/// Hex digits of the identifier hash in a long entity key.
const HASH_HEX: usize = 32;

/// `E#{blueprint}#{identifier}`. When that exceeds DynamoDB's 1,024-byte sort key limit (Port
/// allows 1,000-character identifiers, so up to 4,000 bytes), the identifier is cut at a
/// character boundary and followed by `#` and 128 bits of its SHA-256; the item then carries
/// the whole identifier in its `id` attribute ([`is_long_key`]).
pub fn entity_sk(blueprint: &str, identifier: &str) -> String {
    let plain = format!("{ENTITY_PREFIX}{blueprint}{SEP}{identifier}");
    if plain.len() <= MAX_SORT_KEY {
        return plain;
    }
    let budget = MAX_SORT_KEY.saturating_sub(ENTITY_PREFIX.len() + blueprint.len() + 2 + HASH_HEX);
    let mut cut = budget.min(identifier.len());
    while !identifier.is_char_boundary(cut) {
        cut -= 1;
    }
    let digest = Sha256::digest(identifier.as_bytes());
    let hash: String = digest[..HASH_HEX / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{ENTITY_PREFIX}{blueprint}{SEP}{}{SEP}{hash}",
        &identifier[..cut]
    )
}

/// Whether an entity's sort key is the shortened form, which needs the `id` attribute.
pub fn is_long_key(blueprint: &str, identifier: &str) -> bool {
    ENTITY_PREFIX.len() + blueprint.len() + 1 + identifier.len() > MAX_SORT_KEY
}

/// `(blueprint, identifier)` of an entity sort key, splitting at the first separator after the
/// prefix only: blueprints cannot contain `#`, identifiers can.
pub fn parse_entity_sk(sk: &str) -> Option<(String, String)> {
    let rest = sk.strip_prefix(ENTITY_PREFIX)?;
    let (blueprint, identifier) = rest.split_once(SEP)?;
    if blueprint.is_empty() || identifier.is_empty() {
        return None;
    }
    Some((blueprint.to_owned(), identifier.to_owned()))
}

/// `SCOPES#{installation}`: one item per scope with state.
pub fn scopes_pk(installation: &str) -> String {
    format!("SCOPES{SEP}{installation}")
}

/// `RUNS#{installation}`: one listing item per run, sorted by start.
pub fn runs_pk(installation: &str) -> String {
    format!("RUNS{SEP}{installation}")
}

/// `{started_at ISO}#{run_id}`.
pub fn run_list_sk(started_at: Timestamp, run_id: &str) -> String {
    format!("{}{SEP}{run_id}", started_at.iso())
}

/// `RUN#{installation}#{run_id}`: a run's header and its unit outcomes.
pub fn run_pk(installation: &str, run_id: &str) -> String {
    format!("RUN{SEP}{installation}{SEP}{run_id}")
}

/// `U#{unit label}`.
pub fn unit_sk(unit: &str) -> String {
    format!("{UNIT_PREFIX}{unit}")
}

/// A string attribute.
pub fn s(value: &str) -> Value {
    json!({ "S": value })
}

/// A number attribute.
pub fn n(value: impl ToString) -> Value {
    json!({ "N": value.to_string() })
}

/// A key `{pk, sk}`.
pub fn key(pk: &str, sk: &str) -> Value {
    json!({ "pk": s(pk), "sk": s(sk) })
}

pub fn get_s<'a>(item: &'a Value, name: &str) -> Result<&'a str, String> {
    item[name]["S"]
        .as_str()
        .ok_or_else(|| format!("attribute {name} is not a string"))
}

pub fn get_n(item: &Value, name: &str) -> Result<i64, String> {
    item[name]["N"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("attribute {name} is not an integer"))
}

fn get_u(item: &Value, name: &str) -> Result<u64, String> {
    let v = get_n(item, name)?;
    u64::try_from(v).map_err(|_| format!("attribute {name} is negative"))
}

fn opt_n(item: &Value, name: &str) -> Result<Option<i64>, String> {
    match item.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => get_n(item, name).map(Some),
    }
}

/// An entity record's item.
pub fn entity_item(pk: &str, record: &EntityRecord, ttl: Timestamp) -> Value {
    let mut item = json!({
        "pk": s(pk),
        "sk": s(&entity_sk(&record.blueprint, &record.identifier)),
        "fp": s(record.fingerprint.as_str()),
        "written": n(record.written_at.millis()),
        "expires": n(record.expires_at.millis()),
        "ttl": n(ttl.secs()),
    });
    if is_long_key(&record.blueprint, &record.identifier) {
        item["id"] = s(&record.identifier);
    }
    item
}

pub fn parse_entity(item: &Value) -> Result<EntityRecord, String> {
    let sk = get_s(item, "sk")?;
    let (blueprint, mut identifier) =
        parse_entity_sk(sk).ok_or_else(|| format!("sort key {sk} is not an entity key"))?;
    if let Some(id) = item["id"]["S"].as_str() {
        identifier = id.to_owned();
    }
    let fp = get_s(item, "fp")?;
    Ok(EntityRecord {
        blueprint,
        identifier,
        fingerprint: Fingerprint::from_hex(fp)
            .ok_or_else(|| format!("fingerprint {fp} is not 32 hex digits"))?,
        written_at: Timestamp::from_millis(get_n(item, "written")?),
        expires_at: Timestamp::from_millis(get_n(item, "expires")?),
    })
}

/// A scope's index item, with its per-blueprint counts.
pub fn index_item(
    scope: &ScopeKey,
    counts: &BTreeMap<String, u64>,
    now: Timestamp,
    ttl: Timestamp,
) -> Value {
    let counts: Map<String, Value> = counts.iter().map(|(b, c)| (b.clone(), n(c))).collect();
    json!({
        "pk": s(&scopes_pk(&scope.installation)),
        "sk": s(&scope.index_key()),
        "account": s(&scope.account_id),
        "region": s(&scope.region),
        "kind": s(&scope.kind),
        "counts": { "M": counts },
        "updated": n(now.millis()),
        "ttl": n(ttl.secs()),
    })
}

pub fn parse_summary(installation: &str, item: &Value) -> Result<ScopeSummary, String> {
    let mut counts = BTreeMap::new();
    if let Some(map) = item["counts"]["M"].as_object() {
        for (blueprint, count) in map {
            let c = count["N"].as_str().and_then(|c| c.parse().ok());
            let c = c.ok_or_else(|| format!("count of {blueprint} is not a number"))?;
            counts.insert(blueprint.clone(), c);
        }
    }
    Ok(ScopeSummary {
        scope: ScopeKey::new(
            installation,
            get_s(item, "account")?,
            get_s(item, "region")?,
            get_s(item, "kind")?,
        ),
        counts,
        updated_at: Timestamp::from_millis(get_n(item, "updated")?),
    })
}

/// A run's header item (counters start at zero).
pub fn run_header_item(run: &RunRecord, ttl: Timestamp) -> Value {
    let mut item = json!({
        "pk": s(&run_pk(&run.installation, &run.run_id)),
        "sk": s(RUN_HEADER_SK),
        "installation": s(&run.installation),
        "run_id": s(&run.run_id),
        "started": n(run.started_at.millis()),
        "planned": n(run.planned_units),
        "done": n(0),
        "failed": n(0),
        "ttl": n(ttl.secs()),
    });
    if run.planned_units == 0 {
        // Nothing will record a unit: the run is complete as it starts.
        item["closed"] = n(run.started_at.millis());
    }
    item
}

/// A run's listing item, under the installation's runs partition.
pub fn run_list_item(run: &RunRecord, ttl: Timestamp) -> Value {
    json!({
        "pk": s(&runs_pk(&run.installation)),
        "sk": s(&run_list_sk(run.started_at, &run.run_id)),
        "run_id": s(&run.run_id),
        "ttl": n(ttl.secs()),
    })
}

pub fn parse_run(item: &Value) -> Result<RunRecord, String> {
    Ok(RunRecord {
        run_id: get_s(item, "run_id")?.to_owned(),
        installation: get_s(item, "installation")?.to_owned(),
        started_at: Timestamp::from_millis(get_n(item, "started")?),
        planned_units: get_u(item, "planned")?,
        done: get_u(item, "done")?,
        failed: get_u(item, "failed")?,
        closed_at: opt_n(item, "closed")?.map(Timestamp::from_millis),
    })
}

/// A unit outcome's item.
pub fn outcome_item(pk: &str, outcome: &UnitOutcome, ttl: Timestamp) -> Value {
    let c = &outcome.counts;
    let mut item = json!({
        "pk": s(pk),
        "sk": s(&unit_sk(&outcome.unit)),
        "ok": { "BOOL": outcome.ok },
        "finished": n(outcome.finished_at.millis()),
        "counts": { "M": {
            "produced": n(c.produced), "upserted": n(c.upserted), "unchanged": n(c.unchanged),
            "deleted": n(c.deleted), "kept": n(c.kept),
        }},
        "ttl": n(ttl.secs()),
    });
    if let Some(reason) = &outcome.reason {
        item["reason"] = s(reason);
    }
    item
}

pub fn parse_outcome(item: &Value) -> Result<UnitOutcome, String> {
    let sk = get_s(item, "sk")?;
    let unit = sk
        .strip_prefix(UNIT_PREFIX)
        .ok_or_else(|| format!("sort key {sk} is not a unit key"))?;
    let counts = &item["counts"]["M"];
    Ok(UnitOutcome {
        unit: unit.to_owned(),
        ok: item["ok"]["BOOL"]
            .as_bool()
            .ok_or("attribute ok is not a boolean")?,
        reason: item["reason"]["S"].as_str().map(str::to_owned),
        counts: UnitCounts {
            produced: get_u(counts, "produced")?,
            upserted: get_u(counts, "upserted")?,
            unchanged: get_u(counts, "unchanged")?,
            deleted: get_u(counts, "deleted")?,
            kept: get_u(counts, "kept")?,
        },
        finished_at: Timestamp::from_millis(get_n(item, "finished")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_keys_split_at_the_first_separator_only() {
        let sk = entity_sk("ec2Instance", "arn:aws:x/a#b##c/ü");
        assert_eq!(sk, "E#ec2Instance#arn:aws:x/a#b##c/ü");
        assert_eq!(
            parse_entity_sk(&sk),
            Some(("ec2Instance".into(), "arn:aws:x/a#b##c/ü".into()))
        );
        assert_eq!(parse_entity_sk("E#nohash"), None);
        assert_eq!(parse_entity_sk("LEASE"), None);
    }

    #[test]
    fn long_identifiers_get_a_hashed_key_within_the_limit() {
        let id = "日".repeat(1000); // 3,000 bytes, a valid Port identifier
        let sk = entity_sk("ec2Instance", &id);
        assert!(
            sk.len() <= MAX_SORT_KEY && sk.len() > MAX_SORT_KEY - 3,
            "{}",
            sk.len()
        );
        assert_ne!(sk, entity_sk("ec2Instance", &format!("{id}x")));
        assert_eq!(sk, entity_sk("ec2Instance", &id));
        let record = EntityRecord {
            blueprint: "ec2Instance".into(),
            identifier: id.clone(),
            fingerprint: Fingerprint::from_hex("0123456789abcdef0123456789abcdef").unwrap(),
            written_at: Timestamp::from_millis(1),
            expires_at: Timestamp::from_millis(2),
        };
        let item = entity_item("S#x", &record, Timestamp::from_millis(0));
        assert_eq!(item["id"]["S"], id.as_str());
        assert_eq!(parse_entity(&item), Ok(record));
        let short = "a".repeat(MAX_SORT_KEY - "E#b#".len());
        assert_eq!(entity_sk("b", &short).len(), MAX_SORT_KEY);
        assert!(!is_long_key("b", &short) && is_long_key("b", &format!("{short}a")));
    }

    #[test]
    fn items_round_trip() {
        let record = EntityRecord {
            blueprint: "b".into(),
            identifier: "i#1".into(),
            fingerprint: Fingerprint::from_hex("0123456789abcdef0123456789abcdef").unwrap(),
            written_at: Timestamp::from_millis(1),
            expires_at: Timestamp::from_millis(2),
        };
        let item = entity_item("S#x", &record, Timestamp::from_millis(5000));
        assert_eq!(item["ttl"]["N"], "5");
        assert_eq!(parse_entity(&item), Ok(record));
        let outcome = UnitOutcome {
            unit: "1/r/k".into(),
            ok: false,
            reason: Some("denied".into()),
            counts: UnitCounts {
                produced: 3,
                ..UnitCounts::default()
            },
            finished_at: Timestamp::from_millis(9),
        };
        let item = outcome_item("RUN#i#r", &outcome, Timestamp::from_millis(0));
        assert_eq!(parse_outcome(&item), Ok(outcome));
    }
}
