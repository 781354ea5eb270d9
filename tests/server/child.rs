//! The entry of a server run as a child process of this test binary (see
//! `wasap_tests::child_server`): tests that `kill -9` a server start it here.

/// `--exact` path of [`server`].
pub const ENTRY: &str = "child::server";

/// Serves only in a child started by `ChildServer::start`; in a normal test
/// run there is nothing to check and it returns at once.
#[test]
fn server() {
    wasap_tests::child_server::serve_if_child();
}
