# The lazy disk on the harness's base image: Debian's fuse3 (fusermount3, /etc/fuse.conf) and
# python3-pyfuse3 (libfuse3 + trio), and the program. Named lazydisk.Dockerfile, not Dockerfile,
# so that `reboot-harness build` does not take it for a host's image (compose/images/*/Dockerfile).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      fuse3 python3-pyfuse3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb

COPY lazydisk.py /usr/local/sbin/lazydisk
RUN chmod 0755 /usr/local/sbin/lazydisk
