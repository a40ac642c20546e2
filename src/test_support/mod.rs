//! Test support shared by every kind's unit tests: [`fake_aws`], an in-process server speaking
//! AWS wire formats, and [`TestUnit`], the parts of a [`FetchContext`] for one unit.

pub mod fake_aws;

use crate::aws::api::{ApiOptions, AwsApi};
use crate::discovery::Account;
use crate::kinds::fetch::RegionFilter;
use crate::kinds::{FetchContext, Kind};
use std::collections::BTreeSet;
use std::time::Duration;

/// Everything a [`FetchContext`] borrows, for one unit against a fake endpoint.
pub struct TestUnit {
    pub kind: Kind,
    pub account: Account,
    pub region: String,
    pub sdk: aws_config::SdkConfig,
    pub api: AwsApi,
    pub actions: BTreeSet<String>,
    pub concurrency: usize,
    pub history_days: u32,
    pub regions: fn(&str) -> bool,
}

impl TestUnit {
    /// A unit of `kind` in account `123456789012` and `region`, calling `sdk`'s endpoint, with no
    /// retries and short timeouts.
    pub fn new(kind: Kind, region: &str, sdk: aws_config::SdkConfig) -> TestUnit {
        let api = AwsApi::new(ApiOptions {
            max_attempts: 1,
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(10),
            ..ApiOptions::default()
        })
        .expect("an HTTP client");
        TestUnit {
            kind,
            account: Account::bare("123456789012", "aws", None),
            region: region.to_owned(),
            sdk,
            api,
            actions: BTreeSet::new(),
            concurrency: 4,
            history_days: crate::kinds::fetch::DEFAULT_HISTORY_DAYS,
            regions: |_| true,
        }
    }

    /// With these optional actions enabled.
    pub fn with_actions(mut self, actions: &[&str]) -> TestUnit {
        self.actions = actions.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// The unit's fetch context.
    pub fn ctx(&self) -> FetchContext<'_> {
        let regions: Box<RegionFilter> = Box::new(self.regions);
        FetchContext::for_test(
            self.kind,
            &self.account,
            &self.region,
            &self.sdk,
            &self.api,
            &self.actions,
            regions,
            self.concurrency,
            self.history_days,
        )
    }
}
