import { hash } from 'node:crypto';
import { wwnForArray } from '../util/wwn.js';

/**
 * Array names and CSI ids (DESIGN "Names and ownership", "Backends and IDs"). Kubernetes names are
 * 40+ characters and the array allows 31 (sets 27), so each CSI name maps deterministically to
 * `<role>-<20 base32 characters of sha256>` (100 bits: collision-resistant, and lower-case only,
 * so an array that compared names case-insensitively would lose nothing).
 */

/** Longest volume, snapshot and host name on the array (name31). */
export const NAME_MAX = 31;
/** Longest VV set / host set name (Name27). */
export const SET_NAME_MAX = 27;
/** Longest volume_id / snapshot_id the driver hands out, in bytes. */
export const ID_MAX_BYTES = 128;
/** Characters of hash in a generated name: 20 × 5 bits = 100 bits. */
export const HASH_CHARS = 20;

/** Role prefixes of generated names; a name's role is visible on the array at a glance. */
export const Role = {
  /** A volume created by CreateVolume. */
  volume: 'csv',
  /** A snapshot created by CreateSnapshot. */
  snapshot: 'css',
  /** A group snapshot's name stem; members are `<stem>-<index>`. */
  group: 'csg',
  /** A temporary VV set (group snapshots). */
  volumeSet: 'cvs',
  /** A soft-deleted volume that still has snapshots (DESIGN "Copies"). */
  tombstone: 'csx',
  /** An array host created for a node. */
  host: 'csh',
  /** A temporary read-write child of a read-only snapshot, the source of one copy (DESIGN "Copies"). */
  copySource: 'cst',
} as const;
export type RoleName = keyof typeof Role;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lower-case base32 (RFC 4648 alphabet, no padding) of `bytes`. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** `<prefix>-<hash>` of the parts (joined with NUL, so ("a","bc") ≠ ("ab","c")). */
export function hashedName(role: RoleName, ...parts: string[]): string {
  const digest = hash('sha256', parts.join('\0'), 'buffer');
  return `${Role[role]}-${base32(digest).slice(0, HASH_CHARS)}`;
}

/**
 * The array name of a CSI-named object. The cluster id is part of the hash, so two clusters
 * sharing an array never collide even with equal CSI names.
 */
export function arrayNameFor(role: 'volume' | 'snapshot' | 'group', clusterId: string, csiName: string): string {
  return hashedName(role, clusterId, csiName);
}

/** The array host name for a node: stable per (driver, cluster, node host name). */
export function hostNameFor(driverName: string, clusterId: string, nodeHostName: string): string {
  return hashedName('host', driverName, clusterId, nodeHostName);
}

/** The temporary read-write copy source of the copy into `dest` (one per destination). */
export function copySourceNameFor(dest: string): string {
  return hashedName('copySource', dest);
}

export function isCopySourceName(name: string): boolean {
  return name.startsWith(`${Role.copySource}-`);
}

/** A tombstone name, unique per volume (its WWN never repeats on an array). */
export function tombstoneNameFor(volumeWwn: string): string {
  return hashedName('tombstone', wwnForArray(volumeWwn));
}

/** True for names of soft-deleted volumes (hidden from lists). */
export function isTombstoneName(name: string): boolean {
  return name.startsWith(`${Role.tombstone}-`);
}

/** A name the array accepts as name31 (or Name27 with `max`). */
export function isArrayName(name: string, max = NAME_MAX): boolean {
  // "." and ".." are path segments, never objects the driver can reach over WSAPI.
  return (
    name.length >= 1 && name.length <= max && /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/.test(name) && !/^\.{1,2}$/.test(name)
  );
}

/** A parsed `<backendId>/<arrayName>` id. */
export interface ObjectId {
  backendId: string;
  arrayName: string;
}

export function formatId(backendId: string, arrayName: string): string {
  return `${backendId}/${arrayName}`;
}

/**
 * Parses a volume/snapshot id. A malformed id names nothing the driver could have made: the
 * caller treats it as unknown (NOT_FOUND, or success for deletes), so this returns undefined.
 */
export function parseId(id: string): ObjectId | undefined {
  if (Buffer.byteLength(id) > ID_MAX_BYTES) return undefined;
  const m = /^([a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?)\/(.+)$/.exec(id);
  if (!m || !isArrayName(m[2]!)) return undefined;
  return { backendId: m[1]!, arrayName: m[2]! };
}
