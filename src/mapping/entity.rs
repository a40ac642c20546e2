//! Port entities and Port's identifier rules.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An entity produced by a mapping, with the blueprint it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub identifier: String,
    pub title: Value,
    pub blueprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Value>,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub relations: Map<String, Value>,
}

impl Entity {
    /// The request body Port expects (no `null` title/icon/team, which its schema rejects).
    pub fn to_port_body(&self) -> Value {
        let mut body = Map::new();
        body.insert("identifier".into(), Value::String(self.identifier.clone()));
        if !self.title.is_null() {
            body.insert("title".into(), self.title.clone());
        }
        if let Some(icon) = self.icon.as_ref().filter(|v| !v.is_null()) {
            body.insert("icon".into(), icon.clone());
        }
        if let Some(team) = self.team.as_ref().filter(|v| !v.is_null()) {
            body.insert("team".into(), team.clone());
        }
        body.insert("properties".into(), Value::Object(self.properties.clone()));
        body.insert("relations".into(), Value::Object(self.relations.clone()));
        Value::Object(body)
    }
}

/// Port's entity identifier rule: `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/=-]+$`, at most 1000 characters.
pub fn is_valid_entity_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= 1000
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || "@_.+:\\/=-".contains(c))
}

/// Port's blueprint identifier rule: like entities but without `=`, at most 100 characters.
pub fn is_valid_blueprint_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= 100
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || "@_.+:\\/-".contains(c))
}

/// Port's property and relation identifier rule: `^[A-Za-z0-9@_=\-]+$`, at most 100 characters.
pub fn is_valid_property_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@_=-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_arns_and_rejects_forbidden_characters() {
        for ok in [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc",
            "arn:aws:s3:::bucket",
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/app:12",
            "123456789012",
            "ünïcode",
            "a=b",
        ] {
            assert!(is_valid_entity_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "has space",
            "a,b",
            "lambda:$LATEST",
            "logs:*",
            "a#b",
            &"x".repeat(1001),
        ] {
            assert!(!is_valid_entity_identifier(bad), "{bad}");
        }
        assert!(is_valid_blueprint_identifier("ec2Instance"));
        assert!(!is_valid_blueprint_identifier("a=b"));
        assert!(!is_valid_blueprint_identifier(&"x".repeat(101)));
    }

    #[test]
    fn port_body_leaves_out_null_title() {
        let e = Entity {
            identifier: "i-1".into(),
            title: Value::Null,
            blueprint: "ec2Instance".into(),
            icon: None,
            team: None,
            properties: Map::new(),
            relations: Map::new(),
        };
        assert_eq!(
            e.to_port_body(),
            serde_json::json!({"identifier": "i-1", "properties": {}, "relations": {}})
        );
    }
}
