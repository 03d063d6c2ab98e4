//! Container probes as the kubelet's prober runs them: exec (the command run in the
//! container through the runtime, with the container's environment, success on exit 0), grpc
//! (`grpc.health.v1` answering SERVING), httpGet (HTTP or HTTPS with certificates unchecked, a
//! status from 200 to 399) and tcpSocket (the connection opens), each within `timeoutSeconds`; and the per-container
//! bookkeeping of `initialDelaySeconds`, `periodSeconds`, `successThreshold` and
//! `failureThreshold`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, GRPCAction, HTTPGetAction, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::runtime::{ExecCommand, Runtime};

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
    /// The runtime and the running container an exec probe or hook runs in.
    pub runtime: Arc<dyn Runtime>,
    pub container_id: String,
}

/// The most of an exec probe's output kept for its message (the kubelet's `maxProbeOutput`
/// is 10 KiB).
const MAX_PROBE_OUTPUT: u64 = 10 * 1024;

/// Runs `argv` in the target's container, as the kubelet runs an exec probe through the
/// runtime: success is exit code 0; the output is the failure's message.
async fn exec_in(target: &Target, argv: Vec<String>) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut p = target
        .runtime
        .exec(
            &target.container_id,
            ExecCommand {
                argv,
                env: target.env.clone(),
                dir: target.dir.clone(),
                tty: false,
                stdin: false,
                size: None,
            },
        )
        .await?;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut stdout_limited = (&mut p.stdout).take(MAX_PROBE_OUTPUT);
    let stdout = stdout_limited.read_to_end(&mut out);
    let stderr = async {
        match p.stderr.as_mut() {
            Some(e) => e
                .take(MAX_PROBE_OUTPUT)
                .read_to_end(&mut err)
                .await
                .map(drop),
            None => Ok(()),
        }
    };
    let _ = tokio::join!(stdout, stderr);
    let code = p.exit.await;
    if code == 0 {
        Ok(())
    } else {
        let mut text = String::from_utf8_lossy(&out).into_owned();
        text.push_str(&String::from_utf8_lossy(&err));
        let text = text.trim();
        Err(if text.is_empty() {
            format!("command terminated with exit code {code}")
        } else {
            text.to_string()
        })
    }
}

/// The innermost cause of an error, as Go's probers print it.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut e = e;
    while let Some(next) = e.source() {
        e = next;
    }
    e.to_string()
}

/// The client of httpGet probes: no proxies, no kept connections (the kubelet disables
/// keep-alives), certificates not verified for HTTPS (as the kubelet's prober does), and
/// redirects followed up to 10 times on the same host — a redirect to another host is
/// answered by the redirect itself, which counts as success.
fn http_client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .danger_accept_invalid_certs(true)
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    let first = attempt
                        .previous()
                        .first()
                        .and_then(|u| u.host_str().map(str::to_string));
                    if attempt.previous().len() > 10 {
                        attempt.error("stopped after 10 redirects")
                    } else if first.as_deref() != attempt.url().host_str() {
                        attempt.stop()
                    } else {
                        attempt.follow()
                    }
                }))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

async fn http_get(http: &HTTPGetAction, target: &Target, timeout: Duration) -> Result<(), String> {
    let port = port(&http.port, &target.container)?;
    let host = http
        .host
        .as_deref()
        .and_then(|h| h.parse::<IpAddr>().ok())
        .unwrap_or(target.pod_ip);
    let scheme = if http.scheme.as_deref() == Some("HTTPS") {
        "https"
    } else {
        "http"
    };
    let path = http.path.clone().unwrap_or_else(|| "/".into());
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let authority = std::net::SocketAddr::new(host, port).to_string();
    let url = format!("{scheme}://{authority}{path}");
    let mut req = http_client()?
        .get(&url)
        .timeout(timeout)
        .header("User-Agent", "kube-probe/1.33")
        .header("Accept", "*/*");
    for h in http.http_headers.iter().flatten() {
        req = req.header(h.name.as_str(), h.value.as_str());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("Get {url:?}: {}", root_cause(&e)))?;
    let code = resp.status().as_u16();
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// A grpc probe: `grpc.health.v1.Health/Check` on the pod's IP, over plain HTTP/2; success
/// is `SERVING`, with the kubelet's messages otherwise.
async fn grpc_check(grpc: &GRPCAction, target: &Target, timeout: Duration) -> Result<(), String> {
    let port = u16::try_from(grpc.port).map_err(|_| format!("invalid port {}", grpc.port))?;
    let addr = std::net::SocketAddr::new(target.pod_ip, port).to_string();
    let service = grpc.service.clone().unwrap_or_default();
    let unreachable = |e: &dyn std::fmt::Display| {
        format!(
            "timeout: failed to connect service {addr:?} within {}s: {e}",
            timeout.as_secs()
        )
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| unreachable(&e))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .map_err(|e| unreachable(&root_cause(&e)))?;
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.map_err(|e| unreachable(&e))?;
    let resp = client
        .unary(
            tonic::Request::new(HealthCheckRequest { service }),
            http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check"),
            tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default(),
        )
        .await;
    match resp {
        Ok(r) if r.get_ref().status == 1 => Ok(()),
        Ok(r) => {
            let status = match r.get_ref().status {
                0 => "UNKNOWN",
                2 => "NOT_SERVING",
                3 => "SERVICE_UNKNOWN",
                _ => "UNRECOGNIZED",
            };
            Err(format!("service unhealthy (responded with {status:?})"))
        }
        Err(s) if s.code() == tonic::Code::Unimplemented => Err(format!(
            "this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
            s.message()
        )),
        Err(s) if s.code() == tonic::Code::DeadlineExceeded => Err(format!(
            "timeout: health rpc did not complete within {}s",
            timeout.as_secs()
        )),
        Err(s) => Err(format!("error: health rpc probe failed: {}", s.message())),
    }
}

/// Runs `probe` once: `Ok(())` on success, else why it failed (the event's message).
pub async fn run(probe: &Probe, target: &Target) -> Result<(), String> {
    let timeout = Timing::of(probe).timeout;
    let attempt = async {
        if let Some(exec) = &probe.exec {
            let argv = exec.command.clone().unwrap_or_default();
            if argv.is_empty() {
                return Err("exec probe has no command".to_string());
            }
            exec_in(target, argv).await
        } else if let Some(http) = &probe.http_get {
            http_get(http, target, timeout).await
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
        } else if let Some(grpc) = &probe.grpc {
            grpc_check(grpc, target, timeout).await
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
        use crate::runtime::Runtime;
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
        // Exec probes run in a running container of a runtime: the process runtime's.
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let runtime = Arc::new(crate::runtime::process::ProcessRuntime::new(ip));
        let sandbox = crate::runtime::Sandbox {
            id: "probe-test".into(),
            ip,
            dir: dir.path().to_path_buf(),
        };
        let (exits, _exited) = tokio::sync::mpsc::unbounded_channel();
        let container_id = runtime
            .start_container(
                &sandbox,
                crate::runtime::ContainerStart {
                    name: "c".into(),
                    image: "i".into(),
                    rootfs: Vec::new(),
                    argv: vec!["sleep".into(), "30".into()],
                    env: Vec::new(),
                    working_dir: None,
                    log_path: dir.path().join("c.log"),
                    stdin: false,
                    stdin_once: false,
                    mounts: Vec::new(),
                    limits: Default::default(),
                    uid: None,
                    gid: None,
                    exits,
                },
            )
            .await
            .unwrap();
        let target = Target {
            pod_ip: ip,
            env: vec![("GREETING".into(), "hi".into())],
            dir: dir.path().to_path_buf(),
            container,
            runtime: runtime.clone(),
            container_id: container_id.clone(),
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
        runtime
            .stop_container(&container_id, Duration::from_secs(1))
            .await;
    }
}
