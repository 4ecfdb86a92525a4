//! The operator's commands, parsed with clap: `rotate-token`,
//! `credentials add|list|revoke|rotate`, `tenant add|list|remove` and
//! `upgrade`, `create-table`, `export` and `import`, each with its `--help`. Tenants' tokens live in
//! Secrets Manager when `SCIM_TENANT_SECRET_PREFIX` is set (one secret a
//! tenant), else in the local tenants file; the writes to either are here,
//! beside the commands, so that the request path carries none of them.
//! Whatever fails, the terminal gets one readable line.

mod credentials;
pub mod secrets;
mod table;
mod tenant;
mod tenants_file;
mod token;
mod transfer;
mod upgrade;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

use crate::config::Config;

pub use self::tenant::{remove_all, sweep_all};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// SCIM 2.0 service provider (RFC 7643/7644) for AWS Lambda, with DynamoDB
/// or embedded storage.
///
/// With no command, runs the service: under the Lambda runtime when
/// AWS_LAMBDA_RUNTIME_API is set, else as a local HTTP server on
/// SCIM_LISTEN_ADDR. With a command, runs that and exits. Both read the
/// same environment (TABLE_NAME, SCIM_TOKEN_SECRET_ID,
/// SCIM_TENANT_SECRET_PREFIX, SCIM_TENANTS_FILE, ...).
#[derive(Debug, Parser)]
#[command(name = "scim-lambda", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stores a new 256-bit token and prints it once, to paste into the IdP.
    ///
    /// Stored in the single-tenant secret (--secret-id, else
    /// SCIM_TOKEN_SECRET_ID), or in a tenant's secret or tenants file
    /// entry (--tenant); with neither, only printed (for SCIM_TOKEN).
    RotateToken(token::RotateToken),
    /// Adds, lists, revokes or rotates a directory's credentials: bearer
    /// tokens, HTTP Basic pairs and OAuth clients, read-write or read-only.
    #[command(subcommand)]
    Credentials(credentials::CredentialsCommand),
    /// Adds, lists or removes the tenants of one deployment.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Brings a directory written by an earlier release up to this one.
    ///
    /// Rewrites its membership edges with this release's index keys (one
    /// Scan of the whole table) and sets the kept counts of users and
    /// groups (totalResults) to what the table holds. Once per directory
    /// (--tenant for a tenant's), while no identity provider writes to it.
    Upgrade(upgrade::Upgrade),
    /// Creates the store: the DynamoDB table TABLE_NAME exactly as
    /// template.yaml declares it (keys, GSIs, stream, TTL, point-in-time
    /// recovery, deletion protection), else the embedded file SCIM_DB_PATH.
    CreateTable(table::CreateTable),
    /// Writes a directory to a file, one resource a line as SCIM JSON
    /// (users, then groups with their members), ids and versions kept.
    Export(transfer::Export),
    /// Loads a file `export` wrote into a directory, ids and versions kept;
    /// run again after a stop, it passes over what is there already.
    Import(transfer::Import),
}

impl Command {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        match self {
            Self::RotateToken(args) => args.run(config).await,
            Self::Credentials(command) => command.run(config).await,
            Self::Tenant(command) => command.run(config).await,
            Self::Upgrade(args) => args.run(config).await,
            Self::CreateTable(args) => args.run(config).await,
            Self::Export(args) => args.run(config).await,
            Self::Import(args) => args.run(config).await,
        }
    }
}

/// Runs the command named by `args` (the words after the program name), as
/// the binary would; a word clap refuses is an error of one line.
pub async fn run(args: &[String], config: &Config) -> Result<(), Error> {
    let words = std::iter::once("scim-lambda").chain(args.iter().map(String::as_str));
    let cli = Cli::try_parse_from(words).map_err(|e| usage_line(&e))?;
    match cli.command {
        Some(command) => command.run(config).await,
        None => Err("no command given".into()),
    }
}

/// What the terminal gets when clap stops: the help or version asked for
/// (exit 0); a group's help when no command of it is named (exit 2); else
/// one line saying what was wrong and the usage (exit 2).
pub fn refuse(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Nothing better to do when the terminal is gone.
            let _ = e.print();
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
        }
        _ => {
            eprintln!("{}", usage_line(e));
            ExitCode::from(2)
        }
    }
}

/// What a command leaves: nothing more on success, else `error: ...` on one
/// line and exit 1.
pub fn report(outcome: Result<(), Error>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// clap's message (its first line) and the usage of the command it was
/// parsing, on one line; clap's own rendering spreads them over several.
fn usage_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let message = text
        .lines()
        .next()
        .unwrap_or("error: the arguments were refused");
    match text.lines().find_map(|l| l.strip_prefix("Usage: ")) {
        Some(usage) => format!("{message}; usage: {usage}"),
        None => message.to_string(),
    }
}

/// Text from anywhere (an AWS error's chain, a file's name) on one line, so
/// that a failure never spreads over the terminal.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The AWS configuration, loaded once per command.
async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The AWS configuration, when the table or the tenants' tokens are in AWS.
async fn aws_if_needed(config: &Config) -> Option<aws_config::SdkConfig> {
    match config.table_name.is_some() || config.tenant_secret_prefix.is_some() {
        true => Some(aws().await),
        false => None,
    }
}
