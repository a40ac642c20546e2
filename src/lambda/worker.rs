//! The `worker` Lambda: runs the work items of an SQS batch and reports partial batch failures.
//!
//! Each message body is parsed on its own: a malformed body fails only that message (the queue
//! redelivers it and, after its bounded receives, moves it to the dead-letter queue). Units run
//! through the CLI's runner ([`crate::sync::run`]): concurrently within the bounds, each on its own
//! task (a panic fails only its message), and a unit not finished shortly before the invocation
//! deadline is stopped and reported failed, so SQS redelivers it; upserts are idempotent, so
//! nothing written is lost. The bounds apply within one invocation (one SQS batch), not across
//! concurrent workers.

use crate::lambda::Container;
use crate::port::PortClient;
use crate::sync::{run_units, Batch, Engine, Sink, Unit, UnitReport};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

    /// Like [`Worker::handle`], also returning the batch summary. The units run through the same
    /// runner as the CLI's ([`run_units`]): `MAX_CONCURRENT_UNITS`,
    /// `MAX_CONCURRENT_UNITS_PER_ACCOUNT`, `selector.maxConcurrentAccounts` and the accounts-first
    /// wave apply within this batch.
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
            match parse(record) {
                Ok(item) => work.push(item),
                Err(id) => {
                    summary.malformed += 1;
                    response.add_failure(id);
                }
            }
        }
        if !work.is_empty() {
            let config = &self.engine.config;
            let sink = Arc::new(Sink::port(
                self.port.clone(),
                &config.integration_identifier,
                self.engine.mapper.config(),
            ));
            let batch = Batch {
                units: work,
                policy: config.region_policy.clone(),
                deadline,
            };
            let reports = run_units(self.engine.clone(), sink, batch, &|_, _| {}).await;
            for (id, report) in reports {
                if !tally(&mut summary, &id, &report) {
                    response.add_failure(id);
                }
            }
        }
        summary.failed += summary.malformed;
        log_summary(&summary);
        (response, summary)
    }
}

/// The work item of one message, or its id when the body is not a work item.
fn parse(record: SqsMessage) -> Result<(String, Unit), String> {
    let id = record.message_id.unwrap_or_default();
    let body = record.body.unwrap_or_default();
    match serde_json::from_str::<Unit>(&body) {
        Ok(unit) => Ok((id, unit)),
        Err(e) => {
            let excerpt: String = body.chars().take(BODY_EXCERPT).collect();
            tracing::error!(message_id = %id, error = %e, body = %excerpt, "malformed work item: reported as failed (it reaches the dead-letter queue after the queue's retries)");
            Err(id)
        }
    }
}

/// Counts one unit's report in and logs it; `false` when the message must be retried.
fn tally(summary: &mut BatchSummary, id: &str, report: &UnitReport) -> bool {
    summary.upserted += report.upserted;
    summary.deleted += report.deletion.as_ref().map_or(0, |d| d.deleted_total());
    match report.reason() {
        None => {
            summary.ok += 1;
            tracing::info!(unit = %report.label(), message_id = %id, fetched = report.fetched, upserted = report.upserted, deletion = ?report.deletion, ms = report.duration_ms, "unit done");
            true
        }
        Some(reason) => {
            summary.failed += 1;
            tracing::warn!(unit = %report.label(), message_id = %id, reason = %reason, "unit failed: the message will be retried");
            false
        }
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
