//! Live events: which EventBridge events concern which native kind ([`LiveSpec`], declared in
//! each kind's file), the event pattern of the forwarding rules, and the CloudTrail helpers the
//! kinds' `ids` functions share.
//!
//! Two kinds of events reach the worker: `AWS API Call via CloudTrail` events of the write calls
//! that create, change, tag or delete a resource (told apart by `detail.eventName`), and the
//! services' own state events (told apart by `detail-type`). Either way an event only names
//! resources: the worker re-reads them from AWS with the configured role and believes only
//! that.

use super::{FetchContext, FetchError, Kind, LiveSpec, PageSender, Refreshed};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::future::Future;

/// The `detail-type` of CloudTrail API-call events.
pub const API_CALL: &str = "AWS API Call via CloudTrail";

/// The native kinds that follow live events, in registry order, with their specs.
pub fn live_kinds() -> impl Iterator<Item = (Kind, &'static LiveSpec)> {
    Kind::all()
        .iter()
        .filter_map(|&k| Some((k, k.spec()?.live?)))
}

/// What routes an event to kinds: its source and either its CloudTrail `eventName` or its own
/// `detail-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey<'e> {
    pub source: &'e str,
    pub detail_type: &'e str,
    /// `detail.eventName` of an API-call event.
    pub event_name: Option<&'e str>,
}

impl<'e> EventKey<'e> {
    /// The routing key of an EventBridge event; `None` when it lacks a source or detail-type.
    pub fn of(event: &'e Value) -> Option<EventKey<'e>> {
        let source = event.get("source")?.as_str()?;
        let detail_type = event.get("detail-type")?.as_str()?;
        let event_name = event["detail"]["eventName"].as_str();
        Some(EventKey {
            source,
            detail_type,
            event_name,
        })
    }

    /// Whether a kind's live spec wants this event.
    pub fn concerns(&self, live: &LiveSpec) -> bool {
        if live.source != self.source {
            return false;
        }
        if self.detail_type == API_CALL {
            self.event_name
                .is_some_and(|name| live.api_calls.contains(&name))
        } else {
            live.service_events.contains(&self.detail_type)
        }
    }
}

/// Whether the event is an API call AWS refused (`detail.errorCode`): it changed nothing.
pub fn is_failed_call(event: &Value) -> bool {
    event["detail-type"] == API_CALL && event["detail"]["errorCode"].is_string()
}

/// The native kinds (among `kinds`) an event concerns; none for a failed API call.
pub fn kinds_for(event: &Value, kinds: &[Kind]) -> Vec<Kind> {
    let Some(key) = EventKey::of(event) else {
        return Vec::new();
    };
    if is_failed_call(event) {
        return Vec::new();
    }
    kinds
        .iter()
        .copied()
        .filter(|k| {
            k.spec()
                .and_then(|s| s.live)
                .is_some_and(|l| key.concerns(l))
        })
        .collect()
}

/// The EventBridge event pattern matching every event the live kinds among `kinds` want: the
/// API calls of their sources that succeeded (no `errorCode`), and their service events. One object; an `$or` of the two
/// branches when both exist. `None` when no kind follows live events.
///
/// The pattern lists sources and event names in two independent lists, so it may also match an
/// event name of one source that only another source's kind wants (e.g. `TagResource`); the
/// worker routes each event by its exact (source, event name) and acknowledges the others.
pub fn pattern(kinds: &[Kind]) -> Option<Value> {
    let mut api_sources = BTreeSet::new();
    let mut api_calls = BTreeSet::new();
    let mut service_sources = BTreeSet::new();
    let mut service_events = BTreeSet::new();
    for (kind, live) in live_kinds() {
        if !kinds.contains(&kind) {
            continue;
        }
        if !live.api_calls.is_empty() {
            api_sources.insert(live.source);
            api_calls.extend(live.api_calls.iter().copied());
        }
        if !live.service_events.is_empty() {
            service_sources.insert(live.source);
            service_events.extend(live.service_events.iter().copied());
        }
    }
    let api = (!api_calls.is_empty()).then(|| {
        json!({
            "source": api_sources,
            "detail-type": [API_CALL],
            "detail": {"eventName": api_calls, "errorCode": [{"exists": false}]},
        })
    });
    let service = (!service_events.is_empty()).then(|| {
        json!({
            "source": service_sources,
            "detail-type": service_events,
        })
    });
    match (api, service) {
        (Some(one), None) | (None, Some(one)) => Some(one),
        (Some(api), Some(service)) => Some(json!({"$or": [api, service]})),
        (None, None) => None,
    }
}

/// One row of `live-events pattern --format names`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LiveRow {
    pub kind: &'static str,
    pub source: &'static str,
    pub api_calls: Vec<&'static str>,
    pub service_events: Vec<&'static str>,
}

/// The live kinds among `kinds`, one row each.
pub fn rows(kinds: &[Kind]) -> Vec<LiveRow> {
    live_kinds()
        .filter(|(k, _)| kinds.contains(k))
        .map(|(kind, live)| LiveRow {
            kind: kind.name(),
            source: live.source,
            api_calls: live.api_calls.to_vec(),
            service_events: live.service_events.to_vec(),
        })
        .collect()
}

// CloudTrail helpers for the kinds' `ids` functions.

/// `detail.requestParameters` of an API-call event (`Null` when absent).
pub fn request(event: &Value) -> &Value {
    &event["detail"]["requestParameters"]
}

/// `detail.responseElements` of an API-call event (`Null` when absent).
pub fn response(event: &Value) -> &Value {
    &event["detail"]["responseElements"]
}

/// `detail.eventName` of an API-call event.
pub fn event_name(event: &Value) -> Option<&str> {
    event["detail"]["eventName"].as_str()
}

/// The string at `pointer` (a JSON pointer) under `value`.
pub fn str_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The strings `key` of the items of an EC2-style `{"items": [...]}` set at `pointer`.
pub fn items(value: &Value, pointer: &str, key: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(|set| set.get("items"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get(key).and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The last path part of an ARN-like string (`arn:...:function:name` → `name`,
/// `.../queue-name` → `queue-name`).
pub fn last_part(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

/// `ids` without duplicates, in first-seen order, without empty strings.
pub fn unique(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    ids.into_iter()
        .filter(|id| !id.is_empty() && seen.insert(id.clone()))
        .collect()
}

/// The `resources` ARNs of an EventBridge event.
pub fn resource_arns(event: &Value) -> Vec<String> {
    event["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// A minimal raw-object properties map with one identity field, for a gone resource.
pub fn identity_properties(pairs: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        map.insert((*key).to_owned(), Value::String((*value).to_owned()));
    }
    Value::Object(map)
}

/// What re-reading one resource by id found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// It exists: its raw object.
    Exists(Value),
    /// AWS reports it gone: its raw object when AWS still describes it (INACTIVE, DELETING),
    /// else `None` (not found).
    Gone(Option<Value>),
    /// Nothing to do (e.g. outside the region policy).
    Skip,
}

impl Found {
    /// `Exists` for `Some`, `Gone(None)` for `None` (the describe answered "not found").
    pub fn from_described(raw: Option<Value>) -> Found {
        raw.map_or(Found::Gone(None), Found::Exists)
    }
}

/// The refresh of a kind whose resources are read one by one: `one` per id (at most the
/// context's concurrency at once); a gone resource without an object gets `identity(id)`.
pub async fn refresh_each<'c, F, Fut>(
    ctx: &'c FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
    one: F,
    identity: impl Fn(&str) -> Value,
) -> Result<Refreshed, FetchError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Found, FetchError>> + 'c,
{
    let found = ctx.each(ids.to_vec(), one).await?;
    let mut objects = Vec::new();
    let mut gone = Vec::new();
    for (id, found) in ids.iter().zip(found) {
        match found {
            Found::Exists(raw) => objects.push(raw),
            Found::Gone(raw) => gone.push(raw.unwrap_or_else(|| identity(id))),
            Found::Skip => {}
        }
    }
    ctx.send(pages, objects).await?;
    Ok(Refreshed {
        stats: ctx.stats(),
        gone,
    })
}

/// The ARN of a resource of the unit's account and region: `arn:<partition>:<service>:<region>:<account>:<rest>`.
pub fn unit_arn(ctx: &FetchContext<'_>, service: &str, rest: &str) -> String {
    format!(
        "arn:{}:{service}:{}:{}:{rest}",
        ctx.partition(),
        ctx.region,
        ctx.account_id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_last_part() {
        assert_eq!(
            last_part("arn:aws:lambda:us-east-1:123456789012:function:fn-1"),
            "fn-1"
        );
        assert_eq!(
            last_part("https://sqs.us-east-1.amazonaws.com/123456789012/q1"),
            "q1"
        );
        assert_eq!(last_part("plain"), "plain");
    }

    #[test]
    fn unique_keeps_first_order() {
        let ids = unique(["b", "a", "b", "", "c"].map(String::from));
        assert_eq!(ids, ["b", "a", "c"]);
    }

    #[test]
    fn every_live_kind_declares_something_and_its_source_is_aws() {
        let mut count = 0;
        for (kind, live) in live_kinds() {
            count += 1;
            assert!(live.source.starts_with("aws."), "{kind}");
            assert!(
                !live.api_calls.is_empty() || !live.service_events.is_empty(),
                "{kind}"
            );
            for call in live.api_calls {
                assert!(
                    !call.starts_with("Describe")
                        && !call.starts_with("Get")
                        && !call.starts_with("List"),
                    "{kind}: {call} is a read call"
                );
            }
        }
        assert!(count > 0);
    }

    #[test]
    fn the_pattern_has_both_branches_when_a_kind_has_service_events() {
        let all: Vec<Kind> = Kind::all().to_vec();
        let pattern = pattern(&all).unwrap();
        let branches = pattern["$or"].as_array().unwrap();
        assert_eq!(branches[0]["detail-type"], json!([API_CALL]));
        assert_eq!(
            branches[0]["detail"]["errorCode"],
            json!([{"exists": false}])
        );
        assert!(branches[0]["detail"]["eventName"]
            .as_array()
            .unwrap()
            .contains(&json!("RunInstances")));
        assert!(branches[1]["detail-type"]
            .as_array()
            .unwrap()
            .contains(&json!("EC2 Instance State-change Notification")));
        assert_eq!(super::pattern(&[Kind::AccountInfo]), None);
    }

    #[test]
    fn events_route_by_source_and_event_name_or_detail_type() {
        let all: Vec<Kind> = Kind::all().to_vec();
        let run = json!({"source": "aws.ec2", "detail-type": API_CALL,
            "detail": {"eventName": "RunInstances"}});
        assert_eq!(kinds_for(&run, &all), [Kind::Ec2Instance]);
        let read = json!({"source": "aws.ec2", "detail-type": API_CALL,
            "detail": {"eventName": "DescribeInstances"}});
        assert!(kinds_for(&read, &all).is_empty());
        let state = json!({"source": "aws.ec2",
            "detail-type": "EC2 Instance State-change Notification",
            "detail": {"instance-id": "i-1", "state": "stopped"}});
        assert_eq!(kinds_for(&state, &all), [Kind::Ec2Instance]);
        let wrong_source = json!({"source": "aws.s3", "detail-type": API_CALL,
            "detail": {"eventName": "RunInstances"}});
        assert!(kinds_for(&wrong_source, &all).is_empty());
        assert!(kinds_for(&run, &[Kind::S3Bucket]).is_empty(), "unmapped");
        let denied = json!({"source": "aws.ec2", "detail-type": API_CALL,
            "detail": {"eventName": "RunInstances", "errorCode": "Client.UnauthorizedOperation"}});
        assert!(
            kinds_for(&denied, &all).is_empty(),
            "a refused call changed nothing"
        );
    }
}
