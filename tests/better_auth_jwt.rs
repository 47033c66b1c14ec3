//! better-auth 1.7.25's `jwt` plugin, for real: tokens from `/api/auth/token` and from
//! `set-auth-jwt` verified against its `/api/auth/jwks`, typed as better-auth's user; its key
//! rotation followed without a restart; and its opaque session token, in the same layer,
//! routed by `JwtOr` to the SQL resolver.
#![cfg(all(
    feature = "jwt",
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite"
))]

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use support::better_auth::{BetterAuth, SECRET};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::better_auth::{BetterAuthSession, Signatures, SqlResolver, User};
use tower_bearer::oauth::{Claims, JwksSettings, JwtOr, JwtResolver, Verified};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tb-jwt-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn resolver(node: &BetterAuth) -> JwtResolver<User> {
    // better-auth's issuer and audience are its baseURL, exactly.
    // A 1 s cooldown: the rotation test rotates within seconds, where better-auth's real
    // rotation intervals are days.
    JwtResolver::builder()
        .issuer(node.url())
        .audience(node.url())
        .jwks_settings(JwksSettings::default().cooldown(Duration::from_secs(1)))
        .jwks_url(&format!("{}/api/auth/jwks", node.url()))
        .unwrap()
}

fn payload(jwt: &str) -> serde_json::Value {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn better_auths_jwts_are_accepted_and_typed_for_every_key_algorithm() {
    for alg in ["EdDSA", "ES256", "ES512", "RS256", "PS256"] {
        let dir = tempdir();
        let db = format!("sqlite://{}/auth.db", dir.display());
        let node = BetterAuth::start(&db, &[("BA_JWT", alg)]);
        let ada = node.sign_up("ada@example.com").await;
        let resolver = resolver(&node);
        for jwt in [
            node.jwt(&ada.signed).await,
            node.jwt_from_get_session(&ada.signed).await,
        ] {
            let claims = resolver
                .resolve(BearerToken::new(&jwt))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{alg}: better-auth's JWT refused"));
            assert_eq!(claims.sub.as_deref(), Some(ada.user_id.as_str()), "{alg}");
            assert_eq!(claims.extra.id, ada.user_id);
            assert_eq!(claims.extra.email, "ada@example.com");
            assert_eq!(claims.extra.name, "Ada");
            assert_eq!(claims.iss.as_deref(), Some(node.url().as_str()));
            let exp = claims.exp.unwrap();
            assert_eq!(exp - claims.iat.unwrap(), 900, "{alg}: 15 minutes");
            // The header names the key, with no typ; the claims are the whole user.
            assert!(payload(&jwt)["emailVerified"].is_boolean());
        }
        // Tampered: refused.
        let jwt = node.jwt(&ada.signed).await;
        let (head, rest) = jwt.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        use base64ct::{Base64UrlUnpadded, Encoding};
        let mut forged = payload(&jwt);
        forged["email"] = "root@example.com".into();
        let forged = format!(
            "{head}.{}.{sig}",
            Base64UrlUnpadded::encode_string(forged.to_string().as_bytes())
        );
        assert!(resolver
            .resolve(BearerToken::new(&forged))
            .await
            .unwrap()
            .is_none());
        // Another issuer's audience: refused.
        let other: JwtResolver<User> = JwtResolver::builder()
            .audience("https://not-this-api.example")
            .jwks_url(&format!("{}/api/auth/jwks", node.url()))
            .unwrap();
        assert!(other
            .resolve(BearerToken::new(&jwt))
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn better_auths_key_rotation_is_followed_without_a_restart() {
    let dir = tempdir();
    let db = format!("sqlite://{}/auth.db", dir.display());
    let node = BetterAuth::start(&db, &[("BA_JWT", "EdDSA"), ("BA_JWT_ROTATION", "2")]);
    let ada = node.sign_up("ada@example.com").await;
    let resolver = resolver(&node);
    let first = node.jwt(&ada.signed).await;
    assert!(resolver
        .resolve(BearerToken::new(&first))
        .await
        .unwrap()
        .is_some());
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let second = node.jwt(&ada.signed).await;
    let kid = |jwt: &str| {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let head = Base64UrlUnpadded::decode_vec(jwt.split('.').next().unwrap()).unwrap();
        serde_json::from_slice::<serde_json::Value>(&head).unwrap()["kid"].clone()
    };
    assert_ne!(kid(&first), kid(&second), "better-auth rotated its key");
    assert!(
        resolver
            .resolve(BearerToken::new(&second))
            .await
            .unwrap()
            .is_some(),
        "the new key is accepted on its first request"
    );
    assert!(
        resolver
            .resolve(BearerToken::new(&first))
            .await
            .unwrap()
            .is_some(),
        "the old key is still published (grace period) and still verifies"
    );
}

/// One layer for both of a better-auth user's tokens: the session token (opaque, signed) goes
/// to the SQL resolver, the JWT to the JWT resolver; handlers get one session type.
#[tokio::test(flavor = "multi_thread")]
async fn one_layer_routes_the_session_token_and_the_jwt() {
    let dir = tempdir();
    let db = format!("sqlite://{}/auth.db", dir.display());
    let node = BetterAuth::start(&db, &[("BA_JWT", "EdDSA")]);
    let ada = node.sign_up("ada@example.com").await;
    let sql = SqlResolver::builder(Signatures::new([SECRET]))
        .connect(&db)
        .await
        .unwrap();
    let both = JwtOr::new(resolver(&node), sql);
    type Either = Verified<Arc<Claims<User>>, BetterAuthSession>;
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(both).token_chars(tower_bearer::TokenChars::Visible))
        .service(service_fn(|req: Request<Incoming>| async move {
            let body = match req.extensions().get::<Either>().unwrap() {
                Verified::Jwt(claims) => format!("jwt {}", claims.extra.email),
                Verified::Other(session) => format!("session {}", session.user.email),
            };
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        }));
    let addr = support::serve(svc).await;
    let get = |value: String| async move {
        let auth = format!("authorization: Bearer {value}");
        support::get(addr, "/", &[auth.as_bytes()]).await
    };
    let res = get(ada.signed.clone()).await;
    assert_eq!(
        (res.status, res.body_str()),
        (200, "session ada@example.com")
    );
    let res = get(node.jwt(&ada.signed).await).await;
    assert_eq!((res.status, res.body_str()), (200, "jwt ada@example.com"));
    // Signed out: the session token is refused at once; the JWT lives until its exp, as
    // better-auth's own JWTs do (stateless by design).
    let jwt = node.jwt(&ada.signed).await;
    node.sign_out(&ada.signed).await;
    assert_eq!(get(ada.signed.clone()).await.status, 401);
    assert_eq!(get(jwt).await.status, 200);
    assert_eq!(get("eyJhbGciOiJub25lIn0.e30.".into()).await.status, 401);
}
