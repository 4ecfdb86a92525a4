//! `recount`: sets the kept counts of the users and groups of a directory
//! to what its type index holds, for a table written before counts were
//! kept in it.

use clap::Args;

use super::{Error, aws_if_needed};
use crate::config::Config;
use crate::scim::Kind;
use crate::store::Directory;
use crate::tenant::{Tenant, TenantId};

#[derive(Debug, Args)]
pub struct Recount {
    /// A tenant's directory instead of the single-tenant one.
    #[arg(long, value_name = "TENANT", value_parser = TenantId::parse)]
    tenant: Option<TenantId>,
}

impl Recount {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        let aws = aws_if_needed(config).await;
        let table = crate::open_table(config, aws.as_ref()).await.map_err(|e| {
            format!("{e} (the embedded store admits one process: stop the local server first)")
        })?;
        let tenant = self.tenant.map_or(Tenant::Default, Tenant::Named);
        let dir = Directory::of(table, &tenant);
        for kind in Kind::ALL {
            let n = dir
                .recount(kind)
                .await
                .map_err(|e| format!("counting {} stopped: {e:?}", kind.name()))?;
            println!("{}: {n}", kind.name());
        }
        Ok(())
    }
}
