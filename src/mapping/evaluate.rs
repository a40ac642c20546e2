//! Mapping one raw object with a compiled resource: the selector query, `itemsToParse`, every
//! mapping's expressions, and the checks of what Port would refuse. Pure: no I/O.

use super::compile::{CompiledMapping, CompiledResource};
use super::entity::{is_valid_blueprint_identifier, is_valid_entity_identifier, Entity};
use super::jq::{to_json, Expr, Input};
use super::{MapError, Mapped};
use jaq_json::Val;
use serde_json::{Map, Value};

impl CompiledResource {
    pub(super) fn error(&self, raw: &Value, field: &str, expr: &Expr, message: String) -> MapError {
        MapError {
            kind: self.kind,
            resource_index: self.index,
            object: object_identity(raw),
            field: field.to_owned(),
            expression: expr.source().to_owned(),
            message,
        }
    }

    /// Whether `selector.query` selects the input; a query that fails or gives a non-boolean is
    /// reported and selects nothing.
    fn selects(&self, input: &Input<'_>, raw: &Value, out: &mut Mapped) -> bool {
        if self.query_always {
            return true;
        }
        match self.query.first_json(input) {
            Ok(Value::Bool(b)) => b,
            Ok(Value::Null) => false,
            Ok(other) => {
                let msg = format!("selector.query must give true or false, gave {other}");
                out.errors
                    .push(self.error(raw, "selector.query", &self.query, msg));
                false
            }
            Err(e) => {
                out.errors
                    .push(self.error(raw, "selector.query", &self.query, e));
                false
            }
        }
    }

    /// Maps one raw object. With `itemsToParse`, every item is mapped on its own as the raw object
    /// plus `.item`, and the selector query runs per item (as Ocean does), so it can test `.item`.
    pub(super) fn map_into(&self, input: &Input<'_>, raw: &Value, out: &mut Mapped) {
        let Some(items_expr) = &self.items_to_parse else {
            if self.selects(input, raw, out) {
                self.map_input(input, raw, out);
            }
            return;
        };
        let each = for_each_item(items_expr, input, |with_item| {
            if self.selects(with_item, raw, out) {
                self.map_input(with_item, raw, out);
            }
        });
        if let Err(e) = each {
            out.errors
                .push(self.error(raw, "port.itemsToParse", items_expr, e));
        }
    }

    /// The `(blueprint, identifier)` of every entity the resource's mappings would give the
    /// object, whatever the selector says and whatever the other fields give: how the entities
    /// of a resource AWS says is gone are found. With `itemsToParse`, one per item the object
    /// still has. Expressions that fail (a gone resource's object may hold only its identity)
    /// give nothing.
    pub(super) fn identify_into(&self, input: &Input<'_>, out: &mut Vec<(String, String)>) {
        let Some(items_expr) = &self.items_to_parse else {
            self.identify_one(input, out);
            return;
        };
        // An object whose items cannot be read identifies nothing.
        let _ = for_each_item(items_expr, input, |with_item| {
            self.identify_one(with_item, out)
        });
    }

    fn identify_one(&self, input: &Input<'_>, out: &mut Vec<(String, String)>) {
        for m in &self.mappings {
            let (Ok(Value::String(id)), Ok(Value::String(bp))) = (
                m.identifier.first_json(input),
                m.blueprint.first_json(input),
            ) else {
                continue;
            };
            if is_valid_entity_identifier(&id) && is_valid_blueprint_identifier(&bp) {
                out.push((bp, id));
            }
        }
    }

    fn map_input(&self, input: &Input<'_>, raw: &Value, out: &mut Mapped) {
        for m in &self.mappings {
            let Some(fields) = self.evaluate(m, input, raw, &mut out.errors) else {
                continue;
            };
            match self.check(m, raw, fields) {
                Ok(entity) => out.entities.push(entity),
                Err(e) => out.errors.push(e),
            }
        }
    }

    /// Every expression of one mapping; `None` (and the errors recorded) when one failed.
    fn evaluate(
        &self,
        m: &CompiledMapping,
        input: &Input<'_>,
        raw: &Value,
        errors: &mut Vec<MapError>,
    ) -> Option<Fields> {
        let mut failed = false;
        // The field's name is built only for an error.
        let mut eval = |field: Field<'_>, expr: &Expr| -> Value {
            match expr.first_json(input) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(self.error(raw, &field.name(), expr, e));
                    failed = true;
                    Value::Null
                }
            }
        };
        let fields = Fields {
            identifier: eval(Field::Top("identifier"), &m.identifier),
            blueprint: eval(Field::Top("blueprint"), &m.blueprint),
            title: m
                .title
                .as_ref()
                .map(|e| eval(Field::Top("title"), e))
                .unwrap_or(Value::Null),
            team: m.team.as_ref().map(|e| eval(Field::Top("team"), e)),
            icon: m.icon.as_ref().map(|e| eval(Field::Top("icon"), e)),
            properties: m
                .properties
                .iter()
                .map(|(k, e)| (k.clone(), eval(Field::Property(k), e)))
                .collect(),
            relations: m
                .relations
                .iter()
                .map(|(k, e)| (k.clone(), eval(Field::Relation(k), e)))
                .collect(),
        };
        (!failed).then_some(fields)
    }

    /// The entity, when its identifier, blueprint and relation targets are valid for Port.
    fn check(&self, m: &CompiledMapping, raw: &Value, f: Fields) -> Result<Entity, MapError> {
        if let Some((name, message)) = f
            .relations
            .iter()
            .find_map(|(k, v)| relation_problem(v).map(|m| (k, m)))
        {
            let expr = &m
                .relations
                .iter()
                .find(|(n, _)| n == name)
                .expect("mapped")
                .1;
            return Err(self.error(raw, &format!("relations.{name}"), expr, message));
        }
        let identifier = match f.identifier {
            Value::String(s) if is_valid_entity_identifier(&s) => s,
            Value::String(s) => {
                let msg = format!("`{s}` is not a valid Port identifier (letters, digits and @_.+:\\/=- only, at most 1000 characters); not sent");
                return Err(self.error(raw, "identifier", &m.identifier, msg));
            }
            other => {
                let msg = format!("the identifier must be a string, got {other}; not sent");
                return Err(self.error(raw, "identifier", &m.identifier, msg));
            }
        };
        let blueprint = match f.blueprint {
            Value::String(s) if is_valid_blueprint_identifier(&s) => s,
            other => {
                let msg = format!(
                    "the blueprint must be a valid blueprint identifier, got {other}; not sent"
                );
                return Err(self.error(raw, "blueprint", &m.blueprint, msg));
            }
        };
        Ok(Entity {
            identifier,
            title: f.title,
            blueprint,
            icon: f.icon,
            team: f.team,
            properties: f.properties,
            relations: f.relations,
        })
    }
}

/// What `itemsToParse` gave: JSON from the fast path, or jaq's value.
enum Items {
    Json(Value),
    Jaq(Val),
}

/// Runs `each` on the input of every item `itemsToParse` (`expr`) gives: the object plus
/// `.item`. Nothing for `null`; an error when the expression fails or gives no array.
fn for_each_item(
    expr: &Expr,
    input: &Input<'_>,
    mut each: impl FnMut(&Input<'_>),
) -> Result<(), String> {
    let items = match expr.first_raw(input) {
        Some(v) => Items::Json(v),
        None => Items::Jaq(expr.first(input.val())?),
    };
    match items {
        Items::Json(Value::Array(items)) => {
            for item in &items {
                each(&input.with_item(item, None));
            }
        }
        Items::Jaq(Val::Arr(items)) => {
            for item in items.iter() {
                let json = to_json(item);
                each(&input.with_item(&json, Some(item.clone())));
            }
        }
        Items::Json(Value::Null) | Items::Jaq(Val::Null) => {}
        Items::Json(other) => {
            let other = super::fast::normalize(&other);
            return Err(format!("itemsToParse must give an array, gave {other}"));
        }
        Items::Jaq(other) => {
            let other = to_json(&other);
            return Err(format!("itemsToParse must give an array, gave {other}"));
        }
    }
    Ok(())
}

/// The name of a mapped field, as errors give it.
#[derive(Clone, Copy)]
enum Field<'a> {
    Top(&'static str),
    Property(&'a str),
    Relation(&'a str),
}

impl Field<'_> {
    fn name(self) -> String {
        match self {
            Field::Top(name) => name.to_owned(),
            Field::Property(k) => format!("properties.{k}"),
            Field::Relation(k) => format!("relations.{k}"),
        }
    }
}

/// The values of one mapping's expressions, before they are checked.
struct Fields {
    identifier: Value,
    blueprint: Value,
    title: Value,
    team: Option<Value>,
    icon: Option<Value>,
    properties: Map<String, Value>,
    relations: Map<String, Value>,
}

/// Why a relation value cannot be sent: Port takes an identifier, a list of identifiers, `null`
/// or a search query (object).
fn relation_problem(value: &Value) -> Option<String> {
    let bad_id = |s: &str| {
        format!("`{s}` is not a valid Port identifier (letters, digits and @_.+:\\/=- only, at most 1000 characters); not sent")
    };
    match value {
        Value::Null | Value::Object(_) => None,
        Value::String(s) => (!is_valid_entity_identifier(s)).then(|| bad_id(s)),
        Value::Array(items) => items.iter().find_map(|item| match item {
            Value::String(s) => (!is_valid_entity_identifier(s)).then(|| bad_id(s)),
            other => Some(format!(
                "a relation list must hold identifier strings, got {other}; not sent"
            )),
        }),
        other => Some(format!(
            "a relation must be an identifier string, a list of them or null, got {other}; not sent"
        )),
    }
}

/// A readable identity of a raw object for error messages: the first of its kind's identity keys
/// (from the kind registry) that it has, else a common id key.
pub fn object_identity(raw: &Value) -> String {
    let props = raw.get("Properties");
    let type_name = raw.get("Type").and_then(Value::as_str);
    let own = type_name
        .and_then(|t| crate::kinds::Kind::resolve(t).ok())
        .map_or(&[][..], |k| k.identity());
    let common = [
        "Arn",
        "InstanceArn",
        "ClusterArn",
        "InstanceId",
        "BucketName",
        "Id",
        "Name",
    ];
    for key in own.iter().chain(common.iter()) {
        if let Some(v) = props.and_then(|p| p.get(*key)).and_then(Value::as_str) {
            return v.to_owned();
        }
    }
    format!("{} without an id", type_name.unwrap_or("object"))
}
