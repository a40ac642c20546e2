//! Discovery: which accounts a run covers, how to reach each (sessions), their enabled regions,
//! and the directory work items are checked against.

pub mod accounts;
pub mod directory;
pub mod discover;
pub mod organization;
pub mod regions;
pub mod session;

pub use accounts::{list_accounts, Account, AccountList, AccountsError, SkippedAccount};
pub use directory::{Directory, Lookup};
pub use discover::{discover, AccountTarget, Discovery, FailedAccount};
pub use session::{AssumeRoleError, Sessions};
