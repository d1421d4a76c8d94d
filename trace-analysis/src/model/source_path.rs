//! Short, readable forms of the source paths that spawn locations carry.
//!
//! A `#[track_caller]` location inside a dependency names its file by the absolute path of
//! cargo's copy of the crate (`/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/
//! axum-0.8.9/src/serve/mod.rs`); what identifies it is the crate, its version and the path
//! inside it. Paths of the user's own workspace are relative already and stay as they are.

/// The part of `path` that identifies a source file to a reader:
///
/// - a crate from a registry: `axum-0.8.9/src/serve/mod.rs` (from `…/registry/src/<index>/`);
/// - a git dependency: `<repository>/<path>` (from `…/git/checkouts/<repository>-<hash>/<rev>/`);
/// - the standard library: `library/std/src/…` (from `/rustc/<commit>/`);
/// - anything else: unchanged.
///
/// ```
/// use trace_analysis::model::short_source_path;
/// assert_eq!(
///     short_source_path("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/serve/mod.rs"),
///     "axum-0.8.9/src/serve/mod.rs",
/// );
/// assert_eq!(short_source_path("examples/quickstart.rs"), "examples/quickstart.rs");
/// ```
pub fn short_source_path(path: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let unix = path.replace('\\', "/");
    let shortened = if let Some(rest) = after(&unix, "/registry/src/") {
        // `<index>/<crate>-<version>/…`: drop the index directory.
        rest.split_once('/').map(|(_, krate)| krate.to_string())
    } else if let Some(rest) = after(&unix, "/git/checkouts/") {
        // `<repository>-<hash>/<rev>/…`: keep the repository's name and the path.
        let mut parts = rest.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(checkout), Some(_rev), Some(file)) => {
                let repo = checkout.rsplit_once('-').map_or(checkout, |(name, _)| name);
                Some(format!("{repo}/{file}"))
            }
            _ => None,
        }
    } else if let Some(rest) = unix.strip_prefix("/rustc/") {
        rest.split_once('/').map(|(_, file)| file.to_string())
    } else {
        None
    };
    match shortened {
        Some(s) if !s.is_empty() => Cow::Owned(s),
        _ => Cow::Borrowed(path),
    }
}

/// What follows the last `marker` in `path`.
fn after<'a>(path: &'a str, marker: &str) -> Option<&'a str> {
    path.rfind(marker).map(|i| &path[i + marker.len()..])
}

#[cfg(test)]
mod tests {
    use super::short_source_path;

    #[test]
    fn dependencies_are_named_by_crate_and_version() {
        for (path, want) in [
            (
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/serve/mod.rs",
                "axum-0.8.9/src/serve/mod.rs",
            ),
            (
                "/home/me/.cargo/registry/src/github.com-1ecc6299db9ec823/tokio-1.54.0/src/task/spawn.rs",
                "tokio-1.54.0/src/task/spawn.rs",
            ),
            (
                r"C:\Users\me\.cargo\registry\src\index.crates.io-6f17d22bba15001f\hyper-1.7.0\src\server\conn.rs",
                "hyper-1.7.0/src/server/conn.rs",
            ),
            (
                "/home/me/.cargo/git/checkouts/mini-redis-2c0e2f8e1a9b3d4f/8a1b2c3/src/server.rs",
                "mini-redis/src/server.rs",
            ),
            (
                "/rustc/17067e9ac6d7e98f18d4ad1a5a6a7a1f0f5c6c1e/library/std/src/thread/mod.rs",
                "library/std/src/thread/mod.rs",
            ),
        ] {
            assert_eq!(short_source_path(path), want, "{path}");
        }
    }

    #[test]
    fn workspace_and_unknown_paths_stay_as_they_are() {
        for path in [
            "examples/quickstart.rs",
            "src/main.rs",
            "/opt/vendor/foo/src/lib.rs",
            "/root/.cargo/registry/src/",
            "",
        ] {
            assert_eq!(short_source_path(path), path);
        }
    }
}
