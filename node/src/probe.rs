//! Container probes as the kubelet's prober runs them: exec (the command run with the
//! container's environment, success on exit 0), httpGet (a status from 200 to 399) and
//! tcpSocket (the connection opens), each within `timeoutSeconds`; and the per-container
//! bookkeeping of `initialDelaySeconds`, `periodSeconds`, `successThreshold` and
//! `failureThreshold`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [
        ProbeKind::Startup,
        ProbeKind::Liveness,
        ProbeKind::Readiness,
    ];

    /// How the kubelet names it in events.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }

    pub fn of(self, c: &Container) -> Option<&Probe> {
        match self {
            ProbeKind::Liveness => c.liveness_probe.as_ref(),
            ProbeKind::Readiness => c.readiness_probe.as_ref(),
            ProbeKind::Startup => c.startup_probe.as_ref(),
        }
    }
}

fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(u64::try_from(v.unwrap_or(default).max(0)).unwrap_or(0))
}

/// A probe's timing and thresholds with upstream's defaults.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: i32,
    pub failure_threshold: i32,
}

impl Timing {
    pub fn of(p: &Probe) -> Timing {
        Timing {
            initial_delay: secs(p.initial_delay_seconds, 0),
            period: secs(p.period_seconds, 10).max(Duration::from_secs(1)),
            timeout: secs(p.timeout_seconds, 1).max(Duration::from_secs(1)),
            success_threshold: p.success_threshold.unwrap_or(1).max(1),
            failure_threshold: p.failure_threshold.unwrap_or(3).max(1),
        }
    }
}

/// One probe of one running container.
#[derive(Clone, Debug)]
pub struct ProbeTrack {
    pub kind: ProbeKind,
    pub timing: Timing,
    pub next_at: Instant,
    pub in_flight: bool,
    pub successes: i32,
    pub failures: i32,
}

impl ProbeTrack {
    pub fn new(kind: ProbeKind, probe: &Probe, started: Instant) -> ProbeTrack {
        let timing = Timing::of(probe);
        ProbeTrack {
            kind,
            timing,
            next_at: started + timing.initial_delay,
            in_flight: false,
            successes: 0,
            failures: 0,
        }
    }

    /// Records a result; returns whether the probe's threshold was just crossed (readiness and
    /// startup: it succeeded enough; liveness and startup failures: it failed enough).
    pub fn record(&mut self, ok: bool, now: Instant) -> bool {
        self.in_flight = false;
        self.next_at = now + self.timing.period;
        if ok {
            self.failures = 0;
            self.successes += 1;
            self.successes == self.timing.success_threshold
        } else {
            self.successes = 0;
            self.failures += 1;
            self.failures == self.timing.failure_threshold
        }
    }
}

/// Where a probe runs.
pub struct Target {
    pub pod_ip: IpAddr,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    pub container: Container,
}

/// Runs `probe` once: `Ok(())` on success, else why it failed (the event's message).
pub async fn run(probe: &Probe, target: &Target) -> Result<(), String> {
    let timeout = Timing::of(probe).timeout;
    let attempt = async {
        if let Some(exec) = &probe.exec {
            let argv = exec.command.clone().unwrap_or_default();
            let Some((program, args)) = argv.split_first() else {
                return Err("exec probe has no command".to_string());
            };
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args)
                .env_clear()
                .envs(target.env.iter().map(|(k, v)| (k, v)))
                .current_dir(&target.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            if !target.env.iter().any(|(k, _)| k == "PATH") {
                cmd.env("PATH", crate::runtime::DEFAULT_PATH);
            }
            let out = cmd.output().await.map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                Err(text.trim().to_string())
            }
        } else if let Some(http) = &probe.http_get {
            if http.scheme.as_deref() == Some("HTTPS") {
                return Err("HTTPS probes are not supported by this agent yet".into());
            }
            let port = port(&http.port, &target.container)?;
            let host = http
                .host
                .as_deref()
                .and_then(|h| h.parse::<IpAddr>().ok())
                .unwrap_or(target.pod_ip);
            let path = http.path.clone().unwrap_or_else(|| "/".into());
            let stream = tokio::net::TcpStream::connect((host, port))
                .await
                .map_err(|e| format!("Get \"http://{host}:{port}{path}\": {e}"))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let mut req = hyper::Request::get(&path)
                .header("Host", format!("{host}:{port}"))
                .header("User-Agent", "kube-probe/1.33")
                .header("Accept", "*/*");
            for h in http.http_headers.iter().flatten() {
                req = req.header(h.name.as_str(), h.value.as_str());
            }
            let req = req
                .body(Empty::<bytes::Bytes>::new())
                .map_err(|e| e.to_string())?;
            let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
            let code = resp.status().as_u16();
            if (200..400).contains(&code) {
                Ok(())
            } else {
                Err(format!("HTTP probe failed with statuscode: {code}"))
            }
        } else if let Some(tcp) = &probe.tcp_socket {
            let port = port(&tcp.port, &target.container)?;
            let host = tcp
                .host
                .as_deref()
                .and_then(|h| h.parse::<IpAddr>().ok())
                .unwrap_or(target.pod_ip);
            tokio::net::TcpStream::connect((host, port))
                .await
                .map(|_| ())
                .map_err(|e| format!("dial tcp {host}:{port}: {e}"))
        } else if probe.grpc.is_some() {
            Err("gRPC probes are not supported by this agent yet".into())
        } else {
            Err("the probe names no handler".into())
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("probe timed out after {}s", timeout.as_secs())),
    }
}

/// Runs a lifecycle hook (postStart or preStop) within `limit`: its exec, httpGet or
/// tcpSocket action as a probe's, or its sleep.
pub async fn run_hook(
    hook: &k8s_openapi::api::core::v1::LifecycleHandler,
    target: &Target,
    limit: Duration,
) -> Result<(), String> {
    if let Some(s) = &hook.sleep {
        let secs = Duration::from_secs(u64::try_from(s.seconds).unwrap_or(0));
        tokio::time::sleep(secs.min(limit)).await;
        return Ok(());
    }
    let as_probe = Probe {
        exec: hook.exec.clone(),
        http_get: hook.http_get.clone(),
        tcp_socket: hook.tcp_socket.clone(),
        timeout_seconds: Some(i32::try_from(limit.as_secs()).unwrap_or(i32::MAX).max(1)),
        ..Probe::default()
    };
    run(&as_probe, target).await
}

/// A probe's port: a number, or the name of one of the container's ports.
fn port(p: &IntOrString, c: &Container) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .and_then(|cp| u16::try_from(cp.container_port).ok())
            .ok_or_else(|| format!("port {name:?} is not a port of container {}", c.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thresholds_are_crossed_once() {
        let probe: Probe = serde_json::from_value(
            json!({"failureThreshold": 2, "successThreshold": 2, "periodSeconds": 5}),
        )
        .unwrap();
        let t0 = Instant::now();
        let mut t = ProbeTrack::new(ProbeKind::Readiness, &probe, t0);
        assert!(!t.record(true, t0));
        assert!(t.record(true, t0), "the second success crosses");
        assert!(!t.record(true, t0));
        assert!(!t.record(false, t0));
        assert!(t.record(false, t0), "the second failure crosses");
        assert_eq!(t.next_at, t0 + Duration::from_secs(5));
    }

    #[tokio::test]
    async fn exec_tcp_and_http_probes_pass_and_fail() {
        let dir = tempfile::tempdir().unwrap();
        let container: Container = serde_json::from_value(
            json!({"name": "c", "ports": [{"name": "web", "containerPort": 1}]}),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let code = if req.starts_with("GET /healthy ") {
                    "200 OK"
                } else {
                    "503 Unavailable"
                };
                let _ = s
                    .write_all(format!("HTTP/1.1 {code}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let target = Target {
            pod_ip: "127.0.0.1".parse().unwrap(),
            env: vec![("GREETING".into(), "hi".into())],
            dir: dir.path().to_path_buf(),
            container,
        };
        let probe = |v: serde_json::Value| serde_json::from_value::<Probe>(v).unwrap();
        assert_eq!(
            run(
                &probe(json!({"exec": {"command": ["sh", "-c", "test \"$GREETING\" = hi"]}})),
                &target
            )
            .await,
            Ok(())
        );
        assert_eq!(
            run(
                &probe(json!({"exec": {"command": ["sh", "-c", "echo sick; exit 1"]}})),
                &target
            )
            .await,
            Err("sick".into())
        );
        assert_eq!(
            run(&probe(json!({"tcpSocket": {"port": port}})), &target).await,
            Ok(())
        );
        assert_eq!(
            run(
                &probe(json!({"httpGet": {"port": port, "path": "/healthy"}})),
                &target
            )
            .await,
            Ok(())
        );
        assert_eq!(
            run(
                &probe(json!({"httpGet": {"port": port, "path": "/other"}})),
                &target
            )
            .await,
            Err("HTTP probe failed with statuscode: 503".into())
        );
        let slow = run(
            &probe(json!({"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 1})),
            &target,
        )
        .await;
        assert_eq!(slow, Err("probe timed out after 1s".into()));
    }
}
