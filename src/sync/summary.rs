//! The end-of-run summary: accounts, units ok/failed with reasons, entities per blueprint, Port
//! failures, duration.

use crate::deletion::Deletion;
use crate::deletion::GoneScopeReport;
use crate::discovery::{Discovery, FailedAccount, SkippedAccount};
use crate::port::client::PortStats;
use crate::port::EntityFailure;
use crate::sync::unit::UnitReport;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

const MAX_LISTED: usize = 50;

/// A failed unit and why.
#[derive(Debug, Clone, Serialize)]
pub struct UnitFailure {
    pub unit: String,
    pub reason: String,
}

/// Stale-entity cleanup of one unit: what it wrote, deleted and kept, and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitDeletion {
    pub unit: String,
    pub upserted: usize,
    /// Owned entities found in the unit's scope.
    pub owned: usize,
    /// Deleted (would be deleted, in a preview).
    pub deleted: usize,
    pub kept: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a whole run did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub sync_id: String,
    pub dry_run: bool,
    pub duration_ms: u64,
    pub accounts_found: usize,
    pub accounts_synced: usize,
    pub accounts_skipped: Vec<SkippedAccount>,
    pub accounts_failed: Vec<FailedAccount>,
    pub units_total: usize,
    pub units_ok: usize,
    pub units_failed: usize,
    pub failures: Vec<UnitFailure>,
    /// Units skipped because their service is not available there (counted as ok).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub units_skipped: Vec<UnitFailure>,
    /// Entities written per blueprint.
    pub entities: BTreeMap<String, usize>,
    /// Entities deleted as stale per blueprint.
    pub deleted: BTreeMap<String, usize>,
    /// Stale entities kept by a guard, with the reasons.
    pub kept: Vec<UnitFailure>,
    /// Per unit that deleted or kept stale entities: counts and why.
    pub deletions: Vec<UnitDeletion>,
    /// Deletions are a dry run's preview (nothing was deleted).
    pub deletion_preview: bool,
    /// Entities of scopes the plan no longer covers (closed accounts, denied regions, removed
    /// kinds); set by the caller after [`crate::deletion::delete_gone_scopes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<GoneScopeReport>,
    pub port_failure_count: usize,
    pub port_failures: Vec<EntityFailure>,
    pub map_error_count: usize,
    pub aws_api_calls: usize,
    /// What the Port client did (absent for dry runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortCalls>,
}

/// Counters of the Port client over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortCalls {
    /// API requests sent, retries included, token requests excluded.
    pub requests: u64,
    pub token_requests: u64,
    pub retries: u64,
    /// Request body bytes sent (retries included).
    pub bytes_sent: u64,
}

impl From<&PortStats> for PortCalls {
    fn from(s: &PortStats) -> PortCalls {
        PortCalls {
            requests: s.requests.load(Ordering::Relaxed),
            token_requests: s.token_requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
        }
    }
}

impl Summary {
    /// Builds the summary of a run.
    pub fn new(
        sync_id: &str,
        dry_run: bool,
        discovery: &Discovery,
        reports: &[UnitReport],
        duration_ms: u64,
    ) -> Summary {
        let mut s = Summary {
            sync_id: sync_id.to_owned(),
            dry_run,
            duration_ms,
            accounts_found: discovery.targets.len()
                + discovery.skipped.len()
                + discovery.failed.len(),
            accounts_synced: discovery.targets.len(),
            accounts_skipped: discovery.skipped.clone(),
            accounts_failed: discovery.failed.clone(),
            units_total: reports.len(),
            units_ok: 0,
            units_failed: 0,
            units_skipped: Vec::new(),
            failures: Vec::new(),
            entities: BTreeMap::new(),
            deleted: BTreeMap::new(),
            kept: Vec::new(),
            deletions: Vec::new(),
            deletion_preview: false,
            scopes: None,
            port_failure_count: 0,
            port_failures: Vec::new(),
            map_error_count: 0,
            aws_api_calls: 0,
            port: None,
        };
        let mut sorted: Vec<&UnitReport> = reports.iter().collect();
        sorted.sort_by_key(|r| r.label());
        for r in sorted {
            s.add_unit(r);
        }
        s
    }

    /// Counts one unit's report in.
    fn add_unit(&mut self, r: &UnitReport) {
        if let Some(reason) = r.outcome.skipped() {
            self.units_skipped.push(UnitFailure {
                unit: r.label(),
                reason: reason.to_owned(),
            });
        }
        match r.reason() {
            None => self.units_ok += 1,
            Some(reason) => {
                self.units_failed += 1;
                self.failures.push(UnitFailure {
                    unit: r.label(),
                    reason,
                });
            }
        }
        for (bp, n) in &r.entities {
            *self.entities.entry(bp.clone()).or_default() += n;
        }
        if let Some(d) = &r.deletion {
            self.add_deletion(r, d);
        }
        self.port_failure_count += r.port_failure_count;
        for f in &r.port_failures {
            if self.port_failures.len() < MAX_LISTED {
                self.port_failures.push(f.clone());
            }
        }
        self.map_error_count += r.map_error_count;
        self.aws_api_calls += r.api_calls;
    }

    fn add_deletion(&mut self, r: &UnitReport, d: &Deletion) {
        self.deletion_preview |= d.preview;
        for (bp, n) in &d.deleted {
            *self.deleted.entry(bp.clone()).or_default() += n;
        }
        if let Some(reason) = &d.kept_reason {
            self.kept.push(UnitFailure {
                unit: r.label(),
                reason: reason.clone(),
            });
        }
        if d.deleted_total() > 0 || d.kept_reason.is_some() {
            self.deletions.push(UnitDeletion {
                unit: r.label(),
                upserted: r.upserted,
                owned: d.owned,
                deleted: d.deleted_total(),
                kept: d.kept,
                reason: d.kept_reason.clone(),
            });
        }
    }

    /// Whether everything succeeded: every account reached and every unit clean.
    pub fn success(&self) -> bool {
        self.units_failed == 0 && self.accounts_failed.is_empty()
    }

    /// A short human-readable rendering.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let status = if self.success() {
            "succeeded"
        } else {
            "FAILED"
        };
        out.push_str(&format!(
            "Sync {} {status}{} in {:.1}s\n",
            self.sync_id,
            if self.dry_run { " (dry run)" } else { "" },
            self.duration_ms as f64 / 1000.0
        ));
        out.push_str(&self.render_accounts_and_units());
        out.push_str(&self.render_entities());
        if let Some(scopes) = &self.scopes {
            out.push_str(&render_scopes(scopes));
        }
        out.push_str(&self.render_refusals());
        out
    }

    fn deleted_word(&self) -> &'static str {
        if self.deletion_preview {
            "would delete"
        } else {
            "deleted"
        }
    }

    fn render_accounts_and_units(&self) -> String {
        let mut out = format!(
            "  accounts: {} found, {} synced, {} skipped, {} failed\n",
            self.accounts_found,
            self.accounts_synced,
            self.accounts_skipped.len(),
            self.accounts_failed.len()
        );
        for a in &self.accounts_skipped {
            out.push_str(&format!(
                "    skipped {}{}: {}\n",
                a.id,
                a.name
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                a.reason
            ));
        }
        for a in &self.accounts_failed {
            out.push_str(&format!("    failed  {}: {}\n", a.id, a.reason));
        }
        out.push_str(&format!(
            "  units: {} total, {} ok, {} failed; AWS API calls: {}\n",
            self.units_total, self.units_ok, self.units_failed, self.aws_api_calls
        ));
        for f in self.failures.iter().take(MAX_LISTED) {
            out.push_str(&format!("    failed  {}: {}\n", f.unit, f.reason));
        }
        for f in self.units_skipped.iter().take(MAX_LISTED) {
            out.push_str(&format!("    skipped {}: {}\n", f.unit, f.reason));
        }
        out
    }

    /// Entities per blueprint, then the units that deleted or kept stale entities.
    fn render_entities(&self) -> String {
        let mut out = String::from("  entities per blueprint:");
        if self.entities.is_empty() {
            out.push_str(" none");
        }
        out.push('\n');
        let deleted_word = self.deleted_word();
        for (bp, n) in &self.entities {
            let deleted = self.deleted.get(bp).copied().unwrap_or(0);
            out.push_str(&format!(
                "    {bp}: {n}{}\n",
                if deleted > 0 {
                    format!(" ({deleted_word} {deleted} stale)")
                } else {
                    String::new()
                }
            ));
        }
        if !self.deletions.is_empty() {
            out.push_str("  stale entities per unit:\n");
        }
        for d in self.deletions.iter().take(MAX_LISTED) {
            out.push_str(&format!(
                "    {}: upserted {}, owned {}, {deleted_word} {}",
                d.unit, d.upserted, d.owned, d.deleted
            ));
            match &d.reason {
                Some(reason) => out.push_str(&format!(", kept {}: {reason}\n", d.kept)),
                None => out.push('\n'),
            }
        }
        out
    }

    /// What Port refused and what could not be mapped.
    fn render_refusals(&self) -> String {
        let mut out = String::new();
        if self.port_failure_count > 0 {
            out.push_str(&format!(
                "  Port refused {} entit(ies):\n",
                self.port_failure_count
            ));
            for f in &self.port_failures {
                out.push_str(&format!(
                    "    {}/{}: {} {}\n",
                    f.blueprint, f.identifier, f.error, f.message
                ));
            }
        }
        if self.map_error_count > 0 {
            out.push_str(&format!(
                "  {} object(s) could not be mapped (see the log)\n",
                self.map_error_count
            ));
        }
        out
    }
}

/// The disappeared-scope part of the rendering.
fn render_scopes(scopes: &GoneScopeReport) -> String {
    let deleted_word = if scopes.preview {
        "would delete"
    } else {
        "deleted"
    };
    let mut out = format!(
        "  scopes outside the plan: {deleted_word} {}, kept {} (of {} entities owned by this installation)\n",
        scopes.deleted_total(),
        scopes.kept_total(),
        scopes.owned
    );
    if let Some(skipped) = &scopes.skipped {
        out.push_str(&format!("    nothing deleted: {skipped}\n"));
    }
    let per_blueprint = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(bp, n)| format!("{bp} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (reason, m) in scopes.deleted.iter().take(MAX_LISTED) {
        out.push_str(&format!(
            "    {deleted_word} ({reason}): {}\n",
            per_blueprint(m)
        ));
    }
    for (reason, m) in scopes.kept.iter().take(MAX_LISTED) {
        out.push_str(&format!("    kept ({reason}): {}\n", per_blueprint(m)));
    }
    for note in &scopes.notes {
        out.push_str(&format!("    note: {note}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deletion::{Completeness, IncompleteReason};
    use crate::discovery::Account;
    use crate::kinds::Kind;
    use crate::sync::plan::Unit;

    fn report(region: &str, deletion: Deletion) -> UnitReport {
        let unit = Unit {
            sync_id: "s".into(),
            account: Account::bare("111111111111", "aws", None),
            region: region.into(),
            kind: Kind::Ec2Instance,
        };
        let mut r = UnitReport::failed(&unit, IncompleteReason::Stopped("x".into()));
        r.outcome = Completeness::Complete;
        r.upserted = 2;
        r.deletion = Some(deletion);
        r
    }

    #[test]
    fn reports_deletions_per_unit_and_previews_as_would_delete() {
        let deleted = Deletion {
            deleted: [("ec2Instance".to_owned(), 1)].into(),
            owned: 3,
            preview: true,
            ..Default::default()
        };
        let kept = Deletion {
            kept: 3,
            owned: 3,
            kept_reason: Some("3 of 3 ...".into()),
            preview: true,
            ..Default::default()
        };
        let quiet = Deletion {
            owned: 2,
            preview: true,
            ..Default::default()
        };
        let reports = [
            report("us-east-1", deleted),
            report("eu-west-1", kept),
            report("us-west-2", quiet),
        ];
        let mut s = Summary::new("s", true, &Discovery::default(), &reports, 1);
        s.scopes = Some(GoneScopeReport {
            preview: true,
            owned: 9,
            deleted: [(
                "region denied by REGION_POLICY".to_owned(),
                [("ec2Instance".to_owned(), 2)].into(),
            )]
            .into(),
            ..Default::default()
        });
        assert!(s.deletion_preview);
        assert_eq!(
            s.deletions.len(),
            2,
            "units that neither deleted nor kept are not listed"
        );
        let text = s.render();
        for line in [
            "111111111111/us-east-1/AWS::EC2::Instance: upserted 2, owned 3, would delete 1\n",
            "111111111111/eu-west-1/AWS::EC2::Instance: upserted 2, owned 3, would delete 0, kept 3: 3 of 3 ...\n",
            "scopes outside the plan: would delete 2, kept 0 (of 9 entities owned by this installation)\n",
            "would delete (region denied by REGION_POLICY): ec2Instance 2\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        assert!(!text.contains("us-west-2"), "{text}");
    }

    #[test]
    fn skipped_units_are_ok_and_listed() {
        let mut skipped = report("ap-east-1", Deletion::default());
        skipped
            .outcome
            .skip("ECS is not available in ap-east-1 for this account (OptInRequired)".into());
        let reports = [skipped, report("us-east-1", Deletion::default())];
        let s = Summary::new("s", false, &Discovery::default(), &reports, 1);
        assert_eq!((s.units_ok, s.units_failed), (2, 0));
        assert!(s.success());
        assert!(
            s.render().contains(
                "    skipped 111111111111/ap-east-1/AWS::EC2::Instance: ECS is not available"
            ),
            "{}",
            s.render()
        );
    }
}
