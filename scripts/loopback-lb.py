#!/usr/bin/env python3
"""A TCP load balancer on 127.0.0.1 for scripts/ha-guide.sh, standing in for haproxy: round robin
over the backends whose /readyz answers 200 (checked every 300 ms over TLS), bytes forwarded
both ways (TLS passes through untouched). Loopback only.

    loopback-lb.py PORT_FILE HOST:PORT...   listens on 127.0.0.1:0 and writes its port to PORT_FILE
"""
import itertools
import socket
import ssl
import sys
import threading
import time

backends = sys.argv[2:]
healthy = set()
lock = threading.Lock()


def check():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    while True:
        for b in backends:
            host, port = b.rsplit(":", 1)
            ok = False
            try:
                with socket.create_connection((host, int(port)), timeout=1) as s:
                    with ctx.wrap_socket(s, server_hostname=host) as t:
                        t.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        ok = t.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                ok = False
            with lock:
                (healthy.add if ok else healthy.discard)(b)
        time.sleep(0.3)


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    threading.Thread(target=check, daemon=True).start()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    with open(sys.argv[1], "w") as f:
        f.write(str(srv.getsockname()[1]))
    turn = itertools.count()
    while True:
        client, _ = srv.accept()
        with lock:
            up = sorted(healthy)
        if not up:
            client.close()
            continue
        # Round robin; a backend that refuses the connection is skipped (it may have gone down
        # since its last health check).
        first = next(turn)
        upstream = None
        for i in range(len(up)):
            host, port = up[(first + i) % len(up)].rsplit(":", 1)
            try:
                upstream = socket.create_connection((host, int(port)), timeout=2)
                break
            except OSError:
                continue
        if upstream is None:
            client.close()
            continue
        upstream.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
