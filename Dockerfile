# syntax=docker/dockerfile:1
#
# One image for every mode of 3par-csi: `serve --mode controller`, `serve --mode node`,
# `simulator`. The CLI is the entrypoint; the chart chooses the mode with arguments.
#
# The base is pinned to an exact Node 24 LTS release (supported to April 2028) on Debian 13
# slim. For a release build, also pin the digest: replace the tag with
#   node:24.21.0-trixie-slim@sha256:<digest from `docker buildx imagetools inspect`>
# in both stages (or pass --build-arg NODE_IMAGE=...).
ARG NODE_IMAGE=node:24.21.0-trixie-slim

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
      org.opencontainers.image.base.name="docker.io/library/node:24.21.0-trixie-slim"

# What the node plugin runs itself: mount/umount/losetup/blkid/blockdev/lsblk (util-linux,
# mount), mkfs.ext4/resize2fs/e2fsck (e2fsprogs), mkfs.xfs/xfs_growfs (xfsprogs), and nsenter
# (util-linux) to run the HOST's own iscsiadm, multipath and multipathd in PID 1's mount and
# network namespaces. open-iscsi and multipath-tools are deliberately NOT installed: a second
# copy talking to the host's iscsid/multipathd is a classic failure.
RUN apt-get update \
 && apt-get install -y --no-install-recommends util-linux mount e2fsprogs xfsprogs ca-certificates \
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
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
