//! A remote-command session's streams on the wire: one SPDY stream per channel (tagged by its
//! `streamType` header), or WebSocket channels (0 stdin, 1 stdout, 2 stderr, 3 error, 4
//! resize; `v5.channel.k8s.io` adds 255, the client closing one of its channels). Both end
//! with the outcome's Status on the error channel.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::remote_command::{Outcome, Streams, TermSize};
use super::spdy::{SpdyStream, SpdyWriter};

/// How long the client has to open the streams it asked for (the kubelet's
/// `streamCreationTimeout`).
const STREAM_CREATION: Duration = Duration::from_secs(30);

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// Which streams the request asked for (its `stdin`, `stdout`, `stderr` and `tty` options).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Wanted {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl Wanted {
    /// Parses the options; a TTY has no separate stderr.
    pub fn parse(query: &str) -> Wanted {
        let mut w = Wanted::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let on = v == "1" || v.eq_ignore_ascii_case("true");
            match k.as_ref() {
                "stdin" | "input" => w.stdin = on,
                "stdout" | "output" => w.stdout = on,
                "stderr" | "error" => w.stderr = on,
                "tty" => w.tty = on,
                _ => {}
            }
        }
        if w.tty {
            w.stderr = false;
        }
        w
    }
}

/// Parses the resize channel's JSON objects as they arrive.
fn resizes(mut data: mpsc::Receiver<Bytes>) -> mpsc::Receiver<TermSize> {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut buf: Vec<u8> = Vec::new();
        while let Some(b) = data.recv().await {
            buf.extend_from_slice(&b);
            let mut sizes = serde_json::Deserializer::from_slice(&buf).into_iter::<TermSize>();
            let mut used = 0;
            while let Some(size) = sizes.next() {
                match size {
                    Ok(s) => {
                        used = sizes.byte_offset();
                        if tx.send(s).await.is_err() {
                            return;
                        }
                    }
                    Err(e) if e.is_eof() => break,
                    // Garbage on the resize channel is dropped, as the kubelet logs and drops it.
                    Err(_) => {
                        used = buf.len();
                        break;
                    }
                }
            }
            buf.drain(..used);
        }
    });
    rx
}

/// Forwards what is sent on the returned sender to `write`, one call per piece, then `done`.
fn pump_out<W, F, D, DF>(write: W, done: D) -> (mpsc::Sender<Bytes>, JoinHandle<()>)
where
    W: Fn(Bytes) -> F + Send + 'static,
    F: Future<Output = bool> + Send,
    D: FnOnce() -> DF + Send + 'static,
    DF: Future<Output = ()> + Send,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let task = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if !write(b).await {
                break;
            }
        }
        done().await;
    });
    (tx, task)
}

/// Runs `session` over SPDY: waits for the client's streams, joins them, writes the outcome.
pub async fn over_spdy<S, F>(
    writer: std::sync::Arc<SpdyWriter>,
    mut incoming: mpsc::Receiver<SpdyStream>,
    wanted: Wanted,
    session: S,
) where
    S: FnOnce(Streams) -> F,
    F: Future<Output = Outcome>,
{
    let mut expected = vec!["error"];
    if wanted.stdin {
        expected.push("stdin");
    }
    if wanted.stdout {
        expected.push("stdout");
    }
    if wanted.stderr {
        expected.push("stderr");
    }
    if wanted.tty {
        expected.push("resize");
    }
    let mut got: HashMap<String, SpdyStream> = HashMap::new();
    let collected = tokio::time::timeout(STREAM_CREATION, async {
        while got.len() < expected.len() {
            let Some(s) = incoming.recv().await else {
                return false;
            };
            let kind = s.header("streamtype").unwrap_or_default().to_string();
            if expected.contains(&kind.as_str()) {
                got.insert(kind, s);
            }
        }
        true
    })
    .await;
    if collected != Ok(true) {
        tracing::debug!(
            ?expected,
            got = got.len(),
            "the client did not open its streams"
        );
        writer.close().await;
        return;
    }
    let mut streams = Streams::default();
    let mut pumps = Vec::new();
    if let Some(s) = got.remove("stdin") {
        streams.stdin = Some(s.data);
    }
    if let Some(s) = got.remove("resize") {
        streams.resize = Some(resizes(s.data));
    }
    for (kind, slot) in [
        ("stdout", &mut streams.stdout),
        ("stderr", &mut streams.stderr),
    ] {
        if let Some(s) = got.remove(kind) {
            let s = std::sync::Arc::new(s);
            let (w, d) = (s.clone(), s);
            let (tx, task) = pump_out(
                move |b| {
                    let w = w.clone();
                    async move { w.write(&b).await.is_ok() }
                },
                move || async move {
                    let _ = d.finish().await;
                },
            );
            *slot = Some(tx);
            pumps.push(task);
        }
    }
    let outcome = session(streams).await;
    for p in pumps {
        let _ = p.await;
    }
    if let Some(e) = got.remove("error") {
        let _ = e.write(&outcome.status()).await;
        let _ = e.finish().await;
    }
    writer.close().await;
}

/// Runs `session` over WebSocket channels; `v5` adds the client's close signal.
pub async fn over_websocket<S, F>(
    mut incoming: mpsc::Receiver<(u8, Bytes)>,
    outgoing: mpsc::Sender<(u8, Bytes)>,
    wanted: Wanted,
    v5: bool,
    session: S,
) where
    S: FnOnce(Streams) -> F,
    F: Future<Output = Outcome>,
{
    let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(64);
    let (resize_tx, resize_rx) = mpsc::channel::<Bytes>(8);
    let reader = tokio::spawn(async move {
        let mut stdin_tx = Some(stdin_tx);
        while let Some((channel, data)) = incoming.recv().await {
            match channel {
                STDIN => {
                    if let Some(tx) = &stdin_tx {
                        if !data.is_empty() && tx.send(data).await.is_err() {
                            stdin_tx = None;
                        }
                    }
                }
                RESIZE => {
                    let _ = resize_tx.send(data).await;
                }
                CLOSE if v5 && data.first() == Some(&STDIN) => stdin_tx = None,
                _ => {}
            }
        }
    });
    let mut streams = Streams::default();
    if wanted.stdin {
        streams.stdin = Some(stdin_rx);
    }
    if wanted.tty {
        streams.resize = Some(resizes(resize_rx));
    }
    let mut pumps = Vec::new();
    for (channel, on, slot) in [
        (STDOUT, wanted.stdout, &mut streams.stdout),
        (STDERR, wanted.stderr, &mut streams.stderr),
    ] {
        if !on {
            continue;
        }
        let out = outgoing.clone();
        let (tx, task) = pump_out(
            move |b| {
                let out = out.clone();
                async move { out.send((channel, b)).await.is_ok() }
            },
            || async {},
        );
        *slot = Some(tx);
        pumps.push(task);
    }
    let outcome = session(streams).await;
    for p in pumps {
        let _ = p.await;
    }
    let _ = outgoing.send((ERROR, Bytes::from(outcome.status()))).await;
    reader.abort();
    // Dropping the last sender closes the socket.
    drop(outgoing);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_the_streams_and_a_tty_has_no_stderr() {
        let w = Wanted::parse("command=sh&stdin=true&stdout=true&stderr=true");
        assert_eq!(
            w,
            Wanted {
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false
            }
        );
        let w = Wanted::parse("stdout=1&stderr=true&tty=true");
        assert!(w.stdout && w.tty && !w.stderr && !w.stdin);
    }

    #[tokio::test]
    async fn resize_messages_become_sizes_across_pieces() {
        let (tx, rx) = mpsc::channel(4);
        let mut sizes = resizes(rx);
        tx.send(Bytes::from_static(b"{\"Width\":80,\"Hei"))
            .await
            .unwrap();
        tx.send(Bytes::from_static(
            b"ght\":24}\n{\"Width\":100,\"Height\":30}",
        ))
        .await
        .unwrap();
        assert_eq!(
            sizes.recv().await.unwrap(),
            TermSize {
                width: 80,
                height: 24
            }
        );
        assert_eq!(sizes.recv().await.unwrap().width, 100);
    }
}
