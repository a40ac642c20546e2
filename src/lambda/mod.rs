//! AWS Lambda handlers: `fanout` (start a run and enqueue its units) and `worker` (check the work
//! items of an SQS batch and run their units).
//!
//! Both are built once per container ([`load`]) and keep what is expensive across invocations:
//! the compiled mapping, AWS sessions per account, and the Port client with its token. The
//! handlers are plain async functions over typed events, so they are tested without a runtime;
//! the binaries wrap them with `lambda_runtime`.

pub mod budget;
pub mod enqueue;
pub mod fanout;
pub mod init;
pub mod live_event;
pub mod work_item;
pub mod worker;

pub use budget::work_budget;
pub use init::{diagnostic, load, Container, InitError};
