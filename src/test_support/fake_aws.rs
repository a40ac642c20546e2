//! A minimal HTTP/1.1 server standing in for AWS endpoints in the fetch tests of the kinds (used by
//! the EC2 and ECS tests too): requests go to `endpoint_url`, are recorded, and answered by a
//! handler. Std-only, one thread per connection, `Connection: close`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/bucket?tagging`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The region of the SigV4 credential scope (`Credential=AKID/date/REGION/service/...`).
    pub fn signing_region(&self) -> Option<&str> {
        let auth = self.header("authorization")?;
        let scope = auth.split("Credential=").nth(1)?;
        scope.split('/').nth(2)
    }
}

/// A response: status, content type, body.
pub type Response = (u16, &'static str, String);

/// Runs the unit's fetch to the end, then returns its result and the pages it sent.
pub async fn fetch_pages(
    ctx: &crate::kinds::FetchContext<'_>,
) -> (
    Result<crate::kinds::FetchStats, crate::kinds::FetchError>,
    Vec<Vec<serde_json::Value>>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let result = crate::kinds::fetch(ctx, &tx).await;
    drop(tx);
    let mut pages = Vec::new();
    while let Some(page) = rx.recv().await {
        pages.push(page);
    }
    (result, pages)
}

/// [`fetch_pages`] while another unit holds the only place of a one-page budget
/// ([`crate::memory`]): asserts that the fetch waits, asking `server` for nothing, until that
/// place is free, and that the fetch gives its place back when it ends.
pub async fn fetch_pages_after_a_place(
    ctx: &crate::kinds::FetchContext<'_>,
    server: &FakeAws,
) -> (
    Result<crate::kinds::FetchStats, crate::kinds::FetchError>,
    Vec<Vec<serde_json::Value>>,
) {
    let budget = crate::memory::PageBudget::new(1);
    let held = budget.scope(crate::memory::page_permit()).await;
    assert!(held.is_bounded());
    let fetching = budget.scope(fetch_pages(ctx));
    tokio::pin!(fetching);
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut fetching);
    assert!(waited.await.is_err(), "the fetch went on without a place");
    assert!(
        server.requests().is_empty(),
        "asked for a page without a place"
    );
    drop(held);
    let fetched = fetching.await;
    assert_eq!(budget.available(), 1, "the page's place was given back");
    fetched
}

pub struct FakeAws {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeAws {
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> FakeAws {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || serve(stream, &*handler, &recorded));
            }
        });
        FakeAws { url, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// An SDK config pointing at this server, with static credentials and no retries.
    pub fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        let credentials =
            aws_sdk_s3::config::Credentials::new("AKID", "SECRET", None, None, "test");
        aws_config::SdkConfig::builder()
            .endpoint_url(&self.url)
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .time_source(aws_smithy_async::time::SystemTimeSource::new())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }
}

fn serve(
    stream: TcpStream,
    handler: &dyn Fn(&Request) -> Response,
    recorded: &Mutex<Vec<Request>>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, content_type, body) = handler(&request);
    recorded
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: test\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// An EC2 `Describe*` answer over two pages: `first` (with `nextToken` `t2`), then `second` when
/// asked with `NextToken=t2`; each the `<item>`s of the answer's `set` element.
pub fn ec2_two_pages(
    action: &'static str,
    set: &'static str,
    first: String,
    second: String,
) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |request: &Request| {
        let (items, token) = if request.body.contains("NextToken=t2") {
            (second.as_str(), "")
        } else {
            (first.as_str(), "<nextToken>t2</nextToken>")
        };
        let body = format!(
            "<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>1</requestId><{set}>{items}</{set}>{token}</{action}Response>"
        );
        (200, "text/xml;charset=UTF-8", body)
    }
}

/// Fetches `kind` in `eu-west-1` from an [`ec2_two_pages`] server: asserts one object and one
/// call per page, and the API's largest page asked for; returns the raw objects.
pub async fn ec2_fetch_two_pages(
    kind: &str,
    handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
) -> Vec<serde_json::Value> {
    let server = FakeAws::start(handler);
    let kind = crate::kinds::Kind::parse(kind).expect("a native kind");
    let unit =
        crate::test_support::TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
    let (result, pages) = fetch_pages(&unit.ctx()).await;
    let stats = result.expect("the fetch succeeds");
    assert_eq!((stats.objects, stats.api_calls, pages.len()), (2, 2, 2));
    assert!(server.requests()[0].body.contains("MaxResults=1000"));
    pages.into_iter().flatten().collect()
}
