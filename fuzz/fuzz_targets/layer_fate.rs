//! Layer fate against a model of overlay semantics (differential).
//!
//! The input is a stack of layers, each a list of tar member names over a
//! small tree (directories `d`, `d/e`, `f`; files `x`, `d/x`, `d/y`,
//! `d/e/x`, `f/x`): files and directories added, `.wh.NAME` whiteouts of
//! either, `.wh..wh..opq` opaque markers (the root's too), written with or
//! without a leading `./` or `/` and a directory's trailing `/`.
//!
//! strata's answer comes from `LayerEvents::record` and `fate_of`. The
//! model instead unpacks the stack as an overlay does, keeping for every
//! path the layer that last wrote it: a layer first removes what its
//! opaque markers and whiteouts hide in the layers below (the path and
//! everything under it), then writes its own entries. A file from layer i
//! is overwritten in the first later layer that writes its path again, and
//! deleted in the first later layer after which it is gone. Both must give
//! the same status and layer for every file of every layer.
//!
//! Not modelled (the names are chosen so it cannot arise): a file added
//! where a lower layer has a directory, and names with `//` or `/./` in
//! the middle.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use strata_sources::{
    image::fate::{fate_of, LayerEvents},
    FateStatus,
};

const DIRS: [&str; 4] = ["", "d", "d/e", "f"];
const FILES: [&str; 5] = ["x", "d/x", "d/y", "d/e/x", "f/x"];

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    AddFile(u8),
    AddDir(u8),
    WhiteoutFile(u8),
    WhiteoutDir(u8),
    Opaque(u8),
}

#[derive(Arbitrary, Debug)]
struct Member {
    op: Op,
    /// How the name is written: plain, `./`, `/`, `././` in front.
    style: u8,
}

fn pick<'a>(names: &[&'a str], n: u8) -> &'a str {
    names[n as usize % names.len()]
}

/// Joins a directory and a name, the root being "".
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The tar member name strata is given for `member`.
fn member_name(member: &Member) -> String {
    let (name, is_dir) = match member.op {
        Op::AddFile(n) => (pick(&FILES, n).to_string(), false),
        // The root itself is not an entry worth writing.
        Op::AddDir(n) => (pick(&DIRS[1..], n).to_string(), true),
        Op::WhiteoutFile(n) | Op::WhiteoutDir(n) => {
            let target = match member.op {
                Op::WhiteoutFile(_) => pick(&FILES, n),
                _ => pick(&DIRS[1..], n),
            };
            let (dir, base) = target.rsplit_once('/').unwrap_or(("", target));
            (join(dir, &format!(".wh.{base}")), false)
        }
        Op::Opaque(n) => (join(pick(&DIRS, n), ".wh..wh..opq"), false),
    };
    let prefix = ["", "./", "/", "././"][member.style as usize % 4];
    let suffix = if is_dir && member.style & 4 != 0 {
        "/"
    } else {
        ""
    };
    format!("{prefix}{name}{suffix}")
}

/// The overlay: each path and the layer that wrote it.
#[derive(Default)]
struct Overlay {
    paths: BTreeMap<String, usize>,
}

impl Overlay {
    /// Removes `path` and everything under it ("" is the root: everything).
    fn remove_tree(&mut self, path: &str) {
        self.paths
            .retain(|p, _| !(path.is_empty() || p == path || p.starts_with(&format!("{path}/"))));
    }

    /// Removes everything strictly under `dir`.
    fn remove_below(&mut self, dir: &str) {
        self.paths
            .retain(|p, _| !(dir.is_empty() || p.starts_with(&format!("{dir}/"))));
    }

    fn apply(&mut self, index: usize, layer: &[Member]) {
        for member in layer {
            match member.op {
                Op::Opaque(n) => self.remove_below(pick(&DIRS, n)),
                Op::WhiteoutFile(n) => self.remove_tree(pick(&FILES, n)),
                Op::WhiteoutDir(n) => self.remove_tree(pick(&DIRS[1..], n)),
                _ => {}
            }
        }
        for member in layer {
            match member.op {
                Op::AddFile(n) => self.paths.insert(pick(&FILES, n).to_string(), index),
                Op::AddDir(n) => self.paths.insert(pick(&DIRS[1..], n).to_string(), index),
                _ => None,
            };
        }
    }
}

/// The model's fate of `file`, written by layer `index`.
fn model_fate(file: &str, index: usize, layers: &[Vec<Member>]) -> (FateStatus, Option<usize>) {
    let mut overlay = Overlay::default();
    for (i, layer) in layers.iter().enumerate() {
        overlay.apply(i, layer);
        if i <= index {
            continue;
        }
        match overlay.paths.get(file) {
            Some(&writer) if writer == index => {}
            Some(&writer) if writer == i => return (FateStatus::Overwritten, Some(i)),
            _ => return (FateStatus::Deleted, Some(i)),
        }
    }
    (FateStatus::Present, None)
}

fuzz_target!(|layers: Vec<Vec<Member>>| {
    if layers.len() > 8 {
        return;
    }
    let events: Vec<LayerEvents> = layers
        .iter()
        .map(|layer| {
            let mut events = LayerEvents::default();
            for member in layer {
                events.record(&member_name(member));
            }
            events
        })
        .collect();
    let digests: Vec<String> = (0..layers.len()).map(|i| format!("sha256:{i}")).collect();
    let stack: Vec<(&LayerEvents, &str)> = events
        .iter()
        .zip(digests.iter().map(String::as_str))
        .collect();
    for (index, layer) in layers.iter().enumerate() {
        for member in layer {
            let Op::AddFile(n) = member.op else { continue };
            let file = pick(&FILES, n);
            let ours = fate_of(&member_name(member), index, &stack);
            let model = model_fate(file, index, &layers);
            assert_eq!(
                (ours.status, ours.layer_index),
                model,
                "fate of {file} from layer {index}"
            );
            assert_eq!(
                ours.layer_digest.as_deref(),
                ours.layer_index.map(|i| digests[i].as_str())
            );
        }
    }
});
