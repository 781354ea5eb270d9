//! Inspection and checks, on the example plugins as committed (`tests/components/`, which
//! `.ci/run` rebuilds with this very tool and compares byte for byte), so these tests need no
//! wasm toolchain.

use std::path::PathBuf;

use super::*;
use crate::CommittedSet;

fn example(name: &str) -> (Vec<u8>, Manifest) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root
        .join(CommittedSet::Test.components_dir())
        .join(format!("{name}.wasm"));
    let component = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest_path = root.join("plugins/examples").join(name).join(format!("{name}.toml"));
    let manifest = Manifest::parse(&std::fs::read_to_string(manifest_path).unwrap()).unwrap();
    (component, manifest)
}

const TYPES: &str = "wasap:plugin/types@0.3.0";

#[test]
fn each_example_imports_only_what_it_uses_and_its_manifest_grants() {
    for (name, imports) in [
        ("redactor", vec![TYPES]),
        ("spam-filter", vec!["wasap:plugin/log@0.3.0", TYPES]),
        (
            "auto-reply",
            vec![
                "wasap:plugin/log@0.3.0",
                "wasap:plugin/kv@0.3.0",
                "wasap:plugin/clock@0.3.0",
                TYPES,
            ],
        ),
    ] {
        let (component, manifest) = example(name);
        let shape = inspect(&component).unwrap();
        assert_eq!(shape.imports, imports, "{name}");
        assert_eq!(shape.exports, ["init", "handle-event"], "{name}");
        check(&shape, &manifest).unwrap();
    }
}

#[test]
fn imports_beyond_the_capabilities_are_refused() {
    let (component, mut manifest) = example("auto-reply");
    manifest.capabilities.kv = false;
    manifest.capabilities.clock = false;
    let err = check(&inspect(&component).unwrap(), &manifest).unwrap_err().to_string();
    assert!(
        err.contains("wasap:plugin/kv@0.3.0 but [capabilities] does not grant `kv`"),
        "{err}"
    );
    assert!(err.contains("grant `clock`"), "{err}");
}

#[test]
fn foreign_imports_and_missing_exports_are_refused() {
    let (_, manifest) = example("redactor");
    let shape = Shape {
        imports: vec!["wasi:cli/environment@0.2.0".into()],
        exports: vec!["init".into()],
    };
    let err = check(&shape, &manifest).unwrap_err().to_string();
    assert!(
        err.contains("wasi:cli/environment@0.2.0, which no wasap capability"),
        "{err}"
    );
    assert!(err.contains("does not export `handle-event`"), "{err}");
}

#[test]
fn garbage_and_bare_modules_are_refused() {
    assert!(inspect(b"\0asm\x01\0\0\0garbage").is_err());
    // A core module without the SDK's exports encodes, to a component that is no plugin.
    let (_, manifest) = example("redactor");
    let component = encode(b"\0asm\x01\0\0\0").unwrap();
    let err = check(&inspect(&component).unwrap(), &manifest).unwrap_err().to_string();
    assert!(err.contains("does not export `init`"), "{err}");
}
