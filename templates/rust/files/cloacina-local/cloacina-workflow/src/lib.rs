//! A stand-in for the engine's `cloacina-workflow` crate with the same names for what a
//! workflow author uses: `Context`, `TaskError`, `ContextError`, and the `#[workflow]`,
//! `#[packaged_workflow]` and `#[task]` attributes. Replaced by the real crate when the
//! `patch` line in the project's Cargo.toml is removed.

pub use cloacina_macros::{packaged_workflow, task, workflow};

use std::collections::BTreeMap;
use std::fmt;

/// Data shared between a workflow's tasks.
#[derive(Clone, Debug, Default)]
pub struct Context<V> {
    data: BTreeMap<String, V>,
}

impl<V> Context<V> {
    pub fn new() -> Self {
        Context { data: BTreeMap::new() }
    }

    /// Add a new key; an existing key is an error.
    pub fn insert(&mut self, key: impl Into<String>, value: V) -> Result<(), ContextError> {
        let key = key.into();
        if self.data.contains_key(&key) {
            return Err(ContextError::KeyExists(key));
        }
        self.data.insert(key, value);
        Ok(())
    }

    /// Replace an existing key; a missing key is an error.
    pub fn update(&mut self, key: impl Into<String>, value: V) -> Result<(), ContextError> {
        let key = key.into();
        match self.data.get_mut(&key) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(ContextError::KeyNotFound(key)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.data.get(key)
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.data.remove(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.data.keys()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ContextError {
    KeyExists(String),
    KeyNotFound(String),
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextError::KeyExists(k) => write!(f, "context key '{k}' already exists"),
            ContextError::KeyNotFound(k) => write!(f, "context key '{k}' not found"),
        }
    }
}

impl std::error::Error for ContextError {}

#[derive(Clone, Debug, PartialEq)]
pub enum TaskError {
    ValidationFailed { message: String },
    ExecutionFailed { message: String },
    ContextError(ContextError),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::ValidationFailed { message } => write!(f, "validation failed: {message}"),
            TaskError::ExecutionFailed { message } => write!(f, "execution failed: {message}"),
            TaskError::ContextError(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TaskError {}

impl From<ContextError> for TaskError {
    fn from(e: ContextError) -> Self {
        TaskError::ContextError(e)
    }
}
