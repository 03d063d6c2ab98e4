"""The official Python client's exec and port-forward (kubernetes.stream, WebSocket
v4.channel.k8s.io) against pods a node agent runs: `shell` (sleep, GREETING=hi) and `web`
(an HTTP server on the port given). Prints `python streams ok` when all passed."""
import sys

from kubernetes import client, config
from kubernetes.stream import portforward, stream

kubeconfig, web_port = sys.argv[1], int(sys.argv[2])
config.load_kube_config(config_file=kubeconfig)
v1 = client.CoreV1Api()

# exec, output only.
out = stream(v1.connect_get_namespaced_pod_exec, "shell", "default",
             command=["sh", "-c", "echo out $GREETING"],
             stderr=True, stdin=False, stdout=True, tty=False)
assert out == "out hi\n", repr(out)

# exec with stdin, stdout and stderr apart, and the exit code.
resp = stream(v1.connect_get_namespaced_pod_exec, "shell", "default",
              command=["sh", "-c", "read x; echo got $x; echo warn >&2; exit 5"],
              stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
resp.write_stdin("line\n")
stdout, stderr = "", ""
while resp.is_open():
    resp.update(timeout=5)
    stdout += resp.read_stdout() if resp.peek_stdout() else ""
    stderr += resp.read_stderr() if resp.peek_stderr() else ""
resp.close()
assert stdout == "got line\n", repr(stdout)
assert stderr == "warn\n", repr(stderr)
assert resp.returncode == 5, resp.returncode

# port-forward: one connection to the web pod's port.
pf = portforward(v1.connect_get_namespaced_pod_portforward, "web", "default",
                 ports=str(web_port))
sock = pf.socket(web_port)
sock.setblocking(True)
sock.settimeout(30)
sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
answer = b""
while True:
    chunk = sock.recv(4096)
    if not chunk:
        break
    answer += chunk
sock.close()
assert answer.startswith(b"HTTP/1.0 200"), answer[:200]
assert answer.endswith(b"served through the tunnel\n"), answer[-200:]
assert pf.error(web_port) is None, pf.error(web_port)

print("python streams ok")
