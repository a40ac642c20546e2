//! Run tracking over the sync state: the start of a run records it (id, start, units planned) and
//! forgets the state of scopes that are gone; each unit records its outcome; the unit whose
//! outcome completes the count closes the run, exactly once ([`crate::state::RunProgress`]), and
//! the closer logs the run's summary and emits its metrics in CloudWatch's embedded metric format.

use crate::state::{
    RunProgress, RunRecord, StateError, StateStore, Timestamp, UnitCounts, UnitOutcome,
};
use crate::sync::orchestrate::RunStart;
use crate::sync::plan::Scope;
use crate::sync::unit::UnitReport;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The CloudWatch namespace of the run metrics.
pub const METRICS_NAMESPACE: &str = "PortAwsSync";

/// Records a run that just started, and forgets the state of the scopes it no longer covers
/// (see [`forget_gone_scopes`]). Failures are logged: a run without a record only never closes.
pub async fn start(store: &StateStore, installation: &str, start: &RunStart, scope: &Scope) {
    let run = RunRecord::new(
        installation,
        &start.sync_id,
        Timestamp::now(),
        start.plan.unit_count() as u64,
    );
    if let Err(e) = store.start_run(&run).await {
        tracing::warn!(sync_id = %start.sync_id, error = %e, "recording the run failed: it will not be closed");
    }
    match forget_gone_scopes(store, installation, start, scope).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(scopes = n, "state of scopes that are gone forgotten"),
        Err(e) => tracing::warn!(error = %e, "forgetting the state of scopes that are gone failed"),
    }
}

/// Forgets the state of the scopes in the installation's scope index that a full run no longer
/// plans. Their entities in Port are the gone-scope rules' business
/// ([`crate::deletion::gone_scopes`], searched by `$datasource`, which needs no state); the
/// state is kept when the run is narrowed, when an account could not be reached (it comes back
/// with its state) and when the gone-scope step kept entities (a later run decides again).
pub async fn forget_gone_scopes(
    store: &StateStore,
    installation: &str,
    start: &RunStart,
    scope: &Scope,
) -> Result<usize, StateError> {
    let narrowed = scope.accounts.is_some() || scope.regions.is_some() || scope.kinds.is_some();
    let kept = start.scopes.as_ref().map_or(1, |r| r.kept_total());
    if narrowed || kept > 0 {
        return Ok(0);
    }
    let planned = start.plan.index();
    let unreachable: BTreeSet<&str> = start
        .discovery
        .failed
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    let mut forgotten = 0;
    for summary in store.scopes(installation).await? {
        let key = &summary.scope;
        if planned.covers(&key.account_id, &key.region, &key.kind)
            || unreachable.contains(key.account_id.as_str())
        {
            continue;
        }
        store.forget_scope(key).await?;
        forgotten += 1;
    }
    Ok(forgotten)
}

/// A unit's report as its run's outcome.
pub fn outcome(report: &UnitReport) -> UnitOutcome {
    let deletion = report.deletion.as_ref();
    UnitOutcome {
        unit: report.label(),
        ok: report.ok(),
        reason: report
            .reason()
            .or_else(|| deletion.and_then(|d| d.kept_reason.clone())),
        counts: UnitCounts {
            produced: report.entities.values().sum::<usize>() as u64,
            upserted: report.upserted as u64,
            unchanged: report.unchanged as u64,
            deleted: deletion.map_or(0, |d| d.deleted_total()) as u64,
            kept: deletion.map_or(0, |d| d.kept) as u64,
        },
        finished_at: Timestamp::now(),
    }
}

/// Records a unit's outcome in its run (`sync_id`); when it closed the run, logs the run's
/// summary and returns it. Failures are logged, never fail the unit.
pub async fn record(
    store: &StateStore,
    installation: &str,
    sync_id: &str,
    report: &UnitReport,
) -> Option<RunSummary> {
    let progress = match store
        .record_unit(installation, sync_id, outcome(report))
        .await
    {
        Ok(progress) => progress,
        Err(e) => {
            tracing::warn!(sync_id, unit = %report.label(), error = %e, "recording the unit's outcome failed");
            return None;
        }
    };
    if !progress.just_closed {
        return None;
    }
    Some(close(store, installation, sync_id, progress).await)
}

/// What a closed run did, logged once and emitted as metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub sync_id: String,
    pub units: u64,
    pub units_ok: u64,
    pub units_failed: u64,
    pub upserted: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Labels of the failed units (at most 20).
    pub failed_units: Vec<String>,
}

async fn close(
    store: &StateStore,
    installation: &str,
    sync_id: &str,
    progress: RunProgress,
) -> RunSummary {
    let mut summary = RunSummary {
        sync_id: sync_id.to_owned(),
        units: progress.planned,
        units_ok: progress.done.saturating_sub(progress.failed),
        units_failed: progress.failed,
        ..Default::default()
    };
    match store.run_units(installation, sync_id).await {
        Ok(outcomes) => {
            for o in &outcomes {
                summary.upserted += o.counts.upserted;
                summary.unchanged += o.counts.unchanged;
                summary.deleted += o.counts.deleted;
            }
            summary.failed_units = outcomes
                .iter()
                .filter(|o| !o.ok)
                .take(20)
                .map(|o| o.unit.clone())
                .collect();
        }
        Err(e) => tracing::warn!(sync_id, error = %e, "reading the run's unit outcomes failed"),
    }
    tracing::info!(sync_id, units = summary.units, ok = summary.units_ok, failed = summary.units_failed, upserted = summary.upserted, unchanged = summary.unchanged, deleted = summary.deleted, failed_units = ?summary.failed_units, "run closed");
    summary
}

/// The run's metrics as one CloudWatch embedded-metric-format line (printed to stdout by a
/// Lambda, where CloudWatch Logs turns it into metrics).
pub fn emf(installation: &str, summary: &RunSummary, now: Timestamp) -> Value {
    let metrics = [
        ("UnitsOk", summary.units_ok),
        ("UnitsFailed", summary.units_failed),
        ("Upserts", summary.upserted),
        ("Deletions", summary.deleted),
    ];
    let mut line = json!({
        "_aws": {
            "Timestamp": now.millis(),
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Installation"]],
                "Metrics": metrics.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
        "Installation": installation,
        "SyncId": summary.sync_id,
    });
    for (name, value) in metrics {
        line[name] = json!(value);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_the_embedded_metric_format() {
        let summary = RunSummary {
            sync_id: "s1".into(),
            units: 3,
            units_ok: 2,
            units_failed: 1,
            upserted: 5,
            deleted: 1,
            ..Default::default()
        };
        let line = emf("prod", &summary, Timestamp::from_millis(1_000));
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], METRICS_NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Installation"]]));
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_u64(), "{name} has no value");
        }
        assert_eq!(
            (
                &line["UnitsFailed"],
                &line["Upserts"],
                &line["Installation"]
            ),
            (&json!(1), &json!(5), &json!("prod"))
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_000);
    }
}
