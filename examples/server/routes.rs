//! better-auth's HTTP API, as much of it as its JS client's email-and-password flow uses, plus
//! the guide's protected resource, `GET /api/data`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_bearer::store::{CreateOptions, Issued, Session, SessionStore, StoreError};
use tower_bearer::{BearerLayer, BearerToken, Mode, QueryParameter, Rejection, WebSocketProtocol};

use crate::accounts::{Accounts, Refused};
use crate::email;
use crate::users::{Unavailable, User};

pub(crate) type SessionRef = Arc<Session<()>>;

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 128;

/// What every handler shares: the session store and the users.
pub(crate) struct AppState<S> {
    pub(crate) sessions: S,
    pub(crate) accounts: Arc<Accounts>,
}

impl<S: Clone> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            sessions: self.sessions.clone(),
            accounts: self.accounts.clone(),
        }
    }
}

/// An error in better-auth's shape: `{"message": …, "code": …}`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn store(_: StoreError) -> Self {
        // The store's error went to the log; the client learns only that it failed.
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The session store is unavailable",
        )
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Busy(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_BUSY",
                "Too many sign-ins in progress. Please try again shortly.",
            ),
            Refused::Unavailable(unavailable) => unavailable.into(),
        }
    }
}

impl From<Unavailable> for ApiError {
    fn from(_: Unavailable) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The user store is unavailable",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "message": self.message, "code": self.code }));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A JSON body whose rejections come out in better-auth's error shape rather than axum's text.
pub(crate) struct ApiJson<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "expected a JSON body with content-type application/json",
            )),
            Err(other) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                other.body_text(),
            )),
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

/// The client's address and user agent, recorded on the session.
fn client_options(
    remember_me: bool,
    addr: Option<SocketAddr>,
    headers: &HeaderMap,
) -> CreateOptions {
    let mut options = CreateOptions::default().remember_me(remember_me);
    if let Some(addr) = addr {
        options = options.ip_address(addr.ip().to_string());
    }
    if let Some(agent) = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()) {
        options = options.user_agent(agent.chars().take(512).collect::<String>());
    }
    options
}

/// Sign-in and sign-up answers: the token in the body and in `set-auth-token`, never cached.
fn with_token(issued: &Issued<()>, mut body: Value) -> Response {
    body["token"] = Value::from(issued.token.as_str());
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    if let Ok(mut value) = HeaderValue::from_str(issued.token.as_str()) {
        value.set_sensitive(true);
        headers.insert(HeaderName::from_static("set-auth-token"), value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn issue<S: SessionStore<()>>(
    state: &AppState<S>,
    user: &User,
    options: CreateOptions,
) -> Result<Issued<()>, ApiError> {
    state
        .sessions
        .create(&user.id, (), options)
        .await
        .map_err(|error| {
            tracing::error!(%error, "creating a session failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "FAILED_TO_CREATE_SESSION",
                "Failed to create session",
            )
        })
}

async fn sign_up<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignUp>,
) -> Result<Response, ApiError> {
    if !email::is_valid(&body.email) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "[body.email] Invalid email address",
        ));
    }
    if body.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Name is required",
        ));
    }
    let length = body.password.chars().count();
    if length < MIN_PASSWORD {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PASSWORD_TOO_SHORT",
            "Password too short",
        ));
    }
    if length > MAX_PASSWORD {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PASSWORD_TOO_LONG",
            "Password too long",
        ));
    }
    let user = state
        .accounts
        .sign_up(body.name, email::normalize(&body.email), body.password)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                "User already exists. Use another email.",
            )
        })?;
    let options = client_options(true, connect.map(|c| c.0 .0), &headers);
    let issued = issue(&state, &user, options).await?;
    Ok(with_token(&issued, json!({ "user": user })))
}

async fn sign_in<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    if !email::is_valid(&body.email) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_EMAIL",
            "Invalid email",
        ));
    }
    if body.password.chars().count() > MAX_PASSWORD {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PASSWORD_TOO_LONG",
            "Password too long",
        ));
    }
    let user = state
        .accounts
        .sign_in(&email::normalize(&body.email), body.password)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_EMAIL_OR_PASSWORD",
                "Invalid email or password",
            )
        })?;
    let remember_me = body.remember_me.unwrap_or(true);
    let options = client_options(remember_me, connect.map(|c| c.0 .0), &headers);
    let issued = issue(&state, &user, options).await?;
    Ok(with_token(
        &issued,
        json!({ "redirect": false, "user": user }),
    ))
}

async fn get_session<S>(
    State(state): State<AppState<S>>,
    session: Option<Extension<SessionRef>>,
) -> Result<Json<Value>, ApiError> {
    let Some(Extension(session)) = session else {
        return Ok(Json(Value::Null));
    };
    Ok(Json(match state.accounts.user(&session.user_id).await? {
        Some(user) => json!({ "session": &*session, "user": user }),
        None => Value::Null,
    }))
}

async fn list_sessions<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    Extension(session): Extension<SessionRef>,
) -> Result<Json<Vec<SessionRef>>, ApiError> {
    let list = state.sessions.list(&session.user_id).await;
    Ok(Json(list.map_err(ApiError::store)?))
}

/// Revokes one of the caller's own sessions, named by its token (better-auth's contract).
async fn revoke_session<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    Extension(session): Extension<SessionRef>,
    ApiJson(body): ApiJson<RevokeSession>,
) -> Result<Json<Value>, ApiError> {
    let token = BearerToken::new(&body.token);
    let revoke = state.sessions.revoke_token_of(&session.user_id, token);
    revoke.await.map_err(ApiError::store)?;
    Ok(Json(json!({ "status": true })))
}

async fn revoke_sessions<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    Extension(session): Extension<SessionRef>,
) -> Result<Json<Value>, ApiError> {
    let revoke = state.sessions.revoke_all(&session.user_id);
    revoke.await.map_err(ApiError::store)?;
    Ok(Json(json!({ "status": true })))
}

async fn revoke_other_sessions<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    Extension(session): Extension<SessionRef>,
) -> Result<Json<Value>, ApiError> {
    let revoke = state.sessions.revoke_others(&session.user_id, session.id);
    revoke.await.map_err(ApiError::store)?;
    Ok(Json(json!({ "status": true })))
}

async fn sign_out<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    session: Option<Extension<SessionRef>>,
) -> Result<Json<Value>, ApiError> {
    if let Some(Extension(session)) = session {
        let revoke = state.sessions.revoke(&session.user_id, session.id);
        revoke.await.map_err(ApiError::store)?;
    }
    Ok(Json(json!({ "success": true })))
}

/// The guide's protected resource: who is calling, and with which session.
async fn data<S>(
    State(state): State<AppState<S>>,
    Extension(session): Extension<SessionRef>,
) -> Result<Json<Value>, ApiError> {
    let user = state.accounts.user(&session.user_id).await?;
    Ok(Json(json!({ "user": user, "session": &*session })))
}

/// better-auth's error body, with the layer's RFC 6750 challenge kept beside it.
fn rejection_body(rejection: &Rejection) -> axum::http::Response<Bytes> {
    let (message, code) = match rejection.status() {
        StatusCode::UNAUTHORIZED => ("Unauthorized", "UNAUTHORIZED"),
        StatusCode::BAD_REQUEST => (rejection.message(), "INVALID_REQUEST"),
        StatusCode::FORBIDDEN => ("Forbidden", "FORBIDDEN"),
        _ => ("The session store is unavailable", "SERVICE_UNAVAILABLE"),
    };
    let mut response = axum::http::Response::new(Bytes::from(
        json!({ "message": message, "code": code }).to_string(),
    ));
    *response.status_mut() = rejection.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if rejection.status() == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The whole API, for any session store.
pub(crate) fn app<S>(state: AppState<S>) -> Router
where
    S: SessionStore<()> + Clone + Send + Sync + 'static,
    S::Future: Send,
{
    let required = BearerLayer::new(state.sessions.clone())
        .name("required")
        .on_rejection(rejection_body);
    // get-session and sign-out answer anonymous callers too (better-auth's `null`), but a
    // failing store is still a 503.
    let optional = BearerLayer::new(state.sessions.clone())
        .name("optional")
        .mode(Mode::Lenient)
        .on_rejection(rejection_body);

    let protected_auth = Router::new()
        .route("/list-sessions", get(list_sessions::<S>))
        .route("/revoke-session", post(revoke_session::<S>))
        .route("/revoke-sessions", post(revoke_sessions::<S>))
        .route("/revoke-other-sessions", post(revoke_other_sessions::<S>))
        .route_layer(required.clone());
    let optional_auth = Router::new()
        .route("/get-session", get(get_session::<S>))
        .route("/sign-out", post(sign_out::<S>))
        .route_layer(optional);
    let auth = Router::new()
        .route("/sign-up/email", post(sign_up::<S>))
        .route("/sign-in/email", post(sign_in::<S>))
        .merge(protected_auth)
        .merge(optional_auth)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found") });

    Router::new()
        .nest("/api/auth", auth)
        .route(
            "/api/data",
            get(data::<S>).route_layer(required.clone().realm("tower-bearer example")),
        )
        // Browsers cannot set `Authorization` on a WebSocket handshake: the token may also come
        // in a subprotocol entry or the query string.
        .route(
            "/api/ws",
            get(crate::ws::socket::<S>).route_layer(
                required
                    .websocket_token(WebSocketProtocol::kubernetes())
                    .query_token(QueryParameter::default()),
            ),
        )
        .with_state(state)
}
