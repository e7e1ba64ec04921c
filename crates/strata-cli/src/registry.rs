//! Builds the registry client from the command line: explicit credentials
//! (password from standard input, never from an argument), the docker
//! config, the hosts allowed plain HTTP, and how long a registry may take.

use std::io::Read;

use anyhow::{Context, Result};
use strata_sources::image::{
    credentials::{Credential, CredentialStore},
    registry::{RegistryClient, RegistryOptions, RegistryTimeouts},
};

use crate::args::ImageSourceArgs;

pub fn client(args: &ImageSourceArgs) -> Result<Option<RegistryClient>> {
    let credential = match &args.username {
        Some(username) => {
            let mut password = String::new();
            if args.password_stdin {
                std::io::stdin()
                    .read_to_string(&mut password)
                    .context("reading the password from standard input")?;
            }
            Some(Credential::Basic {
                username: username.clone(),
                password: password.trim_end_matches(['\r', '\n']).to_string(),
            })
        }
        None => None,
    };
    let store = CredentialStore::load(args.docker_config.as_deref()).map_err(anyhow::Error::msg)?;
    let options = RegistryOptions {
        insecure: args.insecure_registry.clone(),
        credential,
        timeouts: RegistryTimeouts::scaled(args.registry_timeout),
    };
    Ok(Some(
        RegistryClient::new(options, store).map_err(anyhow::Error::msg)?,
    ))
}
