//! `fanout` Lambda: discovers accounts and regions and enqueues one work item per unit.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use port_aws_sync::lambda::{fanout::Fanout, load};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    port_aws_sync::telemetry::init_lambda();
    let fanout = load()
        .await
        .and_then(Fanout::new)
        .inspect_err(|e| tracing::error!(error = %e, "cannot start: fix the configuration"))?;
    let fanout = &fanout;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let summary = fanout.handle(event.payload).await?;
        Ok::<_, Diagnostic>(summary)
    }))
    .await
}
