//! The `fanout` Lambda: starts a run ([`crate::sync::start_run`]: discovers accounts and regions,
//! deletes the entities of gone scopes, initialises Port resources once per run) and sends one SQS
//! work item per `(account, region)` with the kinds it runs there ([`crate::lambda::enqueue`]).
//!
//! Accepted events: the EventBridge "Scheduled Event" envelope, the bare `Input` EventBridge
//! Scheduler delivers, or a manual payload `{"accounts", "regions", "kinds", "dryRun", "verify"}` (all
//! optional; `{}` is a full sync).

use crate::deletion::GoneScopeReport;
use crate::discovery::{FailedAccount, SkippedAccount};
use crate::lambda::enqueue::{enqueue, send_batch, SEND_ATTEMPTS};
use crate::lambda::work_item::MAX_KINDS;
use crate::lambda::{diagnostic, Container, InitError};
use crate::mapping::source::PortIntegration;
use crate::port::{blueprints, PortClient};
use crate::sync::state_sync::StateSync;
use crate::sync::tracking;
use crate::sync::verify::verify_if_needed;
use crate::sync::{start_run, Engine, Plan, PortMode, RunStart, Scope, StartError, Unit};
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

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
    /// Compare the sync state with Port first and repair both ways ([`crate::sync::verify`]).
    #[serde(default)]
    pub verify: bool,
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
#[error("{0}. Expected an EventBridge scheduled event or {{\"accounts\": [\"123456789012\"], \"regions\": [\"eu-west-1\"], \"kinds\": [\"AWS::EC2::Instance\"], \"dryRun\": false, \"verify\": false}} (every field optional)")]
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
    /// Work items planned: one per `(account, region)` with its kinds.
    pub work_items: usize,
    /// Work items sent to the queue.
    pub enqueued: usize,
    /// `SendMessageBatch` calls made (retries included).
    pub sqs_batches: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blueprints: Option<blueprints::BlueprintReport>,
    /// Entities of scopes that are gone (accounts closed or out of the organization, regions
    /// denied, kinds removed): deleted, or with `dryRun` what would be deleted.
    pub scopes: GoneScopeReport,
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

impl FanoutSummary {
    fn new(trigger: Trigger, dry_run: bool, start: &RunStart) -> FanoutSummary {
        let discovery = &start.discovery;
        FanoutSummary {
            sync_id: start.sync_id.clone(),
            trigger,
            dry_run,
            accounts: AccountsSummary {
                found: discovery.targets.len() + discovery.skipped.len() + discovery.failed.len(),
                synced: discovery.targets.len(),
                skipped: discovery.skipped.clone(),
                unreachable: discovery.failed.clone(),
            },
            units: start.plan.unit_count(),
            work_items: start
                .plan
                .groups()
                .map(|(_, g)| g.kinds.len().div_ceil(MAX_KINDS))
                .sum(),
            enqueued: 0,
            sqs_batches: 0,
            blueprints: start.blueprints.clone(),
            scopes: start.scopes.clone().unwrap_or_default(),
            plan: Vec::new(),
            duration_ms: 0,
        }
    }

    fn log(&self) {
        tracing::info!(
            sync_id = %self.sync_id,
            accounts = self.accounts.synced,
            skipped = self.accounts.skipped.len(),
            unreachable = self.accounts.unreachable.len(),
            units = self.units,
            work_items = self.work_items,
            enqueued = self.enqueued,
            gone_scope_deleted = self.scopes.deleted_total(),
            gone_scope_kept = self.scopes.kept_total(),
            sqs_batches = self.sqs_batches,
            ms = self.duration_ms,
            "fan-out finished"
        );
    }
}

/// The fan-out function, built once per container.
pub struct Fanout {
    engine: Arc<Engine>,
    state: StateSync,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    port: PortClient,
    integration: PortIntegration,
}

impl Fanout {
    /// Needs `WORK_QUEUE_URL` (checked here, before the first invocation).
    pub fn new(container: Container) -> Result<Fanout, InitError> {
        let Container {
            engine,
            port,
            integration,
            state,
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
            state,
            sqs,
            queue_url,
            port,
            integration,
        })
    }

    /// Handles one event: start the run ([`start_run`]: discover, plan, gone scopes, Port
    /// resources), then enqueue its units (or, with `dryRun`, return the plan).
    pub async fn handle(&self, event: Value) -> Result<FanoutSummary, Diagnostic> {
        let started = Instant::now();
        let (trigger, request) =
            parse_request(&event).map_err(|e| diagnostic("InvalidRequest", e))?;
        let scope = Scope::from_lists(&request.accounts, &request.regions, &request.kinds)
            .map_err(|e| diagnostic("InvalidRequest", e))?;
        tracing::info!(trigger = ?trigger, dry_run = request.dry_run, "fan-out started");
        let mode = if request.dry_run {
            PortMode::Preview(self.port.clone())
        } else {
            PortMode::Write(self.port.clone())
        };
        let start = start_run(&self.engine, &self.integration, &scope, &mode)
            .await
            .map_err(|e| match e {
                StartError::Discovery(e) => diagnostic("DiscoveryFailed", e),
                StartError::Blueprints(e) => diagnostic("PortBlueprints", e),
            })?;
        let mut summary = FanoutSummary::new(trigger, request.dry_run, &start);
        if !request.dry_run {
            let installation = &self.engine.config.integration_identifier;
            verify_if_needed(
                &self.engine,
                &self.port,
                &self.state,
                &start.plan,
                request.verify,
            )
            .await;
            tracking::start(&self.state.store, installation, &start, &scope).await;
        }
        if request.dry_run {
            summary.plan = start.plan.units().map(|u| Unit::label(&u)).collect();
        } else if !start.plan.is_empty() {
            self.send(&start.plan, &mut summary).await?;
        }
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary.log();
        Ok(summary)
    }

    /// Enqueues the plan's work items; a run that could not enqueue every item fails with
    /// `EnqueueFailed`.
    async fn send(&self, plan: &Plan, summary: &mut FanoutSummary) -> Result<(), Diagnostic> {
        let accounts_first = !self.engine.mapper.config().create_missing_related_entities;
        let (sqs, queue_url) = (&self.sqs, &self.queue_url);
        let outcome = enqueue(plan, accounts_first, |entries| {
            send_batch(sqs.clone(), queue_url.clone(), entries)
        })
        .await;
        summary.enqueued = outcome.sent;
        summary.sqs_batches = outcome.calls;
        let Some(first) = outcome.failed.first() else {
            return Ok(());
        };
        Err(diagnostic(
            "EnqueueFailed",
            format!(
                "{} of {} work items could not be sent to the queue after {SEND_ATTEMPTS} attempts (first: {}: {}); the {} sent will run",
                outcome.failed.len(),
                outcome.sent + outcome.failed.len(),
                first.0,
                first.1,
                outcome.sent
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use serde_json::json;

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
}
