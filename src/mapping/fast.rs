//! The common shapes of mapping expressions, evaluated directly on the raw JSON object without
//! jaq: plain paths (`.Properties.InstanceId`), literals (`"ec2Instance"`, `true`, `null`,
//! `[]`), alternatives (`a // b`), string concatenation (`"arn:" + .x`), pipes, parentheses,
//! `first` and `map(select(.Key == "Name"))`.
//!
//! Every evaluation either gives the value jq gives, or declines (`None`) and the caller runs
//! the expression through jaq: whenever jq would fail or a value is outside the simple cases (an
//! intermediate value that is neither an object nor null, `+` on anything but strings and null,
//! …). So errors, and their messages, are always jaq's. An expression this parser accepts is
//! valid jq; one it does not accept is simply compiled with jaq.

use serde_json::{Map, Value};
use std::borrow::Cow;

/// A parsed expression of the fast subset.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// `.` (no keys) or `.a.b.c`, applied to the current input.
    Path(Vec<String>),
    /// A string, `true`, `false`, `null` or `[]`.
    Lit(Value),
    /// `a | b`.
    Pipe(Box<Node>, Box<Node>),
    /// `a // b`.
    Alt(Box<Node>, Box<Node>),
    /// `a + b + …`.
    Add(Vec<Node>),
    /// `map(select(.path == "literal"))`.
    MapSelectEq(Vec<String>, String),
    /// `first`.
    First,
}

/// The input of an expression: the raw object, and with `itemsToParse` the current item, which
/// jq sees as the raw object's `item` key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Root<'a> {
    pub raw: &'a Value,
    pub item: Option<&'a Value>,
}

static NULL: Value = Value::Null;

/// Parses `source` when it is in the fast subset.
pub(super) fn parse(source: &str) -> Option<Node> {
    let mut p = Parser {
        s: source.as_bytes(),
        i: 0,
    };
    let node = p.pipe()?;
    p.ws();
    (p.i == p.s.len()).then_some(node)
}

/// The value of `node` on `root`, as jq gives it (see [`normalize`]); `None` when jaq must
/// decide.
pub(super) fn eval(node: &Node, root: Root<'_>) -> Option<Value> {
    let input = Input::Root(root);
    eval_in(node, &input).map(|v| normalize(&v))
}

/// The value of `node` on `root` as it is in the raw object, without [`normalize`]; `None`
/// when jaq must decide.
pub(super) fn eval_raw(node: &Node, root: Root<'_>) -> Option<Value> {
    eval_in(node, &Input::Root(root)).map(Cow::into_owned)
}

/// What an expression runs on: the root (where `.item` may be the current item) or a value.
#[derive(Clone, Copy)]
enum Input<'a> {
    Root(Root<'a>),
    Value(&'a Value),
}

fn eval_in<'a>(node: &'a Node, input: &Input<'a>) -> Option<Cow<'a, Value>> {
    match node {
        Node::Path(keys) => path_in(keys, input).map(Cow::Borrowed),
        Node::Lit(v) => Some(Cow::Borrowed(v)),
        Node::Pipe(a, b) => match eval_in(a, input)? {
            Cow::Borrowed(v) => eval_in(b, &Input::Value(v)),
            Cow::Owned(v) => eval_in(b, &Input::Value(&v)).map(|r| Cow::Owned(r.into_owned())),
        },
        Node::Alt(a, b) => {
            let left = eval_in(a, input)?;
            if truthy(&left) {
                Some(left)
            } else {
                eval_in(b, input)
            }
        }
        Node::Add(terms) => {
            let mut acc: Cow<'a, Value> = Cow::Borrowed(&NULL);
            for (n, term) in terms.iter().enumerate() {
                let v = eval_in(term, input)?;
                acc = if n == 0 { v } else { add(acc, v)? };
            }
            Some(acc)
        }
        Node::MapSelectEq(keys, literal) => {
            let Value::Array(items) = value_of(input)? else {
                return None;
            };
            let mut kept = Vec::new();
            for item in items {
                if let Value::String(s) = path(keys, item)? {
                    if s == literal {
                        kept.push(item.clone());
                    }
                }
            }
            Some(Cow::Owned(Value::Array(kept)))
        }
        Node::First => match value_of(input)? {
            Value::Array(items) => Some(Cow::Borrowed(items.first().unwrap_or(&NULL))),
            Value::Null => Some(Cow::Borrowed(&NULL)),
            _ => None,
        },
    }
}

/// The input as one value; `None` for a root with an item (jq's input is then the raw object
/// plus `item`, which is never built here).
fn value_of<'a>(input: &Input<'a>) -> Option<&'a Value> {
    match *input {
        Input::Value(v) => Some(v),
        Input::Root(Root { raw, item: None }) => Some(raw),
        Input::Root(Root { item: Some(_), .. }) => None,
    }
}

fn path_in<'a>(keys: &[String], input: &Input<'a>) -> Option<&'a Value> {
    match *input {
        Input::Root(Root {
            raw,
            item: Some(item),
        }) => {
            // jq's input is the raw object with `item` set: only an object takes the key.
            let (first, rest) = keys.split_first()?;
            if !raw.is_object() {
                return None;
            }
            if first == "item" {
                path(rest, item)
            } else {
                path(keys, raw)
            }
        }
        _ => path(keys, value_of(input)?),
    }
}

/// `.k1.k2…` on `value`: null through null and missing keys; `None` on anything else (jq's
/// error).
fn path<'a>(keys: &[String], mut value: &'a Value) -> Option<&'a Value> {
    for key in keys {
        value = match value {
            Value::Object(map) => map.get(key).unwrap_or(&NULL),
            Value::Null => &NULL,
            _ => return None,
        };
    }
    Some(value)
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// jq's `+` on strings and null; `None` for anything else.
fn add<'a>(a: Cow<'a, Value>, b: Cow<'a, Value>) -> Option<Cow<'a, Value>> {
    match (&*a, &*b) {
        (Value::Null, _) => Some(b),
        (_, Value::Null) => Some(a),
        (Value::String(_), Value::String(y)) => {
            let Value::String(mut x) = a.into_owned() else {
                unreachable!("matched a string")
            };
            x.push_str(y);
            Some(Cow::Owned(Value::String(x)))
        }
        _ => None,
    }
}

/// The JSON jq gives back for `value`: what a round trip through jaq's values makes of it
/// (numbers that fit in 64 bits stay integers, other numbers become floats, and integral
/// floats below 2^53 print as integers), the rest unchanged.
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => {
            if n.is_i64() {
                value.clone()
            } else {
                n.as_f64().map_or(Value::Null, super::jq::float_to_json)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

struct Parser<'s> {
    s: &'s [u8],
    i: usize,
}

/// jq keywords, which are not taken as object keys after `.` here (jaq decides those).
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "if", "then", "elif", "else", "end", "as", "def", "reduce", "foreach",
    "try", "catch", "label", "import", "include", "__loc__",
];

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Consumes `token` (after whitespace) when it is next.
    fn eat(&mut self, token: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(token.as_bytes()) {
            self.i += token.len();
            true
        } else {
            false
        }
    }

    /// Consumes the word `word` when it is next and not part of a longer name or a call.
    fn eat_word(&mut self, word: &str) -> bool {
        self.ws();
        let end = self.i + word.len();
        if !self.s[self.i..].starts_with(word.as_bytes()) {
            return false;
        }
        let next = self.s.get(end).copied();
        if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':') {
            return false;
        }
        self.i = end;
        true
    }

    fn pipe(&mut self) -> Option<Node> {
        let left = self.alt()?;
        self.ws();
        if self.peek() == Some(b'|') && self.s.get(self.i + 1) != Some(&b'=') {
            self.i += 1;
            let right = self.pipe()?;
            return Some(Node::Pipe(Box::new(left), Box::new(right)));
        }
        Some(left)
    }

    fn alt(&mut self) -> Option<Node> {
        let left = self.sum()?;
        self.ws();
        if self.s[self.i..].starts_with(b"//") {
            if self.s.get(self.i + 2) == Some(&b'=') {
                return None;
            }
            self.i += 2;
            let right = self.alt()?;
            return Some(Node::Alt(Box::new(left), Box::new(right)));
        }
        Some(left)
    }

    fn sum(&mut self) -> Option<Node> {
        let mut terms = vec![self.postfix()?];
        loop {
            self.ws();
            if self.peek() == Some(b'+') && self.s.get(self.i + 1) != Some(&b'=') {
                self.i += 1;
                terms.push(self.postfix()?);
            } else {
                break;
            }
        }
        Some(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Node::Add(terms)
        })
    }

    fn postfix(&mut self) -> Option<Node> {
        self.ws();
        if self.peek() == Some(b'(') {
            self.i += 1;
            let inner = self.pipe()?;
            if !self.eat(")") {
                return None;
            }
            // `(…).a.b`
            if self.peek() == Some(b'.') {
                let keys = self.path()?;
                return Some(Node::Pipe(Box::new(inner), Box::new(Node::Path(keys))));
            }
            return Some(inner);
        }
        self.primary()
    }

    fn primary(&mut self) -> Option<Node> {
        self.ws();
        match self.peek()? {
            b'.' => Some(Node::Path(self.path()?)),
            b'"' => self.string().map(|s| Node::Lit(Value::String(s))),
            b'[' => {
                self.i += 1;
                self.eat("]").then_some(Node::Lit(Value::Array(Vec::new())))
            }
            _ if self.eat_word("true") => Some(Node::Lit(Value::Bool(true))),
            _ if self.eat_word("false") => Some(Node::Lit(Value::Bool(false))),
            _ if self.eat_word("null") => Some(Node::Lit(Value::Null)),
            _ if self.eat_word("first") => {
                self.ws();
                (self.peek() != Some(b'(')).then_some(Node::First)
            }
            _ if self.eat_word("map") => {
                if !(self.eat("(") && self.eat_word("select") && self.eat("(")) {
                    return None;
                }
                self.ws();
                let keys = self.path()?;
                if keys.is_empty() || !self.eat("==") {
                    return None;
                }
                if self.peek() == Some(b'=') {
                    return None;
                }
                self.ws();
                let literal = self.string()?;
                (self.eat(")") && self.eat(")")).then_some(Node::MapSelectEq(keys, literal))
            }
            _ => None,
        }
    }

    /// `.` or `.a.b`: the keys (none for `.`). The cursor is on the first `.`.
    fn path(&mut self) -> Option<Vec<String>> {
        let mut keys = Vec::new();
        while self.peek() == Some(b'.') {
            self.i += 1;
            let start = self.i;
            match self.peek() {
                Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
                // `..`, `.[`, `."k"`, `. a`: jaq's.
                Some(c) if !c.is_ascii_whitespace() && c != b')' && c != b'|' && c != b'+' => {
                    return None
                }
                // A lone `.`: the identity, only as the whole path.
                _ if keys.is_empty() => return Some(keys),
                _ => return None,
            }
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.i += 1;
            }
            let key = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            if KEYWORDS.contains(&key) {
                return None;
            }
            keys.push(key.to_owned());
        }
        // `.a[0]`, `.a?`, `.a::b`, `.a$x`: jaq's.
        match self.peek() {
            Some(b'[' | b'?' | b':' | b'$' | b'"') => None,
            _ => Some(keys),
        }
    }

    /// A string literal without escapes or interpolation.
    fn string(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.i + 1;
        let len = self.s[start..].iter().position(|&c| c == b'"')?;
        let body = &self.s[start..start + len];
        if body.contains(&b'\\') {
            return None;
        }
        self.i = start + len + 1;
        std::str::from_utf8(body).ok().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::super::jq::{to_json, to_val, Expr, Input};
    use super::*;
    use serde_json::json;

    const EXPRESSIONS: &[&str] = &[
        ".",
        ".a",
        ".a.b",
        ".a.b.c",
        ".missing.deeper",
        ".s",
        ".s.x",
        ".n",
        ".f",
        ".big",
        ".arr",
        ".arr.x",
        ".tags",
        ".__ExtraContext.Region",
        "\"literal\"",
        "\"with (parens) and 'quotes'\"",
        "true",
        "false",
        "null",
        "[]",
        ".a // \"fallback\"",
        ".missing // .s",
        ".no // false",
        ".f0 // .n",
        "false // \"f\"",
        ".s.x // \"y\"",
        "\"a\" + null",
        "null + null",
        "\"a\" + .s + \"c\"",
        "\"arn:\" + .missing + \":x\"",
        "\"arn:\" + (.p // \"aws\") + \":\" + .s",
        "\"x\" + .n",
        ".n + .n",
        ".s + .a",
        "\"a\" + .s // \"b\"",
        ".a | .b",
        ".a | .b | .c",
        "(.a).b",
        "(.a // .s).b",
        ".tags | first",
        ".tags | first | .Value",
        ".empty | first",
        ".missing | first",
        ".s | first",
        ".a | first",
        ".tags | map(select(.Key == \"Name\"))",
        ".tags | map(select(.Key == \"Name\")) | first | .Value",
        "(.tags // [] | map(select(.Key == \"Name\")) | first | .Value) // .s",
        "(.missing // [] | map(select(.Key == \"Name\")) | first | .Value) // .s",
        "(.mixed // [] | map(select(.Key == \"Name\")) | first | .Value) // .s",
        "(.a // [] | map(select(.Key == \"Name\")) | first | .Value) // .s",
        ".nested | map(select(.k.k == \"x\"))",
        ".item",
        ".item.Value",
        ".item // .s",
    ];

    fn inputs() -> Vec<Value> {
        vec![
            json!({"a": {"b": {"c": 1}}, "s": "str", "n": 12, "f": 1.5, "f0": 0,
                "big": 18446744073709551615_u64, "arr": [1, 2], "empty": [],
                "tags": [{"Key": "env", "Value": "prod"}, {"Key": "Name", "Value": "web"}],
                "mixed": [{"Key": 1}, null, {"Key": "Name", "Value": 2.0}],
                "nested": [{"k": {"k": "x"}}, {"k": null}, {"k": {"k": "y"}}],
                "__ExtraContext": {"Region": "eu-west-1"}, "p": null, "no": null}),
            json!({"a": null, "s": null, "tags": null, "n": 1.0, "f": -0.0}),
            json!({"a": "text", "s": ["x"], "tags": [{"Key": "Name"}], "p": "aws-cn"}),
            json!({"a": [1], "s": {"x": {"y": 1}}, "tags": "oops", "mixed": [1]}),
            json!({"a": {"b": 3}, "s": 7, "tags": [], "nested": [1]}),
            json!({"a": {"b": []}, "s": true, "tags": {"Key": "Name"}, "nested": {}}),
            json!({}),
        ]
    }

    /// jaq's answer: its value as JSON, or its error message.
    fn by_jaq(expr: &str, val: &jaq_json::Val) -> Result<Value, String> {
        let e = Expr::compile_jaq(expr).unwrap_or_else(|err| panic!("{expr}: {err}"));
        e.first(val).map(|v| to_json(&v))
    }

    #[test]
    fn the_fast_subset_is_recognised() {
        for expr in EXPRESSIONS {
            assert!(parse(expr).is_some(), "{expr} should be fast");
        }
        for expr in [
            "..",
            ".[0]",
            ".a[0]",
            ".a?",
            ".\"a\"",
            ". a",
            ".a .b",
            ".a.and",
            "1",
            ".a - 1",
            ".a * 2",
            ".a == 1",
            ".a, .b",
            "\"a\\(.b)\"",
            "\"a\\n\"",
            "first(.a)",
            "firsts",
            "map(.a)",
            "map(select(.a != \"x\"))",
            "map(select(.a == \"x\" and .b))",
            "map(select(.a == 1))",
            "truex",
            "true(1)",
            ".a // = 1",
            ".a |= 1",
            ".a += 1",
            ".a | tostring",
            "$__loc__",
            ".a # comment",
            "(.a",
            "",
        ] {
            assert!(parse(expr).is_none(), "{expr} should not be fast");
        }
    }

    #[test]
    fn fast_expressions_are_valid_jq() {
        for expr in EXPRESSIONS {
            Expr::compile_jaq(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        }
    }

    #[test]
    fn fast_path_and_jaq_agree() {
        let mut fast_answers = 0;
        for input in inputs() {
            let val = to_val(&input);
            for expr in EXPRESSIONS {
                let node = parse(expr).unwrap();
                let jaq = by_jaq(expr, &val);
                let root = Root {
                    raw: &input,
                    item: None,
                };
                if let Some(fast) = eval(&node, root) {
                    fast_answers += 1;
                    assert_eq!(Ok(&fast), jaq.as_ref(), "{expr} on {input}");
                }
                // Through Expr: the same value, or jaq's very error.
                let e = Expr::compile(expr).unwrap();
                assert_eq!(e.first_json(&Input::new(&input)), jaq, "{expr} on {input}");
            }
        }
        // The fast path answers most cases (it declines where jq fails or values are unusual).
        assert!(fast_answers > 200, "{fast_answers}");
    }

    #[test]
    fn fast_path_and_jaq_agree_with_an_item() {
        let items = [
            json!({"Key": "k", "Value": "v"}),
            json!(null),
            json!("text"),
            json!(2.0),
        ];
        for input in inputs() {
            let outer = Input::new(&input);
            for item in &items {
                let with_item = outer.with_item(item, None);
                let val = with_item.val().clone();
                for expr in EXPRESSIONS {
                    let e = Expr::compile(expr).unwrap();
                    let jaq = by_jaq(expr, &val);
                    assert_eq!(
                        e.first_json(&with_item),
                        jaq,
                        "{expr} on {input} item {item}"
                    );
                }
            }
        }
    }

    #[test]
    fn normalize_is_what_a_round_trip_through_jaq_gives() {
        let v = json!({"i": 1, "neg": -5, "f": 1.5, "integral": 2.0, "huge": 1e300,
            "u": 18446744073709551615_u64, "nested": [1.0, {"x": 3.25, "y": "s"}], "b": true,
            "n": null});
        assert_eq!(normalize(&v), to_json(&to_val(&v)));
    }

    #[test]
    fn paths_through_non_objects_are_left_to_jaq() {
        let input = json!({"s": "x"});
        let root = Root {
            raw: &input,
            item: None,
        };
        assert_eq!(eval(&parse(".s.x").unwrap(), root), None);
        let e = Expr::compile(".s.x").unwrap();
        let err = e.first_json(&Input::new(&input)).unwrap_err();
        assert_eq!(
            Err(err),
            by_jaq(".s.x", &to_val(&input)),
            "the error is jaq's"
        );
    }
}
