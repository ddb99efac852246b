//! A submitted form as name → value pairs, in the order sent (`application/x-www-form-urlencoded`).

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    #[cfg(test)]
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }

    /// The first value sent under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value sent under `name`, or "".
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The trimmed value, or `None` when blank.
    pub fn filled(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name.to_string(), value)),
        }
    }
}
