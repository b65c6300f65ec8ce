import { failedPrecondition } from '../errors.js';
import type { Logger } from '../log.js';
import { ExecError, type Exec } from './exec.js';
import type { Mounter } from './mounts.js';
import { deviceInUse, multipathMapByWwn, multipathWwid, type MultipathMap, type Sysfs } from './sysfs.js';

/** `multipath -f` waits for udev and device-mapper; bounded so NodeUnstage stays under 2 minutes. */
const MULTIPATH_TIMEOUT_MS = 30_000;
/** multipathd answers on its socket at once; a daemon that does not is treated as absent. */
const STATUS_TIMEOUT_MS = 10_000;
/** os-brick gives `multipathd add path` 5 s; adding a WWID only edits /etc/multipath/wwids. */
const ADD_TIMEOUT_MS = 10_000;

/**
 * Whether the node uses dm-multipath (`--multipath`): `auto` asks multipathd on every stage,
 * `on` requires it (a stage fails while multipathd does not answer), `off` never uses maps.
 */
export type MultipathMode = 'auto' | 'on' | 'off';
export const MULTIPATH_MODES: readonly MultipathMode[] = ['auto', 'on', 'off'];

/** Path states that carry I/O (scsi_device "state": running; offline, transport-offline, blocked do not). */
const LIVE_PATH_STATES = new Set(['running']);

/**
 * The host's dm-multipath, driven through the host's own `multipath` and `multipathd`
 * (`hostExec` nsenters into the host's namespaces in production). multipathd builds maps from
 * udev events on its own; the driver asks it whether it runs, nudges it for a single path,
 * waits for maps, flushes unused ones and resizes them. It never runs `dmsetup remove`.
 */
export class Multipath {
  constructor(
    private readonly hostExec: Exec,
    private readonly localExec: Exec,
    private readonly sys: Sysfs,
    private readonly mounter: Mounter,
    readonly mode: MultipathMode,
  ) {}

  /**
   * Whether multipath is to be used for a new attachment. The daemon is asked, never a file:
   * a config file exists without a daemon (or is created by a careless hostPath mount), and
   * Ubuntu runs multipathd without one. As os-brick's LinuxSCSI.is_multipath_running:
   *   multipathd show status        (host namespaces)
   * exit 0 and no "error receiving packet" on stdout: running. Anything else (not installed,
   * socket absent, daemon stopped) → not running; with --multipath on that fails the stage.
   */
  async active(log: Logger, signal?: AbortSignal): Promise<boolean> {
    if (this.mode === 'off') return false;
    let why: string | undefined;
    try {
      const { stdout } = await this.hostExec('multipathd', ['show', 'status'], {
        readOnly: true,
        signal,
        timeoutMs: STATUS_TIMEOUT_MS,
      });
      if (stdout.startsWith('error receiving packet')) why = stdout.trim().split('\n')[0];
    } catch (err) {
      if (!(err instanceof ExecError) || err.failure === 'cancelled') throw err;
      why = err.message;
    }
    if (why === undefined) return true;
    if (this.mode === 'on')
      throw failedPrecondition(
        `--multipath on, but multipathd does not answer (${why}); start multipathd on the node or run with --multipath auto`,
      );
    log.info({ reason: why }, 'multipathd is not running on the host; using single-path devices');
    return false;
  }

  /**
   * The volume's map. First through the paths' holders (/sys/block/sdX/holders/dm-N, checked by
   * dm uuid "mpath-3<wwn>", as os-brick's find_sysfs_multipath_dm); then, for a map whose paths
   * the kernel already removed (FC dev_loss_tmo), by dm uuid over every dm device.
   */
  async mapOf(wwn: string, paths: readonly string[] = []): Promise<MultipathMap | undefined> {
    const want = `mpath-${multipathWwid(wwn)}`;
    for (const sd of paths) {
      for (const dm of await this.sys.list(`block/${sd}/holders`)) {
        if (!dm.startsWith('dm-') || (await this.sys.read(`block/${dm}/dm/uuid`)) !== want) continue;
        const mapName = await this.sys.read(`block/${dm}/dm/name`);
        if (mapName) return { name: dm, mapName, slaves: await this.sys.list(`block/${dm}/slaves`) };
      }
    }
    return multipathMapByWwn(this.sys, wwn);
  }

  /**
   * Asks multipathd to build a map for a single path, which `find_multipaths yes|smart|strict`
   * leaves alone (os-brick's multipath_add_wwid + multipath_add_path):
   *   multipath -a <3wwn>                 (adds the WWID to /etc/multipath/wwids)
   *   multipathd add path /dev/<sdX>      (re-evaluates the path; prints "ok")
   * Failures are logged, not thrown: the caller waits for the map and falls back to the path.
   */
  async claim(wwn: string, paths: readonly string[], log: Logger): Promise<void> {
    const wwid = multipathWwid(wwn);
    const run = async (cmd: string, args: string[]): Promise<void> => {
      try {
        await this.hostExec(cmd, args, { timeoutMs: ADD_TIMEOUT_MS });
      } catch (err) {
        log.warn({ err }, `${cmd} ${args.join(' ')} failed`);
      }
    };
    await run('multipath', ['-a', wwid]);
    for (const sd of paths) await run('multipathd', ['add', 'path', `/dev/${sd}`]);
    log.info({ wwid, paths }, 'asked multipathd to build the map (WWID added, paths added)');
  }

  /**
   * Removes the volume's map when nothing uses it: not mounted, not bound, not held.
   *   multipathd disablequeueing map <name>   (only when no path is running: with
   *                                           queue_if_no_path a flush would wait forever)
   *   blockdev --flushbufs /dev/dm-N          (the device the volume was used through)
   *   multipath -f <name>                     (host namespaces)
   *   multipathd del map <name>               (when multipath -f fails)
   * A map in use → FAILED_PRECONDITION; no map → nothing to do. Every command has a timeout;
   * a flush stuck in the kernel fails the call (DEADLINE_EXCEEDED) and is left to the kernel.
   * The mount table is read fresh here, never a node call's snapshot: disabling queueing on a map
   * that is mounted fails its filesystem's writes, and another process may have mounted it since.
   */
  async flush(map: MultipathMap, wwn: string, log: Logger): Promise<void> {
    const use = await deviceInUse(this.sys, map.name, await this.mounter.read());
    if (use) throw failedPrecondition(`multipath map ${map.mapName} of volume ${wwn} is ${use}; unpublish it first`);
    const dead = !(await anyPathLive(this.sys, map.slaves));
    if (dead) {
      log.warn(
        { map: map.mapName, paths: map.slaves },
        'no path of the map is running; disabling queueing before the flush',
      );
      await this.hostExec('multipathd', ['disablequeueing', 'map', map.mapName], { timeoutMs: MULTIPATH_TIMEOUT_MS });
    }
    try {
      await this.localExec('blockdev', ['--flushbufs', `/dev/${map.name}`], { timeoutMs: MULTIPATH_TIMEOUT_MS });
    } catch (err) {
      // With every path gone nothing can be written any more; the flush's I/O error is expected.
      if (!(dead && err instanceof ExecError && err.failure === 'exit')) throw err;
      log.warn({ map: map.mapName, err }, 'flushing the dead map failed; removing it anyway');
    }
    try {
      await this.hostExec('multipath', ['-f', map.mapName], { timeoutMs: MULTIPATH_TIMEOUT_MS });
    } catch (err) {
      if (!(err instanceof ExecError && err.failure === 'exit')) throw err;
      log.warn({ map: map.mapName, err }, 'multipath -f failed; asking multipathd to remove the map');
      await this.hostExec('multipathd', ['del', 'map', map.mapName], { timeoutMs: MULTIPATH_TIMEOUT_MS });
    }
  }

  /**
   * Resizes the map to its (already rescanned) paths.
   *   multipathd resize map <mapName>   (host namespaces)
   */
  async resize(wwn: string, paths: readonly string[]): Promise<void> {
    const map = await this.mapOf(wwn, paths);
    if (!map) return;
    await this.hostExec('multipathd', ['resize', 'map', map.mapName], { timeoutMs: MULTIPATH_TIMEOUT_MS });
  }
}

/**
 * Whether any of these SCSI disks is in a state that carries I/O (/sys/block/sdX/device/state).
 * A disk without a state file that still exists counts as live: never assume a path dead.
 */
export async function anyPathLive(sys: Sysfs, disks: readonly string[]): Promise<boolean> {
  for (const sd of disks) {
    const state = await sys.read(`block/${sd}/device/state`);
    if (state !== undefined ? LIVE_PATH_STATES.has(state) : (await sys.read(`block/${sd}/dev`)) !== undefined)
      return true;
  }
  return false;
}
