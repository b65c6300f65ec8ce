/**
 * The typed WSAPI client: the only code that speaks HTTP to a 3PAR array.
 *
 *   const wsapi = WsapiClient.fromBackend(backend, { log, metrics });
 *   await wsapi.volumes.create({ name, cpg, sizeMiB, tpvv: true, snapCPG: cpg, comment });
 *   const { taskId } = await wsapi.volumes.createPhysicalCopy(src, { destVolume, online: true, destCPG: cpg });
 *   await wsapi.waitForTask(taskId, { intervalMs: 1000, timeoutMs: 60_000, signal });
 *   try { await wsapi.volumes.delete(name); } catch (e) { if (!isWsapiCode(e, WsapiCode.NON_EXISTENT_VOL)) throw e; }
 *   await wsapi.close(); // logs out every session key
 *
 * Errors: WsapiError (HTTP status + the array's numeric code), WsapiConnectionError (no answer),
 * WsapiProtocolError (an answer that cannot be trusted: cut off, invalid, "success": false),
 * WsapiTaskError (waitForTask), WsapiAbortedError (the caller's signal) — all WsapiBaseError.
 */
export * from './client.js';
export * from './errors.js';
export * from './enums.js';
export * from './types.js';
export { apiPath, formatPortPos, parsePortPos, parseVlunLocation, parseNameLocation, vlunPath } from './path.js';
export type { CallOptions } from './resource.js';
export type { WsapiRequest, RetryPolicy, WsapiStatus } from './requester.js';
export type { WsapiTimeouts } from './http.js';
export type { WsapiResult } from './response.js';
export type { WaitForTaskOptions } from './task-waiter.js';
export {
  VolumesResource,
  type ProvisioningParams,
  type CreateVolumeParams,
  type ModifyVolumeParams,
  type CreateSnapshotParams,
  type CreatePhysicalCopyParams,
  type TuneVolumeParams,
  type PhysicalCopyStarted,
} from './resources/volumes.js';
export { VolumeSetsResource, type CreateSetParams } from './resources/sets.js';
export {
  HostsResource,
  ownsAny,
  type CreateHostParams,
  type ModifyHostParams,
  type InitiatorQuery,
} from './resources/hosts.js';
export { PortsResource } from './resources/ports.js';
export { VlunsResource, type CreateVlunParams, type VlunFilter } from './resources/vluns.js';
export { CpgsResource } from './resources/cpgs.js';
export { TasksResource } from './resources/tasks.js';
export { SystemResource, WsapiConfigurationResource } from './resources/system.js';
