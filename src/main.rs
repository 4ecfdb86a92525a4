//! Wiring only: logging, configuration, the app, then the Lambda runtime or
//! the local HTTP server, both over the same router.

use scim_lambda::config::Config;
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

/// `scim-lambda rotate-token [--secret-id ID]`: a new 256-bit token, stored
/// in the secret (`--secret-id`, else `SCIM_TOKEN_SECRET_ID`) or, without
/// one, printed for `SCIM_TOKEN`; printed once, to paste into the IdP.
async fn rotate_token(args: &[String], config: &Config) -> Result<(), Error> {
    let secret_id = match args {
        [flag, id] if flag == "--secret-id" => Some(id.clone()),
        [] => config.token_secret_id.clone(),
        _ => return Err("usage: scim-lambda rotate-token [--secret-id SECRET_ID]".into()),
    };
    let Some(secret_id) = secret_id else {
        let token = scim_lambda::auth::generate_token()?;
        println!("{token}");
        eprintln!(
            "No secret given: set SCIM_TOKEN to this token for local runs, and paste it into the IdP."
        );
        return Ok(());
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = scim_lambda::aws::secrets_manager(&aws);
    let token = scim_lambda::auth::rotate_token(&client, &secret_id).await?;
    println!("{token}");
    eprintln!(
        "Stored in {secret_id}. Paste it into the IdP now: running functions accept it at once \
         (a token they do not know makes them re-read the secret) and drop the old one within \
         SCIM_TOKEN_TTL_SECONDS (300 s by default)."
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some((command, rest)) = args.split_first() {
        return match command.as_str() {
            "rotate-token" => rotate_token(rest, &config).await,
            other => {
                Err(format!("unknown command '{other}'; the only command is rotate-token").into())
            }
        };
    }
    init_tracing(config.on_lambda);
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
    }
    match &config.table_name {
        Some(t) => println!("Store:         DynamoDB table {t}"),
        None => println!("Store:         {}", config.db_path.display()),
    }
    axum::serve(listener, app.router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
