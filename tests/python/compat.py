"""What the official Kubernetes Python client's own e2e tests lean on, against a capstan replica:
discovery through the paths the client builds (`/version/`, `/api/v1/`, `/apis/`), typed delete
answers, ReplicationControllers with their scale, and binding pods by both paths. Run by
tests/python_client.rs under Debian's python3-kubernetes and under 37.x from PyPI:

    PYTHON tests/python/compat.py KUBECONFIG
"""
import json
import sys

import kubernetes
from kubernetes import client, config
from kubernetes.client.rest import ApiException


def main():
    config.load_kube_config(config_file=sys.argv[1])
    core = client.CoreV1Api()
    # One namespace per client version, so both clients can run against one server.
    ns = "compat-" + kubernetes.__version__.split(".")[0]

    # Discovery, as the client's VersionApi, CoreV1Api and ApisApi ask for it.
    code = client.VersionApi().get_code()
    assert code.major == "1" and code.git_version, code
    resources = core.get_api_resources()
    names = {r.name for r in resources.resources}
    assert {"pods", "services", "replicationcontrollers", "pods/binding"} <= names, names
    groups = client.ApisApi().get_api_versions()
    assert "apps" in [g.name for g in groups.groups], groups

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    # Deletes answered as the client's types: the object for a Service and a Pod, a Status for
    # a ConfigMap.
    svc = core.create_namespaced_service(ns, svc_manifest("web"))
    raw = core.delete_namespaced_service("web", ns, _preload_content=False)
    body = json.loads(raw.data)
    assert body["kind"] == "Service" and body["metadata"]["uid"] == svc.metadata.uid, body
    # Typed: newer clients read the answer as a V1Service (a Status there fails their
    # V1ServiceStatus validation); older ones declared V1Status and must still parse it.
    core.create_namespaced_service(ns, svc_manifest("web2"))
    gone = core.delete_namespaced_service("web2", ns)
    if isinstance(gone, client.V1Service):
        assert gone.metadata.name == "web2", gone
    else:
        assert isinstance(gone, client.V1Status), type(gone)

    pod = core.create_namespaced_pod(ns, pod_manifest("doomed"))
    gone = core.delete_namespaced_pod("doomed", ns)
    assert gone.metadata.uid == pod.metadata.uid, gone

    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="conf"))
    )
    gone = as_dict(core.delete_namespaced_config_map("conf", ns))
    assert gone["status"] == "Success" and gone["details"]["name"] == "conf", gone

    # A ReplicationController: created with its defaults, scaled, deleted.
    rc = client.V1ReplicationController(
        metadata=client.V1ObjectMeta(name="rc"),
        spec=client.V1ReplicationControllerSpec(
            replicas=1,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "rc"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
            ),
        ),
    )
    made = core.create_namespaced_replication_controller(ns, rc)
    assert made.spec.selector == {"app": "rc"}, made.spec.selector
    listed = core.list_namespaced_replication_controller(ns)
    assert [r.metadata.name for r in listed.items] == ["rc"]
    core.patch_namespaced_replication_controller_scale("rc", ns, {"spec": {"replicas": 3}})
    scale = core.read_namespaced_replication_controller_scale("rc", ns)
    assert scale.spec.replicas == 3 and scale.status.selector == "app=rc", scale
    assert core.read_namespaced_replication_controller("rc", ns).spec.replicas == 3
    gone = as_dict(core.delete_namespaced_replication_controller("rc", ns))
    assert gone["status"] == "Success", gone
    expect_status(404, core.read_namespaced_replication_controller, "rc", ns)

    # Binding, as a scheduler does: the pod's subresource and the legacy collection. The answer
    # is a Status, which the client cannot read as a V1Binding, so it is read raw.
    for name in ("sub", "legacy"):
        core.create_namespaced_pod(ns, pod_manifest(name))
    target = client.V1ObjectReference(api_version="v1", kind="Node", name="node-1")
    sub = client.V1Binding(metadata=client.V1ObjectMeta(name="sub"), target=target)
    legacy = client.V1Binding(metadata=client.V1ObjectMeta(name="legacy"), target=target)
    bind_sub = lambda: core.create_namespaced_pod_binding(  # noqa: E731
        "sub", ns, sub, _preload_content=False
    )
    bind_legacy = lambda: core.create_namespaced_binding(  # noqa: E731
        ns, legacy, _preload_content=False
    )
    for bind, name in ((bind_sub, "sub"), (bind_legacy, "legacy")):
        answer = bind()
        assert answer.status == 201, answer.status
        assert json.loads(answer.data)["status"] == "Success", answer.data
        bound = core.read_namespaced_pod(name, ns)
        assert bound.spec.node_name == "node-1", bound.spec.node_name
        scheduled = [c for c in bound.status.conditions if c.type == "PodScheduled"]
        assert [c.status for c in scheduled] == ["True"], scheduled
        message = json.loads(expect_status(409, bind))["message"]
        assert message == (
            f'Operation cannot be fulfilled on pods/binding "{name}": '
            f'pod {name} is already assigned to node "node-1"'
        ), message

    core.delete_namespace(ns)
    print("python compat ok")


def as_dict(answer):
    """A Status answer as a dict: older clients type it V1Status, 37.x leaves it a dict."""
    if isinstance(answer, dict):
        return answer
    return client.ApiClient().sanitize_for_serialization(answer)


def svc_manifest(name):
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80)]),
    )


def pod_manifest(name):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
    )


def expect_status(status, fn, *args):
    try:
        fn(*args)
    except ApiException as e:
        assert e.status == status, (e.status, e.body)
        return e.body
    raise AssertionError(f"expected {status}")


if __name__ == "__main__":
    main()
