//! The host side of the WIT contract (`wit/`): the server's only
//! `bindgen!`s, one per version of the package it speaks. The current one,
//! `wasap:plugin@0.3.0` (`wit/`), is this module's root, and everything above
//! the loader works in its types; the released `wasap:plugin@0.2.0` and
//! `0.1.0` (`wit/0.2.0/`, `wit/0.1.0/`, frozen) are [`v0_2`] and [`v0_1`], for
//! plugins built against them (see [`super::world`] for how a component's
//! version is told and bridged).
//!
//! Every import is async (the key-value store and HTTP wait on I/O) and may
//! trap the plugin; every export is called async so fuel and epoch deadlines
//! can interrupt it.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::wasap::plugin::types;

/// `wasap:plugin@0.2.0`, as released: its own generated types, served by the
/// current version's import implementations ([`super::imports_previous`]) and
/// converted to the current types ([`super::convert`]).
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });

    pub use self::wasap::plugin::types;
}

/// `wasap:plugin@0.1.0`, as released: its own generated types, served by the
/// current version's import implementations ([`super::imports_previous`]) and
/// converted to 0.2's, then the current ones ([`super::convert`]).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });

    pub use self::wasap::plugin::types;
}
