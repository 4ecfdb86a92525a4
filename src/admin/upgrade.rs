//! `upgrade`: brings a directory written by an earlier release up to this
//! one: its membership edges rewritten with the index keys this release
//! reads (one Scan of the whole table), then its kept counts of users and
//! groups set to what the table holds.

use clap::Args;

use super::{Error, aws_if_needed};
use crate::config::Config;
use crate::scim::Kind;
use crate::store::{DirError, Directory};
use crate::tenant::{Tenant, TenantId};

#[derive(Debug, Args)]
pub struct Upgrade {
    /// A tenant's directory instead of the single-tenant one.
    #[arg(long, value_name = "TENANT", value_parser = TenantId::parse)]
    tenant: Option<TenantId>,
}

fn stopped(what: &str, e: &DirError) -> Error {
    format!("{what} stopped ({e:?}); run the command again").into()
}

impl Upgrade {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        let aws = aws_if_needed(config).await;
        let table = crate::open_table(config, aws.as_ref()).await.map_err(|e| {
            format!("{e} (the embedded store admits one process: stop the local server first)")
        })?;
        let tenant = self.tenant.map_or(Tenant::Default, Tenant::Named);
        let dir = Directory::of(table, &tenant);
        let (mut edges, mut after) = (0, None);
        loop {
            let (n, next) = dir
                .reindex_edges_some(after.as_ref())
                .await
                .map_err(|e| stopped("rewriting edges", &e))?;
            edges += n;
            match next {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        println!("membership edges rewritten: {edges}");
        for kind in Kind::ALL {
            let n = dir
                .recount(kind)
                .await
                .map_err(|e| stopped("counting", &e))?;
            println!("{}: {n}", kind.name());
        }
        Ok(())
    }
}
