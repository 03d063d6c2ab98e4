//! WebSocket for the streaming endpoints: the handshake's accept key, the channel framing of
//! `v4.channel.k8s.io`/`v5.channel.k8s.io` (binary messages whose first byte names the
//! channel), and a byte stream carried in binary messages (`SPDY/3.1+portforward.k8s.io`,
//! where the SPDY frames of a port-forward travel inside the WebSocket).

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Channel messages from the client, and to it: (channel, payload).
pub type Incoming = mpsc::Receiver<(u8, Bytes)>;
pub type Outgoing = mpsc::Sender<(u8, Bytes)>;

/// A close frame with status 1000: the clients read anything else as the session failing.
fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
}

/// The `Sec-WebSocket-Accept` answer to a client's key.
pub fn accept_key(key: &str) -> String {
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes())
}

/// The server side of an upgraded connection.
pub async fn server(upgraded: Upgraded) -> Socket {
    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await
}

/// Splits a socket into its incoming channel messages and a sender of outgoing ones; the
/// sender's channel closing sends a close frame.
pub fn channels(socket: Socket) -> (Incoming, Outgoing) {
    let (mut sink, mut stream) = socket.split();
    let (in_tx, in_rx) = mpsc::channel::<(u8, Bytes)>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Bytes)>(64);
    tokio::spawn(async move {
        while let Some(msg) = stream.next().await {
            let data: Bytes = match msg {
                Ok(Message::Binary(b)) => b,
                Ok(Message::Text(t)) => Bytes::copy_from_slice(t.as_bytes()),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            let Some((&channel, rest)) = data.split_first() else {
                continue;
            };
            if in_tx.send((channel, data.slice_ref(rest))).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some((channel, data)) = out_rx.recv().await {
            let mut msg = Vec::with_capacity(data.len() + 1);
            msg.push(channel);
            msg.extend_from_slice(&data);
            if sink.send(Message::Binary(msg.into())).await.is_err() {
                return;
            }
        }
        let _ = sink.send(normal_close()).await;
        let _ = sink.close().await;
    });
    (in_rx, out_tx)
}

/// A byte stream carried in the socket's binary messages, for a protocol (SPDY) that runs on
/// top of it.
pub fn byte_stream(socket: Socket) -> DuplexStream {
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (mut rd, mut wr) = tokio::io::split(ours);
    let (mut sink, mut stream) = socket.split();
    tokio::spawn(async move {
        while let Some(msg) = stream.next().await {
            match msg {
                Ok(Message::Binary(b)) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if sink
                .send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sink.send(normal_close()).await;
        let _ = sink.close().await;
    });
    theirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        // The example of RFC 6455 section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
