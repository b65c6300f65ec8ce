import type {
  ApiVersion,
  Cpg,
  CpgFreeSpace,
  Host,
  IscsiVlan,
  Port,
  PortPos,
  SystemInfo,
  Task,
  Vlun,
  VlunId,
  Volume,
  VolumeSet,
  WsapiConfiguration,
} from '../wsapi/types.js';
import type {
  CreatePhysicalCopyParams,
  CreateSnapshotParams,
  CreateVolumeParams,
  ModifyVolumeParams,
  TuneVolumeParams,
  VolumeSummary,
} from '../wsapi/resources/volumes.js';
import type { CreateHostParams } from '../wsapi/resources/hosts.js';
import type { CreateVlunParams } from '../wsapi/resources/vluns.js';

/**
 * The WSAPI calls the array layer makes, as a narrow interface (aws-ebs-csi-driver's cloud
 * seam). `wsapi-adapter.ts` implements it over the WsapiClient; the methods map one to one to
 * WSAPI requests, so each method call is exactly one request (the counts the tests assert).
 * Errors are the client's (`WsapiError` and friends); `errors.ts` gives them meaning.
 */
export interface ArrayClient {
  /** `GET /api`. */
  getApiVersion(): Promise<ApiVersion>;
  /** `GET /api/v1/system`. */
  getSystem(): Promise<SystemInfo>;
  /** `GET /api/v1/wsapiconfiguration`. */
  getWsapiConfiguration(): Promise<WsapiConfiguration>;

  /**
   * `GET /volumes` (snapshots included), each volume reduced to the members the listings read
   * (VolumeSummary: a 10,000-volume list is read as it streams and never held whole).
   */
  listVolumes(signal?: AbortSignal): Promise<VolumeSummary[]>;
  /** `GET /volumes/<name>`; 404/23 when absent. */
  getVolume(name: string, signal?: AbortSignal): Promise<Volume>;
  /** `POST /volumes`. */
  createVolume(body: CreateVolumeBody): Promise<void>;
  /** `PUT /volumes/<name>` without action (rename, comment, policies). */
  modifyVolume(name: string, body: ModifyVolumeBody): Promise<void>;
  /** `PUT /volumes/<name>` action 6 (tune / conversion); resolves with the task id. */
  tuneVolume(name: string, body: TuneVolumeBody): Promise<number>;
  /** `PUT /volumes/<name>` action 3: grow by `deltaMiB`. */
  growVolume(name: string, deltaMiB: number): Promise<void>;
  /** `DELETE /volumes/<name>`. */
  deleteVolume(name: string): Promise<void>;
  /** `POST /volumes/<source>` createSnapshot. */
  createSnapshot(source: string, params: SnapshotParams): Promise<void>;
  /** `POST /volumes/<source>` createPhysicalCopy (online); resolves with the task id. */
  createPhysicalCopy(source: string, params: PhysicalCopyParams): Promise<number>;

  /** `GET /tasks/<id>`. */
  getTask(id: number, signal?: AbortSignal): Promise<Task>;
  /** `GET /tasks` (the last 24 hours). */
  listTasks(signal?: AbortSignal): Promise<Task[]>;
  /** `PUT /tasks/<id>` action 1. */
  cancelTask(id: number): Promise<void>;

  /** `GET /volumesets`. */
  listVolumeSets(signal?: AbortSignal): Promise<VolumeSet[]>;
  /** `POST /volumesets` with its initial members, in `domain` when given (the members'). */
  createVolumeSet(name: string, members: string[], domain?: string): Promise<void>;
  /** `DELETE /volumesets/<name>`. */
  deleteVolumeSet(name: string): Promise<void>;
  /** `POST /volumesets/<name>` createSnapshot: one snapshot per member, `name` is a pattern (`@count@`). */
  snapshotVolumeSet(name: string, params: SnapshotParams): Promise<void>;
  /** `PUT /volumesets/<name>` action 1 / 2. */
  addToVolumeSet(set: string, members: string[]): Promise<void>;
  removeFromVolumeSet(set: string, members: string[]): Promise<void>;

  /** `GET /hosts?query=` by initiators (the whole list when there are none to ask about). */
  findHostsByInitiators(iqns: readonly string[], wwns: readonly string[], signal?: AbortSignal): Promise<Host[]>;
  /** `GET /hosts`. */
  listHosts(signal?: AbortSignal): Promise<Host[]>;
  /** `GET /hosts/<name>`; 404/17 when absent. */
  getHost(name: string, signal?: AbortSignal): Promise<Host>;
  /** `POST /hosts`. */
  createHost(body: CreateHostBody): Promise<void>;
  /** `PUT /hosts/<name>` (here: initiator CHAP). */
  setHostChap(name: string, chapName: string, chapSecret: string): Promise<void>;
  /** `PUT /hosts/<name>` with `pathOperation` ADD: the host gains these initiators. */
  addHostPaths(name: string, paths: { iSCSINames?: string[]; FCWWNs?: string[] }): Promise<void>;
  /** `PUT /hosts/<name>` with `chapOperation` REMOVE: the host's CHAP settings go. */
  removeHostChap(name: string): Promise<void>;
  /** `DELETE /hosts/<name>`. */
  deleteHost(name: string): Promise<void>;

  /** `GET /ports/<n:s:p>/iSCSIVlans`: a tagged iSCSI port's VLAN addresses. */
  getIscsiVlans(pos: PortPos, signal?: AbortSignal): Promise<IscsiVlan[]>;
  /** `GET /ports`. */
  listPorts(signal?: AbortSignal): Promise<Port[]>;

  /** `GET /vluns`. */
  listVluns(signal?: AbortSignal): Promise<Vlun[]>;
  /**
   * `GET /vluns?query="volumeName EQ v"` (or `hostname EQ h`) on firmware with VLUN queries; only
   * the members that match are returned (the answer is checked). Absent: only full listings.
   */
  queryVluns?(filter: { volumeName: string } | { hostname: string }, signal?: AbortSignal): Promise<Vlun[]>;
  /** `POST /vluns`; resolves with the id from `Location` (the assigned LUN). */
  createVlun(body: CreateVlunBody): Promise<VlunId>;
  /** `DELETE /vluns/<id>`. */
  deleteVlun(id: VlunId): Promise<void>;

  /** `GET /cpgs`. */
  listCpgs(signal?: AbortSignal): Promise<Cpg[]>;
  /** `GET /cpgs/<name>`. */
  getCpg(name: string, signal?: AbortSignal): Promise<Cpg>;
  /** `POST /spacereporter` `{cpg}`. */
  getCpgFreeSpace(cpg: string, signal?: AbortSignal): Promise<CpgFreeSpace>;

  /** Logs out every session. */
  close(): Promise<void>;

  /**
   * Subscribes to what each request proves about the array (optional: a client without it gets
   * its status from the outcome of operations instead).
   */
  onStatus?(listener: (status: ArrayStatus) => void): void;
}

/** The reachability states of a backend (the `status` label of threepar_csi_backend_status). */
export type ArrayState = 'reachable' | 'unreachable' | 'auth-refused' | 'tls-refused';

/** A backend's reachability, with what proved it (the last failure's text, never a secret). */
export interface ArrayStatus {
  state: ArrayState;
  detail?: string;
}

/*
 * The request bodies the array layer sends: each is the WSAPI client's own type (one definition,
 * src/wsapi/resources/), narrowed to the members the driver sets.
 */

/** `POST /volumes`. `reduce` is translated once, in wsapi-adapter.ts (dataReduction). */
export type CreateVolumeBody = Pick<
  CreateVolumeParams,
  'name' | 'cpg' | 'sizeMiB' | 'snapCPG' | 'comment' | 'policies' | 'tpvv' | 'tdvv' | 'reduce' | 'compression'
>;

/** `PUT /volumes/<name>` without an action. */
export type ModifyVolumeBody = Pick<ModifyVolumeParams, 'newName' | 'comment' | 'policies' | 'snapCPG'>;

/**
 * Tune (§5.7 action 6): move user space to `userCPG` (the only operation the driver uses), optionally converting it.
 */
export type TuneVolumeBody = Pick<TuneVolumeParams, 'tuneOperation' | 'conversionOperation' | 'compression'> &
  Required<Pick<TuneVolumeParams, 'userCPG'>>;

/** `createSnapshot` of a volume or a VV set. */
export type SnapshotParams = Pick<CreateSnapshotParams, 'name' | 'readOnly' | 'comment' | 'expirationHours'>;

/** `createPhysicalCopy`, always online (the destination is created by the array, in `destCPG`). */
export type PhysicalCopyParams = Pick<
  CreatePhysicalCopyParams,
  'destVolume' | 'snapCPG' | 'tpvv' | 'tdvv' | 'reduce' | 'compression'
> & { online: true; destCPG: string };

/** `POST /hosts` (`domain`: the volume's virtual domain; a host serves volumes of its own domain only). */
export type CreateHostBody = Pick<
  CreateHostParams,
  'name' | 'iSCSINames' | 'FCWWNs' | 'persona' | 'descriptors' | 'domain'
>;

/** `POST /vluns`, with the LUN policy always explicit. */
export type CreateVlunBody = Pick<CreateVlunParams, 'volumeName' | 'hostname' | 'maxAutoLun' | 'portPos'> &
  Required<Pick<CreateVlunParams, 'lun' | 'autoLun'>>;
