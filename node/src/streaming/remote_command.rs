//! `exec` and `attach` as the kubelet serves them, apart from the wire: the client's streams
//! (stdin, stdout, stderr, terminal resizes) as channels, the command or container they are
//! joined to, and the outcome the error channel reports as a `metav1.Status`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};

use crate::runtime::{ExecCommand, Runtime};

/// How long output may keep flowing after the command exited (a child it left behind can
/// hold the pipe or terminal open).
const DRAIN: Duration = Duration::from_secs(2);

/// How long a TTY exec waits for the terminal's size before it starts without one.
const FIRST_RESIZE: Duration = Duration::from_secs(1);

/// A terminal size, as the resize channel carries it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
pub struct TermSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// The client's side of a session; `None` for a stream it did not ask for.
#[derive(Default)]
pub struct Streams {
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    pub stdout: Option<mpsc::Sender<Bytes>>,
    pub stderr: Option<mpsc::Sender<Bytes>>,
    pub resize: Option<mpsc::Receiver<TermSize>>,
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Success,
    /// The command exited with a non-zero code.
    ExitCode {
        argv: Vec<String>,
        code: i32,
    },
    /// It could not run (the kubelet's internal error).
    Error(String),
}

impl Outcome {
    /// The `metav1.Status` the error channel carries (protocol v4 and later).
    pub fn status(&self) -> Vec<u8> {
        let v = match self {
            Outcome::Success => json!({"metadata": {}, "status": "Success"}),
            Outcome::ExitCode { argv, code } => json!({
                "metadata": {},
                "status": "Failure",
                "message": format!(
                    "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
                    argv.join(" ")
                ),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            }),
            Outcome::Error(message) => json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("Internal error occurred: {message}"),
                "reason": "InternalError",
                "details": {"causes": [{"message": message}]},
                "code": 500,
            }),
        };
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

/// Copies `from` to `to` until either ends; output nobody asked for is read and dropped, so
/// the command never blocks on it.
async fn copy_out(mut from: impl AsyncRead + Unpin, to: Option<mpsc::Sender<Bytes>>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(tx) = &to {
            if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                return;
            }
        }
    }
}

/// Runs `cmd` in the container `id` joined to `streams`.
pub async fn exec(
    runtime: Arc<dyn Runtime>,
    id: &str,
    mut cmd: ExecCommand,
    mut streams: Streams,
) -> Outcome {
    let argv = cmd.argv.clone();
    if cmd.tty {
        // The client sends the terminal's size right after it opened its streams: the command
        // starts on a terminal of that size rather than being resized once it runs.
        if let Some(rx) = streams.resize.as_mut() {
            if let Ok(Some(size)) = tokio::time::timeout(FIRST_RESIZE, rx.recv()).await {
                cmd.size = Some((size.width, size.height));
            }
        }
    }
    let mut process = match runtime.exec(id, cmd).await {
        Ok(p) => p,
        Err(e) => return Outcome::Error(format!("error executing command in container: {e}")),
    };
    let mut side = Vec::new();
    if let (Some(mut rx), Some(mut w)) = (streams.stdin, process.stdin.take()) {
        side.push(tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if w.write_all(&b).await.is_err() || w.flush().await.is_err() {
                    return;
                }
            }
            // The client's end of stdin closes the command's.
            let _ = w.shutdown().await;
        }));
    }
    if let (Some(mut rx), Some(t)) = (streams.resize, process.terminal.clone()) {
        side.push(tokio::spawn(async move {
            while let Some(size) = rx.recv().await {
                t.resize(size.width, size.height);
            }
        }));
    }
    let mut outputs = vec![tokio::spawn(copy_out(process.stdout, streams.stdout))];
    if let Some(err) = process.stderr {
        outputs.push(tokio::spawn(copy_out(err, streams.stderr)));
    }
    let code = process.exit.await;
    let _ = tokio::time::timeout(DRAIN, futures_util::future::join_all(outputs)).await;
    for task in side {
        task.abort();
    }
    if code == 0 {
        Outcome::Success
    } else {
        Outcome::ExitCode { argv, code }
    }
}

/// Joins `streams` to the running container `id` until it exits or the client leaves.
pub async fn attach(runtime: Arc<dyn Runtime>, id: &str, tty: bool, streams: Streams) -> Outcome {
    let Some(mut attached) = runtime.attach(id) else {
        return Outcome::Error(format!("container {id} is not running"));
    };
    let wants_output = streams.stdout.is_some() || streams.stderr.is_some();
    let mut stdin_task = None;
    if let (Some(mut rx), Some(stdin)) = (streams.stdin, attached.stdin.clone()) {
        let once = attached.stdin_once;
        stdin_task = Some(tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                let mut guard = stdin.lock().await;
                let Some(w) = guard.as_mut() else { return };
                if w.write_all(&b).await.is_err() || w.flush().await.is_err() {
                    return;
                }
            }
            if once {
                // stdinOnce: the first client's end of stdin is the container's.
                stdin.lock().await.take();
            }
        }));
    }
    let send = |is_err: bool, b: Bytes| {
        let to = if is_err && !tty {
            streams.stderr.as_ref()
        } else {
            streams.stdout.as_ref()
        };
        let to = to.cloned();
        async move {
            match to {
                Some(tx) => tx.send(b).await.is_ok(),
                None => true,
            }
        }
    };
    loop {
        tokio::select! {
            got = attached.output.recv() => match got {
                Ok((is_err, b)) => {
                    if !send(is_err, b).await {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = async { let _ = attached.exited.wait_for(Option::is_some).await; } => {
                while let Ok((is_err, b)) = attached.output.try_recv() {
                    if !send(is_err, b).await {
                        break;
                    }
                }
                break;
            }
            _ = async {
                match stdin_task.as_mut() {
                    Some(t) => { let _ = t.await; }
                    None => std::future::pending::<()>().await,
                }
            }, if !wants_output => break,
        }
    }
    if let Some(t) = stdin_task {
        t.abort();
    }
    Outcome::Success
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_the_statuses_kubectl_reads() {
        let v: serde_json::Value = serde_json::from_slice(&Outcome::Success.status()).unwrap();
        assert_eq!(v, json!({"metadata": {}, "status": "Success"}));
        let v: serde_json::Value = serde_json::from_slice(
            &Outcome::ExitCode {
                argv: vec!["sh".into(), "-c".into(), "exit 3".into()],
                code: 3,
            }
            .status(),
        )
        .unwrap();
        assert_eq!(v["reason"], "NonZeroExitCode");
        assert_eq!(
            v["details"]["causes"][0],
            json!({"reason": "ExitCode", "message": "3"})
        );
        let v: serde_json::Value =
            serde_json::from_slice(&Outcome::Error("boom".into()).status()).unwrap();
        assert_eq!(v["message"], "Internal error occurred: boom");
    }
}
