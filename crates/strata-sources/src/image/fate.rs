//! Layer fate: what later layers did to a file. Each layer's tar yields
//! path events — files added, `.wh.NAME` whiteouts, `.wh..wh..opq` opaque
//! directories — and, once every layer is read, they decide for each
//! finding whether its file is present in the final image, deleted in layer
//! N or overwritten in layer N. A deleted or overwritten secret still ships
//! in the lower layer's blob: `docker run` hides it, `docker save` does not.

use std::collections::HashSet;

use crate::origin::{Fate, FateStatus};

/// The path events of one layer. Paths are relative, without `./` or `/`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LayerEvents {
    /// Entries this layer writes (files, links, directories).
    pub added: HashSet<String>,
    /// Paths hidden by `.wh.NAME`.
    pub whiteouts: HashSet<String>,
    /// Directories whose lower contents are hidden by `.wh..wh..opq`.
    pub opaque_dirs: HashSet<String>,
}

/// Normalises a tar member name: no leading `./` or `/`, no trailing `/`.
pub fn normalize(path: &str) -> String {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_start_matches('/').trim_end_matches('/').to_string()
}

impl LayerEvents {
    /// Records one tar member; returns false for whiteout markers (which
    /// carry no content to scan).
    pub fn record(&mut self, member: &str) -> bool {
        let path = normalize(member);
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", path.as_str()),
        };
        if name == ".wh..wh..opq" {
            self.opaque_dirs.insert(dir.to_string());
            return false;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let hidden = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            self.whiteouts.insert(hidden);
            return false;
        }
        self.added.insert(path);
        true
    }

    fn hides(&self, path: &str) -> bool {
        if self.whiteouts.contains(path) {
            return true;
        }
        let mut ancestor = path;
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if self.whiteouts.contains(parent) || self.opaque_dirs.contains(parent) {
                return true;
            }
            ancestor = parent;
        }
        self.opaque_dirs.contains("") && !path.is_empty()
    }
}

/// The fate of `path` (as found in layer `index`) given every layer's
/// events and digests. The first later layer that touches the path decides:
/// one that writes it again overwrote it (even if it also hid the old one
/// with an opaque directory); one that only hides it deleted it.
pub fn fate_of(path: &str, index: usize, layers: &[(&LayerEvents, &str)]) -> Fate {
    let path = normalize(path);
    for (later, (events, digest)) in layers.iter().enumerate().skip(index + 1) {
        let status = if events.added.contains(&path) {
            Some(FateStatus::Overwritten)
        } else if events.hides(&path) {
            Some(FateStatus::Deleted)
        } else {
            None
        };
        if let Some(status) = status {
            return Fate {
                status,
                layer_index: Some(later),
                layer_digest: Some(digest.to_string()),
            };
        }
    }
    Fate {
        status: FateStatus::Present,
        layer_index: None,
        layer_digest: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(members: &[&str]) -> LayerEvents {
        let mut events = LayerEvents::default();
        for m in members {
            events.record(m);
        }
        events
    }

    #[test]
    fn whiteout_opaque_overwrite_and_present() {
        let l0 = layer(&[
            "app/",
            "app/.env",
            "secrets/a.key",
            "etc/app.conf",
            "keep/x",
        ]);
        let l1 = layer(&["app/.wh..env", "secrets/.wh..wh..opq", "secrets/new.key"]);
        let l2 = layer(&["./etc/app.conf", "app/.env"]);
        let stack = [(&l0, "sha256:0"), (&l1, "sha256:1"), (&l2, "sha256:2")];
        let deleted = fate_of("/app/.env", 0, &stack);
        assert_eq!(
            (deleted.status, deleted.layer_index),
            (FateStatus::Deleted, Some(1))
        );
        assert_eq!(deleted.layer_digest.as_deref(), Some("sha256:1"));
        assert_eq!(
            fate_of("secrets/a.key", 0, &stack).status,
            FateStatus::Deleted
        );
        let over = fate_of("etc/app.conf", 0, &stack);
        assert_eq!(
            (over.status, over.layer_index),
            (FateStatus::Overwritten, Some(2))
        );
        assert_eq!(fate_of("keep/x", 0, &stack).status, FateStatus::Present);
        // A file re-added after a whiteout, seen from the re-adding layer.
        assert_eq!(fate_of("app/.env", 2, &stack).status, FateStatus::Present);
        // Whiteout of a parent directory hides everything below it.
        let l3 = layer(&[".wh.keep"]);
        let stack = [(&l0, "a"), (&l3, "b")];
        assert_eq!(fate_of("keep/x", 0, &stack).status, FateStatus::Deleted);
    }

    #[test]
    fn whiteout_markers_are_not_content() {
        let mut events = LayerEvents::default();
        assert!(!events.record("a/.wh.b"));
        assert!(!events.record("a/.wh..wh..opq"));
        assert!(events.record("a/c"));
        assert!(events.whiteouts.contains("a/b") && events.opaque_dirs.contains("a"));
    }
}
