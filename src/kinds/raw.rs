//! Conversion of AWS SDK values into the aws-v3 raw object's JSON.
//!
//! `Properties` carries every field the API returned, with the API's own key casing (top-level keys
//! PascalCase), timestamps as ISO-8601 with milliseconds (`2024-03-15T08:30:00.000Z`), and no key for
//! a field the API left out. [`ToRaw`] gives the JSON of one SDK value; `None` means "absent".
//! Structures are converted with [`raw_struct!`], enums with [`raw_enum!`].

use aws_smithy_types::DateTime;
use serde_json::{Map, Value};

/// JSON of an SDK value; `None` when the value is absent and its key must be left out.
pub trait ToRaw {
    fn to_raw(&self) -> Option<Value>;
}

impl<T: ToRaw> ToRaw for Option<T> {
    fn to_raw(&self) -> Option<Value> {
        self.as_ref().and_then(ToRaw::to_raw)
    }
}

impl<T: ToRaw> ToRaw for Vec<T> {
    fn to_raw(&self) -> Option<Value> {
        Some(Value::Array(
            self.iter().filter_map(ToRaw::to_raw).collect(),
        ))
    }
}

impl<T: ToRaw> ToRaw for Box<T> {
    fn to_raw(&self) -> Option<Value> {
        (**self).to_raw()
    }
}

impl<V: ToRaw> ToRaw for std::collections::HashMap<String, V> {
    fn to_raw(&self) -> Option<Value> {
        let mut keys: Vec<&String> = self.keys().collect();
        keys.sort();
        let map = keys
            .into_iter()
            .filter_map(|k| self[k].to_raw().map(|v| (k.clone(), v)))
            .collect();
        Some(Value::Object(map))
    }
}

impl ToRaw for String {
    fn to_raw(&self) -> Option<Value> {
        Some(Value::String(self.clone()))
    }
}

impl ToRaw for bool {
    fn to_raw(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}

macro_rules! raw_number {
    ($($t:ty),*) => {$(
        impl ToRaw for $t {
            fn to_raw(&self) -> Option<Value> {
                Some(Value::from(*self))
            }
        }
    )*};
}
raw_number!(i32, i64, u32, u64);

impl ToRaw for f64 {
    fn to_raw(&self) -> Option<Value> {
        serde_json::Number::from_f64(*self).map(Value::Number)
    }
}

impl ToRaw for f32 {
    fn to_raw(&self) -> Option<Value> {
        f64::from(*self).to_raw()
    }
}

impl ToRaw for DateTime {
    fn to_raw(&self) -> Option<Value> {
        Some(Value::String(iso8601_millis(self)))
    }
}

/// Formats a timestamp as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), the shape aws-v3 emits.
pub use crate::aws::api::timestamp::iso8601_millis;

/// Builds a JSON object from `(key, value)` pairs, leaving out absent values.
pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
    Value::Object(map)
}

/// Implements [`ToRaw`] for an SDK structure: `raw_struct!(Type { "ApiName" => field, ... });`.
/// Also records the Rust field names so tests can check that no field of the SDK type is missed.
#[macro_export]
macro_rules! raw_struct {
    ($t:ty { $($key:literal => $field:ident),* $(,)? }) => {
        impl $crate::kinds::raw::ToRaw for $t {
            fn to_raw(&self) -> Option<serde_json::Value> {
                Some($crate::kinds::raw::object([
                    $(($key, $crate::kinds::raw::ToRaw::to_raw(&self.$field)),)*
                ]))
            }
        }
        impl $crate::kinds::raw::RawFields for $t {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    };
}

/// Implements [`ToRaw`] for SDK enums (their wire value, `as_str()`).
#[macro_export]
macro_rules! raw_enum {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::kinds::raw::ToRaw for $t {
            fn to_raw(&self) -> Option<serde_json::Value> {
                Some(serde_json::Value::String(self.as_str().to_owned()))
            }
        }
    )*};
}

/// An API member name in PascalCase, as aws-v3 writes top-level `Properties` keys
/// (`applicationName` → `ApplicationName`).
pub fn pascal(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A JSON-protocol response object with its top-level keys in PascalCase and nested values as the
/// API returned them (aws-v3's rule for most kinds); anything but an object gives an empty map.
pub fn pascal_keys(value: &Value) -> Map<String, Value> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| (pascal(key), value.clone()))
        .collect()
}

/// The Rust field names a [`raw_struct!`] conversion reads.
pub trait RawFields {
    const FIELDS: &'static [&'static str];
}

/// Top-level field names of a value's `Debug` output (`Type { a: .., b: .. }`): the fields the SDK
/// type has. Used by tests to prove a conversion covers every field.
pub fn debug_field_names(debug: &str) -> Vec<String> {
    let Some(start) = debug.find('{') else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut depth = 0i32;
    let mut token = String::new();
    let mut in_str = false;
    let mut prev = '\0';
    for c in debug[start + 1..].chars() {
        if in_str {
            if c == '"' && prev != '\\' {
                in_str = false;
            }
            prev = c;
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ':' if depth == 0 && !token.trim().is_empty() => {
                names.push(token.trim().to_owned());
                token.clear();
            }
            ',' if depth == 0 => token.clear(),
            _ if depth == 0 => token.push(c),
            _ => {}
        }
        prev = c;
    }
    names
}

/// Asserts (in tests) that a [`raw_struct!`] conversion reads every field the SDK type has.
#[cfg(test)]
pub fn assert_covers_all_fields<T: RawFields + std::fmt::Debug>(value: &T) {
    let debug = format!("{value:?}");
    let missing: Vec<String> = debug_field_names(&debug)
        .into_iter()
        .filter(|f| !T::FIELDS.iter().any(|g| g.trim_start_matches("r#") == f))
        .collect();
    assert!(
        missing.is_empty(),
        "{} misses fields {missing:?}",
        std::any::type_name::<T>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps_with_millis_in_utc() {
        let t = DateTime::from_secs_and_nanos(1_710_491_400, 123_000_000);
        assert_eq!(iso8601_millis(&t), "2024-03-15T08:30:00.123Z");
        assert_eq!(
            iso8601_millis(&DateTime::from_secs(0)),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            iso8601_millis(&DateTime::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn object_leaves_out_absent_values() {
        let v = object([("A", Some(Value::from(1))), ("B", None)]);
        assert_eq!(v, serde_json::json!({"A": 1}));
    }

    #[test]
    fn pascal_keys_recases_the_top_level_only() {
        let v = serde_json::json!({"applicationName": "a", "deploymentStyle": {"deploymentType": "IN_PLACE"}, "": 1});
        assert_eq!(
            Value::Object(pascal_keys(&v)),
            serde_json::json!({"ApplicationName": "a", "DeploymentStyle": {"deploymentType": "IN_PLACE"}, "": 1})
        );
        assert!(pascal_keys(&Value::Null).is_empty());
    }

    #[test]
    fn debug_field_names_reads_top_level_only() {
        let names = debug_field_names(r#"Foo { a: Some(Bar { x: 1 }), b: "c: d, e", c: [1, 2] }"#);
        assert_eq!(names, vec!["a", "b", "c"]);
    }
}
