//! JQ expressions, compiled once with jaq (a jq implementation) and run per raw object.
//!
//! Semantics follow Ocean's use of libjq: an expression's first output is its value, no output is
//! `null`, an error is reported with the expression.
//!
//! Expressions of the common shapes (plain paths, literals, `//`, string `+`, …; see
//! [`super::fast`]) are evaluated directly on the raw JSON and compiled with jaq only the first
//! time jaq has to decide (an error, an unusual value), so a mapping of such expressions starts
//! without compiling jq's standard library and maps without converting objects to jaq values.

use super::fast;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;
use serde_json::Value;
use std::cell::OnceCell;
use std::fmt;
use std::sync::OnceLock;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// A compiled JQ expression with its source text.
pub struct Expr {
    source: String,
    /// The expression in the fast subset, when it is.
    fast: Option<fast::Node>,
    /// jaq's compiled filter: compiled at once for other expressions, on first need for fast
    /// ones.
    filter: OnceLock<Filter>,
}

/// The input of expressions: a raw object (and with `itemsToParse` the current item, which jq
/// sees as the key `item` of the raw object), converted to a jaq value only when an expression
/// needs jaq.
pub struct Input<'a> {
    raw: &'a Value,
    item: Option<Item<'a>>,
    val: OnceCell<Val>,
}

struct Item<'a> {
    json: &'a Value,
    /// The item as jaq gave it, when it came from a jaq evaluation.
    val: Option<Val>,
    parent: &'a Input<'a>,
}

impl<'a> Input<'a> {
    /// The input for the raw object `raw`.
    pub fn new(raw: &'a Value) -> Input<'a> {
        Input {
            raw,
            item: None,
            val: OnceCell::new(),
        }
    }

    /// The input of one item of `itemsToParse`: this input with `item` set to `json` (`val`:
    /// the same item as jaq gave it, if it did).
    pub fn with_item(&'a self, json: &'a Value, val: Option<Val>) -> Input<'a> {
        Input {
            raw: self.raw,
            item: Some(Item {
                json,
                val,
                parent: self,
            }),
            val: OnceCell::new(),
        }
    }

    /// The input as a jaq value (converted once).
    pub fn val(&self) -> &Val {
        self.val.get_or_init(|| match &self.item {
            None => to_val(self.raw),
            Some(item) => {
                let value = item.val.clone().unwrap_or_else(|| to_val(item.json));
                with_key(item.parent.val(), "item", value)
            }
        })
    }

    fn root(&self) -> fast::Root<'_> {
        fast::Root {
            raw: self.raw,
            item: self.item.as_ref().map(|i| i.json),
        }
    }
}

/// `val` with `key` set to `item` when it is an object; other values unchanged.
fn with_key(val: &Val, key: &str, item: Val) -> Val {
    match val {
        Val::Obj(map) => {
            let mut map = (**map).clone();
            map.insert(Val::from(key.to_owned()), item);
            Val::obj(map)
        }
        other => other.clone(),
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

/// Why an expression does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
}

impl Expr {
    /// Parses and compiles a jq program (with jq's standard library, unless the program is in
    /// the fast subset: then on first need).
    pub fn compile(source: &str) -> Result<Expr, CompileError> {
        let filter = OnceLock::new();
        let fast = fast::parse(source);
        if fast.is_none() {
            let _ = filter.set(compile_filter(source)?);
        }
        Ok(Expr {
            source: source.to_owned(),
            fast,
            filter,
        })
    }

    /// Compiles with jaq only, never taking the fast path (for comparisons).
    #[cfg(test)]
    pub(super) fn compile_jaq(source: &str) -> Result<Expr, CompileError> {
        let filter = OnceLock::new();
        let _ = filter.set(compile_filter(source)?);
        Ok(Expr {
            source: source.to_owned(),
            fast: None,
            filter,
        })
    }

    /// Whether the expression is evaluated without jaq when the input allows.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }

    fn filter(&self) -> &Filter {
        self.filter.get_or_init(|| {
            compile_filter(&self.source)
                .unwrap_or_else(|e| panic!("`{}` is valid jq: {e}", self.source))
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fast path's value of the expression on `input`, as it is in the raw object (not
    /// normalised as jq prints it); `None` when jaq must decide.
    pub fn first_raw(&self, input: &Input<'_>) -> Option<Value> {
        fast::eval_raw(self.fast.as_ref()?, input.root())
    }

    /// The first output of the expression on `input`, as JSON; `null` when it yields nothing.
    pub fn first_json(&self, input: &Input<'_>) -> Result<Value, String> {
        if let Some(v) = self
            .fast
            .as_ref()
            .and_then(|node| fast::eval(node, input.root()))
        {
            return Ok(v);
        }
        self.first(input.val()).map(|v| to_json(&v))
    }
}

fn compile_filter(source: &str) -> Result<Filter, CompileError> {
    let arena = Arena::default();
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let loader = Loader::new(defs);
    let modules = loader
        .load(
            &arena,
            File {
                code: source,
                path: (),
            },
        )
        .map_err(|errs| CompileError {
            message: describe_load_errors(source, errs),
        })?;
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| CompileError {
            message: errs
                .into_iter()
                .flat_map(|(_, es)| es)
                .map(|(name, undef)| format!("undefined {} `{name}`", undef.as_str()))
                .collect::<Vec<_>>()
                .join("; "),
        })?;
    Ok(filter)
}

impl Expr {
    /// The first output of the expression on `input`; `null` when it yields nothing.
    pub fn first(&self, input: &Val) -> Result<Val, String> {
        let filter = self.filter();
        let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
        match filter.id.run((ctx, input.clone())).map(unwrap_valr).next() {
            None => Ok(Val::Null),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.to_string()),
        }
    }

    /// Every output of the expression on `input`.
    pub fn all(&self, input: &Val) -> Result<Vec<Val>, String> {
        let filter = self.filter();
        let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
        filter
            .id
            .run((ctx, input.clone()))
            .map(unwrap_valr)
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    /// The expression is a string literal (`"awsAccount"`): its value.
    pub fn literal_string(&self) -> Option<String> {
        let s = self.source.trim();
        if s.len() >= 2
            && s.starts_with('"')
            && s.ends_with('"')
            && !s[1..s.len() - 1].contains(['"', '\\', '('])
        {
            Some(s[1..s.len() - 1].to_owned())
        } else {
            None
        }
    }
}

fn describe_load_errors(source: &str, errs: jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error;
    let offset = |s: &str| {
        let start = source.as_ptr() as usize;
        (s.as_ptr() as usize)
            .saturating_sub(start)
            .min(source.len())
    };
    let mut out = Vec::new();
    for (_, err) in errs {
        match err {
            Error::Io(es) => out.extend(
                es.into_iter()
                    .map(|(p, e)| format!("cannot load `{p}`: {e}")),
            ),
            Error::Lex(es) => out.extend(es.into_iter().map(|(expect, at)| {
                format!(
                    "expected {} at character {}",
                    expect.as_str(),
                    offset(at) + 1
                )
            })),
            Error::Parse(es) => out.extend(es.into_iter().map(|(expect, at)| {
                let at_text = if at.is_empty() {
                    "end of expression".to_owned()
                } else {
                    format!("`{}`", at.chars().take(20).collect::<String>())
                };
                format!(
                    "expected {} at character {} ({at_text})",
                    expect.as_str(),
                    offset(at) + 1
                )
            })),
        }
    }
    if out.is_empty() {
        "the expression does not parse".into()
    } else {
        out.join("; ")
    }
}

/// Converts a JSON value into a jq value.
pub fn to_val(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64().and_then(|i| isize::try_from(i).ok()) {
                Val::from(i)
            } else if let Some(f) = n.as_f64() {
                Val::from(f)
            } else {
                Val::Null
            }
        }
        Value::String(s) => Val::from(s.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => Val::obj(
            map.iter()
                .map(|(k, v)| (Val::from(k.clone()), to_val(v)))
                .collect(),
        ),
    }
}

/// Converts a jq value back into JSON (non-string object keys become their JSON text, NaN null).
pub fn to_json(val: &Val) -> Value {
    match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num_to_json(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

fn num_to_json(n: &jaq_json::Num) -> Value {
    use jaq_json::Num;
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => float_to_json(*f),
        Num::BigInt(b) => serde_json::from_str(&b.to_string()).unwrap_or(Value::Null),
        Num::Dec(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
    }
}

pub(super) fn float_to_json(f: f64) -> Value {
    // jq prints integral floats as integers (1.0 -> 1); keep that so `tostring` and Port agree.
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str, input: Value) -> Value {
        let e = Expr::compile(expr).unwrap_or_else(|err| panic!("{expr}: {err}"));
        to_json(
            &e.first(&to_val(&input))
                .unwrap_or_else(|err| panic!("{expr}: {err}")),
        )
    }

    #[test]
    fn jq_edge_cases_follow_jq_semantics() {
        let input = json!({"a": null, "s": "x", "tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "prod"}], "n": 12, "empty": []});
        assert_eq!(eval(".missing.deeper", input.clone()), Value::Null);
        assert_eq!(eval(".a // \"fallback\"", input.clone()), json!("fallback"));
        assert_eq!(eval("false // \"f\"", input.clone()), json!("f"));
        assert_eq!(eval("\"a\" + null", input.clone()), json!("a"));
        assert_eq!(
            eval("\"arn:\" + .missing + \":x\"", input.clone()),
            json!("arn::x")
        );
        assert_eq!(eval(".empty | first", input.clone()), Value::Null);
        assert_eq!(eval(".n | tostring", input.clone()), json!("12"));
        assert_eq!(eval(".s | tostring", input.clone()), json!("x"));
        assert_eq!(
            eval("\"a,b,c\" | split(\",\")", input.clone()),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            eval(
                ".tags | map(select(.Key == \"env\")) | first | .Value",
                input.clone()
            ),
            json!("prod")
        );
        assert_eq!(
            eval(".tags | map({(.Key): .Value}) | add", input.clone()),
            json!({"Name": "web", "env": "prod"})
        );
        assert_eq!(eval("empty", input.clone()), Value::Null);
        assert_eq!(eval("1, 2", input.clone()), json!(1));
        assert_eq!(eval("1.0 + 1", input.clone()), json!(2));
        assert_eq!(eval(".n / 8", input), json!(1.5));
    }

    #[test]
    fn runtime_errors_are_reported_not_panicked() {
        let e = Expr::compile(".s | .[0]").unwrap();
        let err = e.first(&to_val(&json!({"s": "x"}))).unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn compile_errors_say_where() {
        let err = Expr::compile(".Properties.Id +").unwrap_err();
        assert!(err.message.contains("expected"), "{}", err.message);
        let err = Expr::compile("nosuchfunction(1)").unwrap_err();
        assert!(err.message.contains("nosuchfunction"), "{}", err.message);
    }

    #[test]
    fn recognises_string_literals() {
        assert_eq!(
            Expr::compile("\"awsAccount\"")
                .unwrap()
                .literal_string()
                .as_deref(),
            Some("awsAccount")
        );
        assert_eq!(Expr::compile(".kind").unwrap().literal_string(), None);
        assert_eq!(Expr::compile("\"a\\(.x)\"").unwrap().literal_string(), None);
    }

    #[test]
    fn json_round_trips_through_jq_values() {
        let v = json!({"a": [1, 2.5, "x", null, true, {"b": {}}], "big": 12345678901234_i64});
        assert_eq!(to_json(&to_val(&v)), v);
    }
}
