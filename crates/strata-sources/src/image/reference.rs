//! What the user named: an image argument with or without a transport
//! prefix (`docker://`, `docker-archive:`, `oci:`, `oci-archive:`, the same
//! spellings skopeo and podman use), or a bare path recognised by its shape.

use std::path::{Path, PathBuf};

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLocation {
    /// A registry reference (`registry.example.com/team/app:1.4`, `…@sha256:…`).
    Registry(String),
    /// An OCI layout directory and an optional tag (`org.opencontainers.image.ref.name`).
    OciDir { dir: PathBuf, tag: Option<String> },
    /// A tar file: `docker save` output (either layout) or an OCI archive.
    Archive { path: PathBuf, tag: Option<String> },
}

/// Splits `PATH[:TAG]`: a string that exists as a path is never split, so
/// paths containing `:` still work.
fn split_tag(text: &str) -> (PathBuf, Option<String>) {
    if Path::new(text).exists() {
        return (PathBuf::from(text), None);
    }
    // `app.tar:app:1` — the tag itself may hold a colon: prefer the split
    // whose left side exists.
    for (at, _) in text.match_indices(':') {
        let (path, tag) = (&text[..at], &text[at + 1..]);
        if !tag.is_empty() && Path::new(path).exists() {
            return (PathBuf::from(path), Some(tag.to_string()));
        }
    }
    match text.rsplit_once(':') {
        Some((path, tag)) if !path.is_empty() && !tag.is_empty() && !tag.contains('/') => {
            (PathBuf::from(path), Some(tag.to_string()))
        }
        _ => (PathBuf::from(text), None),
    }
}

impl ImageLocation {
    /// Parses an image argument.
    pub fn parse(text: &str) -> ImageLocation {
        if let Some(rest) = text.strip_prefix("docker://") {
            return ImageLocation::Registry(rest.to_string());
        }
        if let Some(rest) = text.strip_prefix("docker-archive:") {
            let (path, tag) = split_tag(rest);
            return ImageLocation::Archive { path, tag };
        }
        if let Some(rest) = text.strip_prefix("oci-archive:") {
            let (path, tag) = split_tag(rest);
            return ImageLocation::Archive { path, tag };
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            let (dir, tag) = split_tag(rest);
            return ImageLocation::OciDir { dir, tag };
        }
        let path = Path::new(text);
        if path.is_dir() {
            return ImageLocation::OciDir {
                dir: path.to_path_buf(),
                tag: None,
            };
        }
        if path.is_file()
            || text.starts_with('.')
            || text.starts_with('/')
            || text.ends_with(".tar")
        {
            return ImageLocation::Archive {
                path: path.to_path_buf(),
                tag: None,
            };
        }
        ImageLocation::Registry(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_and_bare_names() {
        assert_eq!(
            ImageLocation::parse("docker://reg:5000/a/b:1"),
            ImageLocation::Registry("reg:5000/a/b:1".into())
        );
        assert_eq!(
            ImageLocation::parse("alpine:3.20"),
            ImageLocation::Registry("alpine:3.20".into())
        );
        assert_eq!(
            ImageLocation::parse("oci:/nonexistent/layout:v2"),
            ImageLocation::OciDir {
                dir: "/nonexistent/layout".into(),
                tag: Some("v2".into())
            }
        );
        assert_eq!(
            ImageLocation::parse("docker-archive:/tmp/none/app.tar"),
            ImageLocation::Archive {
                path: "/tmp/none/app.tar".into(),
                tag: None
            }
        );
        assert_eq!(
            ImageLocation::parse("./app.tar"),
            ImageLocation::Archive {
                path: "./app.tar".into(),
                tag: None
            }
        );
    }
}
