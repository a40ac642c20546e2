//! Test harness: a real moto server and the strict fake Port, each on a free 127.0.0.1 port,
//! started per test and stopped on drop; seeding through `tests/support/seed_moto.py`; running the
//! real `port-aws-sync` binary.
#![allow(dead_code)]

pub mod kinds;
pub mod lambda;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's Python with moto, boto3 and jsonschema (`scripts/test` sets `PAS_PYTHON`).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("PAS_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let default = Path::new(&home).join(".cache/port-aws-sync/venv/bin/python");
    assert!(
        default.exists(),
        "the test venv is missing: run `scripts/test` (it installs moto, boto3, jsonschema and sets PAS_PYTHON)"
    );
    default
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a support server (`python SCRIPT ARGS`) that prints `LISTENING <port>` when ready;
/// returns its guard and URL.
pub fn spawn_listening(script: &str, args: &[&str], what: &str) -> (Guard, String) {
    let mut child = Command::new(python())
        .arg(root().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {script}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("{what} did not start: {line:?}"))
        .to_owned();
    (guard, format!("http://127.0.0.1:{port}"))
}

/// A child process killed on drop.
pub struct Guard(Child);

impl Guard {
    pub fn new(child: Child) -> Guard {
        Guard(child)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The host and the path (`/` when none) of an `http://` URL.
fn host_and_path(url: &str) -> (&str, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    rest.split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()))
}

/// A request without a body but with headers (e.g. `Authorization`); returns the status.
pub fn http_with_headers(method: &str, url: &str, headers: &[(&str, &str)]) -> u16 {
    let (host, path) = host_and_path(url);
    let mut stream = TcpStream::connect(host).expect("connect");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Minimal HTTP/1.1 request to a local server (no client dependency in tests).
pub fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let (host, path) = host_and_path(url);
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn wait_until(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < deadline,
            "{what} did not start within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A moto server (the local AWS emulator).
pub struct Moto {
    pub url: String,
    _guard: Guard,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(python())
            .arg(root().join("tests/support/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let guard = Guard(child);
        let url = format!("http://127.0.0.1:{port}");
        wait_until("moto_server", Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Moto { url, _guard: guard }
    }

    /// Seeds an estate (see `tests/support/seed_moto.py`) and returns the script's result.
    pub fn seed(&self, spec: &Value) -> Value {
        self.run_seed(&["--spec", "-"], spec)
    }

    /// Runs seed operations (terminate instances, delete buckets, close accounts, ...).
    pub fn ops(&self, ops: &Value) -> Value {
        self.run_seed(&["--ops", "-"], ops)
    }

    fn run_seed(&self, args: &[&str], input: &Value) -> Value {
        let args = [&["--endpoint", self.url.as_str()], args].concat();
        python_json("tests/support/seed_moto.py", &args, input)
    }
}

/// Runs the support script `script` with `args`, feeding it `input`; asserts it succeeded and
/// returns its stdout as JSON.
pub fn python_json(script: &str, args: &[&str], input: &Value) -> Value {
    let mut child = Command::new(python())
        .arg(root().join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} did not print JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The strict fake Port server.
pub struct FakePort {
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    _guard: Guard,
}

impl FakePort {
    pub fn start() -> FakePort {
        let client_id = "test-client".to_owned();
        let client_secret = format!("test-secret-{}", std::process::id());
        let (guard, url) = spawn_listening(
            "tests/support/fake_port.py",
            &[
                "--port",
                "0",
                "--client-id",
                &client_id,
                "--client-secret",
                &client_secret,
            ],
            "fake Port",
        );
        FakePort {
            url,
            client_id,
            client_secret,
            _guard: guard,
        }
    }

    pub fn state(&self) -> Value {
        let (status, body) = http("GET", &format!("{}/_fake/state", self.url), None);
        assert_eq!(status, 200);
        body
    }

    pub fn control(&self, path: &str, body: &Value) {
        let (status, answer) = http("POST", &format!("{}/_fake/{path}", self.url), Some(body));
        assert!(
            (200..300).contains(&status),
            "fake Port {path}: {status} {answer}"
        );
    }

    /// Entities of one blueprint: identifier -> entity (with meta).
    pub fn entities(&self, blueprint: &str) -> serde_json::Map<String, Value> {
        self.state()["entities"][blueprint]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// Asserts every request we sent matched Port's OpenAPI schema.
    pub fn assert_no_schema_violations(&self) {
        let state = self.state();
        let violations = &state["schema_violations"];
        assert!(
            violations.as_array().is_none_or(|v| v.is_empty()),
            "requests violated Port's OpenAPI schema: {violations:#}"
        );
    }
}

/// Blueprint → entity identifiers.
pub type Catalog = BTreeMap<String, BTreeSet<String>>;

/// The identifiers the fake Port's catalog holds, by blueprint (blueprints without entities left
/// out).
pub fn catalog(port: &FakePort) -> Catalog {
    port.state()["entities"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(bp, entities)| {
            let ids = entities.as_object().unwrap().keys().cloned().collect();
            (bp.clone(), ids)
        })
        .filter(|(_, ids): &(String, BTreeSet<String>)| !ids.is_empty())
        .collect()
}

/// Environment for the binary against moto (and optionally the fake Port), nothing inherited
/// except PATH and HOME.
pub fn base_env(moto: &Moto) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_ENDPOINT_URL".to_owned(), moto.url.clone()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("LOG_LEVEL".into(), "info".into()),
        ("STATE_PATH".into(), state_path(moto).display().to_string()),
    ];
    for var in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(var) {
            env.push((var.to_owned(), v));
        }
    }
    env
}

/// The CLI's SQLite state file of a test: one per moto server, so the runs of one test share
/// their state and tests never see each other's.
pub fn state_path(moto: &Moto) -> PathBuf {
    let port = moto.url.rsplit(':').next().unwrap_or("0");
    std::env::temp_dir()
        .join(format!("pas-state-{}-{port}", std::process::id()))
        .join("state.sqlite")
}

/// Adds the fake Port's URL and credentials.
pub fn with_port(mut env: Vec<(String, String)>, port: &FakePort) -> Vec<(String, String)> {
    env.push(("PORT_BASE_URL".into(), port.url.clone()));
    env.push(("PORT_CLIENT_ID".into(), port.client_id.clone()));
    env.push(("PORT_CLIENT_SECRET".into(), port.client_secret.clone()));
    env
}

/// Runs `port-aws-sync` with exactly `env`.
pub fn run_cli(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run port-aws-sync")
}

/// stderr of a run, for assertion messages.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The strings of a JSON array (empty for anything else).
pub fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Parses JSON lines.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// `tests/support/aws_fault_proxy.py` in front of moto: injects AWS faults moto cannot produce
/// (AssumeRole denied, a page that fails midway through pagination). Point `AWS_ENDPOINT_URL` at
/// `url`.
pub struct AwsProxy {
    pub url: String,
    _guard: Guard,
}

impl AwsProxy {
    pub fn start(moto: &Moto, rules: &Value) -> AwsProxy {
        let rules = rules.to_string();
        let (guard, url) = spawn_listening(
            "tests/support/aws_fault_proxy.py",
            &["--upstream", &moto.url, "--rules", &rules],
            "the AWS fault proxy",
        );
        AwsProxy { url, _guard: guard }
    }

    /// How often each rule matched.
    pub fn hits(&self) -> Vec<u64> {
        let (status, body) = http("GET", &format!("{}/_proxy/state", self.url), None);
        assert_eq!(status, 200);
        body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_u64().unwrap())
            .collect()
    }
}

/// `tests/support/fake_cloud_control.py`: Cloud Control's wire protocol, which moto does not
/// serve, seeded with resources, pages, throttling and unsupported types. Point the SDK config's
/// endpoint at `url`.
pub struct FakeCloudControl {
    pub url: String,
    _guard: Guard,
}

impl FakeCloudControl {
    pub fn start(seed: &Value) -> FakeCloudControl {
        let seed = seed.to_string();
        let (guard, url) = spawn_listening(
            "tests/support/fake_cloud_control.py",
            &["--seed", &seed],
            "the fake Cloud Control",
        );
        FakeCloudControl { url, _guard: guard }
    }

    /// Every request the fake answered, in arrival order: `{"t", "operation", "type", "region",
    /// "status", "code"}` (`t` in seconds since the fake started).
    pub fn log(&self) -> Vec<Value> {
        let (status, body) = http("GET", &format!("{}/_fake/log", self.url), None);
        assert_eq!(status, 200);
        body["requests"].as_array().cloned().unwrap_or_default()
    }
}

/// An SDK config for moto: its endpoint, `us-east-1`, moto's test credentials.
pub fn moto_sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    use aws_credential_types::provider::SharedCredentialsProvider;
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build()
}

/// Creates the DynamoDB state table `table` in moto, as the SAM template does.
pub fn create_state_table(moto: &Moto, table: &str) {
    let sdk = moto_sdk_config(moto);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let api = port_aws_sync::aws::api::AwsApi::new(Default::default()).unwrap();
        let client = api.client("dynamodb", &sdk, "us-east-1").unwrap();
        port_aws_sync::state::dynamodb::create_table(&client, table)
            .await
            .unwrap();
    });
}
