//! Runs in DynamoDB. A run has a header item (`RUN#{installation}#{run_id}` / `RUN`) with its
//! counters, one outcome item per unit in the same partition, and a listing item
//! (`RUNS#{installation}` / `{started ISO}#{run_id}`) so that the latest runs are one Query away.
//!
//! Recording a unit is one transaction: put the outcome only if the unit has none yet, and add
//! one to `done` (plus one to `failed` if it failed). A redelivered unit replaces its outcome
//! and corrects `failed` without counting again, so `done` counts units, not deliveries, and a
//! crash between the two writes cannot happen. Then the header is read and, once
//! `done >= planned`, closed by an update conditioned on `attribute_not_exists(closed)`: of all
//! the callers that try, exactly one succeeds and reports `just_closed`.

use super::client::{is_condition_failed, DynamoStore};
use super::items::{self, n, s};
use crate::aws::api::retry::backoff;
use crate::state::error::StateError;
use crate::state::model::{check_part, Timestamp};
use crate::state::runs::{RunProgress, RunRecord, UnitOutcome};
use serde_json::{json, Value};

/// Transaction attempts of one `record_unit` (conflicts with other units' transactions on the
/// header, or a concurrent delivery of the same unit).
const RECORD_ATTEMPTS: u32 = 10;

enum Recorded {
    Done,
    RunMissing,
    OutcomeChanged,
    Conflict,
}

impl DynamoStore {
    /// Records a new run. Fails with [`StateError::RunExists`] for a run id already used.
    pub async fn start_run(&self, run: &RunRecord) -> Result<(), StateError> {
        check_part("installation", &run.installation)?;
        let action = || {
            format!(
                "start run {} of installation {}",
                run.run_id, run.installation
            )
        };
        let ttl = run.started_at.plus(self.options.retention);
        let input = json!({ "TransactItems": [
            { "Put": {
                "TableName": &*self.table,
                "Item": items::run_header_item(run, ttl),
                "ConditionExpression": "attribute_not_exists(pk)",
            }},
            { "Put": { "TableName": &*self.table, "Item": items::run_list_item(run, ttl) } },
        ]});
        match self.client.call("TransactWriteItems", input).await {
            Ok(_) => Ok(()),
            Err(e) if cancel_reasons(&e).first().map(String::as_str) == Some(CONDITION) => {
                Err(StateError::RunExists {
                    installation: run.installation.clone(),
                    run_id: run.run_id.clone(),
                    location: self.location(),
                })
            }
            Err(e) => Err(self.error(action(), e)),
        }
    }

    /// Records `outcome` for its unit of the run; see the module doc for the guarantees.
    pub async fn record_unit(
        &self,
        installation: &str,
        run_id: &str,
        outcome: UnitOutcome,
    ) -> Result<RunProgress, StateError> {
        check_part("installation", installation)?;
        let pk = items::run_pk(installation, run_id);
        let sk = items::unit_sk(&outcome.unit);
        let action = || format!("record unit {} of run {run_id}", outcome.unit);
        let item =
            items::outcome_item(&pk, &outcome, Timestamp::now().plus(self.options.retention));
        let mut previous: Option<Value> = None;
        for attempt in 1..=RECORD_ATTEMPTS {
            let result = match &previous {
                None => self.record_first(&pk, &item, outcome.ok, &action).await?,
                Some(old) => {
                    self.record_again(&pk, &item, old, outcome.ok, &action)
                        .await?
                }
            };
            match result {
                Recorded::Done => return self.progress(&pk, &action).await,
                Recorded::RunMissing => {
                    return Err(StateError::RunNotFound {
                        installation: installation.to_owned(),
                        run_id: run_id.to_owned(),
                        location: self.location(),
                    })
                }
                Recorded::OutcomeChanged => previous = self.get(&pk, &sk, &action).await?,
                Recorded::Conflict => {
                    let base = self.options.backoff_base;
                    tokio::time::sleep(backoff(attempt, base, self.options.backoff_cap)).await;
                }
            }
        }
        Err(StateError::Contended {
            unit: outcome.unit,
            run_id: run_id.to_owned(),
            location: self.location(),
        })
    }

    /// First delivery: the outcome must not exist, the run must.
    async fn record_first(
        &self,
        pk: &str,
        item: &Value,
        ok: bool,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<Recorded, StateError> {
        let put = json!({
            "TableName": &*self.table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(sk)",
        });
        self.transact(put, self.add_counters(pk, 1, i64::from(!ok)), action)
            .await
    }

    /// Redelivery: replace the outcome read as `old` (unless it changed since) and correct
    /// `failed`; `done` stays.
    async fn record_again(
        &self,
        pk: &str,
        item: &Value,
        old: &Value,
        ok: bool,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<Recorded, StateError> {
        let was_ok = old["ok"]["BOOL"].as_bool().unwrap_or(true);
        let put = json!({
            "TableName": &*self.table,
            "Item": item,
            "ConditionExpression": "#ok = :ok AND #f = :f",
            "ExpressionAttributeNames": { "#ok": "ok", "#f": "finished" },
            "ExpressionAttributeValues": { ":ok": old["ok"], ":f": old["finished"] },
        });
        let delta = i64::from(!ok) - i64::from(!was_ok);
        self.transact(put, self.add_counters(pk, 0, delta), action)
            .await
    }

    fn add_counters(&self, pk: &str, done: i64, failed: i64) -> Value {
        json!({
            "TableName": &*self.table,
            "Key": items::key(pk, items::RUN_HEADER_SK),
            "UpdateExpression": "ADD #d :d, #fl :fl",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": { "#d": "done", "#fl": "failed" },
            "ExpressionAttributeValues": { ":d": n(done), ":fl": n(failed) },
        })
    }

    async fn transact(
        &self,
        put: Value,
        update: Value,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<Recorded, StateError> {
        let input = json!({ "TransactItems": [ { "Put": put }, { "Update": update } ] });
        let err = match self.client.call("TransactWriteItems", input).await {
            Ok(_) => return Ok(Recorded::Done),
            Err(err) => err,
        };
        if err.code() != Some("TransactionCanceledException") {
            return Err(self.error(action(), err));
        }
        let reasons = cancel_reasons(&err);
        let failed = |i: usize| reasons.get(i).map(String::as_str) == Some(CONDITION);
        Ok(if failed(1) {
            Recorded::RunMissing
        } else if failed(0) {
            Recorded::OutcomeChanged
        } else {
            Recorded::Conflict
        })
    }

    /// The run's counters after a unit was recorded, closing the run if this call completes it.
    async fn progress(
        &self,
        pk: &str,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<RunProgress, StateError> {
        let header = self.get(pk, items::RUN_HEADER_SK, action).await?;
        let header =
            header.ok_or_else(|| self.corrupt(action(), "the run header vanished".into()))?;
        let run = items::parse_run(&header).map_err(|m| self.corrupt(action(), m))?;
        let mut progress = RunProgress {
            done: run.done,
            planned: run.planned_units,
            failed: run.failed,
            just_closed: false,
        };
        if run.closed_at.is_none() && run.done >= run.planned_units {
            progress.just_closed = self.try_close(pk, action).await?;
        }
        Ok(progress)
    }

    async fn try_close(
        &self,
        pk: &str,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<bool, StateError> {
        let input = json!({
            "TableName": &*self.table,
            "Key": items::key(pk, items::RUN_HEADER_SK),
            "UpdateExpression": "SET #c = :now",
            "ConditionExpression": "attribute_not_exists(#c) AND #d >= #p",
            "ExpressionAttributeNames": { "#c": "closed", "#d": "done", "#p": "planned" },
            "ExpressionAttributeValues": { ":now": n(Timestamp::now().millis()) },
        });
        match self.client.call("UpdateItem", input).await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(self.error(action(), e)),
        }
    }

    /// The `n` latest runs of `installation`, newest first.
    pub async fn recent_runs(
        &self,
        installation: &str,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        check_part("installation", installation)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let action = || format!("list the runs of installation {installation}");
        let input = json!({
            "TableName": &*self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": { ":pk": s(&items::runs_pk(installation)) },
            "ScanIndexForward": false,
            "Limit": limit.clamp(1, 1000),
        });
        let out = self.call("Query", input, &action).await?;
        let listed = out["Items"].as_array().cloned().unwrap_or_default();
        let headers = listed
            .iter()
            .filter_map(|item| item["run_id"]["S"].as_str())
            .map(|run_id| {
                let pk = items::run_pk(installation, run_id);
                async move { self.get(&pk, items::RUN_HEADER_SK, &action).await }
            });
        let headers = futures_util::future::try_join_all(headers).await?;
        headers
            .iter()
            .flatten()
            .map(|h| items::parse_run(h).map_err(|m| self.corrupt(action(), m)))
            .collect()
    }

    /// Every unit outcome recorded for a run, ordered by unit label.
    pub async fn run_units(
        &self,
        installation: &str,
        run_id: &str,
    ) -> Result<Vec<UnitOutcome>, StateError> {
        check_part("installation", installation)?;
        let action = || format!("list the units of run {run_id} of installation {installation}");
        let pk = items::run_pk(installation, run_id);
        let found = self
            .query_all(&pk, Some(items::UNIT_PREFIX), &action)
            .await?;
        let mut out = found
            .iter()
            .map(items::parse_outcome)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| self.corrupt(action(), m))?;
        out.sort_by(|a, b| a.unit.cmp(&b.unit));
        Ok(out)
    }
}

const CONDITION: &str = "ConditionalCheckFailed";

/// The per-item reasons of a cancelled transaction, in item order, read from DynamoDB's message
/// (`Transaction cancelled, please refer cancellation reasons for specific reasons
/// [ConditionalCheckFailed, None]`); empty when the message has no such list.
pub fn cancel_reasons(err: &crate::aws::api::ApiError) -> Vec<String> {
    let message = match err {
        crate::aws::api::ApiError::Service { message, .. } => message.as_str(),
        _ => return Vec::new(),
    };
    let Some(open) = message.rfind('[') else {
        return Vec::new();
    };
    let Some(len) = message[open..].find(']') else {
        return Vec::new();
    };
    message[open + 1..open + len]
        .split(',')
        .map(|r| r.trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::error::CallSite;
    use crate::aws::api::ApiError;

    #[test]
    fn reads_cancellation_reasons_in_item_order() {
        let err = ApiError::Service {
            call: CallSite {
                service: "DynamoDB",
                operation: "TransactWriteItems",
                region: "eu-west-1".into(),
            },
            status: 400,
            code: "TransactionCanceledException".into(),
            message: "Transaction cancelled, please refer cancellation reasons for specific \
                      reasons [None, ConditionalCheckFailed]"
                .into(),
            request_id: None,
        };
        assert_eq!(cancel_reasons(&err), vec!["None", "ConditionalCheckFailed"]);
    }
}
