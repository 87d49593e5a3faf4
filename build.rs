//! Makes the client info of ping extension type 0 at compile time, in the spec's four parts
//! (`specs/portal-network-specs/ping-extensions/extensions/type-0.md`):
//! `portal-state/v<version>-<short commit>/<os>-<arch>/rustc<version>`, e.g.
//! `portal-state/v0.1.0-9e308ef1/linux-x86_64/rustc1.95.0`.
//!
//! The commit comes from git when the sources are a git checkout and git is installed; a
//! tarball or a clone without `.git` builds with `unknown` instead. The rustc version is that of
//! the compiler cargo runs (`$RUSTC`), `unknown` if it cannot be asked. No part may hold a `/`,
//! and the commit and the os none of the `-` that separate the halves of their parts.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = env("CARGO_PKG_VERSION").replace(['/', '-'], ".");
    let commit = short_commit().unwrap_or_else(|| "unknown".into());
    let os = env("CARGO_CFG_TARGET_OS").replace(['/', '-'], "_");
    let arch = env("CARGO_CFG_TARGET_ARCH").replace(['/', '-'], "_");
    let rustc = rustc_version().unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PORTAL_STATE_CLIENT_INFO=portal-state/v{version}-{commit}/{os}-{arch}/rustc{rustc}");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| "unknown".into())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The first 8 hex digits of HEAD, and cargo told to rebuild when HEAD moves.
fn short_commit() -> Option<String> {
    // Only inside our own checkout: not a parent directory's repository.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let here = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).ok()?;
    if std::fs::canonicalize(top).ok()? != here {
        return None;
    }
    let commit = git(&["rev-parse", "--short=8", "HEAD"])?;
    if !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    // HEAD itself changes on a checkout; the branch's ref (loose or packed) on a commit. Only
    // files that exist: a missing one would make cargo rerun this script on every build.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched.into_iter().flatten() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(commit)
}

/// `1.95.0` from `rustc 1.95.0 (59807616e 2026-04-14)`.
fn rustc_version() -> Option<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let clean = version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    (clean && !version.contains('/')).then(|| version.replace('-', "."))
}
