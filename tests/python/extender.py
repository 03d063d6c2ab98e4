"""A scheduler extender for capstan's tests, speaking kube-scheduler's extender protocol
(k8s.io/kube-scheduler/extender/v1) with the standard library only.

    extender.py PORTFILE LOGFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE); filter refuses nodes labelled
`extender-test/reject=true`; prioritize gives 10 to nodes labelled `extender-test/prefer=true`
and 0 to the others. Works with nodeCacheCapable (NodeNames) or whole Node lists; every call
is appended to LOGFILE as `<verb> <nodes...>`.
"""
import http.server
import json
import sys

PORTFILE, LOGFILE = sys.argv[1], sys.argv[2]
LABELS = {}  # node name -> labels, learnt from whole Node lists


def node_names(args):
    if args.get("NodeNames") is not None:
        return list(args["NodeNames"])
    items = (args.get("Nodes") or {}).get("items") or []
    for n in items:
        LABELS[n["metadata"]["name"]] = n["metadata"].get("labels") or {}
    return [n["metadata"]["name"] for n in items]


def labels(name):
    # nodeCacheCapable extenders know nodes by name; the test names them after their role.
    if name in LABELS:
        return LABELS[name]
    return {"extender-test/reject": "true"} if "reject" in name else (
        {"extender-test/prefer": "true"} if "prefer" in name else {})


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        args = json.loads(body)
        verb = self.path.rstrip("/").rsplit("/", 1)[-1]
        names = node_names(args)
        with open(LOGFILE, "a") as log:
            log.write(verb + " " + " ".join(sorted(names)) + "\n")
        if verb == "filter":
            keep = [n for n in names if labels(n).get("extender-test/reject") != "true"]
            failed = {n: "rejected by the python extender" for n in names if n not in keep}
            if args.get("NodeNames") is not None:
                out = {"NodeNames": keep, "FailedNodes": failed, "Error": ""}
            else:
                items = [n for n in args["Nodes"]["items"] if n["metadata"]["name"] in keep]
                out = {"Nodes": {"items": items}, "FailedNodes": failed, "Error": ""}
        elif verb == "prioritize":
            out = [{"Host": n, "Score": 10 if labels(n).get("extender-test/prefer") == "true" else 0}
                   for n in names]
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
