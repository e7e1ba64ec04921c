//! Shards: `--shard K/N` splits the distinct layer digests of a plan (and
//! the image manifests, whose configs are scanned by their owner) among N
//! processes. A digest's shard comes from its own hex value, which a
//! content digest already spreads uniformly: the split is the same on
//! every machine, in every run and in every strata version, so a retried
//! Kubernetes index redoes exactly its own share.

use sha2::{Digest, Sha256};

/// One of N shards. `index` counts from 0, like Kubernetes'
/// `JOB_COMPLETION_INDEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!("--shard {text:?}: expected K/N with 0 <= K < N (K counts from 0, as JOB_COMPLETION_INDEX does)")
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether this shard owns `digest` (`algo:hex`).
    pub fn owns(&self, digest: &str) -> bool {
        shard_of(digest, self.count) == self.index
    }
}

/// The shard (0..count) of a digest: its first 16 hex digits as a number,
/// modulo `count`. Anything that is not a hex digest is hashed first.
pub fn shard_of(digest: &str, count: u32) -> u32 {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    let value = if hex.len() >= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        u64::from_str_radix(&hex[..16], 16).expect("16 hex digits fit a u64")
    } else {
        let hash = Sha256::digest(digest.as_bytes());
        u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"))
    };
    (value % u64::from(count)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard { index: 0, count: 1 }));
        for bad in ["8/8", "1/0", "a/2", "3", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_digest_has_exactly_one_owner_and_shares_are_even() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut per_shard = [0usize; 3];
        for i in 0..3000u32 {
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(i.to_le_bytes())));
            let owners: Vec<_> = shards.iter().filter(|s| s.owns(&digest)).collect();
            assert_eq!(owners.len(), 1, "{digest}");
            per_shard[owners[0].index as usize] += 1;
        }
        for count in per_shard {
            assert!((900..1100).contains(&count), "{per_shard:?}");
        }
    }

    #[test]
    fn the_split_is_fixed_by_the_digest() {
        // Stable across runs and versions: pinned values.
        let d = "sha256:00000000000000ff000000000000000000000000000000000000000000000000";
        assert_eq!(shard_of(d, 8), 255 % 8);
        assert_eq!(shard_of(d, 3), 255 % 3);
        assert_eq!(shard_of("not-a-digest", 1), 0);
    }
}
