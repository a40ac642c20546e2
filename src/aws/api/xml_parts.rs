//! XML outputs read part by part: a large page (one `DescribeInstances` answer of up to 1,000
//! instances) is kept as its text, and only the part being read is ever parsed.
//!
//! A document tree of a whole page is several times the size of its text, and its values
//! several times more. So the page is never parsed whole: a scan of the text finds the
//! elements' extents (start tag, content, end tag), and each value is parsed from its own
//! extent when it is read, with the lists being read part by part cut out. What is read equals
//! [`read_document`](super::xml::read_document)'s output of the whole text.
//!
//! The scan only finds extents; each extent is parsed (and so checked) by the same XML parser as
//! whole documents, inside a copy of the root's start tag so that its namespaces apply. Like
//! [`read_document`](super::xml::read_document), it refuses document type declarations.

use super::model::{ServiceModel, Shape, ShapeType};
use super::xml::{read_nodes, read_structure_without};
use roxmltree::Document;
use serde_json::{Map, Value};
use std::ops::Range;

/// An XML output kept as its text, to be read part by part: [`XmlOutput::parse`] finds the
/// output element, whose members are then read one at a time ([`XmlValue`]).
pub struct XmlOutput {
    model: &'static ServiceModel,
    shape: &'static Shape,
    wrapper: Option<&'static str>,
    text: String,
}

impl XmlOutput {
    pub fn new(
        model: &'static ServiceModel,
        shape: &'static Shape,
        wrapper: Option<&'static str>,
        text: String,
    ) -> XmlOutput {
        XmlOutput {
            model,
            shape,
            wrapper,
            text,
        }
    }

    /// The output, found (the root, or the `resultWrapper` child) but still unread.
    pub fn parse(&self) -> Result<XmlValue<'_>, String> {
        let text = self.text.as_str();
        let root = root(text)?;
        let output = match (root, self.wrapper) {
            (None, _) => None,
            (Some(root), None) => Some(root),
            (Some(root), Some(name)) => children(text, root)?
                .into_iter()
                .find(|child| child.name(text) == name),
        };
        Ok(XmlValue {
            model: self.model,
            shape: self.shape,
            text,
            root: root.unwrap_or(Element::NONE),
            element: output,
        })
    }
}

/// One value of an output, read from its own extent of the text on demand.
#[derive(Clone, Copy)]
pub struct XmlValue<'t> {
    model: &'static ServiceModel,
    shape: &'static Shape,
    text: &'t str,
    /// The document's root element, whose start tag wraps a part when it is parsed.
    root: Element,
    /// `None` for an empty output: reads as `{}`.
    element: Option<Element>,
}

impl<'t> XmlValue<'t> {
    /// The whole value, as [`read_document`](super::xml::read_document) reads it.
    pub fn read(&self) -> Result<Value, String> {
        self.read_without(None)
    }

    /// The value without member `skip` (a structure's other members), e.g. a page's token
    /// without its list, or a list item's own fields without its nested list. The skipped
    /// member's elements are left out of what is parsed.
    pub fn read_without(&self, skip: Option<&str>) -> Result<Value, String> {
        let Some(element) = self.element else {
            return Ok(Value::Object(Map::new()));
        };
        let cut = match skip.and_then(|name| self.member_element(name)) {
            Some((key, _)) => children(self.text, element)?
                .into_iter()
                .filter(|child| child.name(self.text) == key)
                .collect(),
            None => Vec::new(),
        };
        let part = self.part(element, &cut);
        let doc = Document::parse(&part).map_err(|e| format!("invalid XML: {e}"))?;
        let mut node = doc.root_element();
        if element.start != self.root.start {
            node = super::xml::elements(node)
                .next()
                .ok_or_else(|| "invalid XML: a part of the document is empty".to_owned())?;
        }
        Ok(if self.shape.kind == ShapeType::Structure {
            read_structure_without(self.model, self.shape, node, skip)
        } else {
            read_nodes(self.model, self.shape, false, &[node])
        })
    }

    /// The items of the structure's list member `name`, each still unread (none when the
    /// member is absent or is no list of structures).
    pub fn list(&self, name: &str) -> Result<Vec<XmlValue<'t>>, String> {
        let (Some(element), Some((key, Some((flattened, item_shape))))) =
            (self.element, self.member_element(name))
        else {
            return Ok(Vec::new());
        };
        let mut matching = children(self.text, element)?
            .into_iter()
            .filter(|child| child.name(self.text) == key);
        let items = if flattened {
            matching.collect()
        } else {
            match matching.next() {
                Some(list) => children(self.text, list)?,
                None => Vec::new(),
            }
        };
        Ok(items
            .into_iter()
            .map(|item| XmlValue {
                shape: item_shape,
                element: Some(item),
                ..*self
            })
            .collect())
    }

    /// The element name of structure member `name`, and for a list member whether it is
    /// flattened and its items' shape. `None` when the member is unknown or not an element.
    #[allow(clippy::type_complexity)]
    fn member_element(&self, name: &str) -> Option<(&'static str, Option<(bool, &'static Shape)>)> {
        if self.shape.kind != ShapeType::Structure {
            return None;
        }
        let (name, r) = self.shape.members.get_key_value(name)?;
        let target = self.model.target(r).ok()?;
        if r.location.is_some() || r.xml_attribute {
            return None;
        }
        let wire = r.location_name.as_deref().unwrap_or(name);
        let Some(member) = target
            .member
            .as_ref()
            .filter(|_| target.kind == ShapeType::List)
        else {
            return Some((wire, None));
        };
        let flattened = r.flattened || target.flattened;
        let key = if flattened {
            member.location_name.as_deref().unwrap_or(wire)
        } else {
            wire
        };
        let item_shape = self.model.target(member).ok()?;
        Some((key, Some((flattened, item_shape))))
    }

    /// The text of `element` without the elements `cut`, inside a copy of the root's start tag
    /// (so the root's namespace declarations apply) unless it is the root.
    fn part(&self, element: Element, cut: &[Element]) -> String {
        let text = self.text;
        let wrap = element.start != self.root.start;
        let mut part = String::with_capacity(element.end - element.start + 64);
        if wrap {
            part.push_str(&text[self.root.start..self.root.content]);
        }
        let mut at = element.start;
        for c in cut {
            part.push_str(&text[at..c.start]);
            at = c.end;
        }
        part.push_str(&text[at..element.end]);
        if wrap {
            part.push_str("</");
            part.push_str(self.root.name(text));
            part.push('>');
        }
        part
    }
}

/// Where an element lies in the text: its start tag from `start` (the `<`) to `content`, and
/// its end from `end` back (`content == end` for an empty element `<x/>`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Element {
    start: usize,
    content: usize,
    end: usize,
    name: (usize, usize),
}

impl Element {
    /// No element (a blank document has no root).
    const NONE: Element = Element {
        start: usize::MAX,
        content: usize::MAX,
        end: usize::MAX,
        name: (0, 0),
    };

    fn name<'t>(&self, text: &'t str) -> &'t str {
        &text[self.name.0..self.name.1]
    }
}

/// A piece of markup: a start tag (with its name, and whether it is an empty element), an end
/// tag, or anything else (declaration, processing instruction, comment, CDATA).
enum Markup {
    Start { name: Range<usize>, empty: bool },
    End,
    Other,
}

/// The markup beginning at `at` (a `<`) and the position after it.
fn markup(text: &str, at: usize) -> Result<(Markup, usize), String> {
    let rest = &text[at..];
    let after = |pattern: &str, from: usize| {
        text[from..]
            .find(pattern)
            .map(|i| from + i + pattern.len())
            .ok_or_else(|| format!("invalid XML: markup at byte {at} is not closed"))
    };
    if rest.starts_with("<!--") {
        return Ok((Markup::Other, after("-->", at + 4)?));
    }
    if rest.starts_with("<![CDATA[") {
        return Ok((Markup::Other, after("]]>", at + 9)?));
    }
    if rest.starts_with("<?") {
        return Ok((Markup::Other, after("?>", at + 2)?));
    }
    if rest.starts_with("<!") {
        return Err("invalid XML: document type declarations are not accepted".to_owned());
    }
    if rest.starts_with("</") {
        return Ok((Markup::End, after(">", at + 2)?));
    }
    let bytes = text.as_bytes();
    let mut i = at + 1;
    while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>') {
        i += 1;
    }
    if i == at + 1 {
        return Err(format!("invalid XML: a tag without a name at byte {at}"));
    }
    let name = at + 1..i;
    // Attribute values are quoted and may hold `>`.
    let mut quote = None;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c @ (b'"' | b'\'')) => quote = Some(c),
            (None, b'>') => {
                let empty = bytes[i - 1] == b'/';
                return Ok((Markup::Start { name, empty }, i + 1));
            }
            (None, _) => {}
        }
        i += 1;
    }
    Err(format!("invalid XML: the tag at byte {at} is not closed"))
}

/// The element whose start tag begins at `at`, through its end tag.
fn element(text: &str, at: usize) -> Result<Element, String> {
    let (Markup::Start { name, empty }, content) = markup(text, at)? else {
        return Err(format!("invalid XML: no start tag at byte {at}"));
    };
    let name = (name.start, name.end);
    if empty {
        return Ok(Element {
            start: at,
            content,
            end: content,
            name,
        });
    }
    let mut depth = 1usize;
    let mut pos = content;
    while let Some(i) = text[pos..].find('<') {
        let (markup, next) = markup(text, pos + i)?;
        match markup {
            Markup::Start { empty: false, .. } => depth += 1,
            Markup::End => {
                depth -= 1;
                if depth == 0 {
                    return Ok(Element {
                        start: at,
                        content,
                        end: next,
                        name,
                    });
                }
            }
            _ => {}
        }
        pos = next;
    }
    Err(format!(
        "invalid XML: the element <{}> is not closed",
        &text[name.0..name.1]
    ))
}

/// The document's root element, after any declaration, processing instructions and comments;
/// `None` for a blank text.
fn root(text: &str) -> Result<Option<Element>, String> {
    let mut pos = 0;
    loop {
        let Some(i) = text[pos..].find('<') else {
            return match text.trim().is_empty() {
                true => Ok(None),
                false => Err("invalid XML: the document has no element".to_owned()),
            };
        };
        if !text[pos..pos + i].trim().is_empty() {
            return Err("invalid XML: text before the root element".to_owned());
        }
        match markup(text, pos + i)? {
            (Markup::Start { .. }, _) => return element(text, pos + i).map(Some),
            (Markup::End, _) => return Err("invalid XML: an end tag before the root".to_owned()),
            (Markup::Other, next) => pos = next,
        }
    }
}

/// The child elements of `parent`, in order.
fn children(text: &str, parent: Element) -> Result<Vec<Element>, String> {
    let mut out = Vec::new();
    let mut pos = parent.content;
    while pos < parent.end {
        let Some(i) = text[pos..parent.end].find('<') else {
            break;
        };
        match markup(text, pos + i)? {
            (Markup::Start { .. }, _) => {
                let child = element(text, pos + i)?;
                pos = child.end;
                out.push(child);
            }
            (Markup::End, _) => break,
            (Markup::Other, next) => pos = next,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::model::service;
    use crate::aws::api::xml::tests::{output, query_model};
    use serde_json::json;

    /// The output of `op` read lazily: the members other than `list`, then each item of `list`
    /// (and, when `nested` is given, each item's own fields and items of its list `nested`).
    fn lazy(service_name: &str, op: &str, body: &str, list: &str, nested: Option<&str>) -> Value {
        let model = service(service_name).unwrap();
        let op = model.operation(service_name, op).unwrap();
        let output = op.output.as_ref().unwrap();
        let shape = model.shape(&output.shape).unwrap();
        let wrapper = output.result_wrapper.as_deref();
        let page = XmlOutput::new(model, shape, wrapper, body.to_owned());
        let output = page.parse().unwrap();
        let mut out = output.read_without(Some(list)).unwrap();
        let items: Vec<Value> = output
            .list(list)
            .unwrap()
            .iter()
            .map(|item| match nested {
                None => item.read().unwrap(),
                Some(nested) => {
                    let mut fields = item.read_without(Some(nested)).unwrap();
                    let inner: Vec<Value> = item
                        .list(nested)
                        .unwrap()
                        .iter()
                        .map(|i| i.read().unwrap())
                        .collect();
                    fields[nested] = Value::Array(inner);
                    fields
                }
            })
            .collect();
        if !items.is_empty() {
            out[list] = Value::Array(items);
        }
        out
    }

    #[test]
    fn lazy_reading_part_by_part_equals_the_whole_output() {
        let ec2 = r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <reservationSet>
    <item><reservationId>r-1</reservationId><ownerId>1</ownerId>
      <groupSet><item><groupId>sg-1</groupId></item></groupSet>
      <instancesSet>
        <item><instanceId>i-1</instanceId><instanceState><code>16</code><name>running</name></instanceState>
          <launchTime>2024-03-15T08:30:00Z</launchTime><tagSet><item><key>a</key><value>b</value></item></tagSet></item>
        <item><instanceId>i-2</instanceId><ebsOptimized>true</ebsOptimized><productCodes/></item>
      </instancesSet></item>
    <item><reservationId>r-2</reservationId><ownerId>1</ownerId>
      <instancesSet><item><instanceId>i-3</instanceId><cpuOptions><coreCount>2</coreCount></cpuOptions></item></instancesSet></item>
  </reservationSet>
  <nextToken>tok</nextToken>
</DescribeInstancesResponse>"#;
        let whole = output("ec2", "DescribeInstances", ec2);
        assert_eq!(whole["Reservations"].as_array().unwrap().len(), 2);
        assert_eq!(
            lazy(
                "ec2",
                "DescribeInstances",
                ec2,
                "Reservations",
                Some("Instances")
            ),
            whole
        );
        let head = service("ec2").unwrap();
        let op = head.operation("ec2", "DescribeInstances").unwrap();
        let shape = head.shape(&op.output.as_ref().unwrap().shape).unwrap();
        let page = XmlOutput::new(head, shape, None, ec2.to_owned());
        assert_eq!(
            page.parse()
                .unwrap()
                .read_without(Some("Reservations"))
                .unwrap(),
            json!({"NextToken": "tok"})
        );
        let rds = r#"<DescribeDBInstancesResponse><DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier><AllocatedStorage>20</AllocatedStorage></DBInstance>
      <DBInstance><DBInstanceIdentifier>db2</DBInstanceIdentifier><TagList><Tag><Key>k</Key><Value>v</Value></Tag></TagList></DBInstance>
    </DBInstances>
    <Marker>m2</Marker>
  </DescribeDBInstancesResult></DescribeDBInstancesResponse>"#;
        let whole = output("rds", "DescribeDBInstances", rds);
        assert_eq!(whole["DBInstances"].as_array().unwrap().len(), 2);
        assert_eq!(
            lazy("rds", "DescribeDBInstances", rds, "DBInstances", None),
            whole
        );
        for empty in ["", "<DescribeDBInstancesResponse/>"] {
            assert_eq!(
                lazy("rds", "DescribeDBInstances", empty, "DBInstances", None),
                output("rds", "DescribeDBInstances", empty)
            );
        }
    }

    #[test]
    fn lazy_reading_follows_flattened_lists() {
        let model = query_model(json!({
            "Out": {"type": "structure", "members": {
                "Items": {"shape": "L", "flattened": true},
                "Named": {"shape": "NamedL"}, "Token": {"shape": "S"}}},
            "L": {"type": "list", "member": {"shape": "S"}},
            "NamedL": {"type": "list", "flattened": true, "member": {"shape": "S", "locationName": "Name"}},
            "S": {"type": "string"}
        }));
        let body =
            "<R><Items>a</Items><Items>b</Items><Name>n1</Name><Name>n2</Name><Token>t</Token></R>";
        let page = XmlOutput::new(model, model.shape("Out").unwrap(), None, body.to_owned());
        let output = page.parse().unwrap();
        let read = |name| -> Vec<Value> {
            output
                .list(name)
                .unwrap()
                .iter()
                .map(|i| i.read().unwrap())
                .collect()
        };
        assert_eq!(read("Items"), [json!("a"), json!("b")]);
        assert_eq!(read("Named"), [json!("n1"), json!("n2")]);
        assert!(read("Token").is_empty());
        assert_eq!(
            output.read_without(Some("Items")).unwrap(),
            json!({"Named": ["n1", "n2"], "Token": "t"})
        );
    }

    /// A page of the `Out` shape of [`query_model`], read part by part: its `Items` and the
    /// rest.
    fn parts(body: &str) -> Result<(Vec<Value>, Value), String> {
        let model = query_model(json!({
            "Out": {"type": "structure", "members": {
                "Items": {"shape": "L"}, "Token": {"shape": "S"}}},
            "L": {"type": "list", "member": {"shape": "Item"}},
            "Item": {"type": "structure", "members": {
                "Name": {"shape": "S"}, "Kind": {"shape": "S", "locationName": "kind", "xmlAttribute": true}}},
            "S": {"type": "string"}
        }));
        let page = XmlOutput::new(model, model.shape("Out").unwrap(), None, body.to_owned());
        let output = page.parse()?;
        let items = output
            .list("Items")?
            .iter()
            .map(XmlValue::read)
            .collect::<Result<_, _>>()?;
        Ok((items, output.read_without(Some("Items"))?))
    }

    #[test]
    fn the_scan_passes_over_declarations_comments_cdata_and_quoted_brackets() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a <comment> with <Items> -->
<R xmlns="urn:r" xmlns:p="urn:p">
  <Items>
    <member kind="a>b/"><Name>one</Name></member>
    <member kind='c' /><!-- </member> -->
    <member><Name><![CDATA[two </Name> <three>]]></Name></member>
    <?pi <Items> ?>
    <member p:extra="x"><Name>four &amp; &lt;five&gt;</Name></member>
  </Items>
  <Token>t</Token>
</R>"#;
        let (items, rest) = parts(body).unwrap();
        assert_eq!(
            items,
            [
                json!({"Name": "one", "Kind": "a>b/"}),
                json!({"Kind": "c"}),
                json!({"Name": "two </Name> <three>"}),
                json!({"Name": "four & <five>"}),
            ]
        );
        assert_eq!(rest, json!({"Token": "t"}));
    }

    #[test]
    fn a_broken_page_is_refused_and_a_broken_part_fails_when_read() {
        for (body, says) in [
            (
                r#"<!DOCTYPE R [<!ENTITY a "aaaa">]><R>&a;</R>"#,
                "document type",
            ),
            ("<R><Items><member>", "not closed"),
            (
                "<R><Items><member kind=\"x></member></Items></R>",
                "not closed",
            ),
            ("text<R/>", "before the root"),
            ("<?xml version=\"1.0\"?>", "no element"),
            (
                "<R><Items><member><Name>a</Nom></member></Items></R>",
                "invalid XML",
            ),
            (
                "<R><Items><member><Name>&a;</Name></member></Items></R>",
                "invalid XML",
            ),
        ] {
            let error = parts(body).unwrap_err();
            assert!(error.contains(says), "{body}: {error}");
        }
        assert_eq!(parts("  ").unwrap(), (vec![], json!({})));
    }
}
