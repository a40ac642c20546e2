//! XML outputs read part by part: a large page (one `DescribeInstances` answer of up to 1,000
//! instances) is kept as its text, and only the part being read is ever parsed.
//!
//! A document tree of a whole page is several times the size of its text, and its values
//! several times more. So the page is never parsed whole: a scan of the text finds the
//! elements' extents (start tag, content, end tag), and each value is parsed from its own
//! extent when it is read, with the lists being read part by part cut out. What is read equals
//! [`read_document`](super::xml::read_document)'s output of the whole text.
//!
//! The scan checks what no part's parse sees: that every end tag closes the element it should,
//! that text holds no unknown entity reference, and that nothing but comments and processing
//! instructions surrounds the root. Each part is parsed (and so checked) by the same XML parser
//! as whole documents, inside copies of its ancestors' start tags so that their namespace
//! declarations apply. Like [`read_document`](super::xml::read_document), it refuses document
//! type declarations.

use super::model::{ServiceModel, Shape, ShapeType};
use super::xml::{read_nodes, read_structure_without};
use roxmltree::Document;
use serde_json::{Map, Value};
use std::ops::Range;
use std::sync::OnceLock;

/// An XML output kept as its text, to be read part by part: [`XmlOutput::parse`] finds the
/// output element, whose members are then read one at a time ([`XmlValue`]).
pub struct XmlOutput {
    model: &'static ServiceModel,
    shape: &'static Shape,
    wrapper: Option<&'static str>,
    text: String,
    /// The root's scan (which checks the whole text), done once however often it is parsed.
    root: OnceLock<Result<Option<Element>, String>>,
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
            root: OnceLock::new(),
        }
    }

    /// The output, found (the root, or the `resultWrapper` child) but still unread.
    pub fn parse(&self) -> Result<XmlValue<'_>, String> {
        let text = self.text.as_str();
        let mut value = XmlValue {
            model: self.model,
            shape: self.shape,
            text,
            path: Path::default(),
            element: None,
        };
        let Some(root) = self.root.get_or_init(|| root(text)).clone()? else {
            return Ok(value);
        };
        match self.wrapper {
            None => value.element = Some(root),
            Some(name) => {
                value.path = value.path.with(root)?;
                value.element = children(text, root)?
                    .into_iter()
                    .find(|child| child.local(text) == name);
            }
        }
        Ok(value)
    }
}

/// One value of an output, read from its own extent of the text on demand.
#[derive(Clone, Copy)]
pub struct XmlValue<'t> {
    model: &'static ServiceModel,
    shape: &'static Shape,
    text: &'t str,
    /// The value's ancestors, root first, whose start tags wrap its part when it is parsed.
    path: Path,
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
                .filter(|child| child.local(self.text) == key)
                .collect(),
            None => Vec::new(),
        };
        let part = self.part(element, &cut);
        let doc = Document::parse(&part).map_err(|e| format!("invalid XML: {e}"))?;
        let mut node = doc.root_element();
        for _ in self.path.elements() {
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
            .filter(|child| child.local(self.text) == key);
        let (items, path) = if flattened {
            (matching.collect(), self.path.with(element)?)
        } else {
            match matching.next() {
                Some(list) => (
                    children(self.text, list)?,
                    self.path.with(element)?.with(list)?,
                ),
                None => (Vec::new(), self.path),
            }
        };
        Ok(items
            .into_iter()
            .map(|item| XmlValue {
                shape: item_shape,
                path,
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

    /// The text of `element` without the elements `cut`, inside copies of its ancestors' start
    /// tags (so their namespace declarations apply).
    fn part(&self, element: Element, cut: &[Element]) -> String {
        let text = self.text;
        let mut part = String::with_capacity(element.end - element.start + 256);
        for a in self.path.elements() {
            part.push_str(&text[a.start..a.content]);
        }
        let mut at = element.start;
        for c in cut {
            part.push_str(&text[at..c.start]);
            at = c.end;
        }
        part.push_str(&text[at..element.end]);
        for a in self.path.elements().iter().rev() {
            part.push_str("</");
            part.push_str(a.name(text));
            part.push('>');
        }
        part
    }
}

/// Where an element lies in the text: its start tag from `start` (the `<`) to `content`, and
/// its end from `end` back (`content == end` for an empty element `<x/>`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Element {
    start: usize,
    content: usize,
    end: usize,
    name: (usize, usize),
}

impl Element {
    /// The name as written, with its prefix.
    fn name<'t>(&self, text: &'t str) -> &'t str {
        &text[self.name.0..self.name.1]
    }

    /// The name without its prefix, as the whole-document reading compares names.
    fn local<'t>(&self, text: &'t str) -> &'t str {
        let name = self.name(text);
        name.rsplit_once(':').map_or(name, |(_, local)| local)
    }
}

/// The deepest path of ancestors a value may have (AWS answers nest five elements at most).
const MAX_DEPTH: usize = 12;

/// A value's ancestors, root first.
#[derive(Debug, Clone, Copy, Default)]
struct Path {
    elements: [Element; MAX_DEPTH],
    len: usize,
}

impl Path {
    fn elements(&self) -> &[Element] {
        &self.elements[..self.len]
    }

    /// This path with `element` as the innermost ancestor.
    fn with(mut self, element: Element) -> Result<Path, String> {
        if self.len == MAX_DEPTH {
            return Err(format!(
                "the answer nests more than {MAX_DEPTH} elements deep"
            ));
        }
        self.elements[self.len] = element;
        self.len += 1;
        Ok(self)
    }
}

/// A piece of markup: a start tag (with its name, and whether it is an empty element), an end
/// tag (with its name), or anything else (declaration, processing instruction, comment, CDATA).
enum Markup {
    Start { name: Range<usize>, empty: bool },
    End { name: Range<usize> },
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
    let bytes = text.as_bytes();
    let end_tag = rest.starts_with("</");
    let name_start = if end_tag { at + 2 } else { at + 1 };
    let mut i = name_start;
    while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>') {
        i += 1;
    }
    if i == name_start {
        return Err(format!("invalid XML: a tag without a name at byte {at}"));
    }
    let name = name_start..i;
    if end_tag {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        return match bytes.get(i) {
            Some(b'>') => Ok((Markup::End { name }, i + 1)),
            _ => Err(format!(
                "invalid XML: the end tag at byte {at} is not closed"
            )),
        };
    }
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

/// The element whose start tag begins at `at`, through the end tag that closes it. With
/// `check`, every end tag inside must close the element it ends and the text between tags must
/// hold only known entity references (the root's scan checks the whole document once; the
/// scans of its descendants then only find extents).
fn element(text: &str, at: usize, check: bool) -> Result<Element, String> {
    let (Markup::Start { name, empty }, content) = markup(text, at)? else {
        return Err(format!("invalid XML: no start tag at byte {at}"));
    };
    let range = (name.start, name.end);
    if empty {
        return Ok(Element {
            start: at,
            content,
            end: content,
            name: range,
        });
    }
    let mut open = vec![name];
    let mut pos = content;
    while let Some(i) = text[pos..].find('<') {
        if check {
            check_text(&text[pos..pos + i])?;
        }
        let (markup, next) = markup(text, pos + i)?;
        match markup {
            Markup::Start { name, empty: false } => open.push(name),
            Markup::End { name } => {
                let Some(opened) = open.pop() else {
                    break;
                };
                if check && text[opened.clone()] != text[name.clone()] {
                    return Err(format!(
                        "invalid XML: <{}> is closed by </{}>",
                        &text[opened], &text[name]
                    ));
                }
                if open.is_empty() {
                    return Ok(Element {
                        start: at,
                        content,
                        end: next,
                        name: range,
                    });
                }
            }
            _ => {}
        }
        pos = next;
    }
    Err(format!(
        "invalid XML: the element <{}> is not closed",
        &text[range.0..range.1]
    ))
}

/// Text between tags: every `&` starts a predefined entity or a character reference.
fn check_text(segment: &str) -> Result<(), String> {
    let mut rest = segment;
    while let Some(i) = rest.find('&') {
        rest = &rest[i + 1..];
        let reference = rest.split(';').next().unwrap_or_default();
        let known = matches!(reference, "lt" | "gt" | "amp" | "apos" | "quot")
            || reference
                .strip_prefix("#x")
                .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            || reference
                .strip_prefix('#')
                .is_some_and(|dec| !dec.is_empty() && dec.bytes().all(|b| b.is_ascii_digit()));
        if !known || !rest.contains(';') {
            return Err(format!(
                "invalid XML: an unknown entity reference &{}",
                reference.chars().take(20).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// Whether `s` is only XML white space (space, tab, carriage return, line feed).
fn is_space(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The document's root element, after a byte order mark, the XML declaration, processing
/// instructions and comments; followed by nothing but those. `None` for a blank text.
fn root(text: &str) -> Result<Option<Element>, String> {
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut pos = start;
    let root = loop {
        let Some(i) = text[pos..].find('<') else {
            return match pos == start && is_space(&text[pos..]) {
                true => Ok(None),
                false => Err("invalid XML: the document has no element".to_owned()),
            };
        };
        let at = pos + i;
        if !is_space(&text[pos..at]) {
            return Err("invalid XML: text before the root element".to_owned());
        }
        if text[at..].starts_with("<![CDATA[") {
            return Err("invalid XML: CDATA before the root element".to_owned());
        }
        if at != start && is_declaration(&text[at..]) {
            return Err("invalid XML: the XML declaration is not at the start".to_owned());
        }
        match markup(text, at)? {
            (Markup::Start { .. }, _) => break element(text, at, true)?,
            (Markup::End { .. }, _) => {
                return Err("invalid XML: an end tag before the root element".to_owned())
            }
            (Markup::Other, next) => pos = next,
        }
    };
    let mut pos = root.end;
    while let Some(i) = text[pos..].find('<') {
        let at = pos + i;
        let other = !text[at..].starts_with("<![CDATA[") && !is_declaration(&text[at..]);
        match markup(text, at)? {
            (Markup::Other, next) if other && is_space(&text[pos..at]) => pos = next,
            _ => return Err("invalid XML: content after the root element".to_owned()),
        }
    }
    if !is_space(&text[pos..]) {
        return Err("invalid XML: content after the root element".to_owned());
    }
    Ok(Some(root))
}

/// Whether `markup` begins with the XML declaration (`<?xml` and white space).
fn is_declaration(markup: &str) -> bool {
    markup.starts_with("<?xml")
        && markup[5..]
            .bytes()
            .next()
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
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
                let child = element(text, pos + i, false)?;
                pos = child.end;
                out.push(child);
            }
            (Markup::End { .. }, _) => break,
            (Markup::Other, next) => pos = next,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::model::service;
    use crate::aws::api::xml::read_document;
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

    /// A query model whose output `Out` has a list `Items` of `{Name, Kind (attribute)}` and a
    /// `Token`.
    fn items_model() -> &'static ServiceModel {
        query_model(json!({
            "Out": {"type": "structure", "members": {
                "Items": {"shape": "L"}, "Token": {"shape": "S"}}},
            "L": {"type": "list", "member": {"shape": "Item"}},
            "Item": {"type": "structure", "members": {
                "Name": {"shape": "S"}, "Kind": {"shape": "S", "locationName": "kind", "xmlAttribute": true}}},
            "S": {"type": "string"}
        }))
    }

    /// A page of `Out`, inside the `resultWrapper` `wrapper` when given, read part by part:
    /// its `Items` and the rest.
    fn parts_in(body: &str, wrapper: Option<&'static str>) -> Result<(Vec<Value>, Value), String> {
        let model = items_model();
        let page = XmlOutput::new(model, model.shape("Out").unwrap(), wrapper, body.to_owned());
        let output = page.parse()?;
        let items = output
            .list("Items")?
            .iter()
            .map(XmlValue::read)
            .collect::<Result<_, _>>()?;
        Ok((items, output.read_without(Some("Items"))?))
    }

    fn parts(body: &str) -> Result<(Vec<Value>, Value), String> {
        parts_in(body, None)
    }

    /// The same page read as one document.
    fn whole_in(body: &str, wrapper: Option<&str>) -> Result<Value, String> {
        let model = items_model();
        read_document(model, model.shape("Out").unwrap(), body, wrapper)
    }

    #[test]
    fn prefixes_namespaces_below_the_root_and_a_byte_order_mark_read_as_the_whole_document() {
        for (body, wrapper) in [
            (
                r#"<R xmlns:p="urn:p"><p:Items><member><Name>a</Name></member></p:Items><Token>t</Token></R>"#,
                None,
            ),
            (
                r#"<R xmlns:p="urn:p"><p:Res><Items><member><Name>a</Name></member></Items><p:Token>t</p:Token></p:Res></R>"#,
                Some("Res"),
            ),
            (
                r#"<R><Items xmlns:p="urn:p"><member p:kind="x" kind="y"><Name>a</Name></member></Items></R>"#,
                None,
            ),
            (
                r#"<R><Items xmlns:p="urn:p"><p:member><p:Name>a</p:Name></p:member></Items></R>"#,
                None,
            ),
            (
                r#"<R><Res xmlns:q="urn:q"><Items><member><q:Name>a</q:Name></member></Items></Res></R>"#,
                Some("Res"),
            ),
            (
                "\u{feff}<R><Items><member><Name>a</Name></member></Items><Token>t</Token></R>",
                None,
            ),
            (
                "<?xml version=\"1.0\"?><!-- c --><R><Token>t</Token></R><!-- after --> <?pi x?>\n",
                None,
            ),
        ] {
            let (items, mut rest) =
                parts_in(body, wrapper).unwrap_or_else(|e| panic!("{body}: {e}"));
            if !items.is_empty() {
                rest["Items"] = Value::Array(items);
            }
            assert_eq!(rest, whole_in(body, wrapper).unwrap(), "{body}");
            assert!(
                rest.get("Items").is_some() || rest.get("Token").is_some(),
                "{body}: {rest}"
            );
        }
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
            ("<R><Token>t</Token></R><X>", "after the root"),
            ("<R/><R/>", "after the root"),
            ("<R><Token>t</Token></R></R>", "after the root"),
            ("<R><Token>t</Token></R>junk", "after the root"),
            (
                "<R><Items><member><Name>a</Name></member></Itemz><Token>t</Token></R>",
                "<Items> is closed by </Itemz>",
            ),
            (
                "<R><Items>&bogus; <member><Name>a</Name></member></Items></R>",
                "unknown entity reference &bogus",
            ),
            (
                "<R><Items>a & b<member/></Items></R>",
                "unknown entity reference",
            ),
            ("<![CDATA[x]]><R/>", "CDATA before the root"),
            (
                "<!-- c --><?xml version=\"1.0\"?><R/>",
                "declaration is not at the start",
            ),
            ("\u{a0}<R/>", "before the root"),
        ] {
            let error = parts(body).unwrap_err();
            assert!(error.contains(says), "{body}: {error}");
        }
        assert_eq!(parts("  ").unwrap(), (vec![], json!({})));
    }
}
