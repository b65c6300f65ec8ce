import { basename } from 'node:path';
import { invalidArgument, isKind, unavailable } from '../errors.js';
import { KeyedMutex } from '../util/inflight.js';
import type { Exec } from './exec.js';
import { ScsiConnector, type ScsiVolumes } from './scsi.js';
import type { Sysfs } from './sysfs.js';
import type { AttachedDevice, Chap, ConnectorCallOptions, VolumeIdentity } from './connector.js';

/** iscsiadm exit codes (open-iscsi include/iscsi_err.h). */
export const ISCSI_ERR = {
  /** ISCSI_ERR_SESS_EXISTS: login to a session that is already logged in. */
  sessExists: 15,
  /** ISCSI_ERR_NO_OBJS_FOUND: no matching node record or session. */
  noObjsFound: 21,
} as const;

/** A login waits for the TCP connection and the target's answer (iscsid's own login timeout is 15 s). */
const LOGIN_TIMEOUT_MS = 45_000;
/** Node-record edits touch only local files. */
const RECORD_TIMEOUT_MS = 15_000;

export interface IscsiTarget {
  iqn: string;
  portal: string;
}

/** A logged-in session as sysfs shows it. */
interface Session {
  /** "session7" */
  name: string;
  /** SCSI host number of the session. */
  host: number;
  /** SCSI target id the session's LUNs live under. */
  targetId: number;
}

/**
 * iSCSI through the host's open-iscsi. Per target (IQN at a portal), login/scan and
 * check/logout run under one lock, and a target is logged out only when no other LUN of it is
 * in use or being staged (3PAR exports many volumes through one target port).
 */
export class IscsiConnector extends ScsiConnector {
  private readonly targetLocks = new KeyedMutex();
  /** Targets with an attach in progress, counted: logout waits until they are done. */
  private readonly staging = new Map<string, number>();

  constructor(
    /** The host executor (nsenter into the host's namespaces in production). */
    private readonly iscsiadm: Exec,
    private readonly sys: Sysfs,
    scsi: ScsiVolumes,
  ) {
    super(scsi);
  }

  async attach(
    id: VolumeIdentity,
    chap: Chap | undefined,
    _readOnly: boolean,
    o: ConnectorCallOptions,
  ): Promise<AttachedDevice> {
    const targets = id.iscsiTargets ?? [];
    if (targets.length === 0) throw invalidArgument('publish_context has no iSCSI targets');
    const keys = targets.map(targetKey);
    for (const k of keys) this.staging.set(k, (this.staging.get(k) ?? 0) + 1);
    try {
      const results = await Promise.allSettled(
        targets.map((t) => this.targetLocks.run(targetKey(t), () => this.loginAndScan(t, id.lun, id.wwn, chap, o))),
      );
      const failed = results.flatMap((r, i) =>
        r.status === 'rejected' ? [{ target: targets[i]!, err: r.reason as unknown }] : [],
      );
      for (const f of failed)
        o.log.warn(
          { iqn: f.target.iqn, portal: f.target.portal, err: f.err },
          'iSCSI path failed; continuing with the others',
        );
      // A stale device in use at the LUN's address is for the admin to resolve: say so, not "unavailable".
      const blocked = failed.find((f) => isKind(f.err, 'failed-precondition'));
      if (failed.length === targets.length && blocked) throw blocked.err;
      if (failed.length === targets.length) {
        throw unavailable(`could not log in to any iSCSI target of volume ${id.wwn}`, { cause: failed[0]!.err });
      }
      return await this.scsi.waitForDevice(id.wwn, o);
    } finally {
      for (const k of keys) {
        const n = (this.staging.get(k) ?? 1) - 1;
        if (n > 0) this.staging.set(k, n);
        else this.staging.delete(k);
      }
    }
  }

  /** Removes the LUN's devices, then logs out of each target no other LUN uses. */
  override async detach(id: VolumeIdentity, o: ConnectorCallOptions): Promise<void> {
    await super.detach(id, o);
    for (const t of id.iscsiTargets ?? []) {
      await this.targetLocks.run(targetKey(t), () => this.logoutIfUnused(t, o));
    }
  }

  /** Whether an attach of any LUN of this target is in progress (for tests and logs). */
  isStaging(t: IscsiTarget): boolean {
    return this.staging.has(targetKey(t));
  }

  private async loginAndScan(
    t: IscsiTarget,
    lun: number,
    wwn: string,
    chap: Chap | undefined,
    o: ConnectorCallOptions,
  ): Promise<void> {
    let sessions = await this.findSessions(t);
    // Already logged in (another LUN of this target, or a repeated NodeStage): only scan.
    if (sessions.length === 0) {
      await this.ensureNodeRecord(t, chap, o.signal);
      // iscsiadm -m node -T <iqn> -p <portal> --login      (15: already logged in)
      // Logs in every node record of the target at the portal: one session per bound iface.
      await this.iscsiadm('iscsiadm', ['-m', 'node', '-T', t.iqn, '-p', t.portal, '--login'], {
        timeoutMs: LOGIN_TIMEOUT_MS,
        okCodes: [ISCSI_ERR.sessExists],
      });
      sessions = await this.findSessions(t);
      if (sessions.length === 0)
        throw unavailable(`logged in to ${t.iqn} at ${t.portal} but no session appeared in sysfs`);
      o.log.info({ iqn: t.iqn, portal: t.portal, sessions: sessions.map((s) => s.name) }, 'iSCSI login');
    }
    // Every session of (IQN, portal) is a path of its own (iface binding: one SCSI host each),
    // as os-brick's _get_connection_devices walks each session. Only this LUN on each.
    for (const s of sessions) await this.scsi.scan({ host: s.host, channel: 0, target: s.targetId, lun }, wwn, o);
  }

  /**
   * Creates the node record for this target and portal only, with manual start-up and manual
   * LUN scan, and sets CHAP from the node-stage secret. (SendTargets discovery would instead
   * create records for every target the array advertises, with the host's default start-up.)
   *   iscsiadm -m node -T <iqn> -p <portal>                       (exists? 21: no)
   *   iscsiadm -m node -T <iqn> -p <portal> -o new
   *   iscsiadm -m node -T <iqn> -p <portal> -o update -n node.startup -v manual
   *   iscsiadm -m node -T <iqn> -p <portal> -o update -n node.session.scan -v manual
   *   iscsiadm -m node -T <iqn> -p <portal> -o update -n node.session.auth.authmethod -v CHAP|None
   *   iscsiadm -m node -T <iqn> -p <portal> -o update -n node.session.auth.username -v <user>
   *   iscsiadm -m node -T <iqn> -p <portal> -o update -n node.session.auth.password -v <secret>
   */
  private async ensureNodeRecord(t: IscsiTarget, chap: Chap | undefined, signal?: AbortSignal): Promise<void> {
    const node = ['-m', 'node', '-T', t.iqn, '-p', t.portal];
    const found = await this.iscsiadm('iscsiadm', node, {
      readOnly: true,
      signal,
      timeoutMs: RECORD_TIMEOUT_MS,
      okCodes: [ISCSI_ERR.noObjsFound],
    });
    if (found.code === ISCSI_ERR.noObjsFound)
      await this.iscsiadm('iscsiadm', [...node, '-o', 'new'], { timeoutMs: RECORD_TIMEOUT_MS });
    const update = async (name: string, value: string, secret = false): Promise<void> => {
      const args = [...node, '-o', 'update', '-n', name, '-v', value];
      await this.iscsiadm('iscsiadm', args, {
        timeoutMs: RECORD_TIMEOUT_MS,
        secretArgs: secret ? [args.length - 1] : [],
      });
    };
    await update('node.startup', 'manual');
    await update('node.session.scan', 'manual');
    await update('node.session.auth.authmethod', chap ? 'CHAP' : 'None');
    if (chap) {
      await update('node.session.auth.username', chap.user);
      await update('node.session.auth.password', chap.secret, true);
    }
  }

  /**
   * Logs out of a target when none of its LUNs remains and no attach of it is in progress, and
   * deletes the node record the driver created.
   *   iscsiadm -m node -T <iqn> -p <portal> --logout   (21: not logged in)
   *   iscsiadm -m node -T <iqn> -p <portal> -o delete  (21: no record)
   */
  private async logoutIfUnused(t: IscsiTarget, o: ConnectorCallOptions): Promise<void> {
    const key = targetKey(t);
    if (this.staging.has(key)) {
      o.log.info({ iqn: t.iqn, portal: t.portal }, 'logout withheld: another LUN of the target is being staged');
      return;
    }
    const sessions = await this.findSessions(t);
    if (sessions.length === 0) return;
    // The logout by target and portal below ends every session of it, so every session counts.
    const luns = (await Promise.all(sessions.map((s) => this.sessionLuns(s)))).flat();
    if (luns.length > 0) {
      o.log.info({ iqn: t.iqn, portal: t.portal, luns }, 'logout withheld: other LUNs of the target are in use');
      return;
    }
    const node = ['-m', 'node', '-T', t.iqn, '-p', t.portal];
    await this.iscsiadm('iscsiadm', [...node, '--logout'], {
      timeoutMs: LOGIN_TIMEOUT_MS,
      okCodes: [ISCSI_ERR.noObjsFound],
    });
    await this.iscsiadm('iscsiadm', [...node, '-o', 'delete'], {
      timeoutMs: RECORD_TIMEOUT_MS,
      okCodes: [ISCSI_ERR.noObjsFound],
    });
    o.log.info({ iqn: t.iqn, portal: t.portal }, 'iSCSI logout');
  }

  /**
   * The sessions of a target at a portal, from sysfs: /sys/class/iscsi_session/sessionN/targetname,
   * the connection's persistent_address/port, and the SCSI host in the session's device path
   * (.../hostH/sessionN). Several with iface binding (one per bound interface).
   */
  private async findSessions(t: IscsiTarget): Promise<Session[]> {
    const { address, port } = splitPortal(t.portal);
    const out: Session[] = [];
    for (const name of await this.sys.list('class/iscsi_session')) {
      if ((await this.sys.read(`class/iscsi_session/${name}/targetname`)) !== t.iqn) continue;
      const conn = `class/iscsi_connection/connection${name.replace('session', '')}:0`;
      const addr = await this.sys.read(`${conn}/persistent_address`);
      const p = await this.sys.read(`${conn}/persistent_port`);
      if (addr === undefined || stripBrackets(addr) !== address || (p !== undefined && p !== port)) continue;
      const dev = await this.sys.resolve(`class/iscsi_session/${name}/device`);
      const host = dev ? /\/host(\d+)(?:\/|$)/.exec(dev)?.[1] : undefined;
      if (host === undefined) continue;
      const targetId = Number((await this.sys.read(`class/iscsi_session/${name}/target_id`)) ?? '0');
      out.push({ name, host: Number(host), targetId: Number.isInteger(targetId) ? targetId : 0 });
    }
    return out;
  }

  /**
   * The disk LUNs (H:C:T:L) present under a session: only those with a block device
   * (<H:C:T:L>/block/<sdX>), as os-brick's .../target*\/*:*:*:*\/block/* glob. Other LUNs — the
   * 3PAR SES enclosure LUN, a scsi_generic-only device — keep no volume in use.
   */
  private async sessionLuns(s: Session): Promise<string[]> {
    const base = `class/iscsi_session/${s.name}/device`;
    const out: string[] = [];
    for (const target of await this.sys.list(base)) {
      if (!/^target\d+:\d+:\d+$/.test(target)) continue;
      for (const lun of await this.sys.list(`${base}/${target}`)) {
        if (!/^\d+:\d+:\d+:\d+$/.test(lun)) continue;
        if ((await this.sys.list(`${base}/${target}/${lun}/block`)).length > 0) out.push(basename(lun));
      }
    }
    return out;
  }
}

function targetKey(t: IscsiTarget): string {
  return `iscsi:${t.iqn},${t.portal}`;
}

function stripBrackets(a: string): string {
  return a.replace(/^\[|\]$/g, '');
}

/** "10.0.0.1:3260" / "[fe80::1]:3260" / "10.0.0.1" → address and port (default 3260). */
export function splitPortal(portal: string): { address: string; port: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(portal);
  if (v6) return { address: v6[1]!, port: v6[2] ?? '3260' };
  const m = /^([^:]+)(?::(\d+))?$/.exec(portal);
  if (!m) throw invalidArgument(`"${portal}" is not an iSCSI portal (ip:port)`);
  return { address: m[1]!, port: m[2] ?? '3260' };
}
