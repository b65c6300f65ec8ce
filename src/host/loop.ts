/** The loop connector; losetup and blockdev run in the node plugin's own namespaces. */
import { readlink, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { failedPrecondition, unavailable } from '../errors.js';
import { KeyedMutex } from '../util/inflight.js';
import type { Exec } from './exec.js';
import type { Mounter } from './mounts.js';
import { isUnder } from './paths.js';
import { deviceInUse, type Sysfs } from './sysfs.js';
import type { AttachedDevice, Chap, Connector, ConnectorCallOptions, VolumeIdentity } from './connector.js';
import { wwnForArray } from '../util/wwn.js';

/**
 * One kernel has one set of loop devices: attaches of the same file are serialised process-wide,
 * so two node services in one process (the demo, tests) do not make two devices of one volume.
 */
const attachLocks = new KeyedMutex();

/** losetup talks to the loop driver only. */
const LOSETUP_TIMEOUT_MS = 30_000;

/**
 * The simulator's data plane. While a volume has a VLUN, `<simDataDir>/exports/<WWN>` links to
 * its sparse backing file; the node attaches that file as a loop device. Loop devices have no
 * WWN, so a device's identity is its backing file, read from /sys/block/loopN/loop/backing_file
 * and compared with the link's target every time the driver picks a device.
 */
export class LoopConnector implements Connector {
  constructor(
    private readonly simDataDir: string | undefined,
    private readonly exec: Exec,
    private readonly sys: Sysfs,
    private readonly mounter: Mounter,
  ) {}

  async attach(
    id: VolumeIdentity,
    _chap: Chap | undefined,
    readOnly: boolean,
    o: ConnectorCallOptions,
  ): Promise<AttachedDevice> {
    const file = await this.exportedFile(id.wwn);
    return attachLocks.run(file, () => this.attachFile(file, readOnly, o));
  }

  private async attachFile(file: string, readOnly: boolean, o: ConnectorCallOptions): Promise<AttachedDevice> {
    // NodeStage repeated: the file is already attached; use that device.
    const existing = await this.devicesOf(file);
    if (existing.length > 0) return { path: `/dev/${existing[0]!}`, name: existing[0]!, backingFile: file };
    // losetup --find --show [--read-only] <file>
    const args = ['--find', '--show', ...(readOnly ? ['--read-only'] : []), file];
    const { stdout } = await this.exec('losetup', args, { timeoutMs: LOSETUP_TIMEOUT_MS });
    const path = stdout.trim();
    const name = path.replace(/^\/dev\//, '');
    const backing = await this.sys.read(`block/${name}/loop/backing_file`);
    if (backing !== file) {
      throw unavailable(
        `loop device ${path} reports backing file ${backing ?? '(none)'} instead of ${file}; not using it`,
      );
    }
    o.log.info({ device: path, backingFile: file }, 'loop device attached');
    return { path, name, backingFile: file };
  }

  async deviceNames(id: VolumeIdentity): Promise<string[]> {
    return id.backingFile ? this.devicesOf(id.backingFile) : [];
  }

  async find(id: VolumeIdentity): Promise<AttachedDevice | undefined> {
    if (!id.backingFile) return undefined;
    const names = await this.devicesOf(id.backingFile);
    return names.length > 0 ? { path: `/dev/${names[0]!}`, name: names[0]!, backingFile: id.backingFile } : undefined;
  }

  /**
   * Detaches every loop device whose backing file is this volume's and that nothing uses.
   *   blockdev --setrw /dev/loopN
   *   losetup --detach /dev/loopN
   * A device still mounted elsewhere (another "node" sharing this kernel) is left to its user.
   */
  async detach(id: VolumeIdentity, o: ConnectorCallOptions): Promise<void> {
    if (!id.backingFile) return;
    // Read fresh, never the node call's snapshot: another "node" (or process) may have mounted
    // the device since that was read, and a mounted device must be left to its user.
    const mounts = await this.mounter.read();
    for (const name of await this.devicesOf(id.backingFile)) {
      const use = await deviceInUse(this.sys, name, mounts);
      if (use) {
        o.log.info({ device: name, use }, 'loop device still in use; not detached');
        continue;
      }
      // A read-only stage set the device's ro flag, which outlives the detach: clear it so the
      // next volume attached to this loop device is writable.
      await this.exec('blockdev', ['--setrw', `/dev/${name}`], { timeoutMs: LOSETUP_TIMEOUT_MS });
      await this.exec('losetup', ['--detach', `/dev/${name}`], { timeoutMs: LOSETUP_TIMEOUT_MS });
      o.log.info({ device: `/dev/${name}`, backingFile: id.backingFile }, 'loop device detached');
    }
  }

  /** losetup --set-capacity /dev/loopN   (the simulator grew the backing file) */
  async rescan(id: VolumeIdentity): Promise<void> {
    if (!id.backingFile) return;
    for (const name of await this.devicesOf(id.backingFile)) {
      await this.exec('losetup', ['--set-capacity', `/dev/${name}`], { timeoutMs: LOSETUP_TIMEOUT_MS });
    }
  }

  /**
   * Resolves `exports/<WWN>` to the canonical path of the backing file, which must be a regular
   * file inside the simulator's data directory: a link pointing anywhere else (another image, a
   * device node) is never attached.
   */
  private async exportedFile(wwn: string): Promise<string> {
    if (!this.simDataDir) throw failedPrecondition('protocol "loop" needs --sim-data-dir on the node plugin');
    const link = join(this.simDataDir, 'exports', wwnForArray(wwn));
    let file: string;
    try {
      const target = resolve(join(this.simDataDir, 'exports'), await readlink(link));
      file = await realpath(target);
    } catch (err) {
      throw unavailable(`volume ${wwn} is not exported by the simulator (${link}): is it published to this node?`, {
        cause: err,
      });
    }
    const dataDir = await realpath(this.simDataDir);
    if (!isUnder(dataDir, file) || !(await stat(file)).isFile()) {
      throw failedPrecondition(
        `${link} points to ${file}, which is not a file inside the simulator's data directory ${dataDir}; not attaching it`,
      );
    }
    return file;
  }

  /** Loop devices attached to `file`, by their backing_file in sysfs. */
  private async devicesOf(file: string): Promise<string[]> {
    const out: string[] = [];
    for (const name of await this.sys.list('block')) {
      if (!/^loop\d+$/.test(name)) continue;
      if ((await this.sys.read(`block/${name}/loop/backing_file`)) === file) out.push(name);
    }
    return out;
  }
}
