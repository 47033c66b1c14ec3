//! A tonic service behind a better-auth server: the layer resolves better-auth's token and the
//! service reads `BetterAuthSession` from the request's extensions.
#![cfg(all(
    feature = "tonic",
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite"
))]

#[path = "../../tests/support/mod.rs"]
mod support;

use std::pin::Pin;

use support::better_auth::{BetterAuth, SECRET};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::Layer;
use tower_bearer::better_auth::{BetterAuthSession, Signatures, SqlResolver};
use tower_bearer::BearerLayer;

/// SERVING for Ada's session as found in the extensions; the email otherwise.
struct Who;

#[tonic::async_trait]
impl Health for Who {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match request.extensions().get::<BetterAuthSession>() {
            Some(s) if s.user.email == "ada@example.com" => {
                Ok(Response::new(HealthCheckResponse {
                    status: ServingStatus::Serving as i32,
                }))
            }
            Some(s) => Err(Status::not_found(s.user.email.clone())),
            None => Err(Status::internal("no session in extensions")),
        }
    }

    type WatchStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tonic_service_reads_better_auths_session() {
    let dir = std::env::temp_dir().join(format!("tb-bat-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/auth.db", dir.display());
    let node = BetterAuth::start(&db, &[]);
    let ada = node.sign_up("ada@example.com").await;
    let bob = node.sign_up("bob@example.com").await;

    let resolver = SqlResolver::builder(Signatures::new([SECRET]))
        .connect(&db)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(BearerLayer::new(resolver).layer(HealthServer::new(Who)))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = HealthClient::new(channel);
    let check = |token: Option<String>| {
        let mut client = client.clone();
        async move {
            let mut request = Request::new(HealthCheckRequest {
                service: String::new(),
            });
            if let Some(token) = token {
                let value = format!("Bearer {token}").parse().unwrap();
                request.metadata_mut().insert("authorization", value);
            }
            client.check(request).await.map(|r| r.into_inner().status)
        }
    };
    assert_eq!(
        check(Some(ada.signed.clone())).await.unwrap(),
        ServingStatus::Serving as i32
    );
    let err = check(Some(bob.signed.clone())).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "bob@example.com")
    );
    node.sign_out(&ada.signed).await;
    let err = check(Some(ada.signed.clone())).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(check(None).await.unwrap_err().code(), Code::Unauthenticated);
}
