//! A small stand-in for `serde_json`: `Value`, `Map`, the `json!` macro (values must be
//! single tokens: literals, nested `{...}`/`[...]`, or a parenthesised expression), indexing
//! and the common accessors. Replaced by the real crate when the `patch` line in the
//! project's Cargo.toml is removed.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Index;

pub type Map = BTreeMap<String, Value>;

#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

static NULL: Value = Value::Null;

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self { Value::String(s) => Some(s), _ => None }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self { Value::Number(n) => Some(*n), _ => None }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) if n.fract() == 0.0 => Some(*n as i64),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|n| u64::try_from(n).ok())
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self { Value::Bool(b) => Some(*b), _ => None }
    }
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self { Value::Array(a) => Some(a), _ => None }
    }
    pub fn as_object(&self) -> Option<&Map> {
        match self { Value::Object(o) => Some(o), _ => None }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(key))
    }
}

impl Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value { fn from(n: $t) -> Value { Value::Number(n as f64) } }
        impl PartialEq<$t> for Value {
            fn eq(&self, other: &$t) -> bool { self.as_f64() == Some(*other as f64) }
        }
    )*};
}
from_number!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

impl From<bool> for Value { fn from(b: bool) -> Value { Value::Bool(b) } }
impl From<&str> for Value { fn from(s: &str) -> Value { Value::String(s.to_string()) } }
impl From<String> for Value { fn from(s: String) -> Value { Value::String(s) } }
impl From<Vec<Value>> for Value { fn from(v: Vec<Value>) -> Value { Value::Array(v) } }
impl From<Map> for Value { fn from(m: Map) -> Value { Value::Object(m) } }
impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool { self.as_str() == Some(*other) }
}
impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool { self.as_bool() == Some(*other) }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(a) => {
                write!(f, "[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 { write!(f, ",")?; }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Object(o) => {
                write!(f, "{{")?;
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 { write!(f, ",")?; }
                    write!(f, "{k:?}:{v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

#[macro_export]
macro_rules! json {
    (null) => { $crate::Value::Null };
    ([ $($element:tt),* $(,)? ]) => {
        $crate::Value::Array(vec![ $( $crate::json!($element) ),* ])
    };
    ({ $($key:literal : $value:tt),* $(,)? }) => {{
        #[allow(unused_mut)]
        let mut map = $crate::Map::new();
        $( map.insert(($key).to_string(), $crate::json!($value)); )*
        $crate::Value::Object(map)
    }};
    ($other:expr) => { $crate::Value::from($other) };
}
