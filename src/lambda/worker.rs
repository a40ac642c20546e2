//! The `worker` Lambda: runs the work items of an SQS batch and reports partial batch failures.
//!
//! Each message body is parsed and checked on its own ([`super::work_item`]): a body that is not a
//! work item, or an item this installation's configuration does not allow (any one of its kinds),
//! fails only that message, with no AWS call for it (the queue redelivers it and, after its
//! bounded receives, moves it to the dead-letter queue). A work item is one account's kinds in one
//! region: it expands into one unit per kind, and the units of the whole batch run through the
//! CLI's runner ([`crate::sync::run`]): concurrently within the bounds, each on its own task (a
//! panic fails only its unit), and a unit not finished shortly before the invocation deadline is
//! stopped and reported failed. The bounds apply within one invocation (one SQS batch), not across
//! concurrent workers.
//!
//! A message is acknowledged when every unit of its item completed; when one failed, the message
//! is reported failed and SQS delivers the whole item again. That is simple and safe: the units
//! that succeeded run again cheaply (the sync state makes unchanged entities cost no Port write,
//! and an empty unit no Port request), each unit's outcome is recorded once per run however often
//! it runs (the last delivery's outcome wins), and an item that keeps failing ends in the
//! dead-letter queue with all its kinds, to be redriven as it is. Sending a new item with only the
//! failed kinds would spare those re-runs, but would need the worker to send to the queue and a
//! retry count in the message (which anyone who can send could forge) to ever reach the
//! dead-letter queue.

use crate::discovery::Directory;
use crate::lambda::live_event::{self, Body, Coalesced, Ignored, LiveEvent};
use crate::lambda::work_item::{self, quoted, quoted_list, CheckError, WorkItem};
use crate::lambda::Container;
use crate::port::PortClient;
use crate::state::Timestamp;
use crate::sync::refresh::{run_refresh, RefreshReport};
use crate::sync::state_sync::StateSync;
use crate::sync::tracking;
use crate::sync::{run_units, Batch, Engine, Sink, Unit, UnitReport};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Characters of a malformed body quoted in the log.
const BODY_EXCERPT: usize = 200;

/// The worker function, built once per container.
pub struct Worker {
    engine: Arc<Engine>,
    port: PortClient,
    /// The accounts work items may name, from this function's own configuration.
    directory: Directory,
    state: StateSync,
}

/// What one batch did (logged as one line).
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    pub messages: usize,
    /// Messages acknowledged (every unit of a work item completed; live events handled).
    pub ok: usize,
    /// Messages reported failed (SQS delivers them again).
    pub failed: usize,
    /// Units the work items of the batch expanded into, and how many of them failed.
    pub units: usize,
    pub units_failed: usize,
    /// Bodies that are not a work item, or items the configuration does not allow.
    pub refused: usize,
    pub upserted: usize,
    pub deleted: usize,
    /// EventBridge events (live events) among the messages.
    pub events: usize,
    /// Events no configured kind follows (read calls, unknown events, no resource named).
    pub ignored_not_followed: usize,
    /// Events of kinds that are not configured.
    pub ignored_unmapped: usize,
    /// Events of accounts or regions outside the configuration.
    pub ignored_outside: usize,
    /// Targeted refreshes `(account, region, kind, ids)` the events coalesced into.
    pub refreshes: usize,
    /// Resource ids refreshed, after coalescing.
    pub refreshed_ids: usize,
}

impl Worker {
    pub fn new(container: Container) -> Worker {
        Worker {
            engine: container.engine,
            port: container.port,
            directory: Directory::new(),
            state: container.state,
        }
    }

    /// Runs the batch; `budget` is the time the units may take (see [`super::work_budget`]).
    pub async fn handle(&self, event: SqsEvent, budget: Option<Duration>) -> SqsBatchResponse {
        let (response, _) = self.handle_batch(event, budget).await;
        response
    }

    /// Like [`Worker::handle`], also returning the batch summary. Every message is checked first
    /// ([`work_item::check`]); the accepted units run through the same runner as the CLI's
    /// ([`run_units`]): `MAX_CONCURRENT_UNITS`, `MAX_CONCURRENT_UNITS_PER_ACCOUNT`,
    /// `selector.maxConcurrentAccounts` and the accounts-first wave apply within this batch.
    pub async fn handle_batch(
        &self,
        event: SqsEvent,
        budget: Option<Duration>,
    ) -> (SqsBatchResponse, BatchSummary) {
        let deadline = budget.map(|b| tokio::time::Instant::from_std(Instant::now() + b));
        let mut response = SqsBatchResponse::default();
        let mut summary = BatchSummary {
            messages: event.records.len(),
            ..Default::default()
        };
        let mut work: Vec<(String, Unit)> = Vec::new();
        let mut events: Vec<(String, LiveEvent)> = Vec::new();
        for record in event.records {
            let id = record.message_id.unwrap_or_default();
            let body = record.body.unwrap_or_default();
            match Body::parse(&body) {
                Ok(Body::WorkItem(item)) => match self.accept(id, item, deadline).await {
                    Ok((id, units)) => work.extend(units.into_iter().map(|u| (id.clone(), u))),
                    Err((id, refused)) => {
                        summary.refused += usize::from(refused);
                        summary.failed += 1;
                        response.add_failure(id);
                    }
                },
                Ok(Body::Event(event)) => events.push((id, event)),
                Err(refusal) => {
                    let excerpt: String = body.chars().take(BODY_EXCERPT).collect();
                    tracing::warn!(security_event = true, message_id = %id, reason = %refusal, body = %excerpt, "message refused (neither a work item nor an event): reported as failed (it reaches the dead-letter queue after the queue's retries)");
                    summary.refused += 1;
                    summary.failed += 1;
                    response.add_failure(id);
                }
            }
        }
        if !events.is_empty() {
            for id in self.live_events(events, deadline, &mut summary).await {
                response.add_failure(id);
            }
        }
        if !work.is_empty() {
            let config = &self.engine.config;
            let sink = Arc::new(
                Sink::port(
                    self.port.clone(),
                    &config.integration_identifier,
                    self.engine.mapper.config(),
                )
                .with_state(Some(self.state.clone())),
            );
            let sync_ids: HashMap<String, String> = work
                .iter()
                .map(|(id, unit)| (id.clone(), unit.sync_id.clone()))
                .collect();
            let batch = Batch {
                units: work,
                deadline,
                unit_timeout: Some(config.unit_timeout),
            };
            let reports = run_units(self.engine.clone(), sink, batch, &|_, _| {}).await;
            self.track_all(&sync_ids, &reports).await;
            // A message fails when one unit of its item failed.
            let mut messages: HashMap<String, bool> = HashMap::new();
            for (id, report) in reports {
                let ok = tally(&mut summary, &id, &report);
                *messages.entry(id).or_insert(true) &= ok;
            }
            for (id, ok) in messages {
                if ok {
                    summary.ok += 1;
                } else {
                    summary.failed += 1;
                    response.add_failure(id);
                }
            }
        }
        log_summary(&summary);
        if summary.events > 0 {
            let installation = &self.engine.config.integration_identifier;
            println!("{}", live_emf(installation, &summary, Timestamp::now()));
        }
        (response, summary)
    }

    /// The units of one work item; or its message id, and whether it was refused (a security
    /// event) rather than not checkable now (the account list could not be read before
    /// `deadline`).
    async fn accept(
        &self,
        id: String,
        item: WorkItem,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(String, Vec<Unit>), (String, bool)> {
        let checking = work_item::check(&item, &self.engine, &self.directory);
        let checked = match deadline {
            Some(at) => match tokio::time::timeout_at(at, checking).await {
                Ok(checked) => checked,
                Err(_) => {
                    tracing::warn!(message_id = %id, "work item not checked before the invocation deadline: the message will be retried");
                    return Err((id, false));
                }
            },
            None => checking.await,
        };
        match checked {
            Ok(units) => Ok((id, units)),
            Err(CheckError::Refused(refusal)) => {
                tracing::warn!(security_event = true, message_id = %id, reason = %refusal, account_id = %quoted(&item.account_id), region = %quoted(&item.region), kinds = %quoted_list(&item.kinds), sync_id = %quoted(&item.sync_id), "work item refused: no AWS call, no write, no deletion; reported as failed (it reaches the dead-letter queue after the queue's retries)");
                Err((id, true))
            }
            Err(e @ CheckError::Directory(_)) => {
                tracing::error!(message_id = %id, account_id = %quoted(&item.account_id), error = %e, "work item not run: the message will be retried");
                Err((id, false))
            }
        }
    }
}

impl Worker {
    /// Routes, coalesces and refreshes the live events of a batch; returns the message ids to
    /// retry (events whose account list could not be read, or whose refresh failed).
    async fn live_events(
        &self,
        events: Vec<(String, LiveEvent)>,
        deadline: Option<tokio::time::Instant>,
        summary: &mut BatchSummary,
    ) -> Vec<String> {
        let mut retry = Vec::new();
        let mut coalesced = Coalesced::default();
        summary.events += events.len();
        for (id, event) in events {
            let routed = live_event::route(&event, &self.engine, &self.directory);
            let routed = match deadline {
                Some(at) => match tokio::time::timeout_at(at, routed).await {
                    Ok(routed) => routed,
                    Err(_) => {
                        tracing::warn!(message_id = %id, "event not checked before the invocation deadline: the message will be retried");
                        summary.failed += 1;
                        retry.push(id);
                        continue;
                    }
                },
                None => routed.await,
            };
            match routed {
                Ok(Ok(refreshes)) => coalesced.add(&id, refreshes),
                Ok(Err(ignored)) => {
                    match ignored {
                        Ignored::Unmapped => summary.ignored_unmapped += 1,
                        Ignored::Outside(_) => summary.ignored_outside += 1,
                        Ignored::NotFollowed | Ignored::NoIds => summary.ignored_not_followed += 1,
                    }
                    summary.ok += 1;
                    tracing::info!(message_id = %id, event_id = %quoted(&event.id), source = %quoted(event.source()), event = %quoted(event.name()), account_id = %quoted(&event.account), region = %quoted(&event.region), reason = %ignored, "live event ignored (acknowledged)");
                }
                Err(e) => {
                    tracing::error!(message_id = %id, account_id = %quoted(&event.account), error = %e, "live event not checked: the message will be retried");
                    summary.failed += 1;
                    retry.push(id);
                }
            }
        }
        if coalesced.is_empty() {
            return retry;
        }
        let config = &self.engine.config;
        let sink = Sink::port(
            self.port.clone(),
            &config.integration_identifier,
            self.engine.mapper.config(),
        )
        .with_state(Some(self.state.clone()));
        let refreshes = coalesced.into_refreshes();
        summary.refreshes += refreshes.len();
        summary.refreshed_ids += refreshes.iter().map(|(r, _)| r.ids.len()).sum::<usize>();
        let engine = &self.engine;
        let sink = &sink;
        let reports: Vec<(RefreshReport, Vec<String>)> = futures_util::stream::iter(refreshes)
            .map(|(refresh, messages)| async move {
                let running = run_refresh(engine, sink, &refresh);
                let report = match deadline {
                    Some(at) => match tokio::time::timeout_at(at, running).await {
                        Ok(report) => report,
                        Err(_) => RefreshReport {
                            label: refresh.unit.label(),
                            error: Some("stopped at the invocation deadline".to_owned()),
                            ..Default::default()
                        },
                    },
                    None => running.await,
                };
                (report, messages)
            })
            .buffer_unordered(config.concurrency.units.max(1))
            .collect()
            .await;
        for (report, messages) in reports {
            summary.upserted += report.upserted;
            summary.deleted += report.deleted;
            match &report.error {
                None => {
                    summary.ok += messages.len();
                    tracing::info!(scope = %report.label, ids = report.ids, fetched = report.fetched, gone = report.gone, upserted = report.upserted, unchanged = report.unchanged, deleted = report.deleted, map_errors = report.map_errors, port_failures = report.port_failures, api_calls = report.api_calls, ms = report.duration_ms, events = messages.len(), "live refresh done");
                }
                Some(reason) => {
                    summary.failed += messages.len();
                    tracing::warn!(scope = %report.label, reason = %reason, events = messages.len(), "live refresh failed: its messages will be retried");
                    retry.extend(messages);
                }
            }
        }
        retry
    }
}

/// Counts one unit's report in and logs it; `false` when its message must be retried.
fn tally(summary: &mut BatchSummary, id: &str, report: &UnitReport) -> bool {
    summary.upserted += report.upserted;
    summary.deleted += report.deletion.as_ref().map_or(0, |d| d.deleted_total());
    summary.units += 1;
    match report.reason() {
        None => {
            tracing::info!(unit = %report.label(), message_id = %id, fetched = report.fetched, upserted = report.upserted, deletion = ?report.deletion, ms = report.duration_ms, "unit done");
            true
        }
        Some(reason) => {
            summary.units_failed += 1;
            tracing::warn!(unit = %report.label(), message_id = %id, reason = %reason, "unit failed: its message (every kind of the work item) will be retried");
            false
        }
    }
}

/// How long recording a batch's outcomes may take after its units (one record per unit, up to
/// about 40 units per work item): within the margin the units' budget leaves at the template's
/// 300 s timeout (20 s, see [`super::work_budget`]).
const TRACKING_BUDGET: Duration = Duration::from_secs(15);

impl Worker {
    /// Records the outcomes of a batch's units, within [`TRACKING_BUDGET`]; what is not recorded
    /// only leaves its run open (`status` shows it).
    async fn track_all(
        &self,
        sync_ids: &HashMap<String, String>,
        reports: &[(String, UnitReport)],
    ) {
        let all = async {
            for (id, report) in reports {
                if let Some(sync_id) = sync_ids.get(id) {
                    self.track(sync_id, report).await;
                }
            }
        };
        if tokio::time::timeout(TRACKING_BUDGET, all).await.is_err() {
            tracing::warn!("recording the units' outcomes took too long: their run stays open");
        }
    }

    /// Records the unit's outcome in its run; the unit that closes the run emits its metrics.
    async fn track(&self, sync_id: &str, report: &UnitReport) {
        let installation = &self.engine.config.integration_identifier;
        let closed = tracking::record(&self.state.store, installation, sync_id, report).await;
        if let Some(summary) = closed {
            println!(
                "{}",
                tracking::emf(installation, &summary, Timestamp::now())
            );
        }
    }
}

fn log_summary(summary: &BatchSummary) {
    tracing::info!(
        messages = summary.messages,
        ok = summary.ok,
        failed = summary.failed,
        units = summary.units,
        units_failed = summary.units_failed,
        refused = summary.refused,
        upserted = summary.upserted,
        deleted = summary.deleted,
        events = summary.events,
        ignored_not_followed = summary.ignored_not_followed,
        ignored_unmapped = summary.ignored_unmapped,
        ignored_outside = summary.ignored_outside,
        refreshes = summary.refreshes,
        refreshed_ids = summary.refreshed_ids,
        "batch finished"
    );
}

/// One CloudWatch embedded-metric-format line per batch with live events (namespace
/// `PortAwsSync`, dimension `Installation`, as the run metrics): events, ignored events by
/// reason, refreshes, upserts, deletions.
pub fn live_emf(installation: &str, summary: &BatchSummary, now: Timestamp) -> serde_json::Value {
    let metrics = [
        ("LiveEvents", summary.events),
        ("LiveEventsIgnoredNotFollowed", summary.ignored_not_followed),
        ("LiveEventsIgnoredUnmapped", summary.ignored_unmapped),
        ("LiveEventsIgnoredOutside", summary.ignored_outside),
        ("LiveRefreshes", summary.refreshes),
        ("LiveUpserts", summary.upserted),
        ("LiveDeletions", summary.deleted),
    ];
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": now.millis(),
            "CloudWatchMetrics": [{
                "Namespace": tracking::METRICS_NAMESPACE,
                "Dimensions": [["Installation"]],
                "Metrics": metrics.iter().map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
        "Installation": installation,
    });
    for (name, value) in metrics {
        line[name] = serde_json::json!(value);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_metrics_follow_the_embedded_metric_format() {
        let summary = BatchSummary {
            events: 5,
            ignored_outside: 2,
            refreshes: 1,
            upserted: 3,
            ..Default::default()
        };
        let line = live_emf("prod", &summary, Timestamp::from_millis(1_000));
        let spec = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], "PortAwsSync");
        assert_eq!(spec["Dimensions"], json!([["Installation"]]));
        assert_eq!(line["Installation"], "prod");
        for metric in spec["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_u64(), "{name} has a value");
        }
        assert_eq!(line["LiveEventsIgnoredOutside"], 2);
        assert_eq!(line["LiveUpserts"], 3);
    }
    use crate::config::{Config, Secret};
    use crate::mapping::source::PortIntegration;
    use crate::mapping::Mapper;
    use crate::state::{StateStore, StoreOptions};
    use crate::test_support::fake_aws::{FakeAws, Request, Response};
    use aws_lambda_events::sqs::SqsMessage;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// STS answers AssumeRole with an access key naming the account; EC2's DescribeInstances takes
    /// 300 ms and records how many accounts were being served at once.
    #[derive(Default)]
    struct Load {
        running: Mutex<HashMap<String, usize>>,
        most_accounts: Mutex<usize>,
    }

    impl Load {
        fn answer(&self, request: &Request) -> Response {
            let body = &request.body;
            if body.contains("Action=AssumeRole&") {
                let account = body
                    .split("iam%3A%3A")
                    .nth(1)
                    .unwrap_or("")
                    .get(..12)
                    .unwrap_or("");
                return (200, "text/xml", format!(
                    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                     <Credentials><AccessKeyId>AK{account}</AccessKeyId><SecretAccessKey>s</SecretAccessKey>\
                     <SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
                     <AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/R/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\
                     </AssumeRoleResult></AssumeRoleResponse>"
                ));
            }
            let auth = request.header("authorization").unwrap_or_default();
            let account = auth
                .split("Credential=AK")
                .nth(1)
                .unwrap_or("")
                .get(..12)
                .unwrap_or("")
                .to_owned();
            self.enter(&account);
            std::thread::sleep(Duration::from_millis(300));
            self.leave(&account);
            let xml = "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>1</requestId><reservationSet/></DescribeInstancesResponse>";
            (200, "text/xml;charset=UTF-8", xml.to_owned())
        }

        fn enter(&self, account: &str) {
            let mut running = self.running.lock().unwrap();
            *running.entry(account.to_owned()).or_default() += 1;
            let mut most = self.most_accounts.lock().unwrap();
            *most = (*most).max(running.len());
        }

        fn leave(&self, account: &str) {
            let mut running = self.running.lock().unwrap();
            if let Some(n) = running.get_mut(account) {
                *n -= 1;
                if *n == 0 {
                    running.remove(account);
                }
            }
        }
    }

    /// Runs two accounts × two regions of EC2 units in one batch; returns the most accounts whose
    /// units ran at once, and the batch summary.
    async fn batch(selector: &str) -> (usize, BatchSummary) {
        let mut event = SqsEvent::default();
        for (i, (account, region)) in [
            ("111111111111", "us-east-1"),
            ("222222222222", "us-east-1"),
            ("111111111111", "eu-west-1"),
            ("222222222222", "eu-west-1"),
        ]
        .into_iter()
        .enumerate()
        {
            let body = json!({"syncId": "s", "accountId": account,
                "region": region, "kind": "AWS::EC2::Instance"});
            event.records.push(record(&format!("m-{i}"), &body));
        }
        let load = Arc::new(Load::default());
        let (worker, _server) = worker(&load, selector).await;
        let (_, summary) = worker.handle_batch(event, None).await;
        let most = *load.most_accounts.lock().unwrap();
        (most, summary)
    }

    fn record(id: &str, body: &serde_json::Value) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = Some(body.to_string());
        m
    }

    /// A worker over the fake AWS of `load`, two accounts, EC2 and ECS mapped (ECS's answers are
    /// EC2's XML, so its units fail).
    async fn worker(load: &Arc<Load>, selector: &str) -> (Worker, FakeAws) {
        let answering = load.clone();
        let server = FakeAws::start(move |r| answering.answer(r));
        // Every unit may hold its page at once: what is bounded here is accounts, not pages.
        let config = Config::from_lookup(|k| match k {
            "ACCOUNT_ROLE_ARNS" => Some(
                r#"["arn:aws:iam::111111111111:role/R","arn:aws:iam::222222222222:role/R"]"#.into(),
            ),
            "MAX_PAGES_IN_FLIGHT" => Some("4".into()),
            _ => None,
        })
        .unwrap();
        // A blueprint computed per object: no stale-entity search, so Port is never called.
        let mapper = Mapper::from_yaml(&format!(
            "resources:\n  - kind: AWS::EC2::Instance\n    selector: {selector}\n    port: {{entity: {{mappings: {{identifier: .Properties.InstanceId, blueprint: '\"ec2-\" + .Properties.InstanceType'}}}}}}\n  - kind: AWS::ECS::Cluster\n    port: {{entity: {{mappings: {{identifier: .Properties.Arn, blueprint: '\"ecs-\" + .Properties.Name'}}}}}}\n"
        ))
        .unwrap();
        let engine = Engine::with_base(config, mapper, server.sdk_config("us-east-1"));
        let path = std::env::temp_dir().join(format!(
            "pas-worker-{}-{:08x}/state.sqlite",
            std::process::id(),
            fastrand::u32(..)
        ));
        let store = StateStore::sqlite(&path, StoreOptions::default())
            .await
            .unwrap();
        let worker = Worker::new(Container {
            engine: Arc::new(engine),
            port: PortClient::new("http://127.0.0.1:9", "id".into(), Secret::new("s"), 1),
            integration: PortIntegration::NotConsulted,
            state: StateSync::new(store, "port-aws-sync", Duration::from_secs(3600)),
        });
        (worker, server)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_item_runs_each_of_its_kinds_and_fails_whole_when_one_unit_fails() {
        let load = Arc::new(Load::default());
        let (worker, _server) = worker(&load, "{}").await;
        let mut event = SqsEvent::default();
        let both = json!({"syncId": "s", "accountId": "111111111111", "region": "us-east-1",
            "kinds": ["AWS::EC2::Instance", "AWS::ECS::Cluster"]});
        let ec2 = json!({"syncId": "s", "accountId": "222222222222", "region": "us-east-1",
            "kinds": ["AWS::EC2::Instance"]});
        event.records.push(record("both", &both));
        event.records.push(record("ec2", &ec2));
        let (response, summary) = worker.handle_batch(event, None).await;
        assert_eq!((summary.units, summary.units_failed), (3, 1), "{summary:?}");
        assert_eq!((summary.ok, summary.failed), (1, 1), "{summary:?}");
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["both"], "the item whose ECS unit failed, only it");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn honours_max_concurrent_accounts_within_a_batch() {
        let (most, summary) = batch("{maxConcurrentAccounts: 1}").await;
        assert_eq!((summary.ok, summary.failed), (4, 0), "{summary:?}");
        assert_eq!(most, 1, "one account at a time");
        // Without the bound, both accounts run at once (so the test above means something).
        let (most, summary) = batch("{}").await;
        assert_eq!((summary.ok, summary.failed), (4, 0), "{summary:?}");
        assert_eq!(most, 2);
    }
}
