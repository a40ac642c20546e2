//! Sending work items to the SQS queue: one message per unit, in `SendMessageBatch` calls of 10,
//! entries SQS rejects retried with backoff, nothing dropped silently. Without
//! `createMissingRelatedEntities`, the units of other kinds are sent with a delay so that the
//! account units (their relation targets) normally run first.

use crate::kinds::Kind;
use crate::lambda::work_item::WorkItem;
use crate::sync::Unit;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures_util::stream::{self, StreamExt};
use std::future::Future;
use std::time::Duration;

/// SQS accepts at most 10 messages per `SendMessageBatch`.
pub const SQS_BATCH: usize = 10;
/// Attempts per message before the run reports it as not enqueued.
pub const SEND_ATTEMPTS: u32 = 5;
/// `SendMessageBatch` calls in flight at once.
const SEND_CONCURRENCY: usize = 8;
/// `DelaySeconds` of the non-account work items when Port may not create missing relation
/// targets: time for the account units to be written first.
pub const ACCOUNTS_FIRST_DELAY_SECONDS: i32 = 30;

/// One message of a batch: its id within the batch, its body and its `DelaySeconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub body: String,
    pub delay_seconds: i32,
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

/// One work item: its id in the batch (the unit's number in the run), the unit's label (for
/// reports), body and delay.
struct Item {
    id: String,
    label: String,
    body: String,
    delay_seconds: i32,
}

/// Sends every unit as one message, in batches of [`SQS_BATCH`]; entries SQS rejects are retried
/// (with backoff, at most [`SEND_ATTEMPTS`] times in all) unless retrying cannot help. Nothing is
/// dropped silently: what is not sent is returned in `failed`. With `accounts_first`, the units
/// that are not account units wait [`ACCOUNTS_FIRST_DELAY_SECONDS`] in the queue.
///
/// Batches are made as they are sent, [`SEND_CONCURRENCY`] at a time: only the message bodies of
/// the batches in flight exist at once, whatever the number of units.
pub async fn enqueue<F, Fut>(units: &[Unit], accounts_first: bool, send: F) -> EnqueueOutcome
where
    F: Fn(Vec<Entry>) -> Fut,
    Fut: Future<Output = Result<Vec<Rejected>, String>>,
{
    let send = &send;
    stream::iter(units.chunks(SQS_BATCH).enumerate())
        .map(|(n, chunk)| {
            let items: Vec<Item> = chunk
                .iter()
                .enumerate()
                .map(|(i, u)| Item::of(n * SQS_BATCH + i, u, accounts_first))
                .collect();
            send_with_retries(items, send)
        })
        .buffer_unordered(SEND_CONCURRENCY)
        .fold(EnqueueOutcome::default(), |mut outcome, batch| async move {
            outcome.sent += batch.sent;
            outcome.calls += batch.calls;
            outcome.failed.extend(batch.failed);
            outcome
        })
        .await
}

impl Item {
    /// Unit number `n`'s work item.
    fn of(n: usize, unit: &Unit, accounts_first: bool) -> Item {
        Item {
            id: n.to_string(),
            label: unit.label(),
            body: serde_json::to_string(&WorkItem::of(unit)).expect("a work item serialises"),
            delay_seconds: if accounts_first && unit.kind != Kind::AccountInfo {
                ACCOUNTS_FIRST_DELAY_SECONDS
            } else {
                0
            },
        }
    }
}

/// Sends one batch's items, retrying the entries SQS rejects while retrying can help.
async fn send_with_retries<F, Fut>(mut pending: Vec<Item>, send: &F) -> EnqueueOutcome
where
    F: Fn(Vec<Entry>) -> Fut,
    Fut: Future<Output = Result<Vec<Rejected>, String>>,
{
    let mut outcome = EnqueueOutcome::default();
    for attempt in 1..=SEND_ATTEMPTS {
        if attempt > 1 {
            let backoff = Duration::from_millis(100 * 2u64.pow(attempt - 2));
            tokio::time::sleep(backoff + Duration::from_millis(fastrand::u64(..50))).await;
        }
        let entries = pending
            .iter()
            .map(|item| Entry {
                id: item.id.clone(),
                body: item.body.clone(),
                delay_seconds: item.delay_seconds,
            })
            .collect();
        outcome.calls += 1;
        let rejected = match send(entries).await {
            Ok(rejected) => rejected,
            Err(reason) => pending
                .iter()
                .map(|item| Rejected {
                    id: item.id.clone(),
                    reason: reason.clone(),
                    retryable: true,
                })
                .collect(),
        };
        pending = settle(pending, &rejected, attempt, &mut outcome);
        if pending.is_empty() {
            break;
        }
        tracing::warn!(
            count = pending.len(),
            attempt,
            "SQS rejected work items: retrying"
        );
    }
    outcome
}

/// Counts what was sent and what failed for good; returns what to retry.
fn settle(
    pending: Vec<Item>,
    rejected: &[Rejected],
    attempt: u32,
    outcome: &mut EnqueueOutcome,
) -> Vec<Item> {
    let mut retry = Vec::new();
    for item in pending {
        match rejected.iter().find(|r| r.id == item.id) {
            None => outcome.sent += 1,
            Some(r) if r.retryable && attempt < SEND_ATTEMPTS => retry.push(item),
            Some(r) => {
                tracing::error!(unit = %item.label, reason = %r.reason, "work item not enqueued");
                outcome.failed.push((item.label, r.reason.clone()));
            }
        }
    }
    retry
}

/// Sends one batch with `SendMessageBatch`; the entries SQS refused come back as [`Rejected`].
pub async fn send_batch(
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
                .set_delay_seconds((e.delay_seconds > 0).then_some(e.delay_seconds))
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
        .map_err(|e| crate::aws_error::explain(&e).to_string())?;
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
    use std::sync::Mutex;

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
        let outcome = enqueue(&units, false, |entries: Vec<Entry>| {
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
            .map(|b| WorkItem::parse(b).unwrap().account_id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 23);
    }

    #[tokio::test]
    async fn entries_that_cannot_be_sent_are_reported_not_dropped() {
        let units = units(12);
        let outcome = enqueue(&units, false, |entries: Vec<Entry>| {
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
        let outcome = enqueue(&units, false, |_entries: Vec<Entry>| async {
            Err::<Vec<Rejected>, _>("connection reset".to_owned())
        })
        .await;
        assert_eq!(outcome.sent, 0);
        assert_eq!(outcome.failed.len(), 4);
        assert_eq!(outcome.calls, SEND_ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn without_missing_related_entities_non_account_units_wait_in_the_queue() {
        let mut units = units(3);
        units[0].kind = Kind::AccountInfo;
        let delays: Mutex<Vec<(Kind, i32)>> = Mutex::default();
        for accounts_first in [false, true] {
            let outcome = enqueue(&units, accounts_first, |entries: Vec<Entry>| {
                let mut got = delays.lock().unwrap();
                for e in &entries {
                    let item = WorkItem::parse(&e.body).unwrap();
                    got.push((Kind::parse(&item.kind).unwrap(), e.delay_seconds));
                }
                async { Ok(Vec::new()) }
            })
            .await;
            assert_eq!(outcome.sent, 3);
        }
        let mut got = delays.into_inner().unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                (Kind::AccountInfo, 0),
                (Kind::AccountInfo, 0),
                (Kind::Ec2Instance, 0),
                (Kind::Ec2Instance, 0),
                (Kind::Ec2Instance, ACCOUNTS_FIRST_DELAY_SECONDS),
                (Kind::Ec2Instance, ACCOUNTS_FIRST_DELAY_SECONDS),
            ]
        );
    }
}
