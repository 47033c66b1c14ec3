//! examples/server's `/api/ws` over a real socket: the WebSocket handshake with the token in a
//! subprotocol entry, in the query, in the header, and without one.

mod support;

use std::net::SocketAddr;

use base64ct::{Base64UrlUnpadded, Encoding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const K8S: &str = "base64url.bearer.authorization.k8s.io.";

async fn sign_in(addr: SocketAddr) -> String {
    let body = br#"{"email":"user@example.com","password":"securepassword"}"#;
    let res = support::request(
        addr,
        "POST",
        "/api/auth/sign-in/email",
        &[b"content-type: application/json"],
        body,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    json["token"].as_str().unwrap().to_owned()
}

/// Opens a WebSocket handshake with these extra header lines; the status line, the response
/// head, and the stream to go on with.
async fn handshake(addr: SocketAddr, path: &str, lines: &[String]) -> (String, TcpStream) {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    for line in lines {
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed mid-head");
        head.push(byte[0]);
    }
    (String::from_utf8(head).unwrap(), stream)
}

/// One unfragmented, unmasked server frame: its opcode and payload.
async fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut header = [0; 2];
    stream.read_exact(&mut header).await.unwrap();
    let len = match header[1] & 0x7f {
        126 => {
            let mut ext = [0; 2];
            stream.read_exact(&mut ext).await.unwrap();
            u16::from_be_bytes(ext) as usize
        }
        len => len as usize,
    };
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.unwrap();
    (header[0] & 0x0f, payload)
}

/// A masked text frame, as clients must send.
async fn send_text(stream: &mut TcpStream, text: &str) {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.unwrap();
}

async fn greeted_and_echoed(addr: SocketAddr, path: &str, lines: &[String]) {
    let (head, mut stream) = handshake(addr, path, lines).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-protocol: chat\r\n"),
        "{head}"
    );
    assert_eq!(
        read_frame(&mut stream).await,
        (1, b"hello user@example.com".to_vec())
    );
    send_text(&mut stream, "ping?").await;
    assert_eq!(read_frame(&mut stream).await, (1, b"ping?".to_vec()));
}

#[tokio::test]
async fn the_websocket_takes_the_token_in_a_subprotocol_the_query_or_the_header() {
    let running = support::example::start("server", &[]);
    let addr = running.addr;
    let token = sign_in(addr).await;

    let entry = format!(
        "{K8S}{}",
        Base64UrlUnpadded::encode_string(token.as_bytes())
    );
    greeted_and_echoed(
        addr,
        "/api/ws",
        &[format!("sec-websocket-protocol: chat, {entry}")],
    )
    .await;

    let query = format!("/api/ws?access_token={}", token.replace('+', "%2B"));
    greeted_and_echoed(addr, &query, &["sec-websocket-protocol: chat".into()]).await;

    let header = format!("authorization: Bearer {token}");
    greeted_and_echoed(
        addr,
        "/api/ws",
        &[header, "sec-websocket-protocol: chat".into()],
    )
    .await;
}

#[tokio::test]
async fn a_handshake_without_a_live_token_is_refused_before_any_upgrade() {
    let running = support::example::start("server", &[]);
    let addr = running.addr;
    let token = sign_in(addr).await;

    let (none, _) = handshake(addr, "/api/ws", &["sec-websocket-protocol: chat".into()]).await;
    assert!(none.starts_with("HTTP/1.1 401"), "{none}");
    assert!(none.contains("www-authenticate: Bearer\r\n"), "{none}");

    let unknown = format!(
        "{K8S}{}",
        Base64UrlUnpadded::encode_string(b"not-a-session")
    );
    let (refused, _) = handshake(
        addr,
        "/api/ws",
        &[format!("sec-websocket-protocol: chat, {unknown}")],
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(refused.contains(r#"error="invalid_token""#), "{refused}");

    // The token in both the query and a subprotocol: two methods.
    let entry = format!(
        "{K8S}{}",
        Base64UrlUnpadded::encode_string(token.as_bytes())
    );
    let (both, _) = handshake(
        addr,
        &format!("/api/ws?access_token={token}"),
        &[format!("sec-websocket-protocol: chat, {entry}")],
    )
    .await;
    assert!(both.starts_with("HTTP/1.1 400"), "{both}");

    // Signed out, the same token opens nothing.
    let out = support::request(
        addr,
        "POST",
        "/api/auth/sign-out",
        &[format!("authorization: Bearer {token}").as_bytes()],
        b"",
    )
    .await;
    assert_eq!(out.status, 200);
    let (revoked, _) = handshake(
        addr,
        "/api/ws",
        &[format!("sec-websocket-protocol: chat, {entry}")],
    )
    .await;
    assert!(revoked.starts_with("HTTP/1.1 401"), "{revoked}");
}
