//! The physical limit for `scripts/bench`: a bare axum server answering
//! every request with a short body, on the same machine and load generator
//! as the service. Not part of the product.

use axum::Router;
use axum::routing::any;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into());
    let app = Router::new().fallback(any(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
