//! An MCP server (rmcp, streamable HTTP under axum) protected by tower-bearer as an OAuth 2
//! resource server, as the MCP authorization spec asks: RFC 9728 metadata at
//! `/.well-known/oauth-protected-resource/mcp`, `401`s naming it, JWT access tokens (RFC 9068)
//! whose `aud` is this server's URL (RFC 8707), `403 insufficient_scope` for a token without
//! the scopes, tokens from the `Authorization` header only.
//!
//! ```text
//! cargo run -p tower-bearer-peers --example mcp_server --features jwt,axum -- \
//!     --addr 127.0.0.1:3003 --resource http://127.0.0.1:3003/mcp \
//!     --issuer-url https://auth.example --scope mcp:tools
//! ```
//!
//! `--resource` is the URL clients connect to (the MCP endpoint is served at its path), and
//! what your authorization server must put in `aud`: register it there as an API / resource
//! indicator (Keycloak: an audience mapper; Auth0: an API identifier; oidc-provider:
//! `resourceIndicators`). `--issuer-url` is the issuer, whose keys are found by OpenID
//! Connect discovery (or RFC 8414). Then point an MCP client (the MCP Inspector, Claude) at
//! `http://127.0.0.1:3003/mcp`: it reads the metadata, signs the user in at the issuer, and
//! calls the `whoami` tool. By hand:
//!
//! ```text
//! curl -si http://127.0.0.1:3003/.well-known/oauth-protected-resource/mcp
//! curl -si -X POST http://127.0.0.1:3003/mcp      # 401 with resource_metadata
//! ```
//!
//! Logs: `RUST_LOG=info,tower_bearer=debug` shows every decision.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use tower_bearer::oauth::{Claims, ResourceServer};
use tower_bearer::RedactedUri;
use tower_http::trace::TraceLayer;

/// The MCP server: one tool.
#[derive(Clone)]
struct Whoami;

#[tool_router]
impl Whoami {
    /// The caller as the verified access token says: the layer put its claims in the request's
    /// extensions, which rmcp hands to tools as the request's `Parts`.
    #[tool(description = "Who the access token says you are: sub, client_id and scope")]
    async fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let claims = parts
            .extensions
            .get::<Arc<Claims>>()
            .ok_or_else(|| ErrorData::internal_error("no verified token", None))?;
        let me = serde_json::json!({
            "sub": claims.sub,
            "client_id": claims.client_id,
            "scope": claims.scopes.join(" "),
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            me.to_string(),
        )]))
    }
}

#[tool_handler]
impl ServerHandler for Whoami {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// tower-http's default request span, with every query value shown as `***`.
fn request_span(request: &Request<Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %RedactedUri::new(request.uri()),
        version = ?request.version(),
    )
}

#[tokio::main]
async fn main() -> Result<(), tower_bearer::BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();

    // The metadata, the challenges, the audience and the scopes, from one value.
    let mcp = ResourceServer::new(&args.resource, &args.issuer_url)?.scopes(&args.scopes);
    let resolver = mcp
        .jwt_resolver::<serde_json::Map<String, serde_json::Value>>()
        .access_token_profile(true) // RFC 9068: `typ: at+jwt`, sub, client_id, jti…
        .issuer_url(&args.issuer_url)?;

    let service: StreamableHttpService<Whoami, LocalSessionManager> = StreamableHttpService::new(
        || Ok(Whoami),
        Default::default(),
        StreamableHttpServerConfig::default(),
    );
    let path = args.resource.parse::<http::Uri>()?.path().to_owned();
    let app = Router::new()
        .route_service(&path, service)
        // On the whole router: it also answers the metadata's well-known paths itself.
        .layer(mcp.layer(resolver))
        .layer(TraceLayer::new_for_http().make_span_with(request_span));

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// The command line.
struct Args {
    addr: std::net::SocketAddr,
    resource: String,
    issuer_url: String,
    scopes: Vec<String>,
}

impl Args {
    fn parse() -> Args {
        let usage = || -> ! {
            eprintln!(
                "usage: mcp_server [--addr HOST:PORT] --resource URL --issuer-url URL [--scope SCOPE]..."
            );
            std::process::exit(2)
        };
        let (mut addr, mut resource, mut issuer_url, mut scopes) =
            ("127.0.0.1:3003".to_owned(), None, None, Vec::new());
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().unwrap_or_else(|| usage());
            match flag.as_str() {
                "--addr" => addr = value,
                "--resource" => resource = Some(value),
                "--issuer-url" => issuer_url = Some(value),
                "--scope" => scopes.push(value),
                _ => usage(),
            }
        }
        let (Some(resource), Some(issuer_url)) = (resource, issuer_url) else {
            usage()
        };
        let addr = addr.parse().unwrap_or_else(|e| {
            eprintln!("--addr {addr:?}: {e}");
            std::process::exit(2)
        });
        Args {
            addr,
            resource,
            issuer_url,
            scopes,
        }
    }
}
