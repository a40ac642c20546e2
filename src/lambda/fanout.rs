//! The `fanout` Lambda: discovers accounts and regions, initialises Port resources once per run,
//! and sends one SQS work item per unit `(account, region, kind)`.
//!
//! Accepted events: the EventBridge "Scheduled Event" envelope, the bare `Input` EventBridge
//! Scheduler delivers, or a manual payload `{"accounts", "regions", "kinds", "dryRun"}` (all
//! optional; `{}` is a full sync).

use crate::discovery::{discover, FailedAccount, SkippedAccount};
use crate::lambda::{diagnostic, Container, InitError};
use crate::mapping::source;
use crate::port::{blueprints, PortClient};
use crate::sync::{
    new_sync_id, plan_units, reconcile_scopes, Cleanup, Engine, Scope, ScopeReport, Unit,
};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures_util::stream::{self, StreamExt};
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// SQS accepts at most 10 messages per `SendMessageBatch`.
pub const SQS_BATCH: usize = 10;
/// Attempts per message before the run reports it as not enqueued.
pub const SEND_ATTEMPTS: u32 = 5;
/// `SendMessageBatch` calls in flight at once.
const SEND_CONCURRENCY: usize = 8;

/// What a run covers, narrowed from the configuration. Unknown fields are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FanoutRequest {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Discover and plan only: nothing is enqueued and Port is not called.
    #[serde(default)]
    pub dry_run: bool,
}

/// How the run was started (for logs and the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    /// EventBridge rule (`Type: Schedule`): the "Scheduled Event" envelope.
    Schedule,
    /// EventBridge Scheduler (`Type: ScheduleV2`) input, or a manual invoke.
    Direct,
}

/// An event the fan-out does not accept.
#[derive(Debug, thiserror::Error)]
#[error("{0}. Expected an EventBridge scheduled event or {{\"accounts\": [\"123456789012\"], \"regions\": [\"eu-west-1\"], \"kinds\": [\"AWS::EC2::Instance\"], \"dryRun\": false}} (every field optional)")]
pub struct RequestError(String);

/// Reads the event into a request.
pub fn parse_request(event: &Value) -> Result<(Trigger, FanoutRequest), RequestError> {
    let object = match event {
        Value::Null => return Ok((Trigger::Direct, FanoutRequest::default())),
        Value::Object(o) => o,
        other => {
            return Err(RequestError(format!(
                "the event is a JSON {}, not an object",
                json_type(other)
            )))
        }
    };
    if object.contains_key("detail-type") && object.contains_key("source") {
        // The EventBridge envelope: its `detail` is `{}` for schedules, or carries a request.
        let detail = object.get("detail").cloned().unwrap_or(Value::Null);
        let request = match detail {
            Value::Null => FanoutRequest::default(),
            Value::Object(ref o) if o.is_empty() => FanoutRequest::default(),
            other => from_value(other, "detail: ")?,
        };
        return Ok((Trigger::Schedule, request));
    }
    Ok((Trigger::Direct, from_value(event.clone(), "")?))
}

fn from_value(value: Value, context: &str) -> Result<FanoutRequest, RequestError> {
    serde_json::from_value(value).map_err(|e| RequestError(format!("{context}{e}")))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The response of a fan-out run (also logged as one line).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FanoutSummary {
    pub sync_id: String,
    pub trigger: Trigger,
    pub dry_run: bool,
    pub accounts: AccountsSummary,
    /// Units planned.
    pub units: usize,
    /// Work items sent to the queue.
    pub enqueued: usize,
    /// `SendMessageBatch` calls made (retries included).
    pub sqs_batches: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blueprints: Option<blueprints::BlueprintReport>,
    /// Entities of scopes that are gone (accounts closed or out of the organization, regions
    /// denied, kinds removed): deleted, or with `dryRun` what would be deleted.
    pub scopes: ScopeReport,
    /// With `dryRun`: the planned units, `account/region/kind`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<String>,
    pub duration_ms: u64,
}

/// Accounts found, synced, skipped (not ACTIVE) and unreachable (role not assumable, ...).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountsSummary {
    pub found: usize,
    pub synced: usize,
    pub skipped: Vec<SkippedAccount>,
    pub unreachable: Vec<FailedAccount>,
}

/// The fan-out function, built once per container.
pub struct Fanout {
    engine: Arc<Engine>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    port: PortClient,
    integration: source::PortIntegration,
}

impl Fanout {
    /// Needs `WORK_QUEUE_URL` (checked here, before the first invocation).
    pub fn new(container: Container) -> Result<Fanout, InitError> {
        let Container {
            engine,
            port,
            integration,
        } = container;
        let queue_url = engine
            .config
            .work_queue_url
            .clone()
            .ok_or(InitError::Missing {
                var: "WORK_QUEUE_URL",
                function: "fanout",
                fix: "the URL of the work queue; the SAM template sets it",
            })?;
        let sqs = aws_sdk_sqs::Client::new(engine.sessions.base());
        Ok(Fanout {
            engine,
            sqs,
            queue_url,
            port,
            integration,
        })
    }

    /// Handles one event: discover, plan, initialise Port resources, enqueue.
    pub async fn handle(&self, event: Value) -> Result<FanoutSummary, Diagnostic> {
        let started = Instant::now();
        let (trigger, request) =
            parse_request(&event).map_err(|e| diagnostic("InvalidRequest", e))?;
        let scope = Scope::from_lists(&request.accounts, &request.regions, &request.kinds)
            .map_err(|e| diagnostic("InvalidRequest", e))?;
        let engine = &self.engine;
        let config = &engine.config;
        let sync_id = new_sync_id();
        tracing::info!(sync_id = %sync_id, trigger = ?trigger, dry_run = request.dry_run, "fan-out started");

        let policy = scope.region_policy(config);
        let discovery = discover(config, &engine.sessions, scope.accounts.as_ref(), &policy)
            .await
            .map_err(|e| diagnostic("DiscoveryFailed", e))?;
        let kinds = scope.kinds(config, &engine.mapper);
        let units = plan_units(&sync_id, &discovery, &kinds, &engine.mapper);
        for failed in &discovery.failed {
            tracing::warn!(sync_id = %sync_id, account_id = %failed.id, reason = %failed.reason, "account unreachable: not synced");
        }

        let mut summary = FanoutSummary {
            sync_id: sync_id.clone(),
            trigger,
            dry_run: request.dry_run,
            accounts: AccountsSummary {
                found: discovery.targets.len() + discovery.skipped.len() + discovery.failed.len(),
                synced: discovery.targets.len(),
                skipped: discovery.skipped.clone(),
                unreachable: discovery.failed.clone(),
            },
            units: units.len(),
            enqueued: 0,
            sqs_batches: 0,
            blueprints: None,
            scopes: ScopeReport::default(),
            plan: Vec::new(),
            duration_ms: 0,
        };
        let mut cleanup = Cleanup::for_engine(engine, self.port.clone());
        cleanup.preview = request.dry_run;
        summary.scopes = reconcile_scopes(
            engine,
            &discovery,
            &units,
            &scope,
            &cleanup,
            SystemTime::now(),
        )
        .await;
        if request.dry_run {
            summary.plan = units.iter().map(Unit::label).collect();
        } else if !units.is_empty() {
            source::register(
                &self.port,
                &config.integration_identifier,
                engine.mapper.config(),
                &self.integration,
            )
            .await;
            if config.initialize_port_resources {
                let report =
                    blueprints::ensure_blueprints(&self.port, &blueprints::default_blueprints())
                        .await
                        .map_err(|e| diagnostic("PortBlueprints", e))?;
                tracing::info!(created = ?report.created, extended = ?report.extended, "default blueprints ready");
                summary.blueprints = Some(report);
            }
            let sqs = self.sqs.clone();
            let queue_url = self.queue_url.clone();
            let outcome = enqueue(&units, move |entries| {
                send_batch(sqs.clone(), queue_url.clone(), entries)
            })
            .await;
            summary.enqueued = outcome.sent;
            summary.sqs_batches = outcome.calls;
            if !outcome.failed.is_empty() {
                let first = &outcome.failed[0];
                return Err(diagnostic(
                    "EnqueueFailed",
                    format!(
                        "{} of {} work items could not be sent to the queue after {SEND_ATTEMPTS} attempts (first: {}: {}); the {} sent will run",
                        outcome.failed.len(),
                        units.len(),
                        first.0,
                        first.1,
                        outcome.sent
                    ),
                ));
            }
        }
        summary.duration_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            sync_id = %sync_id,
            accounts = summary.accounts.synced,
            skipped = summary.accounts.skipped.len(),
            unreachable = summary.accounts.unreachable.len(),
            units = summary.units,
            enqueued = summary.enqueued,
            gone_scope_deleted = summary.scopes.deleted_total(),
            gone_scope_kept = summary.scopes.kept_total(),
            sqs_batches = summary.sqs_batches,
            ms = summary.duration_ms,
            "fan-out finished"
        );
        Ok(summary)
    }
}

/// One message of a batch: its id within the batch and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub body: String,
}

/// A message SQS did not accept: id, reason, and whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub id: String,
    pub reason: String,
    pub retryable: bool,
}

/// What [`enqueue`] achieved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EnqueueOutcome {
    pub sent: usize,
    pub calls: usize,
    /// Units not sent: label and the last reason.
    pub failed: Vec<(String, String)>,
}

/// Sends every unit as one message, in batches of [`SQS_BATCH`]; entries SQS rejects are retried
/// (with backoff, at most [`SEND_ATTEMPTS`] times in all) unless retrying cannot help. Nothing is
/// dropped silently: what is not sent is returned in `failed`.
pub async fn enqueue<F, Fut>(units: &[Unit], send: F) -> EnqueueOutcome
where
    F: Fn(Vec<Entry>) -> Fut,
    Fut: Future<Output = Result<Vec<Rejected>, String>>,
{
    let bodies: Vec<(String, String)> = units
        .iter()
        .map(|u| {
            let body = serde_json::to_string(u).expect("a unit serialises");
            (u.label(), body)
        })
        .collect();
    let batches: Vec<Vec<usize>> = (0..bodies.len())
        .collect::<Vec<_>>()
        .chunks(SQS_BATCH)
        .map(<[usize]>::to_vec)
        .collect();
    let futures: Vec<_> = batches
        .into_iter()
        .map(|batch| send_with_retries(batch, &bodies, &send))
        .collect();
    let results: Vec<EnqueueOutcome> = stream::iter(futures)
        .buffer_unordered(SEND_CONCURRENCY)
        .collect()
        .await;
    let mut outcome = EnqueueOutcome::default();
    for batch in results {
        outcome.sent += batch.sent;
        outcome.calls += batch.calls;
        outcome.failed.extend(batch.failed);
    }
    outcome
}

async fn send_with_retries<F, Fut>(
    mut pending: Vec<usize>,
    bodies: &[(String, String)],
    send: &F,
) -> EnqueueOutcome
where
    F: Fn(Vec<Entry>) -> Fut,
    Fut: Future<Output = Result<Vec<Rejected>, String>>,
{
    let (mut sent, mut calls) = (0, 0);
    let mut failed = Vec::new();
    for attempt in 1..=SEND_ATTEMPTS {
        if attempt > 1 {
            let backoff = Duration::from_millis(100 * 2u64.pow(attempt - 2));
            tokio::time::sleep(backoff + Duration::from_millis(fastrand::u64(..50))).await;
        }
        let entries = pending
            .iter()
            .map(|&i| Entry {
                id: i.to_string(),
                body: bodies[i].1.clone(),
            })
            .collect();
        calls += 1;
        let rejected = match send(entries).await {
            Ok(rejected) => rejected,
            Err(reason) => pending
                .iter()
                .map(|i| Rejected {
                    id: i.to_string(),
                    reason: reason.clone(),
                    retryable: true,
                })
                .collect(),
        };
        let mut retry = Vec::new();
        for &i in &pending {
            match rejected.iter().find(|r| r.id == i.to_string()) {
                None => sent += 1,
                Some(r) if r.retryable && attempt < SEND_ATTEMPTS => retry.push(i),
                Some(r) => {
                    tracing::error!(unit = %bodies[i].0, reason = %r.reason, "work item not enqueued");
                    failed.push((bodies[i].0.clone(), r.reason.clone()));
                }
            }
        }
        if retry.is_empty() {
            break;
        }
        tracing::warn!(
            count = retry.len(),
            attempt,
            "SQS rejected work items: retrying"
        );
        pending = retry;
    }
    EnqueueOutcome {
        sent,
        calls,
        failed,
    }
}

async fn send_batch(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    entries: Vec<Entry>,
) -> Result<Vec<Rejected>, String> {
    let entries = entries
        .into_iter()
        .map(|e| {
            SendMessageBatchRequestEntry::builder()
                .id(e.id)
                .message_body(e.body)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = sqs
        .send_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
    Ok(out
        .failed()
        .iter()
        .map(|f| Rejected {
            id: f.id().to_owned(),
            reason: format!("{}: {}", f.code(), f.message().unwrap_or_default()),
            retryable: !f.sender_fault(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Account;
    use crate::kinds::Kind;
    use serde_json::json;
    use std::sync::Mutex;

    const SCHEDULED: &[u8] = include_bytes!("../../events/scheduled-event.json");
    const SCHEDULER: &[u8] = include_bytes!("../../events/scheduler-input.json");
    const MANUAL: &[u8] = include_bytes!("../../events/manual-one-time-sync.json");

    fn event(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn sample_events_parse() {
        let (trigger, request) = parse_request(&event(SCHEDULED)).unwrap();
        assert_eq!(trigger, Trigger::Schedule);
        assert_eq!(request, FanoutRequest::default());

        let (trigger, request) = parse_request(&event(SCHEDULER)).unwrap();
        assert_eq!(trigger, Trigger::Direct);
        assert!(!request.dry_run);

        let (_, request) = parse_request(&event(MANUAL)).unwrap();
        assert_eq!(request.accounts.len(), 1);
        assert_eq!(request.regions.len(), 2);
        assert_eq!(request.kinds, vec!["AWS::EC2::Instance"]);
        let scope = Scope::from_lists(&request.accounts, &request.regions, &request.kinds).unwrap();
        assert_eq!(scope.kinds, Some(vec![Kind::Ec2Instance]));
    }

    #[test]
    fn bad_payloads_are_explained() {
        for (payload, needle) in [
            (
                json!({"acounts": ["123456789012"]}),
                "unknown field `acounts`",
            ),
            (json!({"accounts": "123456789012"}), "expected a sequence"),
            (json!([1, 2]), "a JSON array, not an object"),
            (json!("sync"), "a JSON string"),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"dryrun": true}}),
                "detail: unknown field `dryrun`",
            ),
        ] {
            let err = parse_request(&payload).unwrap_err().to_string();
            assert!(err.contains(needle), "{payload}: {err}");
            assert!(
                err.contains("\"dryRun\""),
                "the error shows the expected form: {err}"
            );
        }
        assert_eq!(
            parse_request(&Value::Null).unwrap().1,
            FanoutRequest::default()
        );
    }

    fn units(n: usize) -> Vec<Unit> {
        (0..n)
            .map(|i| Unit {
                sync_id: "s".into(),
                account: Account::bare(&format!("{:012}", i), "aws", None),
                region: "us-east-1".into(),
                kind: Kind::Ec2Instance,
            })
            .collect()
    }

    #[tokio::test]
    async fn enqueue_sends_batches_of_ten_and_retries_rejected_entries() {
        let units = units(23);
        let received: Mutex<Vec<String>> = Mutex::default();
        let calls: Mutex<usize> = Mutex::default();
        let outcome = enqueue(&units, |entries: Vec<Entry>| {
            let n = {
                let mut c = calls.lock().unwrap();
                *c += 1;
                *c
            };
            assert!(entries.len() <= SQS_BATCH);
            // The first call of every batch rejects its first entry (a throttled entry).
            let rejected: Vec<Rejected> = if entries.len() > 1 && n <= 3 {
                vec![Rejected {
                    id: entries[0].id.clone(),
                    reason: "ThrottlingException".into(),
                    retryable: true,
                }]
            } else {
                Vec::new()
            };
            let mut got = received.lock().unwrap();
            for e in &entries {
                if !rejected.iter().any(|r| r.id == e.id) {
                    got.push(e.body.clone());
                }
            }
            async move { Ok(rejected) }
        })
        .await;
        assert_eq!(outcome.sent, 23);
        assert!(outcome.failed.is_empty());
        assert_eq!(outcome.calls, 6, "3 batches + 3 retries");
        let got = received.into_inner().unwrap();
        assert_eq!(got.len(), 23, "every unit arrives exactly once");
        let mut ids: Vec<String> = got
            .iter()
            .map(|b| serde_json::from_str::<Unit>(b).unwrap().account.id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 23);
    }

    #[tokio::test]
    async fn entries_that_cannot_be_sent_are_reported_not_dropped() {
        let units = units(12);
        let outcome = enqueue(&units, |entries: Vec<Entry>| {
            let rejected: Vec<Rejected> = entries
                .iter()
                .filter(|e| e.id == "3" || e.id == "11")
                .map(|e| Rejected {
                    id: e.id.clone(),
                    reason: if e.id == "3" {
                        "InvalidMessageContents".into()
                    } else {
                        "InternalError".into()
                    },
                    retryable: e.id != "3",
                })
                .collect();
            async move { Ok(rejected) }
        })
        .await;
        assert_eq!(outcome.sent, 10);
        let mut failed: Vec<&str> = outcome.failed.iter().map(|f| f.1.as_str()).collect();
        failed.sort();
        assert_eq!(failed, vec!["InternalError", "InvalidMessageContents"]);
        // Batch one: 1 call (the sender fault is final); batch two: every attempt.
        assert_eq!(outcome.calls, 1 + SEND_ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn a_failing_call_is_retried_then_reported() {
        let units = units(4);
        let outcome = enqueue(&units, |_entries: Vec<Entry>| async {
            Err::<Vec<Rejected>, _>("connection reset".to_owned())
        })
        .await;
        assert_eq!(outcome.sent, 0);
        assert_eq!(outcome.failed.len(), 4);
        assert_eq!(outcome.calls, SEND_ATTEMPTS as usize);
    }
}
