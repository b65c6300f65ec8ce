/**
 * The optional data plane: every volume is a sparse file `<dataDir>/volumes/<WWN>.img` of its
 * size. Snapshots and physical copies copy the content at the moment they are taken, sparsely
 * (Node's fs.copyFile fills holes in, so copies go through `cp --sparse=always`, or a loop that
 * skips zero blocks where cp is missing). While a volume has at least one VLUN,
 * `<dataDir>/exports/<WWN>` is a symlink to its file: the node plugin's loop connector uses only
 * that (no HTTP, no credentials).
 */
import { execFile } from 'node:child_process';
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SimulatorError } from './errors.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;

export class DataPlane {
  readonly volumesDir: string;
  readonly exportsDir: string;
  private cpUsable = true;

  constructor(readonly dir: string) {
    this.volumesDir = path.join(dir, 'volumes');
    this.exportsDir = path.join(dir, 'exports');
  }

  async init(): Promise<void> {
    try {
      await fs.mkdir(this.volumesDir, { recursive: true });
      await fs.mkdir(this.exportsDir, { recursive: true });
    } catch (err) {
      throw new SimulatorError(
        'SIM_DATA_PLANE',
        `cannot create the data directory ${this.dir}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  fileOf(wwn: string): string {
    return path.resolve(this.volumesDir, `${wwn}.img`);
  }

  /** Creates an empty (all-holes) file of the volume's size, or resizes an existing one. */
  async create(wwn: string, sizeMiB: number): Promise<void> {
    const fh = await fs.open(this.fileOf(wwn), 'a');
    try {
      await fh.truncate(sizeMiB * MiB);
    } finally {
      await fh.close();
    }
  }

  /** Grow: extends the file (new space reads as zeros). */
  async resize(wwn: string, sizeMiB: number): Promise<void> {
    await this.create(wwn, sizeMiB);
  }

  async remove(wwn: string): Promise<void> {
    await fs.rm(this.fileOf(wwn), { force: true });
    await fs.rm(path.join(this.exportsDir, wwn), { force: true });
  }

  /**
   * Copies the content of `src` into `dst` (replacing it in place, so a loop device on `dst`
   * keeps its inode), then sizes `dst` to `dstSizeMiB`. Holes stay holes.
   */
  async copy(srcWwn: string, dstWwn: string, dstSizeMiB: number): Promise<void> {
    const src = this.fileOf(srcWwn);
    const dst = this.fileOf(dstWwn);
    if (this.cpUsable) {
      try {
        await run('cp', ['--sparse=always', '--reflink=auto', src, dst]);
        await this.create(dstWwn, dstSizeMiB);
        return;
      } catch (err) {
        // A cp without these options (not GNU coreutils): fall back to the zero-skipping loop.
        if (
          (err as NodeJS.ErrnoException).code === 'ENOENT' ||
          /unrecognized|invalid option/i.test(String((err as { stderr?: string }).stderr))
        )
          this.cpUsable = false;
        else throw err;
      }
    }
    await sparseCopy(src, dst);
    await this.create(dstWwn, dstSizeMiB);
  }

  /** Allocated MiB of a volume's file (what a thin volume really uses). */
  async allocatedMiB(wwn: string): Promise<number> {
    try {
      const st = await fs.stat(this.fileOf(wwn));
      return Math.ceil((st.blocks * 512) / MiB);
    } catch {
      return 0;
    }
  }

  private syncing: Promise<void> = Promise.resolve();

  /**
   * Makes exports/ hold exactly one link per exported volume WWN. Runs one at a time and reads
   * the exported set only when its turn comes, so that a late sync never removes a link that a
   * newer VLUN needs.
   */
  syncExports(exported: () => ReadonlySet<string>): Promise<void> {
    const run = this.syncing.then(() => this.syncNow(exported()));
    this.syncing = run.catch(() => undefined);
    return run;
  }

  private async syncNow(exported: ReadonlySet<string>): Promise<void> {
    const present = new Set(await fs.readdir(this.exportsDir));
    for (const wwn of exported) {
      if (present.has(wwn)) continue;
      const link = path.join(this.exportsDir, wwn);
      await fs.symlink(this.fileOf(wwn), link).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
    for (const name of present) {
      if (!exported.has(name)) await fs.rm(path.join(this.exportsDir, name), { force: true });
    }
  }
}

/** Copies src to dst writing only non-zero blocks, so the result stays sparse. */
async function sparseCopy(src: string, dst: string): Promise<void> {
  const input = await fs.open(src, fsc.O_RDONLY);
  const output = await fs.open(dst, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC);
  try {
    const { size } = await input.stat();
    await output.truncate(size);
    const buf = Buffer.alloc(BLOCK);
    for (let pos = 0; pos < size; pos += BLOCK) {
      const { bytesRead } = await input.read(buf, 0, BLOCK, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (chunk.some((b) => b !== 0)) await output.write(chunk, 0, bytesRead, pos);
    }
  } finally {
    await input.close();
    await output.close();
  }
}
