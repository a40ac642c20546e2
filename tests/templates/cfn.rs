//! Renders a CloudFormation template for given parameter values, as CloudFormation would before
//! creating resources: parameters validated (`AllowedPattern`, `AllowedValues`, bounds) and `Rules`
//! checked, then `Conditions` and the intrinsic functions the project's templates use evaluated
//! (`Ref`, `Fn::Sub`, `Fn::If`, `Fn::Select`, `Fn::Split`, `Fn::Join`, `Fn::Equals`, `Fn::And`,
//! `Fn::Or`, `Fn::Not`, `Condition`, `Fn::GetAtt`), with `AWS::NoValue` removed.
//!
//! Tests then assert on what a deployment would contain (the IAM resources of a role for a given
//! `MappingConfig`, the statements present in Organizations mode) instead of on the template's text.
//! Another resource's `Ref` renders as `<Id>` and its `Fn::GetAtt` as `<Id.Attribute>`; pseudo
//! parameters take the values of the constants below. An intrinsic function this module does not
//! know fails the test, so a template change cannot slip past it unevaluated.

use regex_lite::Regex;
use serde_json::{Map, Value};

pub const PARTITION: &str = "aws";
pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "123456789012";
pub const STACK_NAME: &str = "pas";

/// Why CloudFormation would refuse the parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A parameter's value breaks its constraints.
    Parameter(String),
    /// A rule's assertion fails.
    Rule(String),
}

/// A template with parameter values: what a stack of it would be.
pub struct Stack<'t> {
    template: &'t Value,
    params: Map<String, Value>,
}

impl<'t> Stack<'t> {
    /// The stack for `values` (parameter name, value as given to CloudFormation; the others take
    /// their defaults), or why CloudFormation would refuse it.
    pub fn deploy(template: &'t Value, values: &[(&str, &str)]) -> Result<Stack<'t>, Refused> {
        let declared = template["Parameters"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, _) in values {
            assert!(
                declared.contains_key(*name),
                "the template has no parameter {name}"
            );
        }
        let mut params = Map::new();
        for (name, definition) in &declared {
            let given = values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
            let raw = match (given, definition.get("Default")) {
                (Some(value), _) => value.to_owned(),
                (None, Some(default)) => scalar(default),
                (None, None) => panic!("parameter {name} has no default: give a value"),
            };
            check_parameter(name, definition, &raw)?;
            let value = if definition["Type"] == "CommaDelimitedList" {
                Value::Array(
                    raw.split(',')
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                )
            } else {
                Value::String(raw)
            };
            params.insert(name.clone(), value);
        }
        let stack = Stack { template, params };
        stack.check_rules()?;
        Ok(stack)
    }

    /// Like [`Stack::deploy`], for values CloudFormation must accept.
    pub fn accepted(template: &'t Value, values: &[(&str, &str)]) -> Stack<'t> {
        Stack::deploy(template, values)
            .unwrap_or_else(|refused| panic!("{values:?} refused: {refused:?}"))
    }

    /// The value of a named condition.
    pub fn condition(&self, name: &str) -> bool {
        let definition = &self.template["Conditions"][name];
        assert!(!definition.is_null(), "no condition {name}");
        truth(&self.eval(definition), name)
    }

    /// The resource's evaluated `Properties`, or `None` when its `Condition` is false.
    pub fn resource(&self, id: &str) -> Option<Value> {
        let resource = &self.template["Resources"][id];
        assert!(resource.is_object(), "no resource {id}");
        if let Some(condition) = resource.get("Condition").and_then(Value::as_str) {
            if !self.condition(condition) {
                return None;
            }
        }
        Some(
            self.eval(&resource["Properties"])
                .unwrap_or(Value::Object(Map::new())),
        )
    }

    /// The evaluated properties of every resource of `kind` the stack creates, by logical id.
    pub fn resources_of_type(&self, kind: &str) -> Vec<(String, Value)> {
        let resources = self.template["Resources"].as_object().expect("Resources");
        resources
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .filter_map(|(id, _)| self.resource(id).map(|p| (id.clone(), p)))
            .collect()
    }

    /// Evaluates a template fragment; `None` is `AWS::NoValue`.
    pub fn eval(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|item| self.eval(item)).collect(),
            )),
            Value::Object(map) if map.len() == 1 => {
                let (key, argument) = map.iter().next().expect("one key");
                match key.as_str() {
                    "Ref" => self.reference(argument.as_str().expect("Ref takes a name")),
                    "Condition" => Some(Value::Bool(
                        self.condition(argument.as_str().expect("Condition takes a name")),
                    )),
                    // `AWS::NoValue` from a branch removes the enclosing key or item.
                    "Fn::If" => {
                        let [condition, yes, no] =
                            argument.as_array().map(Vec::as_slice).unwrap_or_default()
                        else {
                            panic!("Fn::If takes three arguments")
                        };
                        let name = condition.as_str().expect("Fn::If condition name");
                        self.eval(if self.condition(name) { yes } else { no })
                    }
                    k if k.starts_with("Fn::") => Some(self.function(k, argument)),
                    _ => Some(self.object(map)),
                }
            }
            Value::Object(map) => Some(self.object(map)),
            other => Some(other.clone()),
        }
    }

    fn object(&self, map: &Map<String, Value>) -> Value {
        Value::Object(
            map.iter()
                .filter_map(|(k, v)| self.eval(v).map(|v| (k.clone(), v)))
                .collect(),
        )
    }

    fn reference(&self, name: &str) -> Option<Value> {
        let pseudo = match name {
            "AWS::NoValue" => return None,
            "AWS::Partition" => Some(PARTITION),
            "AWS::Region" => Some(REGION),
            "AWS::AccountId" => Some(ACCOUNT),
            "AWS::StackName" => Some(STACK_NAME),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Some(Value::String(value.to_owned()));
        }
        if let Some(value) = self.params.get(name) {
            return Some(value.clone());
        }
        assert!(
            self.template["Resources"][name].is_object(),
            "Ref to unknown name {name}"
        );
        Some(Value::String(format!("<{name}>")))
    }

    fn get_att(&self, resource: &str, attribute: &str) -> Value {
        assert!(
            self.template["Resources"][resource].is_object(),
            "Fn::GetAtt of unknown resource {resource}"
        );
        Value::String(format!("<{resource}.{attribute}>"))
    }

    fn function(&self, name: &str, argument: &Value) -> Value {
        let args = || {
            argument
                .as_array()
                .unwrap_or_else(|| panic!("{name} takes a list"))
        };
        let eval = |v: &Value| {
            self.eval(v)
                .unwrap_or_else(|| panic!("{name}: AWS::NoValue as an argument"))
        };
        match name {
            "Fn::Equals" => {
                let [a, b] = args().as_slice() else {
                    panic!("Fn::Equals takes two arguments")
                };
                Value::Bool(scalar(&eval(a)) == scalar(&eval(b)))
            }
            "Fn::Not" => Value::Bool(!truth(&Some(eval(&args()[0])), name)),
            "Fn::And" => Value::Bool(args().iter().all(|a| truth(&Some(eval(a)), name))),
            "Fn::Or" => Value::Bool(args().iter().any(|a| truth(&Some(eval(a)), name))),
            "Fn::EachMemberEquals" => {
                let [list, value] = args().as_slice() else {
                    panic!("Fn::EachMemberEquals takes two arguments")
                };
                let value = scalar(&eval(value));
                Value::Bool(strings(&eval(list)).iter().all(|m| *m == value))
            }
            "Fn::Contains" => {
                let [list, value] = args().as_slice() else {
                    panic!("Fn::Contains takes two arguments")
                };
                let value = scalar(&eval(value));
                Value::Bool(strings(&eval(list)).contains(&value))
            }
            "Fn::GetAtt" => {
                let [resource, attribute] = args().as_slice() else {
                    panic!("Fn::GetAtt takes [resource, attribute]")
                };
                self.get_att(
                    resource.as_str().expect("resource"),
                    attribute.as_str().expect("attribute"),
                )
            }
            "Fn::Select" => {
                let [index, list] = args().as_slice() else {
                    panic!("Fn::Select takes two arguments")
                };
                let index: usize = scalar(&eval(index)).parse().expect("Fn::Select index");
                let list = strings(&eval(list));
                // CloudFormation fails the stack operation here.
                let item = list
                    .get(index)
                    .unwrap_or_else(|| panic!("Fn::Select index {index} out of range of {list:?}"));
                Value::String(item.clone())
            }
            "Fn::Split" => {
                let [delimiter, source] = args().as_slice() else {
                    panic!("Fn::Split takes two arguments")
                };
                let delimiter = scalar(&eval(delimiter));
                let source = scalar(&eval(source));
                Value::Array(
                    source
                        .split(delimiter.as_str())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                )
            }
            "Fn::Join" => {
                let [delimiter, list] = args().as_slice() else {
                    panic!("Fn::Join takes two arguments")
                };
                let delimiter = scalar(&eval(delimiter));
                Value::String(strings(&eval(list)).join(&delimiter))
            }
            "Fn::Sub" => {
                let (text, variables) = match argument {
                    Value::String(text) => (text.clone(), Map::new()),
                    Value::Array(items) if items.len() == 2 => (
                        items[0].as_str().expect("Fn::Sub template").to_owned(),
                        items[1].as_object().expect("Fn::Sub variables").clone(),
                    ),
                    other => panic!("Fn::Sub takes a string or [string, map], got {other}"),
                };
                Value::String(self.substitute(&text, &variables))
            }
            other => {
                panic!("intrinsic function {other} is not supported by tests/templates/cfn.rs")
            }
        }
    }

    fn substitute(&self, text: &str, variables: &Map<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("unclosed ${ in Fn::Sub");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                let value = self.eval(value).expect("Fn::Sub variable is AWS::NoValue");
                out.push_str(&expect_string(&value, name));
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&expect_string(&self.get_att(resource, attribute), name));
            } else {
                let value = self.reference(name).expect("Fn::Sub of AWS::NoValue");
                out.push_str(&expect_string(&value, name));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn check_rules(&self) -> Result<(), Refused> {
        let Some(rules) = self.template.get("Rules").and_then(Value::as_object) else {
            return Ok(());
        };
        for (name, rule) in rules {
            if let Some(condition) = rule.get("RuleCondition") {
                if !truth(&self.eval(condition), name) {
                    continue;
                }
            }
            for assertion in rule["Assertions"].as_array().expect("Assertions") {
                if !truth(&self.eval(&assertion["Assert"]), name) {
                    return Err(Refused::Rule(name.clone()));
                }
            }
        }
        Ok(())
    }
}

/// CloudFormation's checks of one parameter value.
fn check_parameter(name: &str, definition: &Value, raw: &str) -> Result<(), Refused> {
    let refuse = |why: String| Err(Refused::Parameter(format!("{name}: {why}")));
    let members: Vec<&str> = if definition["Type"] == "CommaDelimitedList" {
        raw.split(',').collect()
    } else {
        vec![raw]
    };
    for value in members {
        if let Some(pattern) = definition.get("AllowedPattern").and_then(Value::as_str) {
            // CloudFormation matches the whole value (Java's Pattern.matches).
            let whole = Regex::new(&format!("^(?:{pattern})$"))
                .unwrap_or_else(|e| panic!("{name}: AllowedPattern {pattern:?}: {e}"));
            if !whole.is_match(value) {
                return refuse(format!("{value:?} does not match {pattern}"));
            }
        }
        if let Some(allowed) = definition.get("AllowedValues").and_then(Value::as_array) {
            if !allowed.iter().any(|a| scalar(a) == value) {
                return refuse(format!("{value:?} is not one of {allowed:?}"));
            }
        }
        let length = value.chars().count() as u64;
        if definition["MinLength"]
            .as_u64()
            .is_some_and(|min| length < min)
            || definition["MaxLength"]
                .as_u64()
                .is_some_and(|max| length > max)
        {
            return refuse(format!("{value:?} has a length out of bounds"));
        }
        if definition["Type"] == "Number" {
            let Ok(number) = value.parse::<f64>() else {
                return refuse(format!("{value:?} is not a number"));
            };
            if definition["MinValue"]
                .as_f64()
                .is_some_and(|min| number < min)
                || definition["MaxValue"]
                    .as_f64()
                    .is_some_and(|max| number > max)
            {
                return refuse(format!("{value} is out of bounds"));
            }
        }
    }
    Ok(())
}

fn truth(value: &Option<Value>, context: &str) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        other => panic!("{context}: expected a condition value, got {other:?}"),
    }
}

/// A scalar as CloudFormation compares it: its string form.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(scalar)
        .collect()
}

fn expect_string(value: &Value, name: &str) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("Fn::Sub variable {name} is not a string: {other}"),
    }
}
