//! Container logs in the CRI format the kubelet reads (`<RFC 3339 nanos> <stream> <P|F>
//! <content>`): one line per line of output, `F` for a full line and `P` for a part (a line
//! longer than 16 KiB, or output that ended without a newline).

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// The longest line written as one record (containerd's buffer).
const MAX_LINE: usize = 16 * 1024;

/// One record of a CRI log file.
pub fn record(at: Timestamp, stream: &str, content: &[u8], full: bool) -> Vec<u8> {
    // jiff prints a timestamp as Go's RFC3339Nano does (UTC, trailing zeros dropped).
    let mut out = format!("{at} {stream} {} ", if full { 'F' } else { 'P' }).into_bytes();
    out.extend_from_slice(content);
    out.push(b'\n');
    out
}

/// A piece of a container's live output for attached clients: whether it is stderr, and its
/// bytes.
pub type Output = (bool, bytes::Bytes);

/// Opens (appending) a container instance's log file, making its directory.
pub async fn open(path: &std::path::Path) -> Result<tokio::fs::File, String> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| format!("opening {}: {e}", path.display()))
}

/// How many pieces of output an attached client may fall behind before it misses some.
const ATTACH_BUFFER: usize = 256;

/// A container's stdout and stderr on their way to its log file and to attached clients.
pub struct Capture {
    /// What attached clients subscribe to.
    pub live: tokio::sync::broadcast::Sender<Output>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    file: Arc<Mutex<tokio::fs::File>>,
}

impl Capture {
    /// Starts copying `child`'s piped stdout and stderr into `file`.
    pub fn start(child: &mut tokio::process::Child, file: tokio::fs::File) -> Capture {
        let file = Arc::new(Mutex::new(file));
        let (live, _) = tokio::sync::broadcast::channel(ATTACH_BUFFER);
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(
                out,
                "stdout",
                file.clone(),
                Some(live.clone()),
            )));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(
                err,
                "stderr",
                file.clone(),
                Some(live.clone()),
            )));
        }
        Capture { live, pumps, file }
    }

    /// Once the container has exited: waits up to `drain` for the rest of its output (a
    /// child that outlived it can hold a pipe open) and flushes the file.
    pub async fn finish(self, drain: std::time::Duration) {
        let _ = tokio::time::timeout(drain, futures_util::future::join_all(self.pumps)).await;
        let _ = self.file.lock().await.flush().await;
    }
}

/// Copies `output` (the container's `stream`, "stdout" or "stderr") into the log `file` until
/// it ends, and to whoever is attached through `live`.
pub async fn pump(
    output: impl AsyncRead + Unpin,
    stream: &'static str,
    file: Arc<Mutex<tokio::fs::File>>,
    live: Option<tokio::sync::broadcast::Sender<Output>>,
) {
    let mut reader = BufReader::with_capacity(MAX_LINE, output);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        // A line is read up to its newline or MAX_LINE, whichever comes first.
        let n = loop {
            let buf = match reader.fill_buf().await {
                Ok(b) => b,
                Err(_) => break line.len(),
            };
            if buf.is_empty() {
                break line.len();
            }
            let room = MAX_LINE - line.len();
            let take = buf.iter().take(room).position(|b| *b == b'\n');
            match take {
                Some(i) => {
                    line.extend_from_slice(&buf[..=i]);
                    reader.consume(i + 1);
                    break line.len();
                }
                None => {
                    let n = buf.len().min(room);
                    line.extend_from_slice(&buf[..n]);
                    reader.consume(n);
                    if line.len() >= MAX_LINE {
                        break line.len();
                    }
                }
            }
        };
        if n == 0 {
            return;
        }
        let full = line.last() == Some(&b'\n');
        let content = if full {
            &line[..line.len() - 1]
        } else {
            &line[..]
        };
        if let Some(live) = &live {
            // Nobody attached is no error.
            let _ = live.send((stream == "stderr", bytes::Bytes::copy_from_slice(&line)));
        }
        let rec = record(Timestamp::now(), stream, content, full);
        let mut f = file.lock().await;
        if f.write_all(&rec).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_become_records_and_unterminated_output_a_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let file = Arc::new(Mutex::new(tokio::fs::File::create(&path).await.unwrap()));
        let long = "x".repeat(MAX_LINE + 10);
        let input = format!("hello\n\nworld\n{long}\ntail");
        let (live, mut attached) = tokio::sync::broadcast::channel(16);
        pump(input.as_bytes(), "stdout", file.clone(), Some(live)).await;
        assert_eq!(
            attached.recv().await.unwrap(),
            (false, bytes::Bytes::from_static(b"hello\n"))
        );
        file.lock().await.flush().await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let tags: Vec<(&str, &str, usize)> = text
            .lines()
            .map(|l| {
                let mut parts = l.splitn(4, ' ');
                let _ts = parts.next();
                let stream = parts.next().unwrap();
                let tag = parts.next().unwrap();
                (stream, tag, parts.next().unwrap_or("").len())
            })
            .collect();
        assert_eq!(
            tags,
            [
                ("stdout", "F", 5),
                ("stdout", "F", 0),
                ("stdout", "F", 5),
                ("stdout", "P", MAX_LINE),
                ("stdout", "F", 10),
                ("stdout", "P", 4),
            ]
        );
        assert!(text.starts_with(&Timestamp::now().to_string()[..5]));
    }
}
