//! Runs in SQLite: a `runs` row with the counters and a `units` row per unit. Recording a unit
//! and closing the run happen in one transaction, so exactly one caller closes it.

use super::conn::SqliteStore;
use crate::state::error::StateError;
use crate::state::model::{check_part, Timestamp};
use crate::state::runs::{RunProgress, RunRecord, UnitCounts, UnitOutcome};
use rusqlite::{params, OptionalExtension, Row, Transaction};

impl SqliteStore {
    /// Records a new run (and purges runs older than the retention). Fails with
    /// [`StateError::RunExists`] for a run id already used.
    pub async fn start_run(&self, run: &RunRecord) -> Result<(), StateError> {
        check_part("installation", &run.installation)?;
        let r = run.clone();
        let cutoff = Timestamp::now().minus(self.options.retention).millis();
        let action = format!(
            "start run {} of installation {}",
            run.run_id, run.installation
        );
        let inserted = self
            .transaction(action, move |tx| {
                tx.execute(
                    "DELETE FROM units WHERE (installation, run_id) IN
                       (SELECT installation, run_id FROM runs WHERE started_at < ?1)",
                    [cutoff],
                )?;
                tx.execute("DELETE FROM runs WHERE started_at < ?1", [cutoff])?;
                tx.execute(
                    "INSERT OR IGNORE INTO runs
                       (installation, run_id, started_at, planned, done, failed, closed_at)
                     VALUES (?1, ?2, ?3, ?4, 0, 0, CASE WHEN ?4 = 0 THEN ?3 END)",
                    params![
                        r.installation,
                        r.run_id,
                        r.started_at.millis(),
                        to_i64(r.planned_units)
                    ],
                )
            })
            .await?;
        if inserted == 0 {
            return Err(StateError::RunExists {
                installation: run.installation.clone(),
                run_id: run.run_id.clone(),
                location: self.location(),
            });
        }
        Ok(())
    }

    /// Records `outcome` for its unit of the run. A unit recorded again replaces its outcome
    /// and counts once; the call that makes `done` reach `planned` closes the run.
    pub async fn record_unit(
        &self,
        installation: &str,
        run_id: &str,
        outcome: UnitOutcome,
    ) -> Result<RunProgress, StateError> {
        check_part("installation", installation)?;
        let (inst, id) = (installation.to_owned(), run_id.to_owned());
        let action = format!("record unit {} of run {run_id}", outcome.unit);
        let progress = self
            .transaction(action, move |tx| record_in(tx, &inst, &id, &outcome))
            .await?;
        progress.ok_or_else(|| StateError::RunNotFound {
            installation: installation.to_owned(),
            run_id: run_id.to_owned(),
            location: self.location(),
        })
    }

    /// The `limit` latest runs of `installation`, newest first.
    pub async fn recent_runs(
        &self,
        installation: &str,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        check_part("installation", installation)?;
        let inst = installation.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(
            format!("list the runs of installation {installation}"),
            move |tx| {
                let mut stmt = tx.prepare_cached(
                "SELECT installation, run_id, started_at, planned, done, failed, closed_at FROM runs
                 WHERE installation = ?1 ORDER BY started_at DESC, run_id DESC LIMIT ?2",
            )?;
                let rows = stmt.query_map(params![inst, limit], run_from_row)?;
                rows.collect()
            },
        )
        .await
    }

    /// Every unit outcome recorded for a run, ordered by unit label.
    pub async fn run_units(
        &self,
        installation: &str,
        run_id: &str,
    ) -> Result<Vec<UnitOutcome>, StateError> {
        check_part("installation", installation)?;
        let (inst, id) = (installation.to_owned(), run_id.to_owned());
        let action = format!("list the units of run {run_id} of installation {installation}");
        self.read(action, move |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT unit, ok, reason, counts, finished_at FROM units
                 WHERE installation = ?1 AND run_id = ?2 ORDER BY unit",
            )?;
            let rows = stmt.query_map(params![inst, id], outcome_from_row)?;
            rows.collect()
        })
        .await
    }
}

/// `None` when the run does not exist.
fn record_in(
    tx: &Transaction<'_>,
    installation: &str,
    run_id: &str,
    outcome: &UnitOutcome,
) -> rusqlite::Result<Option<RunProgress>> {
    let run = tx
        .query_row(
            "SELECT installation, run_id, started_at, planned, done, failed, closed_at FROM runs
             WHERE installation = ?1 AND run_id = ?2",
            params![installation, run_id],
            run_from_row,
        )
        .optional()?;
    let Some(mut run) = run else {
        return Ok(None);
    };
    let previous: Option<bool> = tx
        .query_row(
            "SELECT ok FROM units WHERE installation = ?1 AND run_id = ?2 AND unit = ?3",
            params![installation, run_id, outcome.unit],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO units (installation, run_id, unit, ok, reason, counts, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            installation,
            run_id,
            outcome.unit,
            outcome.ok,
            outcome.reason,
            counts_text(&outcome.counts),
            outcome.finished_at.millis()
        ],
    )?;
    if previous.is_none() {
        run.done += 1;
    }
    let was_failed = previous.is_some_and(|ok| !ok);
    run.failed = (run.failed + u64::from(!outcome.ok)).saturating_sub(u64::from(was_failed));
    let just_closed = run.closed_at.is_none() && run.done >= run.planned_units;
    let closed = if just_closed {
        Some(Timestamp::now())
    } else {
        run.closed_at
    };
    tx.execute(
        "UPDATE runs SET done = ?3, failed = ?4, closed_at = ?5 WHERE installation = ?1 AND run_id = ?2",
        params![installation, run_id, to_i64(run.done), to_i64(run.failed), closed.map(Timestamp::millis)],
    )?;
    Ok(Some(RunProgress {
        done: run.done,
        planned: run.planned_units,
        failed: run.failed,
        just_closed,
    }))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let count = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
    Ok(RunRecord {
        installation: r.get(0)?,
        run_id: r.get(1)?,
        started_at: Timestamp::from_millis(r.get(2)?),
        planned_units: count(3)?,
        done: count(4)?,
        failed: count(5)?,
        closed_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
    })
}

/// Counts as five space-separated numbers: produced upserted unchanged deleted kept.
fn counts_text(c: &UnitCounts) -> String {
    format!(
        "{} {} {} {} {}",
        c.produced, c.upserted, c.unchanged, c.deleted, c.kept
    )
}

fn parse_counts(text: &str) -> Option<UnitCounts> {
    let v: Vec<u64> = text
        .split(' ')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [produced, upserted, unchanged, deleted, kept] = v[..] else {
        return None;
    };
    Some(UnitCounts {
        produced,
        upserted,
        unchanged,
        deleted,
        kept,
    })
}

fn outcome_from_row(r: &Row<'_>) -> rusqlite::Result<UnitOutcome> {
    let text: String = r.get(3)?;
    let counts = parse_counts(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("counts `{text}` do not parse").into(),
        )
    })?;
    Ok(UnitOutcome {
        unit: r.get(0)?,
        ok: r.get(1)?,
        reason: r.get(2)?,
        counts,
        finished_at: Timestamp::from_millis(r.get(4)?),
    })
}
