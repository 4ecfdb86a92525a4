//! Wiring only: the command line, then either an operator's command, or
//! logging, configuration, the app, and the Lambda runtime or the local
//! HTTP server, both over the same router.

use std::process::ExitCode;

use clap::Parser;
use scim_lambda::admin::{self, Cli};
use scim_lambda::config::{Config, Handler};
use scim_lambda::{App, TokenOrigin};
use tracing_subscriber::EnvFilter;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        // CloudWatch adds its own timestamps and stream names.
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .with_target(false)
            .init();
    } else {
        builder.with_target(false).init();
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode, Error> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return Ok(admin::refuse(&e)),
    };
    let Some(command) = cli.command else {
        return serve().await.map(|()| ExitCode::SUCCESS);
    };
    // A command's failures (a store's, an AWS call's) are logged to
    // standard error, at `error` unless RUST_LOG says otherwise; standard
    // output stays the command's own (an export may go there).
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let outcome = match Config::from_env() {
        Ok(config) => command.run(&config).await,
        Err(e) => Err(e.into()),
    };
    Ok(admin::report(outcome))
}

/// No command: the service, under the Lambda runtime or as a local server.
async fn serve() -> Result<(), Error> {
    let config = Config::from_env()?;
    init_tracing(config.on_lambda);
    if config.handler == Handler::Stream {
        return scim_lambda::run_stream(&config).await;
    }
    let app = App::build(&config).await?;
    if config.on_lambda {
        return lambda_http::run(app.router).await;
    }
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    let addr = listener.local_addr()?;
    println!("SCIM base URL: http://{addr}{}", config.base_path);
    match &app.token {
        TokenOrigin::Generated(t) => {
            println!("Bearer token:  {t}   (generated; set SCIM_TOKEN to choose one)")
        }
        TokenOrigin::Environment => println!("Bearer token:  the value of SCIM_TOKEN"),
        TokenOrigin::SecretsManager => {
            println!("Bearer token:  from Secrets Manager (SCIM_TOKEN_SECRET_ID)")
        }
        TokenOrigin::TenantsOnly => {
            println!("Bearer token:  none at the base path; tenants only")
        }
    }
    match &config.tenant_secret_prefix {
        Some(p) => println!(
            "Tenants:       http://{addr}{}/{{tenant}}, tokens in secrets {p}{{tenant}}",
            config.base_path
        ),
        None => println!(
            "Tenants:       http://{addr}{}/{{tenant}}, tokens in {} (add one: scim-lambda tenant add NAME)",
            config.base_path,
            config.tenants_file.display()
        ),
    }
    match &config.table_name {
        Some(t) => println!("Store:         DynamoDB table {t}"),
        None => println!("Store:         {}", config.db_path.display()),
    }
    let base_url = format!("http://{addr}{}", config.base_path);
    if app.table.change_log().is_some() {
        match &config.events.webhook_url {
            Some(url) => println!("Events:        pushed to {url} (signed HS256)"),
            None => println!("Events:        POST {base_url}/Events (RFC 8936 poll)"),
        }
    }
    let issuer = scim_lambda::events::Issuer::new(&config.events, app.schemas.clone(), &base_url);
    let (stopped, stop) = tokio::sync::watch::channel(false);
    let delivery = {
        let (config, table) = (config.clone(), app.table.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let stop = async move {
                let _ = stop.changed().await;
            };
            scim_lambda::deliver_events(&config, &table, issuer, stop).await;
        })
    };
    scim_lambda::serve::serve(
        listener,
        app.router,
        (&config).into(),
        scim_lambda::serve::stop_signal(),
    )
    .await;
    let _ = stopped.send(true);
    let _ = delivery.await;
    Ok(())
}
