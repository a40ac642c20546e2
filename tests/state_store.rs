//! The state store (`port_aws_sync::state`) against both backends: one behavioural suite run
//! on DynamoDB (a real moto server) and on SQLite (a temporary file), plus each backend's
//! failure cases: a DynamoDB write failing midway, an SQLite write failing inside its
//! transaction, and an SQLite writer killed with SIGKILL.

mod common;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use common::{AwsProxy, Moto};
use port_aws_sync::aws::api::{ApiOptions, AwsApi};
use port_aws_sync::state::dynamodb::create_table;
use port_aws_sync::state::{
    fingerprint, EntityRecord, ExpiryPolicy, RunRecord, ScopeChanges, ScopeKey, ScopeState,
    StateError, StateStore, StoreOptions, Timestamp, UnitCounts, UnitOutcome,
};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const TABLE: &str = "port-aws-sync-state";
const REGION: &str = "us-east-1";
const INST: &str = "prod";
const EC2: &str = "AWS::EC2::Instance";

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pas-state-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store under test, with what keeps its backend alive.
struct Fixture {
    store: StateStore,
    /// The DynamoDB client's counters (DynamoDB only).
    api: Option<AwsApi>,
    _moto: Option<Moto>,
    _proxy: Option<AwsProxy>,
    dir: TempDir,
}

fn options() -> StoreOptions {
    StoreOptions {
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(100),
        ..StoreOptions::default()
    }
}

fn sdk(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .build()
}

impl Fixture {
    async fn sqlite() -> Fixture {
        let dir = TempDir::new();
        let store = StateStore::sqlite(dir.0.join("state/state.sqlite"), options())
            .await
            .unwrap();
        Fixture {
            store,
            api: None,
            _moto: None,
            _proxy: None,
            dir,
        }
    }

    async fn dynamodb() -> Fixture {
        Fixture::dynamodb_with(&json!([])).await
    }

    /// DynamoDB behind the fault proxy when `rules` is not empty.
    async fn dynamodb_with(rules: &serde_json::Value) -> Fixture {
        let moto = Moto::start();
        let proxy = (rules.as_array().is_some_and(|r| !r.is_empty()))
            .then(|| AwsProxy::start(&moto, rules));
        let url = proxy.as_ref().map_or(moto.url.clone(), |p| p.url.clone());
        let api = AwsApi::new(ApiOptions {
            backoff_base: Duration::from_millis(5),
            ..ApiOptions::default()
        })
        .unwrap();
        let client = api.client("dynamodb", &sdk(&url), REGION).unwrap();
        create_table(&client, TABLE).await.unwrap();
        Fixture {
            store: StateStore::dynamodb(client, TABLE, options()),
            api: Some(api),
            _moto: Some(moto),
            _proxy: proxy,
            dir: TempDir::new(),
        }
    }

    fn calls(&self) -> Option<u64> {
        self.api.as_ref().map(|a| a.counts().calls)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn scope(installation: &str, account: &str, region: &str, kind: &str) -> ScopeKey {
    ScopeKey::new(installation, account, region, kind)
}

fn ec2_scope() -> ScopeKey {
    scope(INST, "111111111111", "eu-west-1", EC2)
}

/// A record as a unit would make it after Port confirmed the write of version `v`.
fn rec(blueprint: &str, identifier: &str, v: u64) -> EntityRecord {
    let now = Timestamp::now();
    EntityRecord {
        blueprint: blueprint.into(),
        identifier: identifier.into(),
        fingerprint: fingerprint(
            &json!({"identifier": identifier, "v": v}),
            "upsert=true&merge=true",
        ),
        written_at: now,
        expires_at: ExpiryPolicy::default().expires_at(now),
    }
}

fn key(blueprint: &str, identifier: &str) -> (String, String) {
    (blueprint.into(), identifier.into())
}

fn upserts(records: Vec<EntityRecord>) -> ScopeChanges {
    ScopeChanges {
        upserted: records,
        removed: vec![],
    }
}

/// Reads the scope, applies `changes` on top of it, as a unit holding the lease does.
async fn apply(store: &StateStore, scope: &ScopeKey, changes: ScopeChanges) {
    let base = store.read_scope(scope).await.unwrap();
    store.write_scope(scope, &base, changes).await.unwrap();
}

fn outcome(unit: &str, ok: bool) -> UnitOutcome {
    UnitOutcome {
        unit: unit.into(),
        ok,
        reason: (!ok).then(|| "DescribeInstances failed: denied".to_owned()),
        counts: UnitCounts {
            produced: 3,
            upserted: 1,
            unchanged: 2,
            deleted: 0,
            kept: 0,
        },
        finished_at: Timestamp::now(),
    }
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(b, n)| (b.to_string(), *n)).collect()
}

// ---------------------------------------------------------------------------------------------
// The shared suite

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let f = super::Fixture::sqlite().await;
                    super::cases::$case(&f).await;
                }
            )*
        }
        mod on_dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let f = super::Fixture::dynamodb().await;
                    super::cases::$case(&f).await;
                }
            )*
        }
    };
}

suite!(
    round_trips_records_and_removals,
    scope_index_counts_per_blueprint_and_drops_empty_scopes,
    identifiers_with_separators_and_unicode_round_trip,
    expiry_values_survive_and_drive_rewrites,
    runs_count_each_unit_once_and_list_outcomes,
    closes_a_run_exactly_once_under_concurrency,
    lease_excludes_and_is_taken_over_after_expiry,
    two_workers_on_one_scope_neither_lose_nor_duplicate,
    large_scopes_page_and_batch,
);

mod cases {
    use super::*;

    pub async fn round_trips_records_and_removals(f: &Fixture) {
        let s = &f.store;
        let k = ec2_scope();
        assert!(s.read_scope(&k).await.unwrap().is_empty());
        let first = vec![
            rec("ec2Instance", "i-a", 1),
            rec("ec2Instance", "i-b", 1),
            rec("ec2Instance", "i-c", 1),
            rec("awsTag", "t-1", 1),
        ];
        apply(s, &k, upserts(first.clone())).await;
        assert_eq!(
            s.read_scope(&k).await.unwrap(),
            ScopeState::from_records(first.clone())
        );

        let changed = rec("ec2Instance", "i-b", 2);
        let changes = ScopeChanges {
            upserted: vec![changed.clone()],
            removed: vec![
                key("ec2Instance", "i-c"),
                key("ec2Instance", "never-written"),
            ],
        };
        apply(s, &k, changes).await;
        let expected = ScopeState::from_records([first[0].clone(), changed, first[3].clone()]);
        assert_eq!(s.read_scope(&k).await.unwrap(), expected);

        // Scopes are isolated: another region, kind or installation sees nothing.
        for other in [
            scope(INST, "111111111111", "us-east-1", EC2),
            scope(INST, "111111111111", "eu-west-1", "AWS::ECS::Cluster"),
            scope("staging", "111111111111", "eu-west-1", EC2),
        ] {
            assert!(s.read_scope(&other).await.unwrap().is_empty(), "{other}");
        }
    }

    pub async fn scope_index_counts_per_blueprint_and_drops_empty_scopes(f: &Fixture) {
        let s = &f.store;
        let k1 = ec2_scope();
        let k2 = scope(INST, "111111111111", "global", "AWS::S3::Bucket");
        let k3 = scope("staging", "222222222222", "eu-west-1", EC2);
        let b1 = ["i-1", "i-2", "i-3"].map(|i| rec("ec2Instance", i, 1));
        apply(
            s,
            &k1,
            upserts([&b1[..], &[rec("awsTag", "t", 1)]].concat()),
        )
        .await;
        apply(
            s,
            &k2,
            upserts(vec![rec("s3Bucket", "a", 1), rec("s3Bucket", "b", 1)]),
        )
        .await;
        apply(s, &k3, upserts(vec![rec("ec2Instance", "i-9", 1)])).await;

        let listed = s.scopes(INST).await.unwrap();
        let got: Vec<_> = listed
            .iter()
            .map(|x| (x.scope.clone(), x.counts.clone()))
            .collect();
        let want = vec![
            (k2.clone(), counts(&[("s3Bucket", 2)])),
            (k1.clone(), counts(&[("awsTag", 1), ("ec2Instance", 3)])),
        ];
        let mut want_sorted = want.clone();
        want_sorted.sort();
        assert_eq!(got, want_sorted);
        assert_eq!(listed.iter().map(|x| x.total()).sum::<u64>(), 6);
        assert!(listed.iter().all(|x| x.updated_at <= Timestamp::now()));

        apply(
            s,
            &k1,
            ScopeChanges {
                upserted: vec![],
                removed: vec![key("ec2Instance", "i-1")],
            },
        )
        .await;
        let removed_all = ScopeChanges {
            upserted: vec![],
            removed: vec![key("s3Bucket", "a"), key("s3Bucket", "b")],
        };
        apply(s, &k2, removed_all).await;
        let listed = s.scopes(INST).await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].scope, k1);
        assert_eq!(
            listed[0].counts,
            counts(&[("awsTag", 1), ("ec2Instance", 2)])
        );

        s.forget_scope(&k1).await.unwrap();
        assert!(s.scopes(INST).await.unwrap().is_empty());
        assert!(s.read_scope(&k1).await.unwrap().is_empty());
        let staging = s.scopes("staging").await.unwrap();
        assert_eq!(staging.len(), 1);
        assert_eq!(staging[0].scope, k3);
    }

    pub async fn identifiers_with_separators_and_unicode_round_trip(f: &Fixture) {
        let s = &f.store;
        let k = ec2_scope();
        let long = format!(
            "arn:aws:ssm:eu-west-1:111111111111:parameter/{}",
            "p/".repeat(450)
        );
        // 1,000 characters (Port's limit) of 3 bytes each: beyond DynamoDB's 1,024-byte sort
        // key limit; two that share their first 999 characters.
        let very_long = "日".repeat(1000);
        let very_long_too = format!("{}本", "日".repeat(999));
        let ids = [
            "a#b",
            "##",
            "trailing#",
            "E#x#y",
            "arn:aws:s3:::bucket/key#frag",
            "ünïcödé/日本#1",
            "role/service-role/x",
            "=+@_.:\\-",
            long.as_str(),
            very_long.as_str(),
            very_long_too.as_str(),
        ];
        let records: Vec<_> = ids.iter().map(|i| rec("ec2Instance", i, 1)).collect();
        apply(s, &k, upserts(records.clone())).await;
        let read = s.read_scope(&k).await.unwrap();
        assert_eq!(read, ScopeState::from_records(records.clone()));
        for id in ids {
            assert!(read.get("ec2Instance", id).is_some(), "{id}");
        }

        apply(
            s,
            &k,
            ScopeChanges {
                upserted: vec![],
                removed: vec![key("ec2Instance", "a#b")],
            },
        )
        .await;
        let read = s.read_scope(&k).await.unwrap();
        assert_eq!(read.len(), ids.len() - 1);
        assert!(read.get("ec2Instance", "a#b").is_none());
        assert!(read.get("ec2Instance", "##").is_some());

        let base = read.clone();
        let err = s
            .write_scope(&k, &base, upserts(vec![rec("bad#blueprint", "x", 1)]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StateError::InvalidKey {
                    what: "blueprint",
                    ..
                }
            ),
            "{err}"
        );
        let err = s
            .read_scope(&scope(INST, "1#2", "r", EC2))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the account id `1#2` cannot be stored: it contains '#', the separator of stored keys"
        );
    }

    pub async fn expiry_values_survive_and_drive_rewrites(f: &Fixture) {
        let s = &f.store;
        let k = ec2_scope();
        let policy = ExpiryPolicy::default();
        let week = policy.max_age;
        let records: Vec<_> = (0..50)
            .map(|i| rec("ec2Instance", &format!("i-{i}"), 1))
            .collect();
        let short = EntityRecord {
            expires_at: Timestamp::now().plus(Duration::from_millis(200)),
            ..rec("ec2Instance", "short-lived", 1)
        };
        apply(
            s,
            &k,
            upserts([records.clone(), vec![short.clone()]].concat()),
        )
        .await;
        let read = s.read_scope(&k).await.unwrap();
        for r in &records {
            let stored = read.get(&r.blueprint, &r.identifier).unwrap();
            assert_eq!(stored.expires_at, r.expires_at);
            assert!(stored.expires_at > stored.written_at.plus(week.mul_f64(0.8)));
            assert!(stored.expires_at <= stored.written_at.plus(week));
        }
        let distinct: BTreeSet<_> = records.iter().map(|r| r.expires_at).collect();
        assert!(distinct.len() > 1, "expiry is jittered");

        let now = Timestamp::now();
        let same = &records[0].fingerprint;
        let other = rec("ec2Instance", "i-0", 2).fingerprint;
        assert!(!read.needs_write("ec2Instance", "i-0", same, now));
        assert!(read.needs_write("ec2Instance", "i-0", &other, now));
        assert!(read.needs_write("ec2Instance", "i-new", same, now));
        assert!(read.needs_write("ec2Instance", "i-0", same, records[0].expires_at));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(read.needs_write(
            "ec2Instance",
            "short-lived",
            &short.fingerprint,
            Timestamp::now()
        ));
    }

    pub async fn runs_count_each_unit_once_and_list_outcomes(f: &Fixture) {
        let s = &f.store;
        let t0 = Timestamp::now();
        let r1 = RunRecord::new(INST, "run-1", t0, 3);
        let r2 = RunRecord::new(INST, "run-2", t0.plus(Duration::from_secs(1)), 1);
        s.start_run(&r1).await.unwrap();
        s.start_run(&r2).await.unwrap();
        let err = s.start_run(&r1).await.unwrap_err();
        assert!(matches!(err, StateError::RunExists { .. }), "{err}");
        let empty = RunRecord::new(INST, "run-0", t0.minus(Duration::from_secs(1)), 0);
        s.start_run(&empty).await.unwrap();
        assert!(s.recent_runs(INST, 0).await.unwrap().is_empty());

        let p = s
            .record_unit(INST, "run-1", outcome("1/eu-west-1/a", true))
            .await
            .unwrap();
        assert_eq!(
            (p.done, p.planned, p.failed, p.just_closed),
            (1, 3, 0, false)
        );
        let p = s
            .record_unit(INST, "run-1", outcome("1/eu-west-1/b", false))
            .await
            .unwrap();
        assert_eq!((p.done, p.failed), (2, 1));
        // Redelivered: replaces the outcome, counts once.
        let p = s
            .record_unit(INST, "run-1", outcome("1/eu-west-1/b", true))
            .await
            .unwrap();
        assert_eq!((p.done, p.failed, p.just_closed), (2, 0, false));
        let p = s
            .record_unit(INST, "run-1", outcome("1/eu-west-1/b", false))
            .await
            .unwrap();
        assert_eq!((p.done, p.failed), (2, 1));
        let p = s
            .record_unit(INST, "run-1", outcome("1/global/c", true))
            .await
            .unwrap();
        assert_eq!(
            (p.done, p.planned, p.failed, p.just_closed),
            (3, 3, 1, true)
        );
        let p = s
            .record_unit(INST, "run-1", outcome("1/global/c", true))
            .await
            .unwrap();
        assert_eq!((p.done, p.just_closed), (3, false));

        let runs = s.recent_runs(INST, 10).await.unwrap();
        let ids: Vec<_> = runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["run-2", "run-1", "run-0"]);
        assert!(
            runs[2].is_closed(),
            "a run of no units is closed as it starts"
        );
        assert_eq!(
            (runs[1].done, runs[1].failed, runs[1].planned_units),
            (3, 1, 3)
        );
        assert!(runs[1].is_closed() && !runs[0].is_closed());
        assert_eq!(runs[1].started_at, t0);
        assert_eq!(s.recent_runs(INST, 1).await.unwrap()[0].run_id, "run-2");
        assert!(s.recent_runs("staging", 5).await.unwrap().is_empty());

        let units = s.run_units(INST, "run-1").await.unwrap();
        let labels: Vec<_> = units.iter().map(|u| u.unit.as_str()).collect();
        assert_eq!(labels, ["1/eu-west-1/a", "1/eu-west-1/b", "1/global/c"]);
        assert!(!units[1].ok);
        assert_eq!(
            units[1].reason.as_deref(),
            Some("DescribeInstances failed: denied")
        );
        assert_eq!(units[1].counts, outcome("x", true).counts);

        let err = s
            .record_unit(INST, "no-such-run", outcome("u", true))
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::RunNotFound { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("run no-such-run of installation prod was not started in "),
            "{err}"
        );
    }

    pub async fn closes_a_run_exactly_once_under_concurrency(f: &Fixture) {
        let s = &f.store;
        s.start_run(&RunRecord::new(INST, "busy", Timestamp::now(), 20))
            .await
            .unwrap();
        // 20 units plus 6 redeliveries, all at once.
        let labels = (0..20).chain(0..6).map(|i| format!("111111111111/r-{i}/k"));
        let tasks: Vec<_> = labels
            .enumerate()
            .map(|(n, label)| {
                let store = s.clone();
                tokio::spawn(async move {
                    store
                        .record_unit(INST, "busy", outcome(&label, n % 5 != 0))
                        .await
                })
            })
            .collect();
        let mut closers = 0;
        for task in tasks {
            let progress = task.await.unwrap().unwrap();
            assert!(progress.done <= 20);
            closers += usize::from(progress.just_closed);
        }
        assert_eq!(closers, 1);
        let run = &s.recent_runs(INST, 1).await.unwrap()[0];
        assert_eq!(run.done, 20);
        assert!(run.is_closed());
        let units = s.run_units(INST, "busy").await.unwrap();
        assert_eq!(units.len(), 20);
        assert_eq!(run.failed, units.iter().filter(|u| !u.ok).count() as u64);
    }

    pub async fn lease_excludes_and_is_taken_over_after_expiry(f: &Fixture) {
        let s = &f.store;
        let k = ec2_scope();
        let minute = Duration::from_secs(60);
        let a = s.acquire_lease(&k, "worker-a", minute).await.unwrap();
        let err = s.acquire_lease(&k, "worker-b", minute).await.unwrap_err();
        let StateError::LeaseHeld(held) = &err else {
            panic!("{err}")
        };
        assert_eq!(held.owner.as_deref(), Some("worker-a"));
        assert_eq!(held.expires_at, Some(a.expires_at));
        assert!(err.is_lease_held());
        // Other scopes are not affected.
        let other = scope(INST, "111111111111", "us-east-1", EC2);
        s.acquire_lease(&other, "worker-b", minute).await.unwrap();

        assert!(s.release_lease(&a).await.unwrap());
        assert!(!s.release_lease(&a).await.unwrap());
        let b = s
            .acquire_lease(&k, "worker-b", Duration::from_millis(300))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        // b crashed: its lease expired and is taken over.
        let c = s.acquire_lease(&k, "worker-c", minute).await.unwrap();
        assert!(s.renew_lease(&b, minute).await.unwrap_err().is_lease_held());
        assert!(
            !s.release_lease(&b).await.unwrap(),
            "b must not release c's lease"
        );
        let err = s.acquire_lease(&k, "worker-d", minute).await.unwrap_err();
        let StateError::LeaseHeld(held) = err else {
            panic!("{err}")
        };
        assert_eq!(held.owner.as_deref(), Some("worker-c"));
        let renewed = s.renew_lease(&c, Duration::from_secs(120)).await.unwrap();
        assert!(renewed.expires_at > c.expires_at);
    }

    pub async fn two_workers_on_one_scope_neither_lose_nor_duplicate(f: &Fixture) {
        let s = &f.store;
        let k = ec2_scope();
        // Sequence: A holds the scope, B (the redelivered message) is refused, then runs after A.
        let a = s
            .acquire_lease(&k, "a", Duration::from_secs(60))
            .await
            .unwrap();
        let base = s.read_scope(&k).await.unwrap();
        assert!(s
            .acquire_lease(&k, "b", Duration::from_secs(60))
            .await
            .unwrap_err()
            .is_lease_held());
        let produced_a: Vec<_> = ["i-1", "i-2", "i-3"]
            .iter()
            .map(|i| rec("ec2Instance", i, 1))
            .collect();
        s.write_scope(&k, &base, upserts(produced_a)).await.unwrap();
        s.release_lease(&a).await.unwrap();

        let b = s
            .acquire_lease(&k, "b", Duration::from_secs(60))
            .await
            .unwrap();
        let base = s.read_scope(&k).await.unwrap();
        let produced: BTreeSet<_> = ["i-2", "i-3", "i-4"]
            .iter()
            .map(|i| key("ec2Instance", i))
            .collect();
        let changes = ScopeChanges {
            upserted: vec![rec("ec2Instance", "i-4", 1)],
            removed: base.not_produced(&produced),
        };
        s.write_scope(&k, &base, changes).await.unwrap();
        s.release_lease(&b).await.unwrap();
        let state = s.read_scope(&k).await.unwrap();
        let keys: BTreeSet<_> = state.records().map(|r| r.key()).collect();
        assert_eq!(keys, produced);

        // Race: two workers add their own entities to the same scope, retrying while refused.
        let workers = ["w1", "w2"].map(|w| {
            let (store, scope) = (s.clone(), k.clone());
            tokio::spawn(async move {
                for round in 0..4 {
                    let lease = loop {
                        match store
                            .acquire_lease(&scope, w, Duration::from_secs(60))
                            .await
                        {
                            Ok(lease) => break lease,
                            Err(e) if e.is_lease_held() => {
                                tokio::time::sleep(Duration::from_millis(10)).await
                            }
                            Err(e) => panic!("{e}"),
                        }
                    };
                    let base = store.read_scope(&scope).await.unwrap();
                    let mine = rec("ec2Instance", &format!("{w}-{round}"), 1);
                    store
                        .write_scope(&scope, &base, upserts(vec![mine]))
                        .await
                        .unwrap();
                    assert!(store.release_lease(&lease).await.unwrap());
                }
            })
        });
        for w in workers {
            w.await.unwrap();
        }
        let state = s.read_scope(&k).await.unwrap();
        assert_eq!(state.len(), 3 + 8);
        let listed = s.scopes(INST).await.unwrap();
        assert_eq!(
            listed[0].counts,
            counts(&[("ec2Instance", 11)]),
            "index counts match the records"
        );
    }

    pub async fn large_scopes_page_and_batch(f: &Fixture) {
        let s = &f.store;
        let k = ec2_scope();
        let pad = "x".repeat(400);
        let id = |i: usize| format!("arn:aws:ec2:eu-west-1:111111111111:instance/i-{i:05}/{pad}");
        let bp = |i: usize| {
            if i.is_multiple_of(3) {
                "ec2Volume"
            } else {
                "ec2Instance"
            }
        };
        let records: Vec<_> = (0..2600).map(|i| rec(bp(i), &id(i), 1)).collect();
        let before = f.calls();
        apply(s, &k, upserts(records.clone())).await;
        if let (Some(before), Some(after)) = (before, f.calls()) {
            // One Query page for the empty read, 104 batches of 25, one index put.
            assert!(after - before >= 106, "{before} -> {after}");
        }
        let before = f.calls();
        let read = s.read_scope(&k).await.unwrap();
        if let (Some(before), Some(after)) = (before, f.calls()) {
            assert!(
                after - before >= 2,
                "about 1.2 MB of items must take several pages"
            );
        }
        assert_eq!(read, ScopeState::from_records(records.clone()));

        let removed: Vec<_> = (0..1300).map(|i| key(bp(i), &id(i))).collect();
        let changed: Vec<_> = (1300..1400).map(|i| rec(bp(i), &id(i), 2)).collect();
        apply(
            s,
            &k,
            ScopeChanges {
                upserted: changed.clone(),
                removed,
            },
        )
        .await;
        let mut expected = ScopeState::from_records(records[1300..].to_vec());
        expected.apply(&upserts(changed));
        let read = s.read_scope(&k).await.unwrap();
        assert_eq!(read.len(), 1300);
        assert_eq!(read, expected);
        let listed = s.scopes(INST).await.unwrap();
        assert_eq!(listed[0].counts, expected.counts());
    }
}

// ---------------------------------------------------------------------------------------------
// Backend-specific failures

/// A write that Port confirmed: 100 records, one of which the backend will refuse to store.
fn desired() -> Vec<EntityRecord> {
    (0..100)
        .map(|i| {
            let id = if i == 57 {
                "poison-57".to_owned()
            } else {
                format!("i-{i:03}")
            };
            rec("ec2Instance", &id, 1)
        })
        .collect()
}

/// The next run after a failed state write: reads what was stored, writes what is missing or
/// different, and ends with exactly the desired state.
async fn next_run_converges(s: &StateStore, k: &ScopeKey, desired: &[EntityRecord]) {
    let base = s.read_scope(k).await.unwrap();
    for r in base.records() {
        let want = desired.iter().find(|d| d.key() == r.key());
        assert_eq!(
            Some(r),
            want,
            "a stored record is one of the confirmed writes"
        );
    }
    let now = Timestamp::now();
    let missing: Vec<_> = desired
        .iter()
        .filter(|d| base.needs_write(&d.blueprint, &d.identifier, &d.fingerprint, now))
        .cloned()
        .collect();
    assert!(!missing.is_empty());
    s.write_scope(k, &base, upserts(missing)).await.unwrap();
    assert_eq!(
        s.read_scope(k).await.unwrap(),
        ScopeState::from_records(desired.to_vec())
    );
    let listed = s.scopes(INST).await.unwrap();
    assert_eq!(listed[0].counts, counts(&[("ec2Instance", 100)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_write_failing_midway_converges_on_the_next_run() {
    let body =
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"injected"}"#;
    let f = Fixture::dynamodb_with(&json!([{
        "service": "dynamodb", "action": "BatchWriteItem", "body_contains": "poison", "times": 1,
        "respond": {"status": 400, "body": body},
    }]))
    .await;
    let (s, k) = (&f.store, ec2_scope());
    let want = desired();
    let base = s.read_scope(&k).await.unwrap();
    let err = s
        .write_scope(&k, &base, upserts(want.clone()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "could not write the state of scope 111111111111/eu-west-1/AWS::EC2::Instance of \
             installation prod in DynamoDB table port-aws-sync-state: DynamoDB BatchWriteItem failed"
        ),
        "{err}"
    );
    let partial = s.read_scope(&k).await.unwrap();
    assert!(partial.len() < 100 && partial.get("ec2Instance", "poison-57").is_none());
    assert!(!partial.is_empty(), "the other batches were written");
    next_run_converges(s, &k, &want).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_retries_unprocessed_items_then_gives_up() {
    // The proxy answers the first two BatchWriteItem calls with everything unprocessed, then
    // forwards: the store retries and succeeds. A record whose write always comes back
    // unprocessed fails after the configured attempts.
    let record = rec("ec2Instance", "i-1", 1);
    let pk = ec2_scope().storage_key();
    let item = port_aws_sync::state::dynamodb::items::entity_item(
        &pk,
        &record,
        record.expires_at.plus(options().retention),
    );
    let unprocessed =
        |item| json!({"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": item}}]}}).to_string();
    let stuck = rec("ec2Instance", "stuck", 1);
    let stuck_item = port_aws_sync::state::dynamodb::items::entity_item(
        &pk,
        &stuck,
        stuck.expires_at.plus(options().retention),
    );
    let f = Fixture::dynamodb_with(&json!([
        {"service": "dynamodb", "action": "BatchWriteItem", "body_contains": "i-1\"", "times": 2,
         "respond": {"status": 200, "body": unprocessed(item)}},
        {"service": "dynamodb", "action": "BatchWriteItem", "body_contains": "stuck",
         "respond": {"status": 200, "body": unprocessed(stuck_item)}},
    ]))
    .await;
    let (s, k) = (&f.store, ec2_scope());
    apply(s, &k, upserts(vec![record.clone()])).await;
    assert_eq!(
        s.read_scope(&k).await.unwrap(),
        ScopeState::from_records([record.clone()])
    );

    let base = s.read_scope(&k).await.unwrap();
    let err = s
        .write_scope(&k, &base, upserts(vec![stuck]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StateError::Unprocessed {
                remaining: 1,
                attempts: 8,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("1 items were still unprocessed after 8 attempts"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_errors_name_the_operation_and_the_table() {
    let f = Fixture::dynamodb().await;
    let StateStore::DynamoDb(d) = &f.store else {
        unreachable!()
    };
    let api = f.api.clone().unwrap();
    let client = api
        .client("dynamodb", &sdk(&f._moto.as_ref().unwrap().url), REGION)
        .unwrap();
    let missing = StateStore::dynamodb(client, "no-such-table", options());
    let err = missing.read_scope(&ec2_scope()).await.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "could not read the state of scope 111111111111/eu-west-1/AWS::EC2::Instance of \
             installation prod in DynamoDB table no-such-table: DynamoDB Query failed in us-east-1: \
             ResourceNotFoundException"
        ),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(d.table(), TABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_write_failing_inside_its_transaction_leaves_the_old_scope() {
    let f = Fixture::sqlite().await;
    let (s, k) = (&f.store, ec2_scope());
    let old = vec![rec("ec2Instance", "i-old", 1)];
    apply(s, &k, upserts(old.clone())).await;
    let path = f.dir.0.join("state/state.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON entities WHEN NEW.identifier LIKE 'poison%'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let base = s.read_scope(&k).await.unwrap();
    let want = desired();
    let changes = ScopeChanges {
        upserted: want.clone(),
        removed: vec![key("ec2Instance", "i-old")],
    };
    let err = s.write_scope(&k, &base, changes).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "could not write the state of scope 111111111111/eu-west-1/AWS::EC2::Instance of \
             installation prod in the SQLite state file {}: ",
            path.display()
        )) && text.contains("injected failure"),
        "{text}"
    );
    assert_eq!(
        s.read_scope(&k).await.unwrap(),
        ScopeState::from_records(old),
        "nothing applied"
    );
    conn.execute_batch("DROP TRIGGER poison;").unwrap();
    apply(
        s,
        &k,
        ScopeChanges {
            upserted: vec![],
            removed: vec![key("ec2Instance", "i-old")],
        },
    )
    .await;
    next_run_converges(s, &k, &want).await;
}

#[tokio::test]
async fn sqlite_creates_a_private_directory_and_keeps_state_across_opens() {
    let dir = TempDir::new();
    let path = dir.0.join("xdg/port-aws-sync/state.sqlite");
    let k = ec2_scope();
    let records = vec![rec("ec2Instance", "i-1", 1)];
    {
        let s = StateStore::sqlite(&path, options()).await.unwrap();
        apply(&s, &k, upserts(records.clone())).await;
        s.start_run(&RunRecord::new(INST, "r", Timestamp::now(), 1))
            .await
            .unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let s = StateStore::sqlite(&path, options()).await.unwrap();
    assert_eq!(
        s.read_scope(&k).await.unwrap(),
        ScopeState::from_records(records)
    );
    assert_eq!(s.recent_runs(INST, 5).await.unwrap().len(), 1);

    let file = dir.0.join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = StateStore::sqlite(file.join("state.sqlite"), options())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string().split(':').next().unwrap(),
        format!("could not create the state directory {}", file.display())
    );
}

// ---------------------------------------------------------------------------------------------
// SQLite: a writer killed mid-write

const CHILD_ENV: &str = "PAS_STATE_KILL_CHILD";
const KILL_SCOPES: usize = 3;
const KILL_RECORDS: usize = 2000;

fn kill_scope(i: usize) -> ScopeKey {
    scope(INST, "111111111111", &format!("region-{i}"), EC2)
}

/// Version `v` of a scope: every record carries `v` in its fingerprint, and odd versions have
/// one more record. A torn write would mix versions or miss the marker.
fn version(v: u64) -> Vec<EntityRecord> {
    let mut records: Vec<_> = (0..KILL_RECORDS)
        .map(|i| rec("ec2Instance", &format!("i-{i}"), v))
        .collect();
    if v % 2 == 1 {
        records.push(rec("ec2Instance", "odd-marker", v));
    }
    records
}

/// Which version a stored scope is, asserting it is one complete version.
fn stored_version(state: &ScopeState) -> u64 {
    let first = state.get("ec2Instance", "i-0").expect("i-0 stored");
    let v = (0..10_000)
        .find(|v| rec("ec2Instance", "i-0", *v).fingerprint == first.fingerprint)
        .expect("a known version");
    let want = version(v);
    assert_eq!(state.len(), want.len(), "version {v} is complete");
    for r in state.records() {
        let w = want
            .iter()
            .find(|w| w.key() == r.key())
            .expect("a key of that version");
        assert_eq!(r.fingerprint, w.fingerprint, "no record of another version");
    }
    v
}

/// Runs only as the child of `sqlite_store_survives_a_killed_writer`: rewrites the scopes
/// version after version, printing each completed version, until killed.
#[tokio::test]
async fn sqlite_kill_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let s = StateStore::sqlite(PathBuf::from(path), options())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for v in 1..10_000u64 {
        for i in 0..KILL_SCOPES {
            let k = kill_scope(i);
            let base = s.read_scope(&k).await.unwrap();
            let next = version(v);
            let keep: BTreeSet<_> = next.iter().map(|r| r.key()).collect();
            let changes = ScopeChanges {
                removed: base.not_produced(&keep),
                upserted: next,
            };
            s.write_scope(&k, &base, changes).await.unwrap();
        }
        println!("WROTE {v}");
        if started.elapsed() > Duration::from_secs(120) {
            return;
        }
    }
}

#[test]
fn sqlite_store_survives_a_killed_writer() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = TempDir::new();
    let path = dir.0.join("state.sqlite");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut last = 0;
    // A version takes about 115 ms (3 scopes of 2,000 records, debug build): the kills land in
    // the reads, transactions and gaps of the next version.
    for (kill, wait_ms) in [(1u32, 0u64), (2, 13), (3, 41), (4, 67), (5, 95)] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sqlite_kill_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut wrote = 0;
        while wrote < 2 {
            let line = lines.next().expect("the child writes").unwrap();
            if let Some(v) = line.strip_prefix("WROTE ") {
                wrote = v.trim().parse().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback, no checkpoint.
        child.wait().unwrap();

        let s = runtime
            .block_on(StateStore::sqlite(&path, options()))
            .unwrap();
        for i in 0..KILL_SCOPES {
            let state = runtime.block_on(s.read_scope(&kill_scope(i))).unwrap();
            let v = stored_version(&state);
            assert!(
                v >= wrote,
                "kill {kill}: committed version {wrote} of scope {i} lost (found {v})"
            );
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        last = wrote;
        drop(s);
    }
    assert!(last >= 2);
}
