//! Live events on the worker: an SQS message body is either a work item or an EventBridge event
//! as EventBridge delivers it to SQS (`version, id, detail-type, source, account, time, region,
//! resources, detail`), told apart by its shape ([`Body::parse`]).
//!
//! An event is routed to the configured kinds that follow it ([`crate::kinds::live`]), its
//! resource ids are read by each kind's `ids` function, and the account, region and kind are
//! checked exactly as a work item's ([`work_item::check`]): the account must be one this
//! installation syncs (the role comes from the configuration), the region allowed, the kind
//! configured. The event is believed for nothing else: the refresh re-reads the resources from
//! AWS. Events of one batch are coalesced per `(account, region, kind)` and resource id
//! ([`Coalesced`]).
//!
//! Events that do not concern a configured kind, or that name an account or region outside the
//! configuration, are acknowledged and counted ([`Ignored`]), never retried: retrying cannot
//! change the answer. A body that is neither a work item nor an event fails alone (it reaches
//! the dead-letter queue).

use crate::discovery::Directory;
use crate::kinds::{live, Kind, KindScope};
use crate::lambda::work_item::{self, CheckError, Refusal, WorkItem};
use crate::sync::plan::configured_kinds;
use crate::sync::refresh::Refresh;
use crate::sync::{Engine, GLOBAL};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The sync id of the units of live events (their scope lease names it).
pub const LIVE_SYNC_ID: &str = "live";

/// A message body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    WorkItem(WorkItem),
    Event(LiveEvent),
}

impl Body {
    /// An object with `source`, `detail-type` and `detail` is an EventBridge event; anything
    /// else must be a work item.
    pub fn parse(body: &str) -> Result<Body, Refusal> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let looks_like_event = ["source", "detail-type", "detail"]
            .iter()
            .all(|k| value.get(k).is_some());
        if looks_like_event {
            return LiveEvent::from_value(value).map(Body::Event);
        }
        serde_json::from_value(value)
            .map(Body::WorkItem)
            .map_err(|e| Refusal::Malformed(e.to_string()))
    }
}

/// An EventBridge event, as delivered to SQS.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    /// The event's `id` (empty when absent).
    pub id: String,
    /// The account the event comes from: `account`, else CloudTrail's `recipientAccountId`,
    /// else the account of the first resource ARN.
    pub account: String,
    /// `region`, else CloudTrail's `awsRegion`.
    pub region: String,
    /// The whole event, for the kinds' `ids` functions.
    pub raw: Value,
}

impl LiveEvent {
    fn from_value(raw: Value) -> Result<LiveEvent, Refusal> {
        let malformed = |what: &str| Refusal::Malformed(format!("the event has no {what}"));
        if !raw["source"].is_string() {
            return Err(malformed("source string"));
        }
        if !raw["detail-type"].is_string() {
            return Err(malformed("detail-type string"));
        }
        if !raw["detail"].is_object() {
            return Err(malformed("detail object"));
        }
        let text = |pointer: &str| raw.pointer(pointer).and_then(Value::as_str);
        let arn_account = live::resource_arns(&raw)
            .first()
            .and_then(|arn| arn.split(':').nth(4).map(str::to_owned))
            .filter(|a| !a.is_empty());
        let account = text("/account")
            .or_else(|| text("/detail/recipientAccountId"))
            .map(str::to_owned)
            .or(arn_account)
            .ok_or_else(|| malformed("account"))?;
        let region = text("/region")
            .or_else(|| text("/detail/awsRegion"))
            .ok_or_else(|| malformed("region"))?
            .to_owned();
        Ok(LiveEvent {
            id: text("/id").unwrap_or_default().to_owned(),
            account,
            region,
            raw,
        })
    }

    /// `source`.
    pub fn source(&self) -> &str {
        self.raw["source"].as_str().unwrap_or_default()
    }

    /// `detail.eventName` of an API call, else `detail-type`.
    pub fn name(&self) -> &str {
        live::event_name(&self.raw)
            .or_else(|| self.raw["detail-type"].as_str())
            .unwrap_or_default()
    }
}

/// Why an event changes nothing (acknowledged, counted, not retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    /// No kind follows this (source, event name or detail-type): a read call, an unknown event.
    #[error("no kind follows this event")]
    NotFollowed,
    /// Kinds follow it, but none of them is configured (KINDS and the mapping).
    #[error("the event's kinds are not configured (KINDS and the mapping)")]
    Unmapped,
    /// The event names no resource id the kind can refresh.
    #[error("the event names no resource")]
    NoIds,
    /// The account or region is outside the configuration.
    #[error("outside the configuration: {0}")]
    Outside(Refusal),
}

/// The refreshes one event asks for: one per configured kind it concerns.
pub async fn route(
    event: &LiveEvent,
    engine: &Engine,
    directory: &Directory,
) -> Result<Result<Vec<Refresh>, Ignored>, CheckError> {
    let followed = live::kinds_for(&event.raw, Kind::all());
    if followed.is_empty() {
        return Ok(Err(Ignored::NotFollowed));
    }
    let configured = configured_kinds(&engine.config.kinds, &engine.mapper);
    let kinds: Vec<Kind> = followed
        .into_iter()
        .filter(|k| configured.contains(k))
        .collect();
    if kinds.is_empty() {
        return Ok(Err(Ignored::Unmapped));
    }
    let mut refreshes = Vec::new();
    for kind in kinds {
        let Some(spec) = kind.spec().and_then(|s| s.live) else {
            continue;
        };
        let ids = (spec.ids)(&event.raw);
        if ids.is_empty() {
            continue;
        }
        let region = match kind.scope() {
            KindScope::Regional => event.region.clone(),
            KindScope::Account | KindScope::Organization => GLOBAL.to_owned(),
        };
        let item = WorkItem::one(LIVE_SYNC_ID, &event.account, &region, kind);
        match work_item::check(&item, engine, directory).await {
            Ok(units) => refreshes.extend(units.into_iter().map(|unit| Refresh {
                unit,
                ids: ids.clone(),
            })),
            Err(CheckError::Refused(refusal)) => return Ok(Err(Ignored::Outside(refusal))),
            Err(e) => return Err(e),
        }
    }
    if refreshes.is_empty() {
        return Ok(Err(Ignored::NoIds));
    }
    Ok(Ok(refreshes))
}

/// The refreshes of a batch, one per `(account, region, kind)` with the union of its ids, and
/// the messages each stands for (they fail together when it fails).
#[derive(Debug, Default)]
pub struct Coalesced {
    groups: BTreeMap<(String, String, Kind), Group>,
}

#[derive(Debug)]
struct Group {
    refresh: Refresh,
    ids: BTreeSet<String>,
    messages: BTreeSet<String>,
}

impl Coalesced {
    /// Adds the refreshes of one message.
    pub fn add(&mut self, message_id: &str, refreshes: Vec<Refresh>) {
        for refresh in refreshes {
            let key = (
                refresh.unit.account.id.clone(),
                refresh.unit.region.clone(),
                refresh.unit.kind,
            );
            let group = self.groups.entry(key).or_insert_with(|| Group {
                refresh: Refresh {
                    unit: refresh.unit.clone(),
                    ids: Vec::new(),
                },
                ids: BTreeSet::new(),
                messages: BTreeSet::new(),
            });
            group.ids.extend(refresh.ids);
            group.messages.insert(message_id.to_owned());
        }
    }

    /// Whether there is nothing to refresh.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The refreshes, each with its ids (sorted, unique) and message ids.
    pub fn into_refreshes(self) -> Vec<(Refresh, Vec<String>)> {
        self.groups
            .into_values()
            .map(|g| {
                let mut refresh = g.refresh;
                refresh.ids = g.ids.into_iter().collect();
                (refresh, g.messages.into_iter().collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Account;
    use crate::sync::Unit;
    use serde_json::json;

    fn event_json(account: Option<&str>) -> Value {
        let mut event = json!({
            "version": "0", "id": "e-1", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ec2", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [],
            "detail": {"eventName": "StopInstances", "awsRegion": "us-east-1",
                "recipientAccountId": "111111111111",
                "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-1"}]}}}
        });
        if let Some(account) = account {
            event["account"] = json!(account);
        }
        event
    }

    #[test]
    fn bodies_are_told_apart_by_shape() {
        let item = r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kind":"AWS::EC2::Instance"}"#;
        assert!(matches!(Body::parse(item), Ok(Body::WorkItem(_))));
        let Ok(Body::Event(event)) = Body::parse(&event_json(Some("222222222222")).to_string())
        else {
            panic!("an event");
        };
        assert_eq!(event.account, "222222222222", "account wins");
        assert_eq!(event.region, "us-east-1");
        assert_eq!(event.name(), "StopInstances");
        let Ok(Body::Event(event)) = Body::parse(&event_json(None).to_string()) else {
            panic!("an event");
        };
        assert_eq!(
            event.account, "111111111111",
            "CloudTrail's recipient account"
        );
        let state_change = json!({"id": "e-2", "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2", "region": "us-east-1",
            "resources": ["arn:aws:ec2:us-east-1:333333333333:instance/i-1"],
            "detail": {"instance-id": "i-1", "state": "running"}});
        let Ok(Body::Event(event)) = Body::parse(&state_change.to_string()) else {
            panic!("an event");
        };
        assert_eq!(event.account, "333333333333", "the resource's account");
        for bad in [
            "not json",
            "[]",
            r#"{"source": "aws.ec2", "detail-type": "x", "detail": "text", "region": "us-east-1", "account": "111111111111"}"#,
            r#"{"source": "aws.ec2", "detail-type": "x", "detail": {}, "account": "111111111111"}"#,
            r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1"}"#,
        ] {
            assert!(
                matches!(Body::parse(bad), Err(Refusal::Malformed(_))),
                "{bad}"
            );
        }
    }

    fn refresh(account: &str, region: &str, ids: &[&str]) -> Refresh {
        Refresh {
            unit: Unit {
                sync_id: LIVE_SYNC_ID.into(),
                account: Account::bare(account, "aws", None),
                region: region.into(),
                kind: Kind::Ec2Instance,
            },
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_batch_coalesces_per_scope_and_resource() {
        let mut coalesced = Coalesced::default();
        for i in 0..100 {
            let id = format!("i-{}", i % 10);
            coalesced.add(
                &format!("m-{i}"),
                vec![refresh("111111111111", "us-east-1", &[&id])],
            );
        }
        coalesced.add("m-x", vec![refresh("111111111111", "eu-west-1", &["i-0"])]);
        let refreshes = coalesced.into_refreshes();
        assert_eq!(refreshes.len(), 2);
        let (east, messages) = refreshes
            .iter()
            .find(|(r, _)| r.unit.region == "us-east-1")
            .unwrap();
        assert_eq!(east.ids.len(), 10);
        assert_eq!(messages.len(), 100);
    }
}
