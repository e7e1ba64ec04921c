//! Platforms (`linux/arm64/v8`): parsing `--platform`, the host default, and
//! choosing a manifest from an index. Unlike oci-client's resolvers this
//! honours `variant` and skips attestation manifests (`unknown/unknown`).

use super::spec::{Descriptor, PlatformSpec};

/// An `os/architecture[/variant]` triple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;

    fn from_str(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: normalize_arch(arch).to_string(),
                variant: None,
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform {
                    os: os.to_string(),
                    architecture: normalize_arch(arch).to_string(),
                    variant: Some(variant.to_string()),
                })
            }
            _ => Err(format!(
                "platform {text:?} is not os/arch[/variant], e.g. linux/arm64"
            )),
        }
    }
}

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl Platform {
    /// The platform this binary runs on (linux/amd64 on an x86-64 host).
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    fn matches(&self, spec: &PlatformSpec) -> bool {
        if spec.os != self.os || normalize_arch(&spec.architecture) != self.architecture {
            return false;
        }
        match (&self.variant, &spec.variant) {
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
            (None, _) => true,
        }
    }
}

/// Picks the manifest for `platform` from an index's entries; attestation
/// manifests (platform `unknown/unknown`) are never picked. With several
/// variants and none asked for, the first listed wins (as docker does).
pub fn choose<'a>(
    manifests: &'a [Descriptor],
    platform: &Platform,
) -> Result<&'a Descriptor, String> {
    let candidates: Vec<&Descriptor> = manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| p.os != "unknown"))
        .collect();
    if let Some(found) = candidates
        .iter()
        .find(|d| platform.matches(d.platform.as_ref().unwrap()))
    {
        return Ok(found);
    }
    if candidates.is_empty() && manifests.len() == 1 {
        return Ok(&manifests[0]);
    }
    let available: Vec<String> = candidates
        .iter()
        .map(|d| {
            let p = d.platform.as_ref().unwrap();
            match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            }
        })
        .collect();
    Err(format!(
        "no manifest for platform {platform} in the index (available: {})",
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: format!("sha256:{os}{arch}{}", variant.unwrap_or("")),
            size: 0,
            platform: Some(PlatformSpec {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
            }),
            annotations: Default::default(),
        }
    }

    #[test]
    fn chooses_by_os_arch_and_variant_and_skips_attestations() {
        let list = vec![
            entry("unknown", "unknown", None),
            entry("linux", "amd64", None),
            entry("linux", "arm", Some("v6")),
            entry("linux", "arm", Some("v7")),
        ];
        let pick = |p: &str| choose(&list, &p.parse().unwrap()).map(|d| d.digest.clone());
        assert_eq!(pick("linux/x86_64").unwrap(), "sha256:linuxamd64");
        assert_eq!(pick("linux/arm/v7").unwrap(), "sha256:linuxarmv7");
        assert_eq!(pick("linux/arm").unwrap(), "sha256:linuxarmv6");
        let err = pick("linux/s390x").unwrap_err();
        assert!(
            err.contains("linux/amd64") && !err.contains("unknown"),
            "{err}"
        );
        assert!("linux".parse::<Platform>().is_err());
    }
}
