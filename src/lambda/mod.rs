//! AWS Lambda handlers: `fanout` (plan and enqueue work items) and `worker` (run SQS work items).
