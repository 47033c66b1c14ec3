//! `oauth::Issuers` over two real issuers behind one resolver: better-auth 1.7.25 with its
//! `jwt` plugin (its JWKS by URL) and panva's oidc-provider (found by OpenID discovery). Each
//! one's tokens are accepted; a token whose `iss` was changed to the other's, or to one not on
//! the list, is refused.
#![cfg(all(
    feature = "jwt",
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql"
))]

mod support;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::Value;
use support::better_auth::BetterAuth;
use support::oidc::Provider;
use tower_bearer::oauth::{Issuers, JwtResolver};
use tower_bearer::{BearerToken, SessionResolver};

const RESOURCE: &str = "https://api.example/";

/// `jwt` with its payload's `iss` set to `iss`, the signature left as it was.
fn with_iss(jwt: &str, iss: &str) -> String {
    let mut parts = jwt.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap();
    claims["iss"] = Value::String(iss.to_owned());
    let payload = Base64UrlUnpadded::encode_string(claims.to_string().as_bytes());
    format!("{header}.{payload}.{signature}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auth_and_oidc_provider_behind_one_resolver() {
    let dir = std::env::temp_dir().join(format!("tb-issuers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node = BetterAuth::start(
        &format!("sqlite://{}/auth.db", dir.display()),
        &[("BA_JWT", "EdDSA")],
    );
    let provider = Provider::start(&["--resource", RESOURCE]);
    let ada = node.sign_up("ada@example.com").await;
    let from_better_auth = node.jwt(&ada.signed).await;
    let answer = provider.client_credentials(RESOURCE, "mcp:tools").await;
    let from_provider = answer["access_token"].as_str().unwrap().to_owned();

    // better-auth: issuer and audience are its baseURL.
    let better_auth: JwtResolver = JwtResolver::builder()
        .issuer(node.url())
        .audience(node.url())
        .jwks_url(&format!("{}/api/auth/jwks", node.url()))
        .unwrap();
    // oidc-provider: discovery sets the issuer; the audience is the resource.
    let oidc: JwtResolver = JwtResolver::builder()
        .audience(RESOURCE)
        .issuer_url(provider.issuer())
        .unwrap();
    let issuers = Issuers::builder()
        .issuer(node.url(), better_auth)
        .issuer(provider.issuer(), oidc)
        .build()
        .unwrap();

    let resolve = |token: String| {
        let issuers = issuers.clone();
        async move { issuers.resolve(BearerToken::new(&token)).await.unwrap() }
    };
    let claims = resolve(from_better_auth.clone())
        .await
        .expect("better-auth's JWT");
    assert_eq!(claims.iss.as_deref(), Some(node.url().as_str()));
    assert_eq!(claims.sub.as_deref(), Some(ada.user_id.as_str()));
    let claims = resolve(from_provider.clone())
        .await
        .expect("oidc-provider's JWT");
    assert_eq!(claims.iss.as_deref(), Some(provider.issuer()));
    // At once, now that both JWKS are at hand.
    for token in [&from_better_auth, &from_provider] {
        let ready = issuers.resolve_ready(BearerToken::new(token));
        assert!(ready.expect("at hand").unwrap().is_some());
    }

    // Each issuer's token passed off as the other's, or as an unknown issuer's: refused.
    for forged in [
        with_iss(&from_better_auth, provider.issuer()),
        with_iss(&from_provider, &node.url()),
    ] {
        assert!(resolve(forged).await.is_none());
    }
    for unknown in [
        with_iss(&from_better_auth, "https://evil.example"),
        with_iss(&from_provider, "https://evil.example"),
    ] {
        let ready = issuers.resolve_ready(BearerToken::new(&unknown));
        assert!(ready.expect("decided at once").unwrap().is_none());
        assert!(resolve(unknown).await.is_none());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
