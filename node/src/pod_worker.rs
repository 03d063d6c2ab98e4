//! One pod on one node, run as the kubelet's pod worker runs it: admission, the sandbox, init
//! containers in order, the containers with their restart policy and back-off, the phase and
//! conditions written to `pods/status` when they change, `activeDeadlineSeconds`, graceful
//! termination when the pod is deleted (SIGTERM, the grace period, SIGKILL, then the final
//! delete of the object), and the node's shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    Container, ContainerStateTerminated, HostIP, Pod, PodCondition, PodIP, PodStatus, Secret,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::Api;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::config::RuntimeKind;
use crate::container_record::{ContainerRecord, State};
use crate::env::{self, EnvSources, PodPlace};
use crate::images;
use crate::node_context::NodeContext;
use crate::pod_index::{ContainerEntry, PodEntry};
use crate::pod_status::{self, RestartPolicy};
use crate::probe::{self, ProbeKind, ProbeTrack};
use crate::runtime::sandbox::cgroup::Limits;
use crate::runtime::sandbox::init::BindMount;
use crate::runtime::{ContainerStart, Exit, Sandbox, SandboxError, StartError};
use crate::termination_message::TerminationMessage;
use crate::volumes::{self, VolumePaths};

/// How soon a pod waiting for its node's pod CIDR looks again.
const CIDR_WAIT: Duration = Duration::from_millis(200);
/// How soon a failed step (sandbox, environment, status write) is tried again.
const RETRY: Duration = Duration::from_secs(2);
/// How often ConfigMap, Secret and downward API volumes are refreshed (the kubelet's sync
/// period is a minute; an update reaches the file within this).
const VOLUME_RESYNC: Duration = Duration::from_secs(10);

/// Which list a container is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Init,
    Regular,
}

/// A probe's result for the container instance `container_id`.
struct ProbeResult {
    container_id: String,
    kind: ProbeKind,
    outcome: Result<(), String>,
}

/// How the pod ended on this node.
#[derive(Clone, Debug)]
struct Terminal {
    phase: &'static str,
    reason: Option<String>,
    message: Option<String>,
    /// Stopped by the node's shutdown (the DisruptionTarget condition).
    disruption: bool,
}

/// The worker of one pod.
pub struct PodWorker {
    ctx: Arc<NodeContext>,
    uid: String,
    pod: Pod,
    updates: watch::Receiver<Option<Pod>>,
    exits_tx: mpsc::UnboundedSender<Exit>,
    exits: mpsc::UnboundedReceiver<Exit>,
    probes_tx: mpsc::UnboundedSender<ProbeResult>,
    probes: mpsc::UnboundedReceiver<ProbeResult>,
    sandbox: Option<Sandbox>,
    pod_ip: Option<String>,
    /// The pod's volumes once set up, and when they were last refreshed.
    volumes: Option<(VolumePaths, Instant)>,
    init: Vec<ContainerRecord>,
    containers: Vec<ContainerRecord>,
    init_done: bool,
    start_time: Option<Timestamp>,
    deadline_at: Option<Instant>,
    terminal: Option<Terminal>,
    written: Option<PodStatus>,
    wake_at: Option<Instant>,
}

fn spec_containers(pod: &Pod, kind: Kind) -> Vec<Container> {
    let spec = pod.spec.as_ref();
    match kind {
        Kind::Init => spec
            .and_then(|s| s.init_containers.clone())
            .unwrap_or_default(),
        Kind::Regular => spec.map(|s| s.containers.clone()).unwrap_or_default(),
    }
}

/// A container's cgroup limits: `limits.memory` and `limits.cpu`, and `requests.cpu` for
/// its CPU weight (a request defaults to the limit, as the API server defaults it).
fn limits(c: &Container) -> Limits {
    use capstan_controllers::persistentvolume_binder::matching::parse_quantity;
    let get = |set: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
               name: &str| {
        set.and_then(|s| s.get(name))
            .and_then(|q| parse_quantity(&q.0))
    };
    let r = c.resources.as_ref();
    let lim = r.and_then(|r| r.limits.as_ref());
    let req = r.and_then(|r| r.requests.as_ref());
    let cpu_limit = get(lim, "cpu");
    Limits {
        memory_bytes: get(lim, "memory").map(|b| b.ceil() as u64),
        cpu_limit_milli: cpu_limit.map(|c| (c * 1000.0).ceil() as u64),
        cpu_request_milli: get(req, "cpu")
            .or(cpu_limit)
            .map(|c| (c * 1000.0).ceil() as u64),
    }
}

/// `runAsUser` and `runAsGroup`, the container's over the pod's.
/// A container's image, unpacked and ready to be its root.
struct PreparedImage {
    image: images::StoredImage,
    /// The unpacked layers, topmost first.
    layers: Vec<std::path::PathBuf>,
    run: images::RunConfig,
}

fn run_as(pod: &Pod, c: &Container) -> (Option<u32>, Option<u32>) {
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = c.security_context.as_ref();
    let pick = |own: Option<i64>, pod: Option<i64>| own.or(pod).and_then(|v| u32::try_from(v).ok());
    (
        pick(
            sc.and_then(|s| s.run_as_user),
            pod_sc.and_then(|s| s.run_as_user),
        ),
        pick(
            sc.and_then(|s| s.run_as_group),
            pod_sc.and_then(|s| s.run_as_group),
        ),
    )
}

/// The spec of the init or regular container `name`.
fn spec_of<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .find(|c| c.name == name)
}

impl PodWorker {
    pub fn new(ctx: Arc<NodeContext>, uid: String, updates: watch::Receiver<Option<Pod>>) -> Self {
        let pod = updates.borrow().clone().unwrap_or_default();
        let records = |kind| {
            spec_containers(&pod, kind)
                .iter()
                .map(|c| ContainerRecord::new(&c.name, c.image.as_deref().unwrap_or_default()))
                .collect()
        };
        let (exits_tx, exits) = mpsc::unbounded_channel();
        let (probes_tx, probes) = mpsc::unbounded_channel();
        PodWorker {
            probes_tx,
            probes,
            init: records(Kind::Init),
            containers: records(Kind::Regular),
            ctx,
            uid,
            pod,
            updates,
            exits_tx,
            exits,
            sandbox: None,
            pod_ip: None,
            volumes: None,
            init_done: false,
            start_time: None,
            deadline_at: None,
            terminal: None,
            written: None,
            wake_at: None,
        }
    }

    fn sim(&self) -> bool {
        self.ctx.config.runtime == RuntimeKind::Sim
    }

    fn name(&self) -> String {
        self.pod.metadata.name.clone().unwrap_or_default()
    }

    fn namespace(&self) -> String {
        self.pod.metadata.namespace.clone().unwrap_or_default()
    }

    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.ctx.client.clone(), &self.namespace())
    }

    fn wake(&mut self, at: Instant) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    fn policy(&self) -> RestartPolicy {
        RestartPolicy::parse(
            self.pod
                .spec
                .as_ref()
                .and_then(|s| s.restart_policy.as_deref()),
        )
    }

    fn termination_grace(&self) -> Duration {
        let secs = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30);
        Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }

    async fn event(&self, warning: bool, reason: &str, message: String) {
        if self.sim() {
            return;
        }
        if warning {
            self.ctx.recorder.warning(&self.pod, reason, message).await;
        } else {
            self.ctx.recorder.normal(&self.pod, reason, message).await;
        }
    }

    /// Runs the pod until it is deleted or the agent stops.
    pub async fn run(mut self) {
        loop {
            let latest = self.updates.borrow_and_update().clone();
            let Some(pod) = latest else {
                // Gone from the API without a graceful deletion (forced): stop at once.
                self.stop_all(Duration::ZERO).await;
                self.finish(true).await;
                return;
            };
            self.pod = pod;
            if self.ctx.stopping.is_cancelled() {
                self.shutdown().await;
                return;
            }
            if self.pod.metadata.deletion_timestamp.is_some() {
                self.delete().await;
                return;
            }
            self.wake_at = None;
            if self.terminal.is_none() {
                let api_phase = self.pod.status.as_ref().and_then(|s| s.phase.as_deref());
                if self.start_time.is_none() && matches!(api_phase, Some("Succeeded" | "Failed")) {
                    // Finished before this agent started: it is not run again.
                    return;
                }
                self.sync().await;
                if self.terminal.is_none() {
                    self.start_probes();
                }
            }
            self.write_status().await;
            let wake = self.wake_at;
            tokio::select! {
                changed = self.updates.changed() => {
                    if changed.is_err() {
                        self.stop_all(Duration::ZERO).await;
                        self.finish(false).await;
                        return;
                    }
                }
                Some(exit) = self.exits.recv() => self.on_exit(&exit),
                Some(result) = self.probes.recv() => self.on_probe(result).await,
                _ = sleep_until(wake) => {}
                _ = self.ctx.stopping.cancelled() => {}
            }
            while let Ok(exit) = self.exits.try_recv() {
                self.on_exit(&exit);
            }
        }
    }

    fn on_exit(&mut self, exit: &Exit) {
        for rec in self.init.iter_mut().chain(self.containers.iter_mut()) {
            if rec.exited(exit) {
                return;
            }
        }
    }

    /// One pass of the kubelet's syncPod.
    async fn sync(&mut self) {
        let now = Instant::now();
        if self.start_time.is_none() {
            if let Err((reason, message)) = self.ctx.admit(&self.uid, &self.pod) {
                self.event(true, &reason, message.clone()).await;
                self.terminal = Some(Terminal {
                    phase: "Failed",
                    reason: Some(reason),
                    message: Some(message),
                    disruption: false,
                });
                return;
            }
            let started = self
                .pod
                .status
                .as_ref()
                .and_then(|s| s.start_time.clone())
                .map_or_else(Timestamp::now, |t| t.0);
            self.start_time = Some(started);
            if let Some(secs) = self
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.active_deadline_seconds)
            {
                let elapsed = Timestamp::now().duration_since(started).unsigned_abs();
                let total = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
                self.deadline_at = Some(now + total.saturating_sub(elapsed));
            }
        }
        if let Some(at) = self.deadline_at {
            if now >= at {
                let message = "Pod was active on the node longer than the specified deadline";
                self.event(true, "DeadlineExceeded", message.into()).await;
                self.terminal = Some(Terminal {
                    phase: "Failed",
                    reason: Some("DeadlineExceeded".into()),
                    message: Some(message.into()),
                    disruption: false,
                });
                self.stop_all(self.termination_grace()).await;
                self.remove_sandbox().await;
                return;
            }
            self.wake(at);
        }
        if self.sandbox.is_none() {
            let cidr = self.ctx.pod_cidr.borrow().clone();
            let dir = self.ctx.pod_dir(&self.pod);
            let hostname = self.hostname();
            match self
                .ctx
                .runtime
                .run_sandbox(&self.uid, dir, cidr.as_deref(), &hostname)
                .await
            {
                Ok(s) => {
                    self.pod_ip = Some(s.ip.to_string());
                    self.sandbox = Some(s);
                }
                Err(SandboxError::NoPodCidr) => {
                    self.wake(now + CIDR_WAIT);
                    return;
                }
                Err(e) => {
                    self.event(
                        true,
                        "FailedCreatePodSandBox",
                        format!("Failed to create pod sandbox: {e}"),
                    )
                    .await;
                    self.wake(now + RETRY);
                    return;
                }
            }
        }
        if !self.sim()
            && self
                .volumes
                .as_ref()
                .is_none_or(|(_, at)| now >= *at + VOLUME_RESYNC)
        {
            if let Err(message) = self.prepare_volumes().await {
                self.event(true, "FailedMount", message).await;
                if self.volumes.is_none() {
                    self.wake(now + RETRY);
                    return;
                }
            }
        }
        if let Some((_, at)) = &self.volumes {
            let next = *at + VOLUME_RESYNC;
            self.wake(next);
        }
        let policy = self.policy();
        let init_specs = spec_containers(&self.pod, Kind::Init);
        self.init_done = true;
        for (i, c) in init_specs.iter().enumerate() {
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            let rec = &self.init[i];
            match &rec.state {
                State::Running { .. } if sidecar => continue,
                State::Running { .. } => {
                    self.init_done = false;
                    break;
                }
                State::Terminated(t) if !sidecar && t.exit_code == 0 => continue,
                State::Terminated(_) if !sidecar && policy == RestartPolicy::Never => {
                    // A failed init container of a pod that never restarts fails the pod.
                    self.init_done = false;
                    self.end("Failed").await;
                    return;
                }
                _ => {
                    self.try_start(Kind::Init, i, c).await;
                    let started = self.init[i].running_id().is_some();
                    if !(sidecar && started) {
                        self.init_done = false;
                        break;
                    }
                }
            }
        }
        if !self.init_done {
            return;
        }
        let specs = spec_containers(&self.pod, Kind::Regular);
        for (i, c) in specs.iter().enumerate() {
            let rec = &self.containers[i];
            let ended_with = match &rec.state {
                State::Running { .. } => continue,
                State::Terminated(t) => Some(t.exit_code),
                State::Waiting { reason, .. } if reason == "CrashLoopBackOff" => {
                    rec.last.as_ref().map(|t| t.exit_code)
                }
                State::Pending | State::Waiting { .. } => None,
            };
            if ended_with.is_some_and(|code| !policy.restarts(code)) {
                continue;
            }
            self.try_start(Kind::Regular, i, c).await;
        }
        let phase = pod_status::phase(policy, true, &self.containers);
        if matches!(phase, "Succeeded" | "Failed") {
            self.end(phase).await;
        }
    }

    /// The pod's hostname: `spec.hostname`, else its name, cut to 63 characters.
    fn hostname(&self) -> String {
        let name = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.hostname.clone())
            .unwrap_or_else(|| self.name());
        name.chars()
            .take(63)
            .collect::<String>()
            .trim_end_matches(['-', '.'])
            .to_string()
    }

    /// Sets up or refreshes the pod's volumes.
    async fn prepare_volumes(&mut self) -> Result<(), String> {
        let dir = self.ctx.pod_dir(&self.pod);
        let pod_ip = self.pod_ip.clone().unwrap_or_default();
        let host_ip = self.ctx.config.node_ip.to_string();
        let place = PodPlace {
            pod_ip: &pod_ip,
            host_ip: &host_ip,
            allocatable: &self.ctx.allocatable,
        };
        let paths = volumes::prepare(&self.ctx.client, &self.pod, &dir, &place).await;
        // A refresh that failed keeps what was set up.
        let at = Instant::now();
        match paths {
            Ok(p) => {
                self.volumes = Some((p, at));
                Ok(())
            }
            Err(e) => {
                if let Some((_, t)) = &mut self.volumes {
                    *t = at;
                }
                Err(e)
            }
        }
    }

    /// The pod reached `phase` by itself: what still runs (sidecars) is stopped.
    async fn end(&mut self, phase: &'static str) {
        self.terminal = Some(Terminal {
            phase,
            reason: None,
            message: None,
            disruption: false,
        });
        self.stop_all(self.termination_grace()).await;
        self.remove_sandbox().await;
        self.ctx.release(&self.uid);
    }

    fn record(&mut self, kind: Kind, i: usize) -> &mut ContainerRecord {
        match kind {
            Kind::Init => &mut self.init[i],
            Kind::Regular => &mut self.containers[i],
        }
    }

    /// Container `i` of `kind` cannot be configured (`CreateContainerConfigError`): reported,
    /// and tried again shortly.
    /// The registry logins of the pod's `imagePullSecrets`; a secret that cannot be read is
    /// skipped with the kubelet's warning.
    async fn pull_credentials(&self) -> Vec<images::Credential> {
        let names: Vec<String> = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.image_pull_secrets.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.name)
            .filter(|n| !n.is_empty())
            .collect();
        let ns = self.pod.metadata.namespace.clone().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &ns);
        let mut creds = Vec::new();
        for name in names {
            match secrets.get_opt(&name).await {
                Ok(Some(s)) => {
                    let data = s
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect();
                    creds.extend(images::credentials::from_secret(
                        s.type_.as_deref().unwrap_or_default(),
                        &data,
                    ));
                }
                Ok(None) | Err(_) => {
                    self.event(
                        true,
                        "FailedToRetrieveImagePullSecret",
                        format!(
                            "Unable to retrieve some image pull secrets ({name}); attempting to \
                             pull the image may not succeed."
                        ),
                    )
                    .await;
                }
            }
        }
        creds
    }

    /// The image container `c` runs in (the sandbox runtime): stored, or pulled as its
    /// `imagePullPolicy` says. `None`: it runs on the host's filesystem — the runtime has no
    /// images, or the image cannot be had and the container has a `command` of its own.
    async fn container_image(&self, c: &Container) -> Result<Option<PreparedImage>, StartError> {
        let Some(manager) = self.ctx.images.clone() else {
            return Ok(None);
        };
        let name = c.image.clone().unwrap_or_default();
        let has_command = c.command.as_ref().is_some_and(|v| !v.is_empty());
        let creds = self.pull_credentials().await;
        let ready = match manager
            .ensure(&name, c.image_pull_policy.as_deref(), &creds)
            .await
        {
            Ok(r) => r,
            Err(images::Unavailable::Invalid(m)) => {
                return Err(StartError::ImageRefused("InvalidImageName", m))
            }
            Err(images::Unavailable::NeverPull(_) | images::Unavailable::Pull(_))
                if has_command =>
            {
                return Ok(None)
            }
            Err(images::Unavailable::NeverPull(m)) => {
                return Err(StartError::ImageRefused("ErrImageNeverPull", m))
            }
            Err(images::Unavailable::Pull(m)) => return Err(StartError::Image(m)),
        };
        let text = match ready.pulled_in {
            Some(took) => format!(
                "Successfully pulled image {name:?} in {:.3}s. Image size: {} bytes.",
                took.as_secs_f64(),
                ready.image.size
            ),
            None => format!("Container image {name:?} already present on machine"),
        };
        self.event(false, "Pulled", text).await;
        let (layers, config) = manager
            .prepare(&ready.image)
            .await
            .map_err(|e| StartError::Start(format!("preparing the image's root: {e}")))?;
        Ok(Some(PreparedImage {
            image: ready.image,
            layers,
            run: config.config.unwrap_or_default(),
        }))
    }

    async fn config_error(&mut self, kind: Kind, i: usize, message: String, now: Instant) {
        self.event(true, "Failed", format!("Error: {message}"))
            .await;
        self.record(kind, i).state = State::Waiting {
            reason: "CreateContainerConfigError".into(),
            message,
        };
        self.wake(now + RETRY);
    }

    /// Starts container `i` of `kind`, unless it is in back-off.
    async fn try_start(&mut self, kind: Kind, i: usize, c: &Container) {
        let now = Instant::now();
        let pod_ref = format!("{}_{}({})", self.name(), self.namespace(), self.uid);
        let rec = self.record(kind, i);
        if let Some(exited) = rec.exited_at {
            if let Some(at) = rec.backoff.restart_at(exited).filter(|at| *at > now) {
                let delay = rec.backoff.delay();
                if let State::Terminated(t) = &rec.state {
                    rec.last = Some(t.clone());
                }
                let fresh = !matches!(&rec.state, State::Waiting { reason, .. } if reason == "CrashLoopBackOff");
                rec.state = State::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: format!(
                        "back-off {}s restarting failed container={} pod={pod_ref}",
                        delay.as_secs(),
                        c.name
                    ),
                };
                self.wake(at);
                if fresh {
                    self.event(
                        true,
                        "BackOff",
                        format!(
                            "Back-off restarting failed container {} in pod {pod_ref}",
                            c.name
                        ),
                    )
                    .await;
                }
                return;
            }
        }
        if let Some(failed) = rec.pull_failed_at {
            if let Some(at) = rec.pull_backoff.restart_at(failed).filter(|at| *at > now) {
                if let State::Waiting { reason, .. } = &mut rec.state {
                    if reason == "ErrImagePull" {
                        *reason = "ImagePullBackOff".into();
                    }
                }
                self.wake(at);
                return;
            }
        }
        let Some(sandbox) = self.sandbox.clone() else {
            return;
        };
        let env = if self.sim() {
            Vec::new()
        } else {
            let sources = EnvSources::fetch(&self.ctx.client, &self.pod, c).await;
            let pod_ip = self.pod_ip.clone().unwrap_or_default();
            let host_ip = self.ctx.config.node_ip.to_string();
            let place = PodPlace {
                pod_ip: &pod_ip,
                host_ip: &host_ip,
                allocatable: &self.ctx.allocatable,
            };
            match env::container_env(&self.pod, c, &sources, &place) {
                Ok(mut e) => {
                    // The runtime's own variable, as containerd sets it: the pod's hostname.
                    if !e.iter().any(|(k, _)| k == "HOSTNAME") {
                        e.push(("HOSTNAME".into(), self.name()));
                    }
                    e
                }
                Err(e) => {
                    self.config_error(kind, i, e.to_string(), now).await;
                    return;
                }
            }
        };
        let attempt = {
            let rec = self.record(kind, i);
            rec.restart_count + i32::from(rec.exited_at.is_some())
        };
        let log_path = sandbox.dir.join(&c.name).join(format!("{attempt}.log"));
        // The file mounted at terminationMessagePath, writable by any user (the sandbox
        // runtime; the process runtime's containers share the host's paths).
        let termination_file = (self.ctx.config.runtime == RuntimeKind::Sandbox)
            .then(|| {
                sandbox
                    .dir
                    .join(&c.name)
                    .join(format!("termination-{attempt}"))
            })
            .filter(|f| {
                use std::os::unix::fs::PermissionsExt;
                let made = f
                    .parent()
                    .is_some_and(|p| std::fs::create_dir_all(p).is_ok())
                    && std::fs::write(f, b"").is_ok()
                    && std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o666)).is_ok();
                made
            });
        let mounts = match &self.volumes {
            Some((paths, _)) => volumes::mounts(c, paths),
            None => Ok(Vec::new()),
        };
        let mounts = match mounts {
            Ok(mut m) => {
                if let Some(f) = &termination_file {
                    m.push(BindMount {
                        source: f.clone(),
                        target: c
                            .termination_message_path
                            .clone()
                            .unwrap_or_else(|| "/dev/termination-log".into())
                            .into(),
                        read_only: false,
                    });
                }
                m
            }
            Err(e) => {
                self.config_error(kind, i, e, now).await;
                return;
            }
        };
        let image = self.container_image(c).await;
        let (mut uid, mut gid) = run_as(&self.pod, c);
        let (command, args) = env::command_and_args(c, &env);
        let (rootfs, image_id, argv, env, working_dir) = match &image {
            Ok(Some(img)) => {
                if uid.is_none() {
                    (uid, gid) = images::user(&img.run, &img.layers);
                }
                (
                    img.layers.clone(),
                    img.image.image_id(c.image.as_deref().unwrap_or_default()),
                    images::argv(&img.run, &command, &args),
                    images::env(&img.run, env),
                    c.working_dir
                        .clone()
                        .or_else(|| img.run.working_dir.clone())
                        .filter(|d| !d.is_empty()),
                )
            }
            _ => (
                Vec::new(),
                String::new(),
                command.into_iter().chain(args).collect(),
                env,
                c.working_dir.clone(),
            ),
        };
        let rec = self.record(kind, i);
        let restarting = rec.exited_at.is_some();
        let spec_env = env.clone();
        let spec = ContainerStart {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            rootfs,
            argv,
            env,
            working_dir,
            log_path: log_path.clone(),
            exits: self.exits_tx.clone(),
            stdin: c.stdin == Some(true),
            stdin_once: c.stdin_once == Some(true),
            mounts,
            limits: limits(c),
            uid,
            gid,
        };
        let result = match image {
            Ok(_) => self.ctx.runtime.start_container(&sandbox, spec).await,
            Err(e) => Err(e),
        };
        let has_readiness = c.readiness_probe.is_some();
        let has_startup = c.startup_probe.is_some();
        let probes: Vec<ProbeTrack> = if self.sim() {
            Vec::new()
        } else {
            ProbeKind::ALL
                .iter()
                .filter_map(|k| k.of(c).map(|p| ProbeTrack::new(*k, p, now)))
                .collect()
        };
        let rec = self.record(kind, i);
        if restarting
            && !matches!(
                result,
                Err(StartError::Image(_) | StartError::ImageRefused(..))
            )
        {
            if let Some(exited) = rec.exited_at {
                rec.backoff.restarted(exited);
            }
            if let State::Terminated(t) = &rec.state {
                rec.last = Some(t.clone());
            }
            rec.restart_count += 1;
        }
        match result {
            Ok(id) => {
                rec.ever_started = true;
                rec.image_id = image_id;
                rec.state = State::Running {
                    id: id.clone(),
                    started_at: Timestamp::now(),
                };
                rec.pull_failed_at = None;
                rec.ready = !has_readiness && !has_startup;
                rec.started = !has_startup;
                rec.probes = probes;
                rec.env = spec_env;
                rec.termination_message = Some(TerminationMessage {
                    file: termination_file,
                    fallback_to_logs: c.termination_message_policy.as_deref()
                        == Some("FallbackToLogsOnError"),
                    log: log_path,
                });
                self.event(false, "Created", format!("Created container: {}", c.name))
                    .await;
                self.event(false, "Started", format!("Started container {}", c.name))
                    .await;
                if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
                    self.post_start(kind, i, c, hook, &id, &sandbox).await;
                }
            }
            Err(e @ (StartError::Image(_) | StartError::ImageRefused(..))) => {
                let failed = rec.pull_failed_at.is_some();
                if let Some(at) = rec.pull_failed_at {
                    rec.pull_backoff.restarted(at);
                }
                rec.pull_failed_at = Some(now);
                let (reason, message) = match e {
                    StartError::ImageRefused(reason, m) => (reason, m),
                    other if failed => ("ImagePullBackOff", other.to_string()),
                    other => ("ErrImagePull", other.to_string()),
                };
                rec.state = State::Waiting {
                    reason: reason.into(),
                    message: message.clone(),
                };
                let delay = rec
                    .pull_backoff
                    .restart_at(now)
                    .unwrap_or(now + crate::backoff::INITIAL);
                self.wake(delay);
                let image = c.image.clone().unwrap_or_default();
                let (event, text) = match reason {
                    "InvalidImageName" => ("InspectFailed", message),
                    "ErrImageNeverPull" => ("ErrImageNeverPull", message),
                    _ => (
                        "Failed",
                        format!("Failed to pull image {image:?}: {message}"),
                    ),
                };
                self.event(true, event, text).await;
            }
            Err(StartError::Start(message)) => {
                rec.state = State::Terminated(ContainerStateTerminated {
                    exit_code: 128,
                    reason: Some("StartError".into()),
                    message: Some(message.clone()),
                    started_at: Some(Time(Timestamp::UNIX_EPOCH)),
                    finished_at: Some(Time(Timestamp::now())),
                    ..ContainerStateTerminated::default()
                });
                rec.exited_at = Some(now);
                self.wake(now);
                self.event(true, "Failed", format!("Error: {message}"))
                    .await;
            }
        }
    }

    /// Starts the probes that are due (liveness and readiness only once the startup probe
    /// has passed), and asks to be woken for the next one.
    fn start_probes(&mut self) {
        if self.sim() {
            return;
        }
        let now = Instant::now();
        let (Some(ip), Some(sandbox)) = (
            self.pod_ip.as_deref().and_then(|ip| ip.parse().ok()),
            self.sandbox.clone(),
        ) else {
            return;
        };
        let specs: Vec<Container> = spec_containers(&self.pod, Kind::Init)
            .into_iter()
            .chain(spec_containers(&self.pod, Kind::Regular))
            .collect();
        let mut wake: Option<Instant> = None;
        for rec in self.init.iter_mut().chain(self.containers.iter_mut()) {
            let Some(id) = rec.running_id().map(str::to_string) else {
                continue;
            };
            let started = rec.started;
            let Some(spec) = specs.iter().find(|c| c.name == rec.name) else {
                continue;
            };
            for track in rec.probes.iter_mut() {
                let waits_for_startup = track.kind != ProbeKind::Startup && !started;
                let done = track.kind == ProbeKind::Startup && started;
                if waits_for_startup || done || track.in_flight {
                    continue;
                }
                if track.next_at > now {
                    wake = Some(wake.map_or(track.next_at, |w| w.min(track.next_at)));
                    continue;
                }
                let Some(probe) = track.kind.of(spec).cloned() else {
                    continue;
                };
                track.in_flight = true;
                let target = probe::Target {
                    pod_ip: ip,
                    env: rec.env.clone(),
                    dir: sandbox.dir.clone(),
                    container: spec.clone(),
                    runtime: self.ctx.runtime.clone(),
                    container_id: id.clone(),
                };
                let (tx, kind, container_id) = (self.probes_tx.clone(), track.kind, id.clone());
                tokio::spawn(async move {
                    let outcome = probe::run(&probe, &target).await;
                    let _ = tx.send(ProbeResult {
                        container_id,
                        kind,
                        outcome,
                    });
                });
            }
        }
        if let Some(w) = wake {
            self.wake(w);
        }
    }

    /// Applies a probe's result: readiness, the startup gate, or a restart after failed
    /// liveness or startup probes.
    async fn on_probe(&mut self, result: ProbeResult) {
        let now = Instant::now();
        let Some(spec) = self
            .init
            .iter()
            .chain(self.containers.iter())
            .find(|r| r.running_id() == Some(result.container_id.as_str()))
            .and_then(|r| spec_of(&self.pod, &r.name).cloned())
        else {
            return;
        };
        let Some(rec) = self
            .init
            .iter_mut()
            .chain(self.containers.iter_mut())
            .find(|r| r.running_id() == Some(result.container_id.as_str()))
        else {
            return;
        };
        let Some(track) = rec.probes.iter_mut().find(|t| t.kind == result.kind) else {
            return;
        };
        let ok = result.outcome.is_ok();
        let crossed = track.record(ok, now);
        let name = rec.name.clone();
        let mut kill = false;
        match (result.kind, ok) {
            (ProbeKind::Readiness, true) if crossed => rec.ready = true,
            (ProbeKind::Readiness, false) if crossed => rec.ready = false,
            (ProbeKind::Startup, true) if crossed => {
                rec.started = true;
                if spec.readiness_probe.is_none() {
                    rec.ready = true;
                }
            }
            (ProbeKind::Liveness | ProbeKind::Startup, false) if crossed => kill = true,
            _ => {}
        }
        if let Err(message) = &result.outcome {
            self.event(
                true,
                "Unhealthy",
                format!("{} probe failed: {message}", result.kind.name()),
            )
            .await;
        }
        if kill {
            let grace = result
                .kind
                .of(&spec)
                .and_then(|p| p.termination_grace_period_seconds)
                .map_or_else(
                    || self.termination_grace(),
                    |s| Duration::from_secs(u64::try_from(s).unwrap_or(0)),
                );
            self.event(
                false,
                "Killing",
                format!(
                    "Container {name} failed {} probe, will be restarted",
                    result.kind.name().to_lowercase()
                ),
            )
            .await;
            if let Some(exit) = self
                .ctx
                .runtime
                .stop_container(&result.container_id, grace)
                .await
            {
                self.on_exit(&exit);
            }
        }
    }

    /// Runs a container's postStart hook as the kubelet does, before anything else happens to
    /// the pod; a failed hook kills the container (its restart policy then applies).
    async fn post_start(
        &mut self,
        kind: Kind,
        i: usize,
        c: &Container,
        hook: &k8s_openapi::api::core::v1::LifecycleHandler,
        id: &str,
        sandbox: &Sandbox,
    ) {
        let Some(ip) = self.pod_ip.as_deref().and_then(|ip| ip.parse().ok()) else {
            return;
        };
        let target = probe::Target {
            pod_ip: ip,
            env: self.record(kind, i).env.clone(),
            dir: sandbox.dir.clone(),
            container: c.clone(),
            runtime: self.ctx.runtime.clone(),
            container_id: id.to_string(),
        };
        let grace = self.termination_grace();
        if let Err(message) = probe::run_hook(hook, &target, grace).await {
            self.event(
                true,
                "FailedPostStartHook",
                format!("PostStartHook failed: {message}"),
            )
            .await;
            if let Some(exit) = self.ctx.runtime.stop_container(id, grace).await {
                self.on_exit(&exit);
            }
        }
    }

    /// Runs the preStop hooks of the running containers of `kind` (within `grace`); returns
    /// how much of the grace period is left for SIGTERM.
    async fn pre_stop(&mut self, kind: Kind, grace: Duration) -> Duration {
        let started = Instant::now();
        let (Some(ip), Some(sandbox)) = (
            self.pod_ip.as_deref().and_then(|ip| ip.parse().ok()),
            self.sandbox.clone(),
        ) else {
            return grace;
        };
        let mut hooks = Vec::new();
        for c in spec_containers(&self.pod, kind) {
            let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone()) else {
                continue;
            };
            let records = match kind {
                Kind::Regular => &self.containers,
                Kind::Init => &self.init,
            };
            let Some(rec) = records
                .iter()
                .find(|r| r.name == c.name && r.running_id().is_some())
            else {
                continue;
            };
            let target = probe::Target {
                pod_ip: ip,
                env: rec.env.clone(),
                dir: sandbox.dir.clone(),
                container: c.clone(),
                runtime: self.ctx.runtime.clone(),
                container_id: rec.running_id().unwrap_or_default().to_string(),
            };
            hooks.push((c.name.clone(), hook, target));
        }
        let results = futures_util::future::join_all(
            hooks
                .iter()
                .map(|(_, hook, target)| probe::run_hook(hook, target, grace)),
        )
        .await;
        for ((name, _, _), r) in hooks.iter().zip(results) {
            if let Err(message) = r {
                self.event(
                    true,
                    "FailedPreStopHook",
                    format!("PreStopHook failed for container {name}: {message}"),
                )
                .await;
            }
        }
        grace.saturating_sub(started.elapsed())
    }

    /// Stops every running container, regular ones first, then init containers (sidecars),
    /// each given `grace`.
    async fn stop_all(&mut self, grace: Duration) {
        for kind in [Kind::Regular, Kind::Init] {
            let ids: Vec<(usize, String)> = match kind {
                Kind::Regular => &self.containers,
                Kind::Init => &self.init,
            }
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.running_id().map(|id| (i, id.to_string())))
            .collect();
            for (i, _) in &ids {
                let name = self.record(kind, *i).name.clone();
                self.event(false, "Killing", format!("Stopping container {name}"))
                    .await;
            }
            let grace = if ids.is_empty() || grace.is_zero() {
                grace
            } else {
                self.pre_stop(kind, grace).await
            };
            let runtime = self.ctx.runtime.clone();
            let exits = futures_util::future::join_all(
                ids.iter().map(|(_, id)| runtime.stop_container(id, grace)),
            )
            .await;
            for exit in exits.into_iter().flatten() {
                self.on_exit(&exit);
            }
        }
    }

    async fn remove_sandbox(&mut self) {
        if let Some(s) = self.sandbox.take() {
            self.ctx.runtime.remove_sandbox(&s).await;
        }
    }

    /// The pod is gone from this node: frees what it held; `remove_files` also removes its
    /// directory (its object is gone, so its logs are no longer readable).
    async fn finish(&mut self, remove_files: bool) {
        self.remove_sandbox().await;
        if !self.sim() {
            // Memory-backed volumes go with the pod's processes, as on a node that restarts.
            volumes::unmount_all(&self.ctx.pod_dir(&self.pod));
        }
        self.ctx.release(&self.uid);
        if remove_files && !self.sim() {
            self.ctx.pods.remove(&self.namespace(), &self.name());
            let _ = tokio::fs::remove_dir_all(self.ctx.pod_dir(&self.pod)).await;
        }
    }

    /// The pod is being deleted: stop it within its grace period, report its final status and
    /// delete the object for good (the kubelet's status manager does the last delete).
    async fn delete(&mut self) {
        let grace = self.pod.metadata.deletion_grace_period_seconds.map_or_else(
            || self.termination_grace(),
            |s| Duration::from_secs(u64::try_from(s).unwrap_or(0)),
        );
        self.stop_all(grace).await;
        self.remove_sandbox().await;
        if self.terminal.is_none() && self.start_time.is_some() {
            // A deleted pod ends Succeeded only when every container did.
            let all_ok = self
                .containers
                .iter()
                .all(|c| c.terminated().is_some_and(|t| t.exit_code == 0));
            self.terminal = Some(Terminal {
                phase: if all_ok { "Succeeded" } else { "Failed" },
                reason: None,
                message: None,
                disruption: false,
            });
        }
        if self.start_time.is_some() {
            self.write_status().await;
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        if let Err(e) = self.api().delete(&self.name(), &params).await {
            if !is_gone(&e) {
                tracing::warn!(pod = %self.name(), error = %e, "final delete failed");
            }
        }
        self.finish(true).await;
    }

    /// The agent is stopping.
    async fn shutdown(&mut self) {
        if self.ctx.config.stop_pods_on_exit && self.terminal.is_none() && self.start_time.is_some()
        {
            let grace = self
                .termination_grace()
                .min(self.ctx.config.shutdown_grace_period);
            self.stop_all(grace).await;
            self.terminal = Some(Terminal {
                phase: "Failed",
                reason: Some("Terminated".into()),
                message: Some("Pod was terminated in response to imminent node shutdown.".into()),
                disruption: true,
            });
            self.write_status().await;
        } else {
            self.stop_all(Duration::ZERO).await;
        }
        self.finish(false).await;
    }

    /// The status the API should show now.
    fn status(&self) -> PodStatus {
        let policy = self.policy();
        let phase = self.terminal.as_ref().map_or_else(
            || pod_status::phase(policy, self.init_done, &self.containers),
            |t| t.phase,
        );
        let prev = self.written.as_ref().or(self.pod.status.as_ref());
        let now = Timestamp::now();
        let mut conditions = pod_status::conditions(
            prev,
            self.sandbox.is_some(),
            &self.init,
            self.init_done,
            &self.containers,
            phase,
            now,
        );
        if self.terminal.as_ref().is_some_and(|t| t.disruption) {
            conditions.push(PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("TerminationByKubelet".into()),
                message: Some("Pod was terminated in response to imminent node shutdown.".into()),
                last_transition_time: Some(Time(now)),
                ..PodCondition::default()
            });
        }
        let pending = if self.init_done || self.init.is_empty() {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        let host_ip = self.ctx.config.node_ip.to_string();
        PodStatus {
            phase: Some(phase.to_string()),
            conditions: Some(conditions),
            host_ip: Some(host_ip.clone()),
            host_ips: Some(vec![HostIP { ip: host_ip }]),
            pod_ip: self.pod_ip.clone(),
            pod_ips: self.pod_ip.clone().map(|ip| vec![PodIP { ip }]),
            start_time: self.start_time.map(Time),
            container_statuses: Some(self.containers.iter().map(|c| c.status(pending)).collect()),
            init_container_statuses: (!self.init.is_empty()).then(|| {
                self.init
                    .iter()
                    .map(|c| c.status("PodInitializing"))
                    .collect()
            }),
            reason: self.terminal.as_ref().and_then(|t| t.reason.clone()),
            message: self.terminal.as_ref().and_then(|t| t.message.clone()),
            qos_class: self.pod.status.as_ref().and_then(|s| s.qos_class.clone()),
            ..PodStatus::default()
        }
    }

    /// Tells the agent's endpoint where this pod's logs and running containers are.
    fn publish(&self) {
        if self.sim() {
            return;
        }
        let dir = self.ctx.pod_dir(&self.pod);
        let containers = self
            .init
            .iter()
            .chain(self.containers.iter())
            .map(|r| {
                let running_id = r.running_id().map(String::from);
                let entry = ContainerEntry {
                    attempt: r.ever_started.then_some(r.restart_count),
                    running: running_id.is_some(),
                    waiting: match &r.state {
                        State::Waiting { reason, .. } => Some(reason.clone()),
                        _ => None,
                    },
                    env: if running_id.is_some() {
                        r.env.clone()
                    } else {
                        Vec::new()
                    },
                    working_dir: spec_of(&self.pod, &r.name)
                        .and_then(|c| c.working_dir.as_ref())
                        .map(std::path::PathBuf::from),
                    running_id,
                };
                (r.name.clone(), entry)
            })
            .collect();
        let entry = PodEntry {
            dir,
            sandbox: self.sandbox.clone(),
            containers,
        };
        self.ctx.pods.set(&self.namespace(), &self.name(), entry);
    }

    /// Writes the status if it changed since the last write.
    async fn write_status(&mut self) {
        self.publish();
        let status = self.status();
        if self.written.as_ref() == Some(&status) {
            return;
        }
        let mut body = serde_json::to_value(&status).unwrap_or_default();
        // A strategic merge keeps what a patch leaves out: a condition's reason and message
        // that no longer apply are removed with explicit nulls.
        for c in body
            .get_mut("conditions")
            .and_then(|c| c.as_array_mut())
            .into_iter()
            .flatten()
        {
            if let Some(c) = c.as_object_mut() {
                for f in ["reason", "message"] {
                    c.entry(f).or_insert(serde_json::Value::Null);
                }
            }
        }
        let patch = json!({"metadata": {"uid": self.uid}, "status": body});
        match self
            .api()
            .patch_status(
                &self.name(),
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            Ok(_) => self.written = Some(status),
            Err(e) if is_gone(&e) => {}
            Err(e) => {
                tracing::debug!(pod = %self.name(), error = %e, "status write failed; retrying");
                self.wake(Instant::now() + RETRY);
            }
        }
    }
}

fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404 || s.code == 409)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
