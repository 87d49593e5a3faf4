//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings from the built library
//! (`scripts/gen-bindings.sh`). Built from this repository so its version always matches the
//! `uniffi` the library was compiled with.

fn main() {
    uniffi::uniffi_bindgen_main()
}
