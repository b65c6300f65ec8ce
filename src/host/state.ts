import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Protocol } from './connector.js';

/**
 * What the node remembers about one staged volume (DESIGN "Node safety"). Only facts that stay
 * true across reboots and rescans: the volume's WWN, LUN, targets and multipath WWID — never a
 * device name (/dev/sdX, dm-N, loopN), which the kernel may give to another volume tomorrow.
 */
export interface VolumeRecord {
  /** Format version of this record. */
  v: 1;
  volumeId: string;
  stagingPath: string;
  protocol: Protocol;
  /** The volume's WWN, upper-case hex as publish_context carries it. */
  wwn: string;
  lun: number;
  /** iSCSI targets, aligned pairs. */
  iscsiTargets?: { iqn: string; portal: string }[];
  /** FC target port WWNs (16 lower-case hex). */
  fcTargets?: string[];
  /** Multipath WWID of the map, once one was seen ("3" + the WWN in lower case). */
  wwid?: string;
  /** Loop protocol: the backing file the exports link pointed to (the loop device's identity). */
  backingFile?: string;
  access: 'mount' | 'block';
  fsType?: string;
  readOnly: boolean;
  /** Steps done so far, updated after each one, so a retry or NodeUnstage knows where it stands. */
  steps: { attached?: boolean; formatted?: boolean; ownerApplied?: boolean; mounted?: boolean };
  /** Target paths this volume is published at. */
  publishes: { targetPath: string; readOnly: boolean }[];
  /**
   * Saved right before mkfs of a device this driver proved blank, removed in the same save that
   * sets steps.formatted. Still present at the next stage: the driver was killed during mkfs,
   * and the half-made filesystem on this device (same WWN) is formatted again.
   */
  formatting?: { fsType: string; blankCheck: 'blank' };
}

/**
 * Records under `<kubeletDir>/plugins/<driverName>/state/<sha256(volume_id)>.json`: outside
 * kubelet's per-volume directories, which kubelet removes and fails on leftovers in. Each save is
 * write → fsync → rename → fsync(dir), so a crash leaves the old record or the new one, never half.
 */
/** Age after which another process's temp file is a leftover of a kill, not a save in flight. */
const STALE_TEMP_MS = 60_000;

export class StateStore {
  readonly dir: string;

  /** `dir` overrides the default location (two test "nodes" sharing one kernel and kubelet root). */
  constructor(kubeletDir: string, driverName: string, dir?: string) {
    this.dir = dir ?? join(kubeletDir, 'plugins', driverName, 'state');
  }

  /** The record's file name: a hash, since volume ids contain "/" and may be long. */
  fileFor(volumeId: string): string {
    return join(this.dir, `${createHash('sha256').update(volumeId).digest('hex')}.json`);
  }

  async load(volumeId: string): Promise<VolumeRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.fileFor(volumeId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const rec = JSON.parse(text) as VolumeRecord;
    if (rec.v !== 1 || rec.volumeId !== volumeId)
      throw new Error(`node state ${this.fileFor(volumeId)} is not a record of ${volumeId}`);
    return rec;
  }

  async save(rec: VolumeRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileFor(rec.volumeId);
    const tmp = `${file}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(rec, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    await syncDir(this.dir);
    await this.removeStaleTemps();
  }

  /**
   * Removes temp files a killed process left between write and rename: any pid but ours whose
   * process is gone (the node plugin runs in the host's PID namespace, so a writer in another
   * pod is seen too), or older than a minute whatever the pid says (a pid reused after the
   * kill). A save in flight in a live process is never touched. Cheap: the directory holds one
   * file per staged volume.
   */
  async removeStaleTemps(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    const own = `.${process.pid}.tmp`;
    for (const n of names) {
      if (!n.endsWith('.tmp') || n.endsWith(own)) continue;
      const path = join(this.dir, n);
      try {
        if (!writerAlive(n) || Date.now() - (await stat(path)).mtimeMs > STALE_TEMP_MS) await unlink(path);
      } catch {
        // gone already, or removed by another sweep
      }
    }
  }

  /** Deleting a missing record is success (NodeUnstage may run twice). */
  async remove(volumeId: string): Promise<void> {
    try {
      await unlink(this.fileFor(volumeId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await syncDir(this.dir).catch(() => undefined);
  }

  /** Every readable record; unreadable ones are reported, not deleted (a human looks at them). */
  async list(): Promise<{ records: VolumeRecord[]; unreadable: string[] }> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], unreadable: [] };
      throw err;
    }
    await this.removeStaleTemps();
    const records: VolumeRecord[] = [];
    const unreadable: string[] = [];
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      try {
        records.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as VolumeRecord);
      } catch {
        unreadable.push(n);
      }
    }
    return { records, unreadable };
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Whether the process that writes temp file `name` (`<record>.<pid>.tmp`) still runs. */
function writerAlive(name: string): boolean {
  const pid = Number(/\.(\d+)\.tmp$/.exec(name)?.[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
