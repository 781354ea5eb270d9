//! The server's ceilings on what a plugin's manifest may ask for (`[limits]`), and the
//! other server-side plugin settings.
//!
//! A manifest sets its own fuel, deadline and memory; without a ceiling, one with
//! `fuel = u64::MAX` and a deadline of weeks would be accepted, and a plugin could hold a
//! worker for as long as it likes. A manifest above a ceiling is refused: an upload with a
//! 422, files in the plugins directory with a logged error and the plugin's `load_error`.
//! The built-in plugins' manifests come with the binary and are not checked.

use wasap_plugin_manifest::Limits;

/// The plugin settings of a server (`WASAP_PLUGIN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginSettings {
    /// The most fuel a manifest may give a call.
    pub max_fuel: u64,
    /// The longest deadline a manifest may give a call, in milliseconds.
    pub max_deadline_ms: u32,
    /// The most linear memory a manifest may give a plugin, in MiB.
    pub max_memory_mb: u32,
    /// The bytes of values one plugin may keep in its key-value store.
    pub kv_max_bytes: u64,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            max_fuel: 100_000_000_000,
            max_deadline_ms: 30_000,
            max_memory_mb: 256,
            kv_max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A manifest limit above the server's ceiling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limits.{field} = {value} is above this server's ceiling of {ceiling} (set by {setting})")]
pub struct AboveCeiling {
    pub field: &'static str,
    pub value: u64,
    pub ceiling: u64,
    pub setting: &'static str,
}

impl PluginSettings {
    /// Checks a manifest's limits against the ceilings.
    pub fn check(&self, limits: &Limits) -> Result<(), AboveCeiling> {
        let checks = [
            ("fuel", limits.fuel, self.max_fuel, "WASAP_PLUGIN_MAX_FUEL"),
            (
                "deadline_ms",
                limits.deadline_ms.into(),
                self.max_deadline_ms.into(),
                "WASAP_PLUGIN_MAX_DEADLINE_MS",
            ),
            (
                "memory_mb",
                limits.memory_mb.into(),
                self.max_memory_mb.into(),
                "WASAP_PLUGIN_MAX_MEMORY_MB",
            ),
        ];
        for (field, value, ceiling, setting) in checks {
            if value > ceiling {
                return Err(AboveCeiling {
                    field,
                    value,
                    ceiling,
                    setting,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_above_a_ceiling_are_refused_by_name() {
        let settings = PluginSettings::default();
        assert_eq!(settings.check(&Limits::default()), Ok(()));
        let at_ceiling = Limits {
            fuel: settings.max_fuel,
            deadline_ms: settings.max_deadline_ms,
            memory_mb: settings.max_memory_mb,
        };
        assert_eq!(settings.check(&at_ceiling), Ok(()));
        let greedy = Limits {
            fuel: u64::MAX,
            ..Limits::default()
        };
        assert_eq!(settings.check(&greedy).unwrap_err().field, "fuel");
        let slow = Limits {
            deadline_ms: 49 * 24 * 3600 * 1000,
            ..Limits::default()
        };
        let refused = settings.check(&slow).unwrap_err();
        assert_eq!(
            (refused.field, refused.setting),
            ("deadline_ms", "WASAP_PLUGIN_MAX_DEADLINE_MS")
        );
        let big = Limits {
            memory_mb: 1024,
            ..Limits::default()
        };
        assert_eq!(settings.check(&big).unwrap_err().field, "memory_mb");
    }
}
