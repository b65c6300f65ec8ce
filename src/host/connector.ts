import type { Logger } from '../log.js';
import type { VolumeRecord } from './state.js';

/** How the node reaches a LUN (publish_context "protocol"). */
export type Protocol = 'iscsi' | 'fc' | 'loop';
export const PROTOCOLS: readonly Protocol[] = ['iscsi', 'fc', 'loop'];

/** CHAP credentials from the node-stage secret (keys chapUser/chapSecret only). */
export interface Chap {
  user: string;
  secret: string;
}

/** What a connector needs to find a volume: the facts a node record keeps. */
export type VolumeIdentity = Pick<
  VolumeRecord,
  'protocol' | 'wwn' | 'lun' | 'iscsiTargets' | 'fcTargets' | 'wwid' | 'backingFile'
>;

/** An attached volume's device as found now. */
export interface AttachedDevice {
  /** The device to format, mount or bind: /dev/dm-N for multipath, else the single path or loop device. */
  path: string;
  /** Kernel name of `path` (sdc, dm-3, loop7); used now, never recorded. */
  name: string;
  /** Multipath WWID when `path` is a map (recorded). */
  wwid?: string;
  /** Loop protocol: the verified backing file (recorded). */
  backingFile?: string;
}

export interface ConnectorCallOptions {
  log: Logger;
  /** The call's cancellation: stops waits and read-only commands only. */
  signal?: AbortSignal;
}

/**
 * Attaches and detaches a volume's LUN on this host. Every method is idempotent, verifies
 * devices by the volume's WWN (loop: by backing file), and touches nothing else.
 */
export interface Connector {
  /** Connects (login, scan, losetup ...) and returns the verified device. */
  attach(
    id: VolumeIdentity,
    chap: Chap | undefined,
    readOnly: boolean,
    o: ConnectorCallOptions,
  ): Promise<AttachedDevice>;
  /** The volume's device now, re-resolved from its identity; undefined when not attached. */
  find(id: VolumeIdentity, o: ConnectorCallOptions): Promise<AttachedDevice | undefined>;
  /**
   * Kernel names of every device that is this volume now (the map and its paths; all loop
   * devices of the file), to recognise the volume in the mount table.
   */
  deviceNames(id: VolumeIdentity): Promise<string[]>;
  /**
   * Removes this volume's devices (only those whose identity still matches) and disconnects
   * what nothing else uses. Refuses (FAILED_PRECONDITION) while a device is in use. A volume
   * already gone is success.
   */
  detach(id: VolumeIdentity, o: ConnectorCallOptions): Promise<void>;
  /** After the array grew the volume: rescan its paths and resize the map (the caller reads the new size). */
  rescan(id: VolumeIdentity, o: ConnectorCallOptions): Promise<void>;
}

/** Bounded device discovery: how often and how long to look for a LUN's devices. */
export interface DiscoveryTimings {
  intervalMs: number;
  /** For path devices after login/scan. */
  deviceTimeoutMs: number;
  /** For the multipath map after the paths appeared. */
  mapTimeoutMs: number;
  /** For the device nodes and by-id links to go after a detach (default {@link DEFAULT_REMOVAL_TIMEOUT_MS}). */
  removalTimeoutMs?: number;
}

/** udev removes a deleted disk's links within a second or two; bounded well inside NodeUnstage's budget. */
export const DEFAULT_REMOVAL_TIMEOUT_MS = 10_000;

/** Defaults: the whole NodeStage stays well inside kubelet's 2-minute deadline. */
export const DEFAULT_DISCOVERY: DiscoveryTimings = { intervalMs: 250, deviceTimeoutMs: 30_000, mapTimeoutMs: 20_000 };
