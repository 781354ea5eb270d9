//! The components committed to the repository, and the crates they are built from.
//!
//! Two sets are committed so that neither the server nor the plain test command needs a
//! wasm toolchain: the built-in plugins, which the server embeds (`host/builtin/`), and the
//! test components, which the black-box tests install (`tests/components/`: the probe and
//! the example plugins). Builds are reproducible, so `.ci/run` rebuilds both sets from
//! source and fails when a committed file differs from what its source builds.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A set of committed components: where their crates are and where their files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommittedSet {
    /// The built-in outputs (`plugins/builtin/*`), embedded in the server binary.
    Builtin,
    /// The plugins the test suite installs (`tests/plugins/*` and `plugins/examples/*`).
    Test,
}

impl CommittedSet {
    /// The folders, under the repository's root, whose Rust crates make up the set.
    pub fn crate_parents(self) -> &'static [&'static str] {
        match self {
            CommittedSet::Builtin => &["plugins/builtin"],
            CommittedSet::Test => &["tests/plugins", "plugins/examples"],
        }
    }

    /// Where the set's components (`NAME.wasm`) are committed, under the repository's root.
    pub fn components_dir(self) -> &'static str {
        match self {
            CommittedSet::Builtin => "host/builtin",
            CommittedSet::Test => "tests/components",
        }
    }

    /// The set's crate directories under the repository at `root`, sorted.
    pub fn crate_dirs(self, root: &Path) -> Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for parent in self.crate_parents() {
            let dir = root.join(parent);
            let entries = std::fs::read_dir(&dir)
                .with_context(|| format!("reading {} (run from the repository's root)", dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                if path.join("Cargo.toml").is_file() {
                    dirs.push(path);
                }
            }
        }
        dirs.sort();
        Ok(dirs)
    }
}
