//! `create-table`: the store, ready for a first start. On DynamoDB
//! (`TABLE_NAME`), the table exactly as `template.yaml` declares it; on the
//! embedded store, its file with its tables.

use clap::Args;

use super::{Error, aws};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct CreateTable {
    /// Leave the DynamoDB table unprotected from deletion (the template's
    /// DeletionProtection=false), e.g. for a table a test deletes.
    #[arg(long)]
    no_deletion_protection: bool,
}

impl CreateTable {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        let Some(name) = &config.table_name else {
            if config.db_path.exists() {
                return Err(format!("{} exists already", config.db_path.display()).into());
            }
            crate::store::embedded::Embedded::open_with_cache(&config.db_path, 1 << 20)
                .map_err(|e| format!("cannot create {}: {e}", config.db_path.display()))?;
            println!("created {}", config.db_path.display());
            return Ok(());
        };
        let client = crate::aws::dynamodb(&aws().await);
        let protect = !self.no_deletion_protection;
        let shortfall = crate::store::dynamo::create_declared_table(&client, name, protect)
            .await
            .map_err(|e| format!("creating table {name} failed: {e}"))?;
        println!(
            "created table {name}: 3 GSIs, on demand, stream of new and old images, TTL on expires, deletion protection {}",
            if protect { "on" } else { "off" }
        );
        if let Some(why) = shortfall.point_in_time_recovery {
            eprintln!("warning: point-in-time recovery is off: {why}");
        }
        Ok(())
    }
}
