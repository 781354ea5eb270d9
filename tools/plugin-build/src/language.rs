//! Which language a plugin directory is written in, told by the files in it.

use std::path::Path;

use anyhow::{Result, bail};

/// A plugin's source language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A crate (`Cargo.toml`) using wasap-plugin-sdk.
    Rust,
    /// An npm package (`package.json`) built with componentize-js.
    JavaScript,
    /// A Python module `app.py` built with componentize-py.
    Python,
}

impl Language {
    /// A short lowercase name, for directories and messages.
    pub fn tag(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::JavaScript => "javascript",
            Language::Python => "python",
        }
    }

    /// The language of the plugin in `dir`.
    pub fn detect(dir: &Path) -> Result<Language> {
        let has = |file: &str| dir.join(file).is_file();
        match (has("Cargo.toml"), has("package.json"), has("app.py")) {
            (true, false, false) => Ok(Language::Rust),
            (false, true, false) => Ok(Language::JavaScript),
            (false, false, true) => Ok(Language::Python),
            (false, false, false) => bail!(
                "{} holds no plugin source: expected Cargo.toml (Rust), package.json \
                 (JavaScript) or app.py (Python)",
                dir.display()
            ),
            _ => bail!(
                "{} holds more than one of Cargo.toml, package.json and app.py: one \
                 plugin, one language, one directory",
                dir.display()
            ),
        }
    }
}
