/**
 * Where the real Kubernetes binaries come from, and why the tier cannot run when they are absent.
 * The binaries are xz-compressed in ../shared/tools/k8s (or $K8S_TOOLS); they are unpacked once
 * into a cache directory outside the repository ($K8S_CACHE, else ~/.cache/3par-csi-k8s) and
 * checked against the tool directory's SHA256SUMS. etcd is Debian's `etcd-server` (/usr/bin/etcd).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, helmMissing } from '../packaging/render.js';

export const TOOLS_DIR = process.env['K8S_TOOLS'] ?? join(REPO_ROOT, '..', 'shared', 'tools', 'k8s');
export const CACHE_DIR = process.env['K8S_CACHE'] ?? join(homedir(), '.cache', '3par-csi-k8s');
export const CRDS_DIR = join(TOOLS_DIR, 'crds');

export const BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'csi-provisioner',
  'csi-attacher',
  'csi-snapshotter',
  'csi-resizer',
  'snapshot-controller',
] as const;
export type Binary = (typeof BINARIES)[number];

/** Why the tier cannot run here, or undefined when it can. */
export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'the Kubernetes tier needs root (the node plugin stages volumes on loop devices)';
  if (!existsSync(join(TOOLS_DIR, 'SHA256SUMS')))
    return `the Kubernetes binaries are not at ${TOOLS_DIR} (../shared/tools/k8s beside the clone, or $K8S_TOOLS)`;
  for (const b of BINARIES) if (!existsSync(join(TOOLS_DIR, `${b}.xz`))) return `${b}.xz is missing from ${TOOLS_DIR}`;
  if (!existsSync(ETCD)) return `etcd is not installed at ${ETCD} (apt-get install etcd-server)`;
  if (helmMissing) return helmMissing;
  for (const tool of ['openssl', 'xz', 'losetup', 'mkfs.ext4']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `the Kubernetes tier needs ${tool}`;
    }
  }
  if (!existsSync('/dev/loop-control')) return 'the Kubernetes tier needs loop devices (/dev/loop-control is missing)';
  return undefined;
}

export const ETCD = process.env['ETCD'] ?? '/usr/bin/etcd';

function sums(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(join(TOOLS_DIR, 'SHA256SUMS'), 'utf8').split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\S+)$/.exec(line.trim());
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The path of an unpacked binary, unpacking it into the cache when missing or when its checksum
 * differs from SHA256SUMS (a half-written file from an interrupted run is never used: unpacking
 * writes a temporary file and renames it).
 */
export function binary(name: Binary): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  const want = sums().get(name);
  if (!want) throw new Error(`${name} is not listed in ${join(TOOLS_DIR, 'SHA256SUMS')}`);
  const path = join(CACHE_DIR, name);
  // A stamp written after a verified unpack spares hashing 600 MB on every run.
  const stamp = `${path}.sha256`;
  if (existsSync(path) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return path;
  const tmp = `${path}.${process.pid}.tmp`;
  execFileSync('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', join(TOOLS_DIR, `${name}.xz`), tmp]);
  const got = sha256(tmp);
  if (got !== want) throw new Error(`${name} unpacked with sha256 ${got}, SHA256SUMS says ${want}`);
  chmodSync(tmp, 0o755);
  renameSync(tmp, path);
  writeFileSync(stamp, want);
  return path;
}
