//! A YAML document as a tree of nodes that remember their line and column.
//!
//! serde stops at the first error; reading into this tree first lets the schedule
//! and settings loaders report every problem of a file in one pass, each at its
//! position. Only YAML syntax errors (bad indentation, a tab) stop the parse.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options, Spanned};

/// A 1-based line and column in a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

/// One value of the document, with where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub at: Position,
    pub value: Value,
}

/// What a node holds. Mappings keep their order and their duplicate keys, so that
/// the loaders can name a duplicate's position.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key: its text and position.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub at: Position,
    pub name: String,
}

/// A YAML syntax error: the document could not be read at all.
#[derive(Debug)]
pub struct SyntaxError {
    pub at: Position,
    pub message: String,
}

/// Parses `text` into a tree. An empty document is a `Null` node at 1:1.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if text.trim().is_empty() {
        return Ok(empty_document());
    }
    serde_saphyr::from_str_with_options(text, options()).map_err(syntax_error)
}

/// A piece of a document read by [`parse_streaming`], in file order.
#[derive(Debug, PartialEq)]
pub enum Piece {
    /// An entry of the top-level mapping. The streamed key comes after its entries,
    /// at its own position and with an empty mapping when its value was a mapping.
    Top(Key, Node),
    /// An entry of the mapping under the streamed key.
    Entry(Key, Node),
}

/// Parses `text` like [`parse`], but hands the document out piece by piece: the
/// top-level entries, and one by one the entries of the mapping under the top-level
/// key `streamed`. So a schedule of 100,000 jobs never stands in memory as one tree,
/// whose freed nodes would stay in the process long after loading.
///
/// A document that is not a mapping is returned whole, as `Some`.
pub fn parse_streaming(
    text: &str,
    streamed: &str,
    each: &mut dyn FnMut(Piece),
) -> Result<Option<Node>, SyntaxError> {
    if text.trim().is_empty() {
        return Ok(Some(empty_document()));
    }
    let reader = ValueVisitor(Top { streamed, each });
    let value =
        serde_saphyr::with_deserializer_from_str_with_options(text, options(), |document| {
            document.deserialize_any(reader)
        })
        .map_err(syntax_error)?;
    match value {
        Value::Map(_) => Ok(None),
        // Not a mapping, so small: read again for the positions.
        _ => parse(text).map(Some),
    }
}

fn empty_document() -> Node {
    Node {
        at: Position { line: 1, column: 1 },
        value: Value::Null,
    }
}

fn options() -> Options {
    // The default budget stops at 250,000 nodes; a schedule of 100,000 jobs has about
    // ten per job. The alias limits, which guard against YAML bombs, stay as they are.
    let mut budget = Budget::default();
    budget.max_nodes = 20_000_000;
    budget.max_events = 50_000_000;
    budget.max_total_scalar_bytes = 256 << 20;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    // YAML 1.2: only true and false are booleans, so `country: no` stays a string.
    options.strict_booleans = true;
    options
}

fn syntax_error(error: serde_saphyr::Error) -> SyntaxError {
    let at = error
        .location()
        .map(|l| Position {
            line: l.line(),
            column: l.column(),
        })
        .unwrap_or_default();
    SyntaxError {
        at,
        message: syntax_message(&error),
    }
}

/// The parser's message without its own "at line X column Y" suffix: we print the
/// position in front, as `FILE:LINE:COL`.
fn syntax_message(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let first_line = text.lines().next().unwrap_or_default();
    // The parser's advice names its own functions.
    if first_line.starts_with("multiple YAML documents") {
        return "the file holds more than one YAML document (a second `---`); expected one".into();
    }
    match first_line.find(" at line ") {
        Some(cut) => first_line[..cut].to_string(),
        None => first_line.to_string(),
    }
}

impl Value {
    /// The kind of value, as an error message names it ("expected a string, found a list").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Typed reads of a node. Each error is a sentence for the node's position.
impl Node {
    /// A string; numbers and booleans are refused, so `queue: 1` does not sneak through.
    pub fn string(&self) -> Result<String, String> {
        match &self.value {
            Value::Str(s) => Ok(s.clone()),
            other => Err(format!("expected a string, found {}", other.kind())),
        }
    }

    /// Any scalar as text, as an environment variable takes it (`PGPORT: 5432`).
    pub fn scalar_text(&self) -> Result<String, String> {
        match &self.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("expected a string, found {}", other.kind())),
        }
    }

    /// A whole number of at least zero.
    pub fn count(&self) -> Result<u32, String> {
        match &self.value {
            Value::Int(i) => u32::try_from(*i)
                .map_err(|_| format!("expected a whole number from 0 to {}, found {i}", u32::MAX)),
            other => Err(format!("expected a whole number, found {}", other.kind())),
        }
    }

    pub fn boolean(&self) -> Result<bool, String> {
        match &self.value {
            Value::Bool(b) => Ok(*b),
            other => Err(format!("expected true or false, found {}", other.kind())),
        }
    }

    /// A duration such as `90s`, `5m` or `1h30m`.
    pub fn duration(&self) -> Result<std::time::Duration, String> {
        const EXPECTED: &str = "expected a duration such as 90s, 5m, 2h or 30d";
        match &self.value {
            Value::Str(s) => humantime::parse_duration(s.trim())
                .map_err(|e| format!("`{s}` is not a duration ({e}); {EXPECTED}")),
            Value::Int(i) => Err(format!(
                "{EXPECTED}, found the bare number {i}; add a unit, e.g. {i}s"
            )),
            other => Err(format!("{EXPECTED}, found {}", other.kind())),
        }
    }

    /// One of a few words, such as `forbid | allow | replace | queue`.
    pub fn choice<T: Copy>(&self, choices: &[(&str, T)]) -> Result<T, String> {
        let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
        let expected = words.join(", ");
        let Value::Str(word) = &self.value else {
            return Err(format!(
                "expected one of {expected}, found {}",
                self.value.kind()
            ));
        };
        choices
            .iter()
            .find(|(w, _)| w == word)
            .map(|(_, value)| *value)
            .ok_or_else(|| format!("`{word}` is not one of {expected}"))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            at: Position {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor(Whole))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = Node::deserialize(deserializer)?;
        let name = match node.value {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Null => String::new(),
            other => {
                return Err(de::Error::custom(format!(
                    "a mapping key must be a plain word, found {}",
                    other.kind()
                )));
            }
        };
        Ok(Key { at: node.at, name })
    }
}

/// How a [`ValueVisitor`] reads a mapping: kept whole, or handed out entry by entry.
trait ReadMap<'de> {
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error>;
}

/// Keeps every entry in the tree.
struct Whole;

impl<'de> ReadMap<'de> for Whole {
    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Value::Map(entries))
    }
}

/// The top-level mapping of [`parse_streaming`]: each entry handed out, those of
/// `streamed` one by one.
struct Top<'a> {
    streamed: &'a str,
    each: &'a mut dyn FnMut(Piece),
}

impl<'de> ReadMap<'de> for Top<'_> {
    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            let node = if key.name == self.streamed {
                let entries = Entries {
                    each: &mut *self.each,
                };
                let value = map.next_value_seed(ValueVisitor(entries))?;
                Node { at: key.at, value }
            } else {
                map.next_value::<Node>()?
            };
            (self.each)(Piece::Top(key, node));
        }
        Ok(Value::Map(Vec::new()))
    }
}

/// The mapping under the streamed key: each entry handed out, none kept.
struct Entries<'a> {
    each: &'a mut dyn FnMut(Piece),
}

impl<'de> ReadMap<'de> for Entries<'_> {
    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            let node = map.next_value::<Node>()?;
            (self.each)(Piece::Entry(key, node));
        }
        Ok(Value::Map(Vec::new()))
    }
}

struct ValueVisitor<M>(M);

impl<'de, M: ReadMap<'de>> DeserializeSeed<'de> for ValueVisitor<M> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, M: ReadMap<'de>> Visitor<'de> for ValueVisitor<M> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("{v} is too large")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        self.0.read(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u64, column: u64) -> Position {
        Position { line, column }
    }

    #[test]
    fn nodes_and_keys_carry_their_positions() {
        let doc =
            parse("jobs:\n  backup:\n    schedule: \"30 2 * * *\"\n    retries: 2\n").unwrap();
        let Value::Map(top) = &doc.value else {
            panic!("{doc:?}")
        };
        let (jobs_key, jobs) = &top[0];
        assert_eq!((jobs_key.name.as_str(), jobs_key.at), ("jobs", at(1, 1)));
        let Value::Map(jobs) = &jobs.value else {
            panic!()
        };
        let (name, job) = &jobs[0];
        assert_eq!((name.name.as_str(), name.at), ("backup", at(2, 3)));
        let Value::Map(fields) = &job.value else {
            panic!()
        };
        assert_eq!(fields[0].1.value, Value::Str("30 2 * * *".into()));
        assert_eq!(fields[0].1.at, at(3, 15));
        assert_eq!(fields[1].1.value, Value::Int(2));
        assert_eq!(fields[1].1.at, at(4, 14));
    }

    #[test]
    fn duplicate_keys_are_kept_for_the_loader_to_report() {
        let doc = parse("a: 1\na: 2\n").unwrap();
        let Value::Map(entries) = doc.value else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].0.at, at(2, 1));
    }

    #[test]
    fn lists_scalars_and_empty_documents() {
        let doc = parse("- [a, 1, true, 1.5, ~]\n").unwrap();
        let Value::Seq(outer) = doc.value else {
            panic!()
        };
        let Value::Seq(inner) = &outer[0].value else {
            panic!()
        };
        let values: Vec<&Value> = inner.iter().map(|n| &n.value).collect();
        assert_eq!(
            values,
            [
                &Value::Str("a".into()),
                &Value::Int(1),
                &Value::Bool(true),
                &Value::Float(1.5),
                &Value::Null
            ]
        );
        assert_eq!(parse("\n# only a comment\n").unwrap().value, Value::Null);
    }

    #[test]
    fn streaming_hands_out_the_streamed_entries_one_by_one_in_file_order() {
        let mut pieces = Vec::new();
        let text = "a: 1\njobs:\n  x: {k: 2}\n  y: 3\nb: [4]\n";
        let whole = parse_streaming(text, "jobs", &mut |piece| pieces.push(piece)).unwrap();
        assert_eq!(whole, None, "a mapping is never returned whole");
        let names: Vec<String> = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Top(key, node) => format!("top {} {:?}", key.name, node.value),
                Piece::Entry(key, node) => format!("entry {} at {}", key.name, node.at.line),
            })
            .collect();
        assert_eq!(
            names,
            [
                "top a Int(1)",
                "entry x at 3",
                "entry y at 4",
                "top jobs Map([])",
                "top b Seq([Node { at: Position { line: 5, column: 5 }, value: Int(4) }])",
            ]
        );
        let whole = parse_streaming("- 1\n", "jobs", &mut |_| panic!("no pieces")).unwrap();
        assert!(matches!(
            whole,
            Some(Node {
                value: Value::Seq(_),
                ..
            })
        ));
    }

    #[test]
    fn a_syntax_error_has_a_position_and_a_message() {
        let error = parse("jobs:\n  a: [1, 2\n").unwrap_err();
        assert!(error.at.line >= 2, "{error:?}");
        assert!(!error.message.is_empty());
        assert!(!error.message.contains(" at line "), "{}", error.message);
    }
}
