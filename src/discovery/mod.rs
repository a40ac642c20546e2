//! Discovery: which accounts a run covers, how to reach each (sessions), and their enabled regions.

pub mod accounts;
pub mod discover;
pub mod organization;
pub mod regions;
pub mod session;

pub use accounts::{list_accounts, Account, AccountList, AccountsError, SkippedAccount};
pub use discover::{discover, AccountTarget, Discovery, FailedAccount};
pub use session::{AssumeRoleError, Sessions};
