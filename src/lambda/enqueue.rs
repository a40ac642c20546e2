//! Sending work items to the SQS queue: one message per planned `(account, region)` group with its
//! kinds, in `SendMessageBatch` calls of 10, entries SQS rejects retried with backoff, nothing
//! dropped silently. Without `createMissingRelatedEntities`, the items without the account kind
//! are sent with a delay so that the account units (their relation targets) normally run first
//! (within an item that has it, the worker runs the account unit first).

use crate::kinds::Kind;
use crate::lambda::work_item::WorkItem;
use crate::sync::Plan;
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
    /// Work items not sent: label and the last reason.
    pub failed: Vec<(String, String)>,
}

/// One work item: its id in the batch (the item's number in the run), its label (for reports),
/// body and delay.
struct Item {
    id: String,
    label: String,
    body: String,
    delay_seconds: i32,
}

/// Sends every work item of the plan as one message, in batches of [`SQS_BATCH`]; entries SQS
/// rejects are retried (with backoff, at most [`SEND_ATTEMPTS`] times in all) unless retrying
/// cannot help. Nothing is dropped silently: what is not sent is returned in `failed`. With
/// `accounts_first`, the items without the account kind wait [`ACCOUNTS_FIRST_DELAY_SECONDS`] in
/// the queue.
///
/// Items and batches are made as they are sent, [`SEND_CONCURRENCY`] batches at a time: only the
/// message bodies of the batches in flight exist at once, whatever the size of the plan.
pub async fn enqueue<F, Fut>(plan: &Plan, accounts_first: bool, send: F) -> EnqueueOutcome
where
    F: Fn(Vec<Entry>) -> Fut,
    Fut: Future<Output = Result<Vec<Rejected>, String>>,
{
    let send = &send;
    let items = plan
        .groups()
        .flat_map(|(account, group)| WorkItem::of_group(&plan.sync_id, &account.id, group))
        .enumerate()
        .map(|(n, item)| Item::of(n, &item, accounts_first));
    stream::iter(items)
        .chunks(SQS_BATCH)
        .map(|items| send_with_retries(items, send))
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
    /// Work item number `n`.
    fn of(n: usize, item: &WorkItem, accounts_first: bool) -> Item {
        let has_accounts = item.kinds.iter().any(|k| k == Kind::AccountInfo.name());
        Item {
            id: n.to_string(),
            label: item.label(),
            body: serde_json::to_string(item).expect("a work item serialises"),
            delay_seconds: if accounts_first && !has_accounts {
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
                tracing::error!(work_item = %item.label, reason = %r.reason, "work item not enqueued");
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
    use crate::discovery::{Account, AccountTarget, Discovery};
    use crate::mapping::Mapper;
    use std::sync::Mutex;

    /// `n` accounts, each with the given regions, planned for `kinds`.
    fn plan_of(n: usize, regions: &[&str], kinds: &[Kind]) -> Plan {
        let discovery = Discovery {
            targets: (0..n)
                .map(|i| AccountTarget {
                    account: Account::bare(&format!("{:012}", i), "aws", None),
                    regions: regions.iter().map(|r| r.to_string()).collect(),
                })
                .collect(),
            ..Default::default()
        };
        Plan::new("s", &discovery, kinds, &Mapper::builtin())
    }

    /// One EC2 item per account.
    fn units(n: usize) -> Plan {
        plan_of(n, &["us-east-1"], &[Kind::Ec2Instance])
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
    async fn one_message_per_account_region_with_its_kinds() {
        let kinds = [
            Kind::AccountInfo,
            Kind::S3Bucket,
            Kind::Ec2Instance,
            Kind::EcsCluster,
        ];
        let plan = plan_of(3, &["us-east-1", "eu-west-1"], &kinds);
        assert_eq!(plan.unit_count(), 3 * (2 + 2 * 2));
        let bodies: Mutex<Vec<WorkItem>> = Mutex::default();
        let outcome = enqueue(&plan, false, |entries: Vec<Entry>| {
            let mut got = bodies.lock().unwrap();
            got.extend(entries.iter().map(|e| WorkItem::parse(&e.body).unwrap()));
            async { Ok(Vec::new()) }
        })
        .await;
        assert_eq!(
            (outcome.sent, outcome.calls),
            (9, 1),
            "3 accounts x (global + 2 regions)"
        );
        let got = bodies.into_inner().unwrap();
        let units: usize = got.iter().map(|i| i.kinds.len()).sum();
        assert_eq!(units, plan.unit_count(), "every unit in exactly one item");
        let global = got.iter().find(|i| i.region == "global").unwrap();
        assert_eq!(global.kinds, ["AWS::Account::Info", "AWS::S3::Bucket"]);
        let regional = got.iter().find(|i| i.region == "eu-west-1").unwrap();
        assert_eq!(regional.kinds, ["AWS::EC2::Instance", "AWS::ECS::Cluster"]);
    }

    #[tokio::test]
    async fn without_missing_related_entities_items_without_accounts_wait_in_the_queue() {
        let plan = plan_of(2, &["us-east-1"], &[Kind::AccountInfo, Kind::Ec2Instance]);
        let delays: Mutex<Vec<(String, i32)>> = Mutex::default();
        for accounts_first in [false, true] {
            let outcome = enqueue(&plan, accounts_first, |entries: Vec<Entry>| {
                let mut got = delays.lock().unwrap();
                for e in &entries {
                    let item = WorkItem::parse(&e.body).unwrap();
                    got.push((item.region, e.delay_seconds));
                }
                async { Ok(Vec::new()) }
            })
            .await;
            assert_eq!(outcome.sent, 4);
        }
        let mut got = delays.into_inner().unwrap();
        got.sort();
        let at = |region: &str, delay| (region.to_owned(), delay);
        assert_eq!(
            got,
            vec![
                at("global", 0),
                at("global", 0),
                at("global", 0),
                at("global", 0),
                at("us-east-1", 0),
                at("us-east-1", 0),
                at("us-east-1", ACCOUNTS_FIRST_DELAY_SECONDS),
                at("us-east-1", ACCOUNTS_FIRST_DELAY_SECONDS),
            ]
        );
    }
}
