#!/usr/bin/env bash
# Writes a docker-archive (`docker save` format) of an image built from Debian's busybox-static:
# one layer with /bin/busybox and its applets as links, tagged bench.test/busybox:1.
#   bench/busybox-image.sh OUT.tar
set -euo pipefail
out=$(realpath -m "$1")
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
mkdir -p "$w/root/bin" "$w/root/etc" "$w/archive/layer0"
cp /bin/busybox "$w/root/bin/busybox"
for a in sh sleep cat echo ls true; do ln -s busybox "$w/root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$w/root/etc/passwd"
tar --numeric-owner --owner=0 --group=0 -C "$w/root" -cf "$w/archive/layer0/layer.tar" .
diff_id=sha256:$(sha256sum "$w/archive/layer0/layer.tar" | cut -d' ' -f1)
cat >"$w/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["$diff_id"]}}
JSON
cfg=$(sha256sum "$w/config.json" | cut -d' ' -f1)
cp "$w/config.json" "$w/archive/$cfg.json"
echo "[{\"Config\":\"$cfg.json\",\"RepoTags\":[\"bench.test/busybox:1\"],\"Layers\":[\"layer0/layer.tar\"]}]" >"$w/archive/manifest.json"
tar -C "$w/archive" -cf "$out" .
