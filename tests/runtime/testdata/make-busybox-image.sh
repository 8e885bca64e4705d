#!/bin/sh
# make-busybox-image.sh OUTDIR [TAG]
#
# Builds a one-layer busybox image from Debian's busybox-static (/bin/busybox) with umoci and
# exports it with skopeo, so that a third-party tool, not nave, produces the test image:
#   OUTDIR/layout            OCI image layout, tag TAG (default "latest"): /bin/busybox, a symlink
#                            per applet (/bin/sh, /bin/echo, ...), Cmd ["sh"], Env PATH=...
#   OUTDIR/busybox-docker.tar  docker-archive (`docker save` format, uncompressed layers),
#                            RepoTags ["docker.io/library/busybox:latest"]
#   OUTDIR/busybox-oci.tar   OCI archive; its index names the image
#                            org.opencontainers.image.ref.name=docker.io/library/busybox:latest
# The image is linux/amd64 etc. as the host (umoci's default). OUTDIR is created if missing; the
# script writes nothing outside it and caches nothing between runs. Takes about a second.
# Needs: umoci, skopeo, busybox-static (scripts/install-deps.sh installs them).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 OUTDIR [TAG]" >&2
  exit 2
fi
out=$1
tag=${2:-latest}
busybox=/bin/busybox
for tool in umoci skopeo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool is not installed" >&2; exit 1; }
done
[ -x "$busybox" ] || { echo "$0: $busybox is missing (busybox-static)" >&2; exit 1; }

mkdir -p "$out"
layout=$out/layout
bundle=$out/bundle
rm -rf "$layout" "$bundle" "$out/busybox-docker.tar" "$out/busybox-oci.tar"

umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --rootless --image "$layout:$tag" "$bundle"
rootfs=$bundle/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
umoci repack --image "$layout:$tag" "$bundle"
umoci config --image "$layout:$tag" --config.cmd=sh \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umoci gc --layout "$layout"
rm -rf "$bundle"

skopeo copy --quiet "oci:$layout:$tag" "docker-archive:$out/busybox-docker.tar:docker.io/library/busybox:latest"
skopeo copy --quiet "oci:$layout:$tag" "oci-archive:$out/busybox-oci.tar:docker.io/library/busybox:latest"
