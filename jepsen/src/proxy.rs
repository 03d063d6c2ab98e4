//! `LinkProxy`: a TCP proxy on loopback for one directed link (a replica dialling another, or a
//! client lane dialling a replica), whose behaviour the nemesis switches at run time. This is
//! how faults reach the network without privileges (the kernel here has no netem), as etcd's
//! robustness suite does with its own proxy.
//!
//! - `Pass`: bytes flow.
//! - `Blackhole`: bytes are swallowed in both directions and new connections hang, so callers
//!   see timeouts as in a real partition. A connection that lost bytes is never used again: it
//!   stays silent until the link heals and is then closed, so no stream resumes mid-frame.
//! - `Delay(d)`: every chunk waits `d` (plus up to `jitter`) before it is forwarded.
//! - `Loss(p)`: a chunk is late by a retransmission timeout (200 ms) with probability `p`, which
//!   is what loss looks like above TCP.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What a link does to the bytes crossing it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinkMode {
    Pass,
    Blackhole,
    Delay { ms: u64, jitter_ms: u64 },
    Loss { p: f64 },
}

/// Retransmission delay a lost chunk suffers.
const RETRANSMIT: Duration = Duration::from_millis(200);

/// One directed link's proxy. Dropping it stops accepting; open connections end when their
/// peers close or the proxy's tasks are aborted with the runtime.
pub struct LinkProxy {
    pub name: String,
    pub addr: SocketAddr,
    mode: watch::Sender<LinkMode>,
    target: Arc<Mutex<SocketAddr>>,
    accept: tokio::task::JoinHandle<()>,
}

impl LinkProxy {
    /// Listens on `bind` (loopback, port 0) and forwards to `target`.
    pub async fn start(name: &str, bind: SocketAddr, target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(LinkMode::Pass);
        let target = Arc::new(Mutex::new(target));
        let accept = tokio::spawn(accept_loop(listener, mode.subscribe(), target.clone()));
        Ok(LinkProxy {
            name: name.to_string(),
            addr,
            mode,
            target,
            accept,
        })
    }

    pub fn set(&self, mode: LinkMode) {
        self.mode.send_replace(mode);
    }

    pub fn mode(&self) -> LinkMode {
        *self.mode.borrow()
    }

    /// Forwards new connections to `target` from now on.
    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = target;
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    mode: watch::Receiver<LinkMode>,
    target: Arc<Mutex<SocketAddr>>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = inbound.set_nodelay(true);
        let to = *target.lock().unwrap_or_else(|p| p.into_inner());
        tokio::spawn(connection(inbound, to, mode.clone()));
    }
}

/// One proxied connection: waits while the link is down, then pumps both directions.
async fn connection(inbound: TcpStream, to: SocketAddr, mut mode: watch::Receiver<LinkMode>) {
    // A new connection over a cut link hangs (SYN accepted, nothing answers) until healed.
    if *mode.borrow() == LinkMode::Blackhole {
        let _ = mode.wait_for(|m| *m != LinkMode::Blackhole).await;
        return;
    }
    let Ok(outbound) = TcpStream::connect(to).await else {
        return;
    };
    let _ = outbound.set_nodelay(true);
    let tainted = Arc::new(AtomicBool::new(false));
    let (ri, wi) = inbound.into_split();
    let (ro, wo) = outbound.into_split();
    let a = tokio::spawn(pump(ri, wo, mode.clone(), tainted.clone()));
    let b = tokio::spawn(pump(ro, wi, mode.clone(), tainted.clone()));
    let _ = tokio::join!(a, b);
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<LinkMode>,
    tainted: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let current = *mode.borrow();
        if tainted.load(Ordering::SeqCst) || current == LinkMode::Blackhole {
            // Bytes lost: this connection is finished. Keep it silent until the link heals, then
            // close it (both pumps end, both sockets close).
            tainted.store(true, Ordering::SeqCst);
            let _ = mode.wait_for(|m| *m != LinkMode::Blackhole).await;
            return;
        }
        let wait = match current {
            LinkMode::Delay { ms, jitter_ms } => {
                let j = if jitter_ms > 0 {
                    rand::thread_rng().gen_range(0..=jitter_ms)
                } else {
                    0
                };
                Duration::from_millis(ms + j)
            }
            LinkMode::Loss { p } if rand::thread_rng().gen_bool(p.clamp(0.0, 1.0)) => RETRANSMIT,
            _ => Duration::ZERO,
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
