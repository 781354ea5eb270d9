//! Outbound HTTP to the hosts the manifest allows (capability `http`).
//!
//! ```no_run
//! use wasap_plugin::http::{self, Request};
//! let response = http::fetch(&Request::get("https://api.example.com/status"))?;
//! if response.status == 200 { /* ... */ }
//! # Ok::<(), wasap_plugin::http::Error>(())
//! ```
//! In native tests requests go to the handler a test installed with
//! [`crate::testing::mock_http`], or fail with [`Error::NotAllowed`].

pub use crate::bindings::wasap::plugin::http::{Error, Method, Request, Response};

/// Sends `request` and waits for the response. Any status is a response; only failing to
/// get one is an [`Error`].
pub fn fetch(request: &Request) -> Result<Response, Error> {
    imp::fetch(request)
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: None,
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::Get, url)
    }

    /// A POST request with a body of `content_type`.
    pub fn post(url: impl Into<String>, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        Request::new(Method::Post, url)
            .header("content-type", content_type)
            .body(body)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// Sets how long to wait for the whole response.
    pub fn timeout_ms(mut self, timeout_ms: u32) -> Request {
        self.timeout_ms = Some(timeout_ms);
        self
    }
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub use crate::bindings::wasap::plugin::http::fetch;
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::http::fetch;
}
