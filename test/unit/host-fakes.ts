/**
 * A small model of a Linux node's SCSI, iSCSI and multipath behaviour, for the connector tests:
 * a sysfs tree (and /dev with udev's by-id links) in a temporary directory that reacts to LUN
 * scans, deletes and iSCSI logins the way the kernel does, and an Exec that answers like the real
 * iscsiadm / multipath / multipathd / blockdev. It is meant to be no kinder than a kernel:
 *
 * - One scsi_device per H:C:T:L. A scan of an address that already holds a device does nothing,
 *   whatever the array now exports there (drivers/scsi/scsi_scan.c: scsi_probe_and_add_lun
 *   returns SCSI_SCAN_LUN_PRESENT for an existing device); the old device keeps its cached WWID.
 * - Layout as sysfs shows it: /sys/block/sdX/device → the scsi_device directory (wwid, state,
 *   delete, block/sdX), /sys/class/scsi_device/H:C:T:L/device → the same directory, which lives
 *   under the iSCSI session (devices/platform/hostH/sessionN/targetH:C:T/H:C:T:L) or the FC host.
 * - iSCSI: `--login` by target and portal logs in every node record of it, one session (and one
 *   SCSI host) per bound iface; `--logout` by target and portal ends all of them and their
 *   devices. The array may present an SES enclosure LUN (a scsi_device without block/; 3PAR
 *   shows "3PARdata SES", at LUN 254 [U: the number is configurable]) that appears at login.
 * - multipathd (when running) builds maps on path events per `find_multipaths`
 *   (multipath.conf(5)): no/greedy → every path; yes/smart → two paths of a WWID, or a WWID
 *   in the wwids file; strict → only WWIDs in the wwids file. `multipath -a` adds a WWID,
 *   `multipathd add path` re-evaluates a path. When multipathd is not running, no map appears
 *   and `multipathd show status` fails.
 * - Dead paths (state transport-offline): `blockdev --flushbufs` of the path fails with EIO (of a
 *   blocked path, in session recovery, it waits past any timeout of ours); of a
 *   map that queues I/O with no live path it never returns (D state) — the fake reports the
 *   command's own timeout at once and records the hang; after `multipathd disablequeueing map`
 *   it fails with EIO.
 * - udev makes /dev nodes and by-id links after an add and removes them after a remove; it can
 *   be held (`holdUdev`) to show a node that has not caught up.
 * Tool outputs are paraphrased from their documented formats (iscsiadm(8) and the messages in
 * open-iscsi's usr/iscsiadm.c; multipath(8), multipathd(8); os-brick's linuxscsi.py for what
 * `multipath -a` and `multipathd add path` print), exit codes from open-iscsi's
 * include/iscsi_err.h; they are written here, not copied.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_EXEC_TIMEOUT_MS,
  ExecError,
  commandLine,
  type Exec,
  type ExecOptions,
  type ExecResult,
} from '../../src/host/exec.js';
import { Sysfs } from '../../src/host/sysfs.js';
import { createLogger } from '../../src/log.js';

export const log = createLogger({ level: 'silent' });

/**
 * A LUN the fake array exports. FC (or a single iSCSI session): visible at SCSI host `host`,
 * target `target`. iSCSI by target name: `iqn` — visible on every session logged in to it.
 */
export type FakeLun = { lun: number; wwn: string } & (
  { host: number; target: number; iqn?: undefined } | { iqn: string; host?: undefined; target?: undefined }
);

export interface Call {
  argv: string[];
  options: ExecOptions;
}

/** multipath.conf(5) find_multipaths values. */
export type FindMultipaths = 'no' | 'yes' | 'smart' | 'strict' | 'greedy';

interface ScsiDev {
  hctl: string;
  wwn: string;
  /** Kernel name of the disk; undefined for a device without a block device (SES enclosure). */
  sd?: string;
  dir: string;
}

interface MapState {
  n: number;
  name: string;
  wwn: string;
  queueIfNoPath: boolean;
}

/** The fake host. */
export class FakeHost {
  readonly root = mkdtempSync(join(tmpdir(), '3par-fakehost-'));
  readonly sysRoot = join(this.root, 'sys');
  readonly devRoot = join(this.root, 'dev');
  readonly byId = join(this.root, 'dev/disk/by-id');
  readonly mountinfo = join(this.root, 'mountinfo');
  readonly calls: Call[] = [];
  readonly writes: { path: string; value: string }[] = [];
  readonly luns: FakeLun[] = [];
  /** iSCSI portal → SCSI host number of its session at login (one iface). */
  readonly iscsiHosts = new Map<string, number>();
  /** iSCSI portal → SCSI host numbers, one session per bound iface (iface binding). */
  readonly iscsiIfaces = new Map<string, number[]>();
  readonly records = new Set<string>();
  /** Whether multipathd runs on the host. */
  multipath = false;
  /**
   * How the multipathd client answers without a daemon: 'refused' (exit 1, a connect error) or
   * 'packet-error' (exit 0 with "error receiving packet" on stdout, which os-brick's
   * is_multipath_running also checks for). [U] the exact words vary by version.
   */
  multipathdDown: 'refused' | 'packet-error' = 'refused';
  /** multipathd's find_multipaths; 'no' builds a map for every path (as the tests before this model assumed). */
  findMultipaths: FindMultipaths = 'no';
  /** /etc/multipath/wwids. */
  readonly wwids = new Set<string>();
  /** LUN of the array's SES enclosure device, created at login (undefined: none). */
  sesLun: number | undefined;
  /** `multipath -f` fails for these map names (exit 1), as for a map the kernel still counts open. */
  readonly flushRefused = new Set<string>();
  /** Commands that never returned (D state): their own timeout was reported. */
  readonly hung: string[] = [];
  /** Scans for these hosts are recorded but show nothing until `release()`. */
  holdScans = new Set<number>();
  /** While true, udev has not processed add/remove events: /dev nodes and by-id links lag. */
  holdUdev = false;
  private udevQueue: (() => void)[] = [];
  private held: string[] = [];
  private nextSd = 1;
  private nextSession = 1;
  /** Commands that fail: argv prefix → the error's exit code and stderr. */
  readonly failures: { match: (argv: string[]) => boolean; code: number; stderr: string }[] = [];

  readonly sys: Sysfs;

  constructor() {
    for (const d of [
      'block',
      'class/iscsi_session',
      'class/iscsi_connection',
      'class/fc_transport',
      'class/scsi_device',
    ])
      mkdirSync(join(this.sysRoot, d), { recursive: true });
    mkdirSync(this.byId, { recursive: true });
    writeFileSync(this.mountinfo, '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n');
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const host = this;
    this.sys = new (class extends Sysfs {
      override async write(rel: string, value: string): Promise<void> {
        host.writes.push({ path: rel, value });
        host.onWrite(rel, value);
      }
    })(this.sysRoot);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** An FC remote port visible as SCSI target H:C:T. */
  addFcTarget(host: number, channel: number, target: number, portWwn: string): void {
    const dir = join(this.sysRoot, `class/fc_transport/target${host}:${channel}:${target}`);
    mkdirSync(dir, { recursive: true });
    // port_name as the FC transport class prints it: "0x" + 16 hex digits.
    writeFileSync(join(dir, 'port_name'), `0x${portWwn}\n`);
    mkdirSync(join(this.sysRoot, `class/scsi_host/host${host}`), { recursive: true });
  }

  /** A mount of a device (by major:minor) somewhere, as a mountinfo line. */
  addMount(majorMinor: string, target: string): void {
    writeFileSync(
      this.mountinfo,
      `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n40 22 ${majorMinor} / ${target} rw,relatime - ext4 /dev/x rw\n`,
    );
  }

  /** Disks (sdX) whose cached WWID is this WWN. */
  devicesOf(wwn: string): string[] {
    return [...this.devs.values()].filter((d) => d.sd && d.wwn === wwn.toLowerCase()).map((d) => d.sd!);
  }

  /** The disk at an H:C:T:L, if any. */
  deviceAt(hctl: string): string | undefined {
    return this.devs.get(hctl)?.sd;
  }

  /**
   * A device left behind by an unclean detach: the disk of `wwn` at H:C:T:L, although the array
   * no longer exports that volume there.
   */
  addStaleDisk(host: number, channel: number, target: number, lun: number, wwn: string): string {
    return this.addScsiDevice(host, channel, target, lun, wwn.toLowerCase(), true)!;
  }

  /** The array removed the VLUN / the target went away: every path of the WWN stops carrying I/O. */
  killPaths(wwn: string): void {
    this.setPathState(wwn, 'transport-offline');
  }

  /**
   * scsi_device state of every path of a WWN: running, transport-offline (I/O fails at once),
   * blocked (iSCSI session in recovery: I/O waits until replacement_timeout, 120 s by default).
   */
  setPathState(wwn: string, state: 'running' | 'transport-offline' | 'blocked'): void {
    for (const d of this.devs.values())
      if (d.wwn === wwn.toLowerCase()) writeFileSync(join(d.dir, 'state'), `${state}\n`);
  }

  /** The multipath map (kernel name dm-N) of a WWN, if built. */
  mapOf(wwn: string): string | undefined {
    const m = this.maps.get(wwn.toLowerCase());
    return m ? `dm-${m.n}` : undefined;
  }

  private readonly heldWaiters: (() => void)[] = [];

  /** Resolves once a scan is held: the attach that wrote it is then waiting for its device. */
  scanHeld(): Promise<void> {
    if (this.held.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.heldWaiters.push(resolve));
  }

  /** Lets held scans complete. */
  release(): void {
    this.holdScans.clear();
    for (const w of this.held.splice(0)) this.applyScan(w);
  }

  /** Lets udev process the events it held. */
  releaseUdev(): void {
    this.holdUdev = false;
    for (const e of this.udevQueue.splice(0)) e();
  }

  private udev(event: () => void): void {
    if (this.holdUdev) this.udevQueue.push(event);
    else event();
  }

  private readonly devs = new Map<string, ScsiDev>();

  private onWrite(rel: string, value: string): void {
    if (/^class\/scsi_host\/host\d+\/scan$/.test(rel)) {
      const h = Number(/host(\d+)/.exec(rel)![1]);
      if (this.holdScans.has(h)) {
        this.held.push(`${h} ${value}`);
        for (const w of this.heldWaiters.splice(0)) w();
      } else this.applyScan(`${h} ${value}`);
      return;
    }
    const del = /^block\/(sd[a-z]+)\/device\/delete$/.exec(rel);
    if (del) {
      const d = [...this.devs.values()].find((x) => x.sd === del[1]);
      if (d) this.removeDevice(d);
      return;
    }
    const delH = /^class\/scsi_device\/(\d+:\d+:\d+:\d+)\/device\/delete$/.exec(rel);
    if (delH) {
      const d = this.devs.get(delH[1]!);
      if (d) this.removeDevice(d);
      return;
    }
    if (/^block\/sd[a-z]+\/device\/rescan$/.test(rel)) return;
    throw new Error(`the fake kernel has no writable attribute ${rel}`);
  }

  /** The target name of the iSCSI session on SCSI host h, if any. */
  private sessionIqn(h: number): string | undefined {
    return this.sessions.find((s) => s.host === h)?.iqn;
  }

  /** The kernel's answer to `echo "C T L" > host<H>/scan`: a disk for an exported LUN at a free address. */
  private applyScan(line: string): void {
    const [h, c, t, l] = line.split(' ').map(Number);
    const iqn = this.sessionIqn(h!);
    const lun = this.luns.find(
      (x) => x.lun === l && (x.iqn !== undefined ? x.iqn === iqn && t === 0 : x.host === h && x.target === t),
    );
    if (!lun) return;
    this.addScsiDevice(h!, c!, t!, l!, lun.wwn.toLowerCase(), true);
  }

  /** Adds a scsi_device (and its disk); nothing when the address is taken. */
  private addScsiDevice(h: number, c: number, t: number, l: number, wwn: string, disk: boolean): string | undefined {
    const hctl = `${h}:${c}:${t}:${l}`;
    if (this.devs.has(hctl)) return undefined;
    const session = this.sessions.find((s) => s.host === h);
    const dir = join(
      this.sysRoot,
      `devices/platform/host${h}`,
      session ? `session${session.sid}` : '',
      `target${h}:${c}:${t}`,
      hctl,
    );
    mkdirSync(dir, { recursive: true });
    // wwid as the SCSI layer prints it from VPD page 0x83: "naa." + the NAA designator.
    writeFileSync(join(dir, 'wwid'), `naa.${wwn}\n`);
    writeFileSync(join(dir, 'state'), 'running\n');
    symlinkSync(dir, this.sysPath(`class/scsi_device/${hctl}`, true));
    const dev: ScsiDev = { hctl, wwn, dir };
    this.devs.set(hctl, dev);
    if (!disk) return undefined;
    const sd = `sd${String.fromCharCode(97 + this.nextSd++)}`;
    dev.sd = sd;
    mkdirSync(join(dir, 'block', sd), { recursive: true });
    mkdirSync(join(this.sysRoot, `block/${sd}/holders`), { recursive: true });
    writeFileSync(join(this.sysRoot, `block/${sd}/dev`), `8:${16 * this.nextSd}\n`);
    symlinkSync(dir, join(this.sysRoot, `block/${sd}/device`));
    this.udev(() => {
      writeFileSync(join(this.devRoot, sd), '');
      if (!this.maps.has(wwn)) this.link(`wwn-0x${wwn}`, sd);
    });
    if (this.multipath) this.evaluatePath(wwn);
    return sd;
  }

  /** class/scsi_device/<hctl> lives in a directory; its "device" is the link. */
  private sysPath(rel: string, link: boolean): string {
    mkdirSync(join(this.sysRoot, rel), { recursive: true });
    return link ? join(this.sysRoot, rel, 'device') : join(this.sysRoot, rel);
  }

  private link(name: string, target: string): void {
    rmSync(join(this.byId, name), { force: true });
    symlinkSync(`../../${target}`, join(this.byId, name));
  }

  /** `echo 1 > .../device/delete`: the device, its disk and its H:C:T:L entries go; udev removes /dev. */
  private removeDevice(d: ScsiDev): void {
    this.devs.delete(d.hctl);
    rmSync(d.dir, { recursive: true, force: true });
    rmSync(join(this.sysRoot, `class/scsi_device/${d.hctl}`), { recursive: true, force: true });
    const sd = d.sd;
    if (!sd) return;
    rmSync(join(this.sysRoot, `block/${sd}`), { recursive: true, force: true });
    const m = this.maps.get(d.wwn);
    if (m) rmSync(join(this.sysRoot, `block/dm-${m.n}/slaves/${sd}`), { force: true });
    this.udev(() => {
      rmSync(join(this.devRoot, sd), { force: true });
      if (this.devicesOf(d.wwn).length === 0) rmSync(join(this.byId, `wwn-0x${d.wwn}`), { force: true });
    });
  }

  /**
   * multipathd on a path event for a WWID: builds the map when the policy allows it, adds new
   * paths to an existing map (a path event, or `multipathd add path` after `multipath -a`).
   */
  private evaluatePath(wwn: string): void {
    const paths = this.devicesOf(wwn);
    if (paths.length === 0) return;
    const known = this.wwids.has(`3${wwn}`);
    const policy = this.findMultipaths;
    const build =
      this.maps.has(wwn) ||
      policy === 'no' ||
      policy === 'greedy' ||
      known ||
      (paths.length >= 2 && (policy === 'yes' || policy === 'smart'));
    if (!build) return;
    this.buildMap(wwn);
  }

  /** A map: dm-N with uuid "mpath-3<wwn>", name mpath<letter>, the paths as slaves and holders. */
  private readonly maps = new Map<string, MapState>();
  private nextMap = 0;
  private buildMap(wwn: string): void {
    let m = this.maps.get(wwn);
    if (!m) {
      const n = this.nextMap++;
      // 3PARdata VV in multipath-tools' hwtable queues I/O while no path is left (no_path_retry).
      m = { n, name: `mpath${String.fromCharCode(97 + n)}`, wwn, queueIfNoPath: true };
      this.maps.set(wwn, m);
      this.wwids.add(`3${wwn}`);
    }
    const dm = `dm-${m.n}`;
    const dir = join(this.sysRoot, `block/${dm}`);
    mkdirSync(join(dir, 'dm'), { recursive: true });
    mkdirSync(join(dir, 'slaves'), { recursive: true });
    mkdirSync(join(dir, 'holders'), { recursive: true });
    writeFileSync(join(dir, 'dm/uuid'), `mpath-3${wwn}\n`);
    writeFileSync(join(dir, 'dm/name'), `${m.name}\n`);
    writeFileSync(join(dir, 'dev'), `253:${m.n}\n`);
    for (const sd of this.devicesOf(wwn)) {
      writeFileSync(join(dir, 'slaves', sd), '');
      writeFileSync(join(this.sysRoot, `block/${sd}/holders/${dm}`), '');
    }
    this.udev(() => {
      writeFileSync(join(this.devRoot, dm), '');
      this.link(`dm-uuid-mpath-3${wwn}`, dm);
      this.link(`wwn-0x${wwn}`, dm);
    });
  }

  /** The map is removed (`multipath -f`, `multipathd del map`): its paths stay. */
  private removeMap(m: MapState): void {
    const dm = `dm-${m.n}`;
    rmSync(join(this.sysRoot, `block/${dm}`), { recursive: true, force: true });
    for (const sd of this.devicesOf(m.wwn)) rmSync(join(this.sysRoot, `block/${sd}/holders/${dm}`), { force: true });
    this.maps.delete(m.wwn);
    this.udev(() => {
      rmSync(join(this.devRoot, dm), { force: true });
      rmSync(join(this.byId, `dm-uuid-mpath-3${m.wwn}`), { force: true });
      rmSync(join(this.byId, `wwn-0x${m.wwn}`), { force: true });
      const sd = this.devicesOf(m.wwn)[0];
      if (sd) this.link(`wwn-0x${m.wwn}`, sd);
    });
  }

  private mapByName(name: string): MapState | undefined {
    return [...this.maps.values()].find((m) => m.name === name);
  }

  private pathLive(sd: string): boolean {
    const d = [...this.devs.values()].find((x) => x.sd === sd);
    return d !== undefined && existsSync(join(d.dir, 'state')) && !/offline|blocked/.test(readState(d.dir));
  }

  private readonly sessions: { sid: number; host: number; iqn: string; portal: string }[] = [];

  private login(iqn: string, portal: string): number {
    const hosts = this.iscsiIfaces.get(portal) ?? (this.iscsiHosts.has(portal) ? [this.iscsiHosts.get(portal)!] : []);
    if (hosts.length === 0) return 8; // ISCSI_ERR_TRANS_TIMEOUT: nothing answers at this portal
    for (const host of hosts) {
      if (this.sessions.some((s) => s.host === host)) continue;
      const sid = this.nextSession++;
      this.sessions.push({ sid, host, iqn, portal });
      const dev = join(this.sysRoot, `devices/platform/host${host}/session${sid}`);
      mkdirSync(join(dev, `iscsi_session/session${sid}`), { recursive: true });
      const cls = join(this.sysRoot, `class/iscsi_session/session${sid}`);
      mkdirSync(cls, { recursive: true });
      writeFileSync(join(cls, 'targetname'), `${iqn}\n`);
      writeFileSync(join(cls, 'target_id'), '0\n');
      symlinkSync(dev, join(cls, 'device'));
      const conn = join(this.sysRoot, `class/iscsi_connection/connection${sid}:0`);
      mkdirSync(conn, { recursive: true });
      const [address, port] = portal.split(':');
      writeFileSync(join(conn, 'persistent_address'), `${address}\n`);
      writeFileSync(join(conn, 'persistent_port'), `${port ?? '3260'}\n`);
      mkdirSync(join(this.sysRoot, `class/scsi_host/host${host}`), { recursive: true });
      // The SES enclosure device: probed at login by the array's REPORT LUNS, no block device.
      if (this.sesLun !== undefined) this.addScsiDevice(host, 0, 0, this.sesLun, `ses${sid}`, false);
    }
    return 0;
  }

  /** Logout by target and portal: every session of it (every iface), with its devices. */
  private logout(iqn: string, portal: string): number {
    const ended = this.sessions.filter((s) => s.iqn === iqn && s.portal === portal);
    for (const s of ended) {
      for (const d of [...this.devs.values()]) if (d.hctl.startsWith(`${s.host}:`)) this.removeDevice(d);
      this.sessions.splice(this.sessions.indexOf(s), 1);
      rmSync(join(this.sysRoot, `class/iscsi_session/session${s.sid}`), { recursive: true, force: true });
      rmSync(join(this.sysRoot, `class/iscsi_connection/connection${s.sid}:0`), { recursive: true, force: true });
      rmSync(join(this.sysRoot, `devices/platform/host${s.host}`), { recursive: true, force: true });
    }
    return ended.length;
  }

  /** Number of iSCSI sessions now. */
  sessionCount(): number {
    return this.sessions.length;
  }

  /** The fake executor. */
  readonly exec: Exec = async (command, args, options = {}) => {
    const argv = [command, ...args];
    this.calls.push({ argv, options });
    const fail = this.failures.find((f) => f.match(argv));
    if (fail) return this.reject(argv, options, fail.code, '', fail.stderr);
    // nsenter --target 1 --mount --net -- <tool> ...: run the tool.
    const tool = command === 'nsenter' ? args.slice(args.indexOf('--') + 1) : argv;
    return this.run(tool, argv, options);
  };

  private reject(
    argv: string[],
    options: ExecOptions,
    code: number,
    stdout: string,
    stderr: string,
  ): never | Promise<ExecResult> {
    if (options.okCodes?.includes(code)) return Promise.resolve({ code, stdout, stderr });
    throw new ExecError({
      commandLine: commandLine(argv[0]!, argv.slice(1), options.secretArgs),
      failure: 'exit',
      exitCode: code,
      stdout,
      stderr,
    });
  }

  /** A command stuck in the kernel: it reports its own timeout (spawnExec's behaviour), never an answer. */
  private hang(argv: string[], options: ExecOptions): never {
    // The caller's timeout (or spawnExec's default) is what ends the wait; record which applied.
    this.hung.push(`${argv.join(' ')} (after ${options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS} ms)`);
    throw new ExecError({
      commandLine: commandLine(argv[0]!, argv.slice(1), options.secretArgs),
      failure: 'timeout',
      exitCode: null,
      stdout: '',
      stderr: '',
    });
  }

  private async run(argv: string[], full: string[], options: ExecOptions): Promise<ExecResult> {
    const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
    const [cmd, ...a] = argv;
    if (cmd === 'iscsiadm') {
      const iqn = a[a.indexOf('-T') + 1]!;
      const portal = a[a.indexOf('-p') + 1]!;
      const key = `${iqn}@${portal}`;
      if (a.includes('--login')) {
        const rc = this.login(iqn, portal);
        if (rc !== 0)
          return this.reject(
            full,
            options,
            rc,
            '',
            `iscsiadm: Could not login to [iface: default, target: ${iqn}, portal: ${portal}].\niscsiadm: initiator reported error (8 - connection timed out)\n`,
          );
        return ok(
          `Logging in to [iface: default, target: ${iqn}, portal: ${portal.replace(':', ',')}]\nLogin to [iface: default, target: ${iqn}, portal: ${portal.replace(':', ',')}] successful.\n`,
        );
      }
      if (a.includes('--logout')) {
        if (this.logout(iqn, portal) === 0)
          return this.reject(full, options, 21, '', 'iscsiadm: No matching sessions found\n');
        return ok(
          `Logging out of session [sid: 1, target: ${iqn}, portal: ${portal.replace(':', ',')}]\nLogout of [sid: 1, target: ${iqn}, portal: ${portal.replace(':', ',')}] successful.\n`,
        );
      }
      const op = a.includes('-o') ? a[a.indexOf('-o') + 1] : undefined;
      if (op === 'new') {
        this.records.add(key);
        return ok(
          `New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] ${portal.replace(':', ',')},-1 ${iqn}] added\n`,
        );
      }
      if (op === 'delete') {
        if (!this.records.delete(key)) return this.reject(full, options, 21, '', 'iscsiadm: No records found\n');
        return ok();
      }
      if (op === 'update')
        return this.records.has(key) ? ok() : this.reject(full, options, 21, '', 'iscsiadm: No records found\n');
      // Record display: "name = value" lines, as `iscsiadm -m node -T -p` prints them.
      if (!this.records.has(key)) return this.reject(full, options, 21, '', 'iscsiadm: No records found\n');
      return ok(
        `# BEGIN RECORD 2.1.8\nnode.name = ${iqn}\nnode.startup = manual\nnode.conn[0].address = ${portal.split(':')[0]}\n# END RECORD\n`,
      );
    }
    if (cmd === 'multipathd') {
      if (!this.multipath && this.multipathdDown === 'packet-error') return ok('error receiving packet\n');
      if (!this.multipath) return this.reject(full, options, 1, '', "can't connect to the multipathd socket\n");
      const verb = a.join(' ');
      if (verb === 'show status') return ok('path checker states:\nup                  2\n\npaths: 2\nbusy: False\n');
      const mapCmd = /^(disablequeueing|del|resize) map (\S+)$/.exec(verb);
      if (mapCmd) {
        const m = this.mapByName(mapCmd[2]!);
        if (!m) return ok('fail\n');
        if (mapCmd[1] === 'disablequeueing') m.queueIfNoPath = false;
        if (mapCmd[1] === 'del') this.removeMap(m);
        return ok('ok\n');
      }
      const addPath = /^add path \/dev\/(sd[a-z]+)$/.exec(verb);
      if (addPath) {
        const d = [...this.devs.values()].find((x) => x.sd === addPath[1]);
        if (!d) return ok('fail\n');
        this.evaluatePath(d.wwn);
        return ok('ok\n');
      }
      return this.reject(full, options, 1, '', `multipathd: unknown command ${verb}\n`);
    }
    if (cmd === 'multipath' && a[0] === '-a') {
      this.wwids.add(a[1]!);
      return ok(`wwid '${a[1]}' added\n`);
    }
    if (cmd === 'multipath' && a[0] === '-f') {
      const m = this.mapByName(a[1]!);
      if (!m) return this.reject(full, options, 1, '', `${a[1]}: no such map\n`);
      if (this.flushRefused.has(m.name)) return this.reject(full, options, 1, '', `${m.name}: map in use\n`);
      this.removeMap(m);
      return ok();
    }
    if (cmd === 'blockdev' && a[0] === '--flushbufs') {
      const name = a[1]!.replace('/dev/', '');
      const eio = (): Promise<ExecResult> =>
        this.reject(full, options, 1, '', 'blockdev: ioctl error on BLKFLSBUF: Input/output error\n');
      const m = [...this.maps.values()].find((x) => `dm-${x.n}` === name);
      if (m) {
        const live = this.devicesOf(m.wwn).some((sd) => this.pathLive(sd));
        if (live) return ok();
        return m.queueIfNoPath ? this.hang(full, options) : eio();
      }
      const d = [...this.devs.values()].find((x) => x.sd === name);
      if (d && readState(d.dir).trim() === 'blocked') return this.hang(full, options);
      if (/^sd[a-z]+$/.test(name) && !this.pathLive(name)) return eio();
      return ok();
    }
    if (cmd === 'blockdev') return ok();
    if (cmd === 'umount' && a.length === 1) {
      // The mount at the target leaves the table (the last line for it: mounts stack).
      const lines = readFileSync(this.mountinfo, 'utf8').split('\n');
      const i = lines.map((l) => l.split(' ')[4]).lastIndexOf(a[0]);
      if (i < 0) return this.reject(full, options, 32, '', `umount: ${a[0]}: not mounted.\n`);
      lines.splice(i, 1);
      writeFileSync(this.mountinfo, lines.join('\n'));
      return ok();
    }
    return this.reject(full, options, 127, '', `${cmd}: not found in the fake host\n`);
  }

  /** The command lines run, without the nsenter prefix, for compact assertions. */
  commands(filter?: string): string[] {
    return this.calls.map((c) => c.argv.join(' ')).filter((l) => !filter || l.includes(filter));
  }
}

function readState(dir: string): string {
  try {
    return readFileSync(join(dir, 'state'), 'utf8');
  } catch {
    return '';
  }
}
