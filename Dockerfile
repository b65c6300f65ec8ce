# syntax=docker/dockerfile:1
#
# One image for every mode of 3par-csi: `serve --mode controller`, `serve --mode node`,
# `simulator`. The CLI is the entrypoint; the chart chooses the mode with arguments.
#
# The base is pinned to an exact Node 24 LTS release (supported to April 2028) on Debian 13
# slim, by tag AND digest (every stage uses it): the tag says what it is, the digest makes the
# build take exactly that image even after the tag is re-pushed (Docker's official images are
# rebuilt under the same tag when Debian updates).
#
# Where the digest comes from: it was NOT resolved from the project's machines (they reach no
# container registry). It is the digest public projects pin for node:24.21.0-trixie-slim (three
# independent Dockerfiles, one noting it checked the registry on 2026-10-05). A wrong or
# withdrawn digest fails the build at FROM; it never substitutes another image. To check or
# refresh it (with the tag, and the apt versions below, which belong to the same Debian state):
#   docker buildx imagetools inspect node:24.21.0-trixie-slim --format '{{json .Manifest.Digest}}'
# (the multi-arch index digest), or pass --build-arg NODE_IMAGE=node:<tag>@sha256:<digest>.
ARG NODE_IMAGE=node:24.21.0-trixie-slim@sha256:8ec5d7557396cfe32d21c3f9c13072355ceab22b584578ca4bb28af31120cffe

# ---------------------------------------------------------------------------------------------
# build: the full dependency tree (TypeScript and the rest of devDependencies) and `tsc`.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.image.json ./
COPY proto ./proto
COPY src ./src
# tsconfig.image.json: the driver, the simulator and the CLI; src/bench and src/soak (tools run
# from the repository) are not compiled into the image.
RUN npx tsc -p tsconfig.image.json

# ---------------------------------------------------------------------------------------------
# deps: production dependencies only, installed from the same lock file.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---------------------------------------------------------------------------------------------
# runtime: dist/, proto/, package.json and production node_modules; no sources, no dev tools.
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="3par-csi" \
      org.opencontainers.image.description="Kubernetes CSI driver for HPE 3PAR StoreServ arrays (WSAPI 1.3.x), with an embedded WSAPI simulator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/node:24.21.0-trixie-slim" \
      org.opencontainers.image.base.digest="sha256:8ec5d7557396cfe32d21c3f9c13072355ceab22b584578ca4bb28af31120cffe"

# What the node plugin runs itself: mount/umount/losetup/blkid/blockdev/lsblk (util-linux,
# mount), mkfs.ext4/resize2fs/e2fsck (e2fsprogs), mkfs.xfs/xfs_growfs (xfsprogs), and nsenter
# (util-linux) to run the HOST's own iscsiadm, multipath and multipathd in PID 1's mount and
# network namespaces. open-iscsi and multipath-tools are deliberately NOT installed: a second
# copy talking to the host's iscsid/multipathd is a classic failure.
#
# Each package is pinned to its Debian 13 (trixie, amd64) version, read with `apt-cache policy`
# from trixie, trixie-updates and trixie-security on 2026-12-02. Debian keeps only the newest
# version of a package in its archive, so a point release or a security update makes the build
# fail at this line until the pins are refreshed: that is the point (no silent change of the
# image's tools). To refresh, in the base image:
#   apt-get update && apt-cache policy util-linux mount e2fsprogs xfsprogs ca-certificates
# and copy each Candidate here (for an arm64 build check its own, a binNMU "+bN" may differ).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      util-linux=2.41.5-0+deb13u1 \
      mount=2.41.5-0+deb13u1 \
      e2fsprogs=1.47.2-3+b12 \
      xfsprogs=6.13.0-2+deb13u1 \
      ca-certificates=20250419+deb13u1 \
 && rm -rf /var/lib/apt/lists/*

# The Node image brings npm and corepack; the driver runs `node` only, so the runtime stage drops
# them (less to patch, nothing that could install code at run time).
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack

# The non-root user the controller and the simulator run as (the chart sets runAsUser 10001
# and a read-only root filesystem); the node plugin's pod runs as root, privileged, as it must.
RUN groupadd --system --gid 10001 csi \
 && useradd --system --uid 10001 --gid csi --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin csi

WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY proto ./proto
COPY package.json ./
USER 10001:10001
# A young generation of 1 MiB per semi-space: on Node 24 the controller's peak RSS through the
# benchmark's W1 was 253-298 MiB by default and 139-147 MiB with it, for ~15 % more CPU
# (docs/performance.md "Young generation on Node 24").
ENTRYPOINT ["node", "--max-semi-space-size=1", "/app/dist/cli/main.js"]
CMD ["--help"]
