//! Paginated operations as a stream of pages, following the operation's botocore paginator
//! (`input_token`, `output_token`, `more_results`): each page's output tokens become the next
//! input's, until the tokens are empty or `more_results` is false. A token seen before ends the
//! stream with [`ApiError::RepeatedToken`] instead of paging for ever.

use super::client::ServiceClient;
use super::error::ApiError;
use super::model::Paginator;
use super::xml_parts::XmlOutput;
use futures_util::Stream;
use serde_json::{Map, Value};
use std::collections::HashSet;

impl ServiceClient {
    /// The pages of `operation`, starting from `input` (API member names; a page size such as
    /// `MaxResults` goes here). Each item is one output as [`ServiceClient::call`] returns it;
    /// after an error the stream ends.
    pub fn pages(
        &self,
        operation: &str,
        input: Value,
    ) -> impl Stream<Item = Result<Value, ApiError>> + Send + 'static {
        let start = self.start(operation, input);
        futures_util::stream::unfold(start, |state| async move {
            match state {
                State::Done => None,
                State::Failed(e) => Some((Err(e), State::Done)),
                State::Next(paging) => {
                    match paging.client.call(paging.op, paging.input.clone()).await {
                        Err(e) => Some((Err(e), State::Done)),
                        Ok(page) => {
                            let next = paging.advance(&page);
                            Some((Ok(page), next))
                        }
                    }
                }
            }
        })
    }

    /// The pages of `operation` as [`ServiceClient::pages`] gives them, each kept as XML text
    /// ([`ServiceClient::call_xml`]) for its caller to read part by part. `list` names the
    /// output's (large) list member, which the paging tokens are never read from.
    pub fn pages_xml(
        &self,
        operation: &str,
        input: Value,
        list: &'static str,
    ) -> impl Stream<Item = Result<XmlOutput, ApiError>> + Send + 'static {
        let start = self.start(operation, input);
        futures_util::stream::unfold(start, move |state| async move {
            match state {
                State::Done => None,
                State::Failed(e) => Some((Err(e), State::Done)),
                State::Next(paging) => {
                    match paging
                        .client
                        .call_xml(paging.op, paging.input.clone())
                        .await
                    {
                        Err(e) => Some((Err(e), State::Done)),
                        Ok(page) => {
                            let head = page
                                .parse()
                                .and_then(|output| output.read_without(Some(list)));
                            match head {
                                Ok(head) => {
                                    let next = paging.advance(&head);
                                    Some((Ok(page), next))
                                }
                                Err(message) => {
                                    let call = paging.client.call_site(paging.op);
                                    Some((Err(ApiError::Decode { call, message }), State::Done))
                                }
                            }
                        }
                    }
                }
            }
        })
    }

    fn start(&self, operation: &str, input: Value) -> State {
        match self.paginator(operation) {
            Ok((op, paginator)) => {
                let input = match input {
                    Value::Null => Value::Object(Map::new()),
                    other => other,
                };
                let mut seen = HashSet::new();
                if let Some(tokens) = current_tokens(paginator, &input) {
                    seen.insert(tokens);
                }
                State::Next(Box::new(Paging {
                    client: self.clone(),
                    op,
                    paginator,
                    input,
                    seen,
                }))
            }
            Err(e) => State::Failed(e),
        }
    }

    fn paginator(&self, operation: &str) -> Result<(&'static str, &'static Paginator), ApiError> {
        let model = self.model();
        let op = model.operation(self.service_name(), operation)?;
        match model.paginators.get(&op.name) {
            Some(p) => Ok((&op.name, p)),
            None => Err(ApiError::InvalidRequest {
                call: Some(self.call_site(&op.name)),
                message: "the operation has no paginator: use call".to_owned(),
            }),
        }
    }
}

enum State {
    Next(Box<Paging>),
    Failed(ApiError),
    Done,
}

struct Paging {
    client: ServiceClient,
    op: &'static str,
    paginator: &'static Paginator,
    input: Value,
    seen: HashSet<String>,
}

impl Paging {
    /// The state after `page`: done, the next input, or a repeated-token error.
    fn advance(mut self: Box<Self>, page: &Value) -> State {
        let Some(tokens) = next_tokens(self.paginator, page) else {
            return State::Done;
        };
        let Value::Object(input) = &mut self.input else {
            return State::Done;
        };
        for (name, token) in self.paginator.input_token.names().iter().zip(&tokens) {
            match token {
                Some(token) => input.insert(name.clone(), token.clone()),
                None => input.remove(name),
            };
        }
        let key = Value::Array(tokens.into_iter().map(Option::unwrap_or_default).collect());
        if !self.seen.insert(key.to_string()) {
            return State::Failed(ApiError::RepeatedToken {
                call: self.client.call_site(self.op),
            });
        }
        State::Next(self)
    }
}

/// The tokens for the next request, one per input token; `None` when there is no next page.
pub fn next_tokens(paginator: &Paginator, page: &Value) -> Option<Vec<Option<Value>>> {
    if let Some(flag) = &paginator.more_results {
        if path(page, flag) != Some(&Value::Bool(true)) {
            return None;
        }
    }
    let tokens: Vec<Option<Value>> = paginator
        .output_token
        .names()
        .iter()
        .map(|expr| path(page, expr).filter(|v| is_present(v)).cloned())
        .collect();
    tokens.iter().any(Option::is_some).then_some(tokens)
}

/// The tokens a caller's first input already carries (to resume from), as a seen-set key.
fn current_tokens(paginator: &Paginator, input: &Value) -> Option<String> {
    let tokens: Vec<Value> = paginator
        .input_token
        .names()
        .iter()
        .map(|name| input.get(name).cloned().unwrap_or_default())
        .collect();
    tokens
        .iter()
        .any(is_present)
        .then(|| Value::Array(tokens).to_string())
}

/// Empty strings, lists and maps are no token, as for boto3.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// A dotted member path (`NextToken`, `Marker`, `ListResult.NextMarker`).
fn path<'a>(value: &'a Value, expr: &str) -> Option<&'a Value> {
    expr.split('.').try_fold(value, |v, key| v.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paginator(value: Value) -> Paginator {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn follows_tokens_until_they_are_empty() {
        let p = paginator(json!({"input_token": "NextToken", "output_token": "NextToken"}));
        assert_eq!(
            next_tokens(&p, &json!({"NextToken": "a"})),
            Some(vec![Some(json!("a"))])
        );
        assert_eq!(next_tokens(&p, &json!({"NextToken": ""})), None);
        assert_eq!(next_tokens(&p, &json!({"Items": []})), None);
    }

    #[test]
    fn stops_when_more_results_is_false_and_reads_map_tokens() {
        let p = paginator(
            json!({"input_token": "Marker", "output_token": "NextMarker",
            "more_results": "IsTruncated"}),
        );
        assert_eq!(
            next_tokens(&p, &json!({"IsTruncated": false, "NextMarker": "m"})),
            None
        );
        assert_eq!(
            next_tokens(&p, &json!({"IsTruncated": true, "NextMarker": "m"})),
            Some(vec![Some(json!("m"))])
        );
        let q = paginator(
            json!({"input_token": "ExclusiveStartKey", "output_token": "LastEvaluatedKey"}),
        );
        let key = json!({"pk": {"S": "a"}});
        assert_eq!(
            next_tokens(&q, &json!({"LastEvaluatedKey": key})),
            Some(vec![Some(key)])
        );
    }

    #[test]
    fn several_tokens_continue_while_any_is_present() {
        let p = paginator(json!({"input_token": ["A", "B"], "output_token": ["Next.A", "Next.B"]}));
        assert_eq!(
            next_tokens(&p, &json!({"Next": {"B": "b"}})),
            Some(vec![None, Some(json!("b"))])
        );
        assert_eq!(next_tokens(&p, &json!({"Next": {}})), None);
    }

    #[test]
    fn a_repeated_token_fails_the_stream() {
        let api = super::super::AwsApi::new(Default::default()).unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let client = api.client("sns", &sdk, "eu-west-1").unwrap();
        let p = client.model().paginators.get("ListTopics").unwrap();
        let paging = Box::new(Paging {
            client,
            op: "ListTopics",
            paginator: p,
            input: json!({}),
            seen: HashSet::new(),
        });
        let State::Next(paging) = paging.advance(&json!({"NextToken": "t1"})) else {
            panic!("first token must continue");
        };
        assert_eq!(paging.input, json!({"NextToken": "t1"}));
        let State::Next(paging) = paging.advance(&json!({"NextToken": "t2"})) else {
            panic!("a new token must continue");
        };
        match paging.advance(&json!({"NextToken": "t1"})) {
            State::Failed(err @ ApiError::RepeatedToken { .. }) => {
                assert_eq!(
                    err.to_string(),
                    "SNS ListTopics failed in eu-west-1: the service returned the same pagination token twice, stopping"
                );
            }
            _ => panic!("a repeated token must fail"),
        }
    }
}
