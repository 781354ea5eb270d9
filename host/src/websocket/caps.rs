//! Who may open one more WebSocket connection: the hub's caps.
//!
//! - At most `max_connections` connections in all, both routes together.
//! - Connections opened with an instance's token (tenants) may fill only
//!   `max_connections` less the admin's reserve: the admin's `/ws` and
//!   listeners still connect when tenants have taken every place they may.
//!   The reserve is `admin_reserved`, at most half of `max_connections`.
//! - Tenants may hold at most `max_per_instance` connections on one
//!   instance's channel; the admin token's connections do not count there.

use std::collections::HashMap;

use super::Channel;
use super::hub::{HubSettings, RegisterError};

/// Which token opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// The admin token: may use the reserved places, and no per-instance cap applies.
    Admin,
    /// An instance's own token.
    Tenant,
}

/// The open connections, counted for the caps.
#[derive(Debug, Default)]
pub struct Caps {
    open: usize,
    tenants: usize,
    tenants_per_instance: HashMap<String, usize>,
}

impl Caps {
    /// Open connections, both routes together.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Counts a connection on `channel` opened by `opener`, unless a cap refuses it.
    pub fn admit(&mut self, settings: &HubSettings, channel: &Channel, opener: Opener) -> Result<(), RegisterError> {
        if self.open >= settings.max_connections {
            return Err(RegisterError::Full(settings.max_connections));
        }
        if opener == Opener::Tenant {
            if let Channel::Instance(id) = channel {
                let of_instance = self.tenants_per_instance.get(id).copied().unwrap_or(0);
                if of_instance >= settings.max_per_instance {
                    return Err(RegisterError::InstanceFull(settings.max_per_instance));
                }
            }
            if self.tenants >= settings.max_connections - admin_reserve(settings) {
                return Err(RegisterError::Full(settings.max_connections));
            }
            self.tenants += 1;
            if let Channel::Instance(id) = channel {
                *self.tenants_per_instance.entry(id.clone()).or_default() += 1;
            }
        }
        self.open += 1;
        Ok(())
    }

    /// Uncounts a connection that [`Caps::admit`] let in.
    pub fn release(&mut self, channel: &Channel, opener: Opener) {
        self.open -= 1;
        if opener == Opener::Tenant {
            self.tenants -= 1;
            if let Channel::Instance(id) = channel
                && let Some(of_instance) = self.tenants_per_instance.get_mut(id)
            {
                *of_instance -= 1;
                if *of_instance == 0 {
                    self.tenants_per_instance.remove(id);
                }
            }
        }
    }
}

/// The places only the admin may use: `admin_reserved`, at most half the cap.
fn admin_reserve(settings: &HubSettings) -> usize {
    settings.admin_reserved.min(settings.max_connections / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_connections: usize, max_per_instance: usize, admin_reserved: usize) -> HubSettings {
        HubSettings {
            max_connections,
            max_per_instance,
            admin_reserved,
            ..HubSettings::default()
        }
    }

    fn shop() -> Channel {
        Channel::Instance("shop".into())
    }

    #[test]
    fn a_tenant_stops_at_its_instance_cap_and_the_admin_does_not() {
        let settings = settings(100, 2, 10);
        let mut caps = Caps::default();
        caps.admit(&settings, &shop(), Opener::Tenant).unwrap();
        caps.admit(&settings, &shop(), Opener::Tenant).unwrap();
        assert!(matches!(
            caps.admit(&settings, &shop(), Opener::Tenant),
            Err(RegisterError::InstanceFull(2))
        ));
        caps.admit(&settings, &shop(), Opener::Admin).unwrap();
        caps.admit(&settings, &Channel::Instance("other".into()), Opener::Tenant)
            .unwrap();
        caps.release(&shop(), Opener::Tenant);
        caps.admit(&settings, &shop(), Opener::Tenant).unwrap();
        assert_eq!(caps.open(), 4);
    }

    #[test]
    fn tenants_never_take_the_admins_reserve() {
        let settings = settings(6, 100, 2);
        let mut caps = Caps::default();
        for i in 0..4 {
            caps.admit(&settings, &Channel::Instance(format!("i{i}")), Opener::Tenant)
                .unwrap();
        }
        assert!(matches!(
            caps.admit(&settings, &Channel::Instance("i9".into()), Opener::Tenant),
            Err(RegisterError::Full(6))
        ));
        caps.admit(&settings, &Channel::Global, Opener::Admin).unwrap();
        caps.admit(&settings, &Channel::Global, Opener::Admin).unwrap();
        assert!(matches!(
            caps.admit(&settings, &Channel::Global, Opener::Admin),
            Err(RegisterError::Full(6))
        ));
    }

    #[test]
    fn the_reserve_is_at_most_half_the_cap() {
        let settings = settings(2, 100, 100);
        let mut caps = Caps::default();
        caps.admit(&settings, &shop(), Opener::Tenant).unwrap();
        assert!(matches!(
            caps.admit(&settings, &shop(), Opener::Tenant),
            Err(RegisterError::Full(2))
        ));
        caps.admit(&settings, &Channel::Global, Opener::Admin).unwrap();
    }
}
