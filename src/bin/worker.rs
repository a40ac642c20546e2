//! `worker` Lambda: runs the work items of an SQS batch, reporting partial batch failures.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use port_aws_sync::lambda::{load, work_budget, worker::Worker};
use std::time::SystemTime;

/// One thread: a Lambda function of up to 1,769 MB gets at most one vCPU's worth of time, so
/// more runtime threads would add no speed, only their stacks and malloc arenas (memory that a
/// page freed on one thread cannot serve on another; BENCHMARKS.md, F4).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    port_aws_sync::telemetry::init_lambda();
    let container = load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start: fix the configuration"))?;
    let worker = &Worker::new(container);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let budget = work_budget(event.context.deadline, SystemTime::now());
        Ok::<SqsBatchResponse, Diagnostic>(worker.handle(event.payload, budget).await)
    }))
    .await
}
