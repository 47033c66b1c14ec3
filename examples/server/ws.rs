//! `/api/ws`: a WebSocket that greets the signed-in user and echoes what they send.
//!
//! A browser cannot set `Authorization` on a WebSocket handshake, so this route also takes the
//! token from a subprotocol entry (Kubernetes' form) or the `access_token` query parameter:
//!
//! ```js
//! const b64url = btoa(token).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
//! new WebSocket("ws://127.0.0.1:3000/api/ws", ["chat", "base64url.bearer.authorization.k8s.io." + b64url]);
//! new WebSocket("ws://127.0.0.1:3000/api/ws?access_token=" + encodeURIComponent(token), ["chat"]);
//! ```
//!
//! The layer refuses a handshake without a live session (`401`) before any upgrade.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use tower_bearer::store::SessionStore;

use crate::routes::{ApiError, AppState, SessionRef};

/// The subprotocol the server speaks. Browsers that offered protocols fail the handshake unless
/// the server selects one, so a client sending its token in a subprotocol offers this one too.
pub(crate) const PROTOCOL: &str = "chat";

pub(crate) async fn socket<S: SessionStore<()>>(
    State(state): State<AppState<S>>,
    Extension(session): Extension<SessionRef>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let user = state.accounts.user(&session.user_id).await?;
    let email = user.map(|u| u.email).unwrap_or_default();
    Ok(upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| greet_and_echo(socket, email)))
}

async fn greet_and_echo(mut socket: WebSocket, email: String) {
    if socket
        .send(Message::Text(format!("hello {email}").into()))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(message)) = socket.recv().await {
        let echo = match message {
            Message::Text(text) => Message::Text(text),
            Message::Binary(bytes) => Message::Binary(bytes),
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(echo).await.is_err() {
            return;
        }
    }
}
