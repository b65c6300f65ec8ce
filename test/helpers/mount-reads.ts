/** Counting the node service's reads of the mount table (issue 15: one read per RPC). */
import { Mounter, type MountInfo } from '../../src/host/mounts.js';

/** A Mounter that counts its reads of the mount table (each one a read of the mountinfo file). */
export class CountingMounter extends Mounter {
  reads = 0;
  override read(): Promise<MountInfo[]> {
    this.reads++;
    return super.read();
  }

  /** Runs one call and returns how many times it read the table. */
  async readsOf(call: () => Promise<unknown>): Promise<number> {
    const before = this.reads;
    await call();
    return this.reads - before;
  }
}
