"""The official Kubernetes Python client (Debian's python3-kubernetes) against a capstan replica:
CRUD, selectors, patch, scale, watch and errors. Run by tests/python_client.rs:

    /usr/bin/python3 tests/python/client.py KUBECONFIG
"""
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def expect_error(status, reason, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        assert e.status == status, (e.status, e.body)
        assert reason in e.body, e.body
        return
    raise AssertionError(f"expected {status} {reason}")


def main():
    config.load_kube_config(config_file=sys.argv[1])
    core = client.CoreV1Api()
    apps = client.AppsV1Api()

    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert "default" in names and "kube-system" in names, names
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))

    cm = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="conf", labels={"app": "py"}), data={"a": "1"}
    )
    created = core.create_namespaced_config_map("py", cm)
    assert created.metadata.uid and created.metadata.resource_version
    expect_error(409, "AlreadyExists", core.create_namespaced_config_map, "py", cm)
    expect_error(404, "NotFound", core.read_namespaced_config_map, "missing", "py")
    expect_error(
        422,
        "Invalid",
        core.create_namespaced_config_map,
        "py",
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Not_A_Name")),
    )

    patched = core.patch_namespaced_config_map("conf", "py", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}, patched.data
    listed = core.list_namespaced_config_map("py", label_selector="app=py")
    assert [c.metadata.name for c in listed.items] == ["conf"]
    assert core.list_namespaced_config_map("py", label_selector="app=other").items == []

    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="c", image="nginx")]
                ),
            ),
        ),
    )
    made = apps.create_namespaced_deployment("py", dep)
    assert made.spec.strategy.rolling_update.max_surge == "25%", made.spec.strategy
    apps.patch_namespaced_deployment_scale("web", "py", {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("web", "py").spec.replicas == 3

    # A watch from the list's resourceVersion sees a configmap created meanwhile.
    rv = core.list_namespaced_config_map("py").metadata.resource_version

    def later():
        time.sleep(0.5)
        core.create_namespaced_config_map(
            "py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"))
        )

    threading.Thread(target=later).start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_config_map, "py", resource_version=rv, timeout_seconds=60
    ):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["object"].metadata.name == "watched":
            w.stop()
    assert ("ADDED", "watched") in seen, seen

    core.delete_namespaced_config_map("conf", "py")
    expect_error(404, "NotFound", core.read_namespaced_config_map, "conf", "py")
    core.delete_namespace("py")
    print("python client ok")


if __name__ == "__main__":
    main()
