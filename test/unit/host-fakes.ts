/**
 * A fake host for the connector unit tests: a sysfs tree in a temporary directory that reacts to
 * LUN scans, deletes and iSCSI logins the way the kernel does, and an Exec that answers like the
 * real iscsiadm / multipath / multipathd / blockdev. The tool outputs are paraphrased from their
 * documented formats (iscsiadm(8) and the messages in open-iscsi's usr/iscsiadm.c; multipath(8)),
 * and the exit codes from open-iscsi's include/iscsi_err.h; they are written here, not copied.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecError, commandLine, type Exec, type ExecOptions, type ExecResult } from '../../src/host/exec.js';
import { Sysfs } from '../../src/host/sysfs.js';
import { createLogger } from '../../src/log.js';

export const log = createLogger({ level: 'silent' });

/** A LUN the fake array exports: which SCSI address shows which WWN. */
export interface FakeLun {
  host: number;
  target: number;
  lun: number;
  wwn: string;
}

export interface Call {
  argv: string[];
  options: ExecOptions;
}

/** The fake host. `luns` are visible once scanned; `multipath` builds maps like multipathd. */
export class FakeHost {
  readonly root = mkdtempSync(join(tmpdir(), '3par-fakehost-'));
  readonly sysRoot = join(this.root, 'sys');
  readonly mountinfo = join(this.root, 'mountinfo');
  readonly calls: Call[] = [];
  readonly writes: { path: string; value: string }[] = [];
  readonly luns: FakeLun[] = [];
  /** iSCSI portal → SCSI host number the session gets at login. */
  readonly iscsiHosts = new Map<string, number>();
  readonly records = new Set<string>();
  multipath = false;
  /** Scans for these hosts are recorded but show nothing until `release()`. */
  holdScans = new Set<number>();
  private held: string[] = [];
  private nextSd = 1;
  private nextSession = 1;
  /** Commands that fail: argv prefix → the error's exit code and stderr. */
  readonly failures: { match: (argv: string[]) => boolean; code: number; stderr: string }[] = [];

  readonly sys: Sysfs;

  constructor() {
    mkdirSync(join(this.sysRoot, 'block'), { recursive: true });
    mkdirSync(join(this.sysRoot, 'class/iscsi_session'), { recursive: true });
    mkdirSync(join(this.sysRoot, 'class/iscsi_connection'), { recursive: true });
    mkdirSync(join(this.sysRoot, 'class/fc_transport'), { recursive: true });
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
    writeFileSync(this.mountinfo, `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n40 22 ${majorMinor} / ${target} rw,relatime - ext4 /dev/x rw\n`);
  }

  devicesOf(wwn: string): string[] {
    return [...this.sdWwn.entries()].filter(([, w]) => w === wwn.toLowerCase()).map(([sd]) => sd);
  }

  private readonly sdWwn = new Map<string, string>();
  private readonly sdHctl = new Map<string, string>();

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
    if (del) this.removeSd(del[1]!);
  }

  /** The kernel's answer to `echo "C T L" > host<H>/scan`: a disk per matching exported LUN. */
  private applyScan(line: string): void {
    const [h, c, t, l] = line.split(' ').map(Number);
    for (const lun of this.luns.filter((x) => x.host === h && x.target === t && x.lun === l)) {
      const hctl = `${h}:${c}:${t}:${l}`;
      if ([...this.sdHctl.values()].includes(hctl)) continue;
      const sd = `sd${String.fromCharCode(97 + this.nextSd++)}`;
      const devDir = join(this.sysRoot, `devices/h/${hctl}`);
      mkdirSync(devDir, { recursive: true });
      // wwid as the SCSI layer prints it from VPD page 0x83: "naa." + the NAA designator.
      writeFileSync(join(devDir, 'wwid'), `naa.${lun.wwn.toLowerCase()}\n`);
      mkdirSync(join(this.sysRoot, `block/${sd}/holders`), { recursive: true });
      writeFileSync(join(this.sysRoot, `block/${sd}/dev`), `8:${16 * this.nextSd}\n`);
      symlinkSync(devDir, join(this.sysRoot, `block/${sd}/device`));
      this.sdWwn.set(sd, lun.wwn.toLowerCase());
      this.sdHctl.set(sd, hctl);
      const session = this.sessionDirOfHost(h!);
      if (session) mkdirSync(join(session, `target${h}:${c}:${t}`, hctl), { recursive: true });
      if (this.multipath) this.buildMap(lun.wwn.toLowerCase());
    }
  }

  /** `echo 1 > /sys/block/sdX/device/delete`: the disk and its H:C:T:L entry go away. */
  private removeSd(sd: string): void {
    const hctl = this.sdHctl.get(sd);
    if (!hctl) return;
    this.sdWwn.delete(sd);
    this.sdHctl.delete(sd);
    rmSync(join(this.sysRoot, `block/${sd}`), { recursive: true, force: true });
    rmSync(join(this.sysRoot, `devices/h/${hctl}`), { recursive: true, force: true });
    const [h, c, t] = hctl.split(':');
    const session = this.sessionDirOfHost(Number(h));
    if (session) rmSync(join(session, `target${h}:${c}:${t}`, hctl), { recursive: true, force: true });
  }

  /** multipathd: one map per WWID, dm-N with uuid "mpath-3<wwn>" and the paths as slaves. */
  private readonly maps = new Map<string, number>();
  private buildMap(wwn: string): void {
    if (!this.maps.has(wwn)) this.maps.set(wwn, this.maps.size);
    const n = this.maps.get(wwn)!;
    const dm = `dm-${n}`;
    const dir = join(this.sysRoot, `block/${dm}`);
    mkdirSync(join(dir, 'dm'), { recursive: true });
    mkdirSync(join(dir, 'slaves'), { recursive: true });
    mkdirSync(join(dir, 'holders'), { recursive: true });
    writeFileSync(join(dir, 'dm/uuid'), `mpath-3${wwn}\n`);
    writeFileSync(join(dir, 'dm/name'), `mpath${String.fromCharCode(97 + n)}\n`);
    writeFileSync(join(dir, 'dev'), `253:${n}\n`);
    for (const sd of this.devicesOf(wwn)) {
      writeFileSync(join(dir, 'slaves', sd), '');
      writeFileSync(join(this.sysRoot, `block/${sd}/holders/${dm}`), '');
    }
  }

  /** `multipath -f <name>`: the map goes, its paths stay. */
  private removeMap(name: string): void {
    const n = name.charCodeAt(name.length - 1) - 97;
    rmSync(join(this.sysRoot, `block/dm-${n}`), { recursive: true, force: true });
    for (const sd of this.sdWwn.keys()) rmSync(join(this.sysRoot, `block/${sd}/holders/dm-${n}`), { force: true });
    for (const [w, i] of this.maps) if (i === n) this.maps.delete(w);
  }

  private sessionDirOfHost(h: number): string | undefined {
    const sid = this.sessionOfHost.get(h);
    return sid === undefined ? undefined : join(this.sysRoot, `devices/platform/host${h}/session${sid}`);
  }

  private readonly sessionOfHost = new Map<number, number>();

  private login(iqn: string, portal: string): number {
    const host = this.iscsiHosts.get(portal);
    if (host === undefined) return 8; // ISCSI_ERR_TRANS_TIMEOUT: nothing answers at this portal
    const sid = this.nextSession++;
    this.sessionOfHost.set(host, sid);
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
    return 0;
  }

  private logout(iqn: string, portal: string): boolean {
    const host = this.iscsiHosts.get(portal);
    const sid = host === undefined ? undefined : this.sessionOfHost.get(host);
    if (sid === undefined) return false;
    this.sessionOfHost.delete(host!);
    rmSync(join(this.sysRoot, `class/iscsi_session/session${sid}`), { recursive: true, force: true });
    rmSync(join(this.sysRoot, `class/iscsi_connection/connection${sid}:0`), { recursive: true, force: true });
    rmSync(join(this.sysRoot, `devices/platform/host${host}`), { recursive: true, force: true });
    void iqn;
    return true;
  }

  /** The fake executor. */
  readonly exec: Exec = async (command, args, options = {}) => {
    const argv = [command, ...args];
    this.calls.push({ argv, options });
    const fail = this.failures.find((f) => f.match(argv));
    if (fail) return this.reject(argv, options, fail.code, '', fail.stderr);
    // nsenter --target 1 --mount --net -- <tool> ...: run the tool.
    const tool = command === 'nsenter' ? args.slice(args.indexOf('--') + 1) : argv;
    return this.run(tool, options);
  };

  private reject(argv: string[], options: ExecOptions, code: number, stdout: string, stderr: string): never | Promise<ExecResult> {
    if (options.okCodes?.includes(code)) return Promise.resolve({ code, stdout, stderr });
    throw new ExecError({ commandLine: commandLine(argv[0]!, argv.slice(1), options.secretArgs), failure: 'exit', exitCode: code, stdout, stderr });
  }

  private async run(argv: string[], options: ExecOptions): Promise<ExecResult> {
    const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
    const [cmd, ...a] = argv;
    if (cmd === 'iscsiadm') {
      const iqn = a[a.indexOf('-T') + 1]!;
      const portal = a[a.indexOf('-p') + 1]!;
      const key = `${iqn}@${portal}`;
      if (a.includes('--login')) {
        const rc = this.login(iqn, portal);
        if (rc !== 0) return this.reject(argv, options, rc, '', `iscsiadm: Could not login to [iface: default, target: ${iqn}, portal: ${portal}].\niscsiadm: initiator reported error (8 - connection timed out)\n`);
        return ok(`Logging in to [iface: default, target: ${iqn}, portal: ${portal.replace(':', ',')}]\nLogin to [iface: default, target: ${iqn}, portal: ${portal.replace(':', ',')}] successful.\n`);
      }
      if (a.includes('--logout')) {
        if (!this.logout(iqn, portal)) return this.reject(argv, options, 21, '', 'iscsiadm: No matching sessions found\n');
        return ok(`Logging out of session [sid: 1, target: ${iqn}, portal: ${portal.replace(':', ',')}]\nLogout of [sid: 1, target: ${iqn}, portal: ${portal.replace(':', ',')}] successful.\n`);
      }
      const op = a.includes('-o') ? a[a.indexOf('-o') + 1] : undefined;
      if (op === 'new') {
        this.records.add(key);
        return ok(`New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] ${portal.replace(':', ',')},-1 ${iqn}] added\n`);
      }
      if (op === 'delete') {
        if (!this.records.delete(key)) return this.reject(argv, options, 21, '', 'iscsiadm: No records found\n');
        return ok();
      }
      if (op === 'update') return this.records.has(key) ? ok() : this.reject(argv, options, 21, '', 'iscsiadm: No records found\n');
      // Record display: "name = value" lines, as `iscsiadm -m node -T -p` prints them.
      if (!this.records.has(key)) return this.reject(argv, options, 21, '', 'iscsiadm: No records found\n');
      return ok(`# BEGIN RECORD 2.1.8\nnode.name = ${iqn}\nnode.startup = manual\nnode.conn[0].address = ${portal.split(':')[0]}\n# END RECORD\n`);
    }
    if (cmd === 'multipath' && a[0] === '-f') {
      this.removeMap(a[1]!);
      return ok();
    }
    if (cmd === 'multipathd') return ok('ok\n');
    if (cmd === 'blockdev') return ok();
    return this.reject(argv, options, 127, '', `${cmd}: not found in the fake host\n`);
  }

  /** The command lines run, without the nsenter prefix, for compact assertions. */
  commands(filter?: string): string[] {
    return this.calls.map((c) => c.argv.join(' ')).filter((l) => !filter || l.includes(filter));
  }
}
