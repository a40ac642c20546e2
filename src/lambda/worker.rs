//! The `worker` Lambda: runs the work items of an SQS batch and reports partial batch failures.
//!
//! Each message body is parsed on its own: a malformed body fails only that message (the queue
//! redelivers it and, after its bounded receives, moves it to the dead-letter queue). Units run
//! concurrently (bounded), each on its own task (a panic fails only its message), and a unit not
//! finished shortly before the invocation deadline is stopped and reported failed, so SQS
//! redelivers it; upserts are idempotent, so nothing written is lost.

use crate::lambda::Container;
use crate::port::PortClient;
use crate::sync::{run_isolated_until, Engine, Sink, Unit, UnitReport};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Characters of a malformed body quoted in the log.
const BODY_EXCERPT: usize = 200;

/// The worker function, built once per container.
pub struct Worker {
    engine: Arc<Engine>,
    port: PortClient,
}

/// What one batch did (logged as one line).
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    pub messages: usize,
    pub ok: usize,
    pub failed: usize,
    pub malformed: usize,
    pub upserted: usize,
    pub deleted: usize,
}

impl Worker {
    pub fn new(container: Container) -> Worker {
        Worker {
            engine: container.engine,
            port: container.port,
        }
    }

    /// Runs the batch; `budget` is the time the units may take (see [`super::work_budget`]).
    pub async fn handle(&self, event: SqsEvent, budget: Option<Duration>) -> SqsBatchResponse {
        let (response, _) = self.handle_batch(event, budget).await;
        response
    }

    /// Like [`Worker::handle`], also returning the batch summary.
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
        for record in event.records {
            let id = record.message_id.unwrap_or_default();
            let body = record.body.unwrap_or_default();
            match serde_json::from_str::<Unit>(&body) {
                Ok(unit) => work.push((id, unit)),
                Err(e) => {
                    let excerpt: String = body.chars().take(BODY_EXCERPT).collect();
                    tracing::error!(message_id = %id, error = %e, body = %excerpt, "malformed work item: reported as failed (it reaches the dead-letter queue after the queue's retries)");
                    summary.malformed += 1;
                    response.add_failure(id);
                }
            }
        }
        if work.is_empty() {
            summary.failed = summary.malformed;
            log_summary(&summary);
            return (response, summary);
        }

        let client = self.port.clone();
        let config = &self.engine.config;
        let sink = Arc::new(Sink::port(
            client,
            &config.integration_identifier,
            self.engine.mapper.config(),
        ));
        let policy = Arc::new(config.region_policy.clone());
        let per_account: HashMap<String, Arc<Semaphore>> = work
            .iter()
            .map(|(_, u)| {
                (
                    u.account.id.clone(),
                    Arc::new(Semaphore::new(config.concurrency.per_account)),
                )
            })
            .collect();
        let futures: Vec<_> = work
            .into_iter()
            .map(|(id, unit)| {
                let engine = self.engine.clone();
                let sink = sink.clone();
                let policy = policy.clone();
                let gate = per_account[&unit.account.id].clone();
                async move {
                    let _permit = gate.acquire_owned().await.expect("never closed");
                    let report = run_isolated_until(engine, unit, sink, policy, deadline).await;
                    (id, report)
                }
            })
            .collect();
        let reports: Vec<(String, UnitReport)> = stream::iter(futures)
            .buffer_unordered(config.concurrency.units)
            .collect()
            .await;
        for (id, report) in reports {
            summary.upserted += report.upserted;
            summary.deleted += report
                .deletion
                .as_ref()
                .map_or(0, |d| d.deleted.values().sum());
            if report.ok {
                summary.ok += 1;
                tracing::info!(unit = %report.label(), message_id = %id, fetched = report.fetched, upserted = report.upserted, deletion = ?report.deletion, ms = report.duration_ms, "unit done");
            } else {
                summary.failed += 1;
                tracing::warn!(unit = %report.label(), message_id = %id, reason = report.reason.as_deref().unwrap_or(""), "unit failed: the message will be retried");
                response.add_failure(id);
            }
        }
        summary.failed += summary.malformed;
        log_summary(&summary);
        (response, summary)
    }
}

fn log_summary(summary: &BatchSummary) {
    tracing::info!(
        messages = summary.messages,
        ok = summary.ok,
        failed = summary.failed,
        malformed = summary.malformed,
        upserted = summary.upserted,
        deleted = summary.deleted,
        "batch finished"
    );
}
