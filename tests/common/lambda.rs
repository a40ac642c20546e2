//! A Lambda function binary under cargo-lambda's runtime API emulator
//! (`cargo lambda watch --only-lambda-apis`, from the test venv), invoked through the emulator's
//! Invoke API, and SQS events as Lambda delivers them.

use super::{free_port, http, python, root, wait_until, Guard};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn cargo_lambda() -> PathBuf {
    let venv_bin = python().parent().unwrap().to_path_buf();
    let path = venv_bin.join("cargo-lambda");
    assert!(
        path.exists(),
        "cargo-lambda is missing from the test venv: run the tests with scripts/test"
    );
    path
}

/// One function: the runtime API emulator and the binary polling it.
pub struct Function {
    pub invoke_url: String,
    /// The function's stderr (its logs).
    pub log: PathBuf,
    _function: Guard,
    _emulator: Guard,
}

impl Function {
    /// Starts `binary` (a path, e.g. `env!("CARGO_BIN_EXE_worker")`) with exactly `env`.
    pub fn start(binary: &str, env: &[(String, String)]) -> Function {
        let port = free_port();
        let emulator = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
            .args(["-P", &port.to_string()])
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cargo lambda watch");
        let emulator = Guard::new(emulator);
        wait_until("the Lambda runtime API", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let log = std::env::temp_dir().join(format!(
            "port-aws-sync-fn-{}-{port}.log",
            std::process::id()
        ));
        let function = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the function binary");
        Function {
            invoke_url: format!("http://127.0.0.1:{port}/2015-03-31/functions/_/invocations"),
            log,
            _function: Guard::new(function),
            _emulator: emulator,
        }
    }

    pub fn invoke(&self, payload: &Value) -> Value {
        let (status, body) = http("POST", &self.invoke_url, Some(payload));
        assert!(status > 0, "no response from the Lambda emulator");
        body
    }
}

/// A message as SQS delivers it, with a raw body.
pub fn message(id: &str, body: &str) -> Value {
    json!({"messageId": id, "receiptHandle": format!("rh-{id}"), "body": body, "md5OfBody": ""})
}

/// An SQS event as Lambda delivers it, from received messages.
pub fn sqs_event(messages: &[Value]) -> Value {
    json!({"Records": messages.iter().map(|m| json!({
        "messageId": m["messageId"], "receiptHandle": m["receiptHandle"], "body": m["body"],
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": m["md5OfBody"], "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:port-aws-sync", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>()})
}

/// The message ids of a batch response's failures.
pub fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch response: {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}
