//! The imports of the released versions, `wasap:plugin@0.1.0` and `0.2.0`
//! (`log`, `kv`, `clock`, `http`), served by the current version's
//! implementations in [`super::state`]: the interfaces did not change between
//! the versions, only their names and generated types did, so each old call
//! converts its arguments, calls the current implementation and converts the
//! answer back. The grants, quotas and allow-lists are therefore exactly the
//! same for plugins of every version.

use super::bindings::wasap::plugin::{clock, http, kv, log};
use super::state::PluginState;

/// The four imports of one released version, `old` being its bindings' `wasap::plugin`.
macro_rules! previous_imports {
    ($version:ident) => {
        use super::super::bindings::$version::wasap::plugin as old;

        impl old::types::Host for PluginState {}

        impl old::log::Host for PluginState {
            async fn log(&mut self, level: old::log::Level, message: String) -> wasmtime::Result<()> {
                let level = match level {
                    old::log::Level::Trace => log::Level::Trace,
                    old::log::Level::Debug => log::Level::Debug,
                    old::log::Level::Info => log::Level::Info,
                    old::log::Level::Warn => log::Level::Warn,
                    old::log::Level::Error => log::Level::Error,
                };
                log::Host::log(self, level, message).await
            }
        }

        impl old::clock::Host for PluginState {
            async fn now(&mut self) -> wasmtime::Result<i64> {
                clock::Host::now(self).await
            }
        }

        impl old::kv::Host for PluginState {
            async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, old::kv::Error>> {
                Ok(kv::Host::get(self, key).await?.map_err(kv_error))
            }

            async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), old::kv::Error>> {
                Ok(kv::Host::set(self, key, value).await?.map_err(kv_error))
            }

            async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), old::kv::Error>> {
                Ok(kv::Host::delete(self, key).await?.map_err(kv_error))
            }

            async fn list_keys(
                &mut self,
                prefix: String,
                limit: u32,
            ) -> wasmtime::Result<Result<Vec<String>, old::kv::Error>> {
                Ok(kv::Host::list_keys(self, prefix, limit).await?.map_err(kv_error))
            }
        }

        impl old::http::Host for PluginState {
            async fn fetch(
                &mut self,
                request: old::http::Request,
            ) -> wasmtime::Result<Result<old::http::Response, old::http::Error>> {
                let request = http::Request {
                    method: match request.method {
                        old::http::Method::Get => http::Method::Get,
                        old::http::Method::Head => http::Method::Head,
                        old::http::Method::Post => http::Method::Post,
                        old::http::Method::Put => http::Method::Put,
                        old::http::Method::Patch => http::Method::Patch,
                        old::http::Method::Delete => http::Method::Delete,
                        old::http::Method::Options => http::Method::Options,
                    },
                    url: request.url,
                    headers: request.headers,
                    body: request.body,
                    timeout_ms: request.timeout_ms,
                };
                let answer = http::Host::fetch(self, request).await?;
                Ok(answer
                    .map(|response| old::http::Response {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                    })
                    .map_err(|error| match error {
                        http::Error::InvalidUrl(why) => old::http::Error::InvalidUrl(why),
                        http::Error::NotAllowed(why) => old::http::Error::NotAllowed(why),
                        http::Error::Timeout => old::http::Error::Timeout,
                        http::Error::TooLarge => old::http::Error::TooLarge,
                        http::Error::Transport(why) => old::http::Error::Transport(why),
                    }))
            }
        }

        fn kv_error(error: kv::Error) -> old::kv::Error {
            match error {
                kv::Error::InvalidKey => old::kv::Error::InvalidKey,
                kv::Error::ValueTooLarge => old::kv::Error::ValueTooLarge,
                kv::Error::QuotaExceeded => old::kv::Error::QuotaExceeded,
                kv::Error::Unavailable(why) => old::kv::Error::Unavailable(why),
            }
        }
    };
}

mod v0_1 {
    use super::*;
    previous_imports!(v0_1);
}

mod v0_2 {
    use super::*;
    previous_imports!(v0_2);
}
