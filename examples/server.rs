//! An axum API that speaks enough of better-auth's HTTP API for better-auth's own JS client:
//! sign up, sign in (the token comes back in `set-auth-token`), then bearer-authenticated calls.
//!
//! ```text
//! cargo run --example server                      # http://127.0.0.1:3000
//! cargo run --example server -- --addr 0.0.0.0:8080
//! ```
//!
//! Sessions live in tower-bearer's `MemoryStore`; protected routes sit behind `BearerLayer`.
//! A demo user, user@example.com / securepassword, is seeded at start-up.

use std::net::SocketAddr;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use dashmap::DashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower_bearer::store::{CreateOptions, Issued, MemoryStore, Session, Timestamp};
use tower_bearer::{BearerLayer, Rejection};
use tower_http::cors::{AllowOrigin, CorsLayer};

type Sessions = MemoryStore<()>;
type SessionRef = Arc<Session<()>>;

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 128;
const MAX_BODY: usize = 16 * 1024;

/// A user as better-auth's JSON shows it; the password hash stays out of it.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    id: String,
    email: String,
    name: String,
    email_verified: bool,
    image: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

struct Account {
    user: User,
    password_hash: String,
}

/// The server's state: users by email and by id, and the session store.
#[derive(Clone)]
pub(crate) struct AppState {
    sessions: Sessions,
    by_email: Arc<DashMap<String, Arc<Account>>>,
    by_id: Arc<DashMap<String, Arc<Account>>>,
    /// Verified against when the email is unknown, so both failures take as long.
    dummy_hash: Arc<str>,
}

impl AppState {
    /// An empty server state around `sessions`.
    pub(crate) fn new(sessions: Sessions) -> Self {
        AppState {
            sessions,
            by_email: Arc::default(),
            by_id: Arc::default(),
            dummy_hash: hash_password("not a real password").into(),
        }
    }

    /// The session store.
    #[allow(dead_code)] // used by tests/server.rs
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Registers a user; `None` if the email is taken.
    pub(crate) fn add_user(&self, name: &str, email: &str, password: &str) -> Option<User> {
        let email = email.trim().to_ascii_lowercase();
        let now = Timestamp::from(std::time::SystemTime::now());
        let account = Arc::new(Account {
            user: User {
                id: uuid::Uuid::new_v4().simple().to_string(),
                email: email.clone(),
                name: name.to_string(),
                email_verified: false,
                image: None,
                created_at: now,
                updated_at: now,
            },
            password_hash: hash_password(password),
        });
        match self.by_email.entry(email) {
            dashmap::Entry::Occupied(_) => None,
            dashmap::Entry::Vacant(slot) => {
                slot.insert(account.clone());
                self.by_id.insert(account.user.id.clone(), account.clone());
                Some(account.user.clone())
            }
        }
    }

    fn user(&self, id: &str) -> Option<User> {
        self.by_id.get(id).map(|a| a.user.clone())
    }
}

fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 accepts any password with default parameters")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An error in better-auth's shape: `{"message": …, "code": …}`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "message": self.message, "code": self.code }));
        (self.status, body).into_response()
    }
}

/// A JSON body whose rejections come out in better-auth's error shape rather than axum's text.
pub(crate) struct ApiJson<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "expected a JSON body with content-type application/json",
                ),
                JsonRejection::BytesRejection(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "PAYLOAD_TOO_LARGE",
                        "body too large",
                    )
                }
                other => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    other.body_text(),
                ),
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignUp {
    name: String,
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignIn {
    email: String,
    password: String,
    remember_me: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeSession {
    token: String,
}

fn validate_email(email: &str) -> Result<(), ApiError> {
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid email",
        ))
    }
}

/// The client's address and user agent, recorded on the session.
fn client_options(
    remember_me: bool,
    addr: Option<SocketAddr>,
    headers: &HeaderMap,
) -> CreateOptions {
    CreateOptions {
        remember_me,
        ip_address: addr.map(|a| a.ip().to_string()),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}

/// Sign-in and sign-up answers: the token in the body and in `set-auth-token`.
fn with_token(issued: &Issued<()>, body: Value) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(mut value) = HeaderValue::from_str(issued.token.as_str()) {
        value.set_sensitive(true);
        response
            .headers_mut()
            .insert(HeaderName::from_static("set-auth-token"), value);
    }
    response.headers_mut().insert(
        "access-control-expose-headers",
        HeaderValue::from_static("set-auth-token"),
    );
    response
}

fn issue(state: &AppState, user: &User, options: CreateOptions) -> Result<Issued<()>, ApiError> {
    state
        .sessions
        .create_now(&user.id, (), options)
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "FAILED_TO_CREATE_SESSION",
                "Failed to create session",
            )
        })
}

async fn sign_up(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignUp>,
) -> Result<Response, ApiError> {
    validate_email(&body.email)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Name is required",
        ));
    }
    if body.password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PASSWORD_TOO_SHORT",
            "Password too short",
        ));
    }
    if body.password.chars().count() > MAX_PASSWORD {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PASSWORD_TOO_LONG",
            "Password too long",
        ));
    }
    let (name, email, password) = (body.name, body.email, body.password);
    let task_state = state.clone();
    let user = tokio::task::spawn_blocking(move || task_state.add_user(&name, &email, &password))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "Internal error",
            )
        })?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                "User already exists. Use another email.",
            )
        })?;
    let issued = issue(
        &state,
        &user,
        client_options(true, connect.map(|c| c.0 .0), &headers),
    )?;
    Ok(with_token(
        &issued,
        json!({ "token": issued.token.as_str(), "user": user }),
    ))
}

async fn sign_in(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    validate_email(&body.email)?;
    let account = state
        .by_email
        .get(&body.email.trim().to_ascii_lowercase())
        .map(|a| a.clone());
    let hash = account
        .as_ref()
        .map_or_else(|| state.dummy_hash.to_string(), |a| a.password_hash.clone());
    let password = body.password;
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let account = match account {
        Some(account) if verified => account,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_EMAIL_OR_PASSWORD",
                "Invalid email or password",
            ))
        }
    };
    let options = client_options(
        body.remember_me.unwrap_or(true),
        connect.map(|c| c.0 .0),
        &headers,
    );
    let issued = issue(&state, &account.user, options)?;
    Ok(with_token(
        &issued,
        json!({ "redirect": false, "token": issued.token.as_str(), "user": account.user }),
    ))
}

async fn get_session(
    State(state): State<AppState>,
    session: Option<Extension<SessionRef>>,
) -> Json<Value> {
    let Some(Extension(session)) = session else {
        return Json(Value::Null);
    };
    match state.user(&session.user_id) {
        Some(user) => Json(json!({ "session": &*session, "user": user })),
        None => Json(Value::Null),
    }
}

async fn list_sessions(
    State(state): State<AppState>,
    Extension(session): Extension<SessionRef>,
) -> Json<Vec<SessionRef>> {
    Json(state.sessions.list_now(&session.user_id))
}

/// Revokes one of the caller's own sessions, named by its token (better-auth's contract).
async fn revoke_session(
    State(state): State<AppState>,
    Extension(session): Extension<SessionRef>,
    ApiJson(body): ApiJson<RevokeSession>,
) -> Json<Value> {
    // Only the caller's own sessions; the lookup does not refresh the target.
    state
        .sessions
        .revoke_token_of(&session.user_id, &body.token);
    Json(json!({ "status": true }))
}

async fn revoke_sessions(
    State(state): State<AppState>,
    Extension(session): Extension<SessionRef>,
) -> Json<Value> {
    state.sessions.revoke_all_now(&session.user_id);
    Json(json!({ "status": true }))
}

async fn revoke_other_sessions(
    State(state): State<AppState>,
    Extension(session): Extension<SessionRef>,
) -> Json<Value> {
    state
        .sessions
        .revoke_others_now(&session.user_id, session.id);
    Json(json!({ "status": true }))
}

async fn sign_out(
    State(state): State<AppState>,
    session: Option<Extension<SessionRef>>,
) -> Json<Value> {
    if let Some(Extension(session)) = session {
        state.sessions.revoke_now(&session.user_id, session.id);
    }
    Json(json!({ "success": true }))
}

/// The guide's protected resource: who is calling, and with which session.
async fn data(
    State(state): State<AppState>,
    Extension(session): Extension<SessionRef>,
) -> Json<Value> {
    Json(json!({ "user": state.user(&session.user_id), "session": &*session }))
}

/// better-auth's 401 body, with the layer's RFC 6750 challenge kept beside it.
fn unauthorized(rejection: &Rejection) -> axum::http::Response<Bytes> {
    let (message, code) = match rejection.status() {
        StatusCode::UNAUTHORIZED => ("Unauthorized".to_string(), "UNAUTHORIZED"),
        StatusCode::BAD_REQUEST => (rejection.message().to_string(), "INVALID_REQUEST"),
        StatusCode::FORBIDDEN => ("Forbidden".to_string(), "FORBIDDEN"),
        _ => ("Service unavailable".to_string(), "SERVICE_UNAVAILABLE"),
    };
    let body = json!({ "message": message, "code": code }).to_string();
    axum::http::Response::builder()
        .status(rejection.status())
        .header(CONTENT_TYPE, "application/json")
        .body(Bytes::from(body))
        .expect("a valid response")
}

/// The whole API.
pub(crate) fn app(state: AppState) -> Router {
    let required = BearerLayer::new(state.sessions.clone()).on_rejection(unauthorized);
    // get-session and sign-out answer anonymous callers too (better-auth's `null`).
    let optional = BearerLayer::new(state.sessions.clone())
        .optional()
        .pass_invalid(true);

    let protected_auth = Router::new()
        .route("/list-sessions", get(list_sessions))
        .route("/revoke-session", post(revoke_session))
        .route("/revoke-sessions", post(revoke_sessions))
        .route("/revoke-other-sessions", post(revoke_other_sessions))
        .route_layer(required);
    let optional_auth = Router::new()
        .route("/get-session", get(get_session))
        .route("/sign-out", post(sign_out))
        .route_layer(optional);
    let auth = Router::new()
        .route("/sign-up/email", post(sign_up))
        .route("/sign-in/email", post(sign_in))
        .merge(protected_auth)
        .merge(optional_auth)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found") });

    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        .expose_headers([HeaderName::from_static("set-auth-token")]);

    Router::new()
        .nest("/api/auth", auth)
        .route(
            "/api/data",
            get(data).route_layer(
                BearerLayer::new(state.sessions.clone()).realm("tower-bearer example"),
            ),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(cors)
        .with_state(state)
}

/// The state with the demo user seeded.
pub(crate) fn demo_state() -> AppState {
    let state = AppState::new(MemoryStore::new());
    state.add_user("Demo User", "user@example.com", "securepassword");
    state
}

fn parse_addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:3000".to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other if other.starts_with("--addr=") => addr = other["--addr=".len()..].to_string(),
            "-h" | "--help" => {
                println!("usage: server [--addr HOST:PORT]   (default 127.0.0.1:3000)");
                std::process::exit(0);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: server [--addr HOST:PORT]"
                ))
            }
        }
    }
    addr.parse().map_err(|e| format!("--addr {addr:?}: {e}"))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    let addr = match parse_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let state = demo_state();
    let sweeper_store = state.sessions.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            sweeper_store.sweep();
        }
    });
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("a bound address");
    println!("listening on http://{addr}");
    println!(
        r#"
Demo user: user@example.com / securepassword. Walk the flow with curl:

  # sign in; the token comes back in the body and in the set-auth-token header
  TOKEN=$(curl -s http://{addr}/api/auth/sign-in/email -H 'content-type: application/json' \
      -d '{{"email":"user@example.com","password":"securepassword"}}' | sed 's/.*"token":"\([^"]*\)".*/\1/')

  curl -i http://{addr}/api/data                                   # 401 + WWW-Authenticate: Bearer
  curl -s http://{addr}/api/data -H "Authorization: Bearer $TOKEN"  # 200 {{user, session}}
  curl -s http://{addr}/api/auth/get-session -H "Authorization: Bearer $TOKEN"
  curl -s http://{addr}/api/auth/list-sessions -H "Authorization: Bearer $TOKEN"
  curl -s -X POST http://{addr}/api/auth/sign-out -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{{}}'
  curl -s http://{addr}/api/auth/get-session -H "Authorization: Bearer $TOKEN"   # null
"#
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .expect("server error");
}
