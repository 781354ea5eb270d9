//! The host side of the WIT contract (`wit/`): the only `bindgen!` in the
//! server. Every import is async (the key-value store and HTTP wait on I/O)
//! and may trap the plugin; every export is called async so fuel and epoch
//! deadlines can interrupt it.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::wasap::plugin::types;
