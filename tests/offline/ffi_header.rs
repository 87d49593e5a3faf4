//! The C API's header and build settings: `include/portal_state.h` is what cbindgen generates
//! from `src/ffi` now (a stale header fails here), and no profile aborts on panic (the C API
//! and uniffi turn panics into errors by unwinding).
//!
//! `PORTAL_STATE_WRITE_HEADER=1 cargo test --test ffi_header` (what `scripts/gen-header.sh`
//! runs) rewrites the header instead of comparing.

use std::path::Path;

fn generate() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(repo.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(repo.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header from src/ffi");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

#[test]
fn the_checked_in_header_is_what_cbindgen_generates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/portal_state.h");
    let fresh = generate();
    if std::env::var_os("PORTAL_STATE_WRITE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/portal_state.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/portal_state.h is stale (src/ffi or cbindgen.toml changed): run \
         ./scripts/gen-header.sh and commit the header"
    );
    // Every C API function is declared.
    for function in [
        "portal_state_node_start",
        "portal_state_node_call",
        "portal_state_node_free",
        "portal_state_last_error_message",
        "portal_state_call_answer_free",
    ] {
        assert!(
            fresh.contains(&format!("{function}(")),
            "{function} missing"
        );
    }
}

#[test]
fn no_profile_aborts_on_panic() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("Cargo.toml");
    for line in manifest.lines() {
        let setting: String = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_ne!(
            setting, "panic=\"abort\"",
            "Cargo.toml sets panic = \"abort\": a panic would then abort the app instead of \
             becoming an error at the C and uniffi boundaries"
        );
    }
}
