/** The typed WSAPI client: the only code that speaks HTTP to a 3PAR array. */
export * from './client.js';
export * from './errors.js';
export * from './enums.js';
export * from './types.js';
export { apiPath, formatPortPos, parsePortPos, parseVlunLocation, parseNameLocation, normalizeWwn, vlunPath } from './path.js';
export type { CallOptions } from './resource.js';
export type { WsapiRequest, RetryPolicy } from './requester.js';
export type { WsapiResult } from './response.js';
export type { WaitForTaskOptions } from './task-waiter.js';
export { VolumesResource, type CreateVolumeParams, type ModifyVolumeParams, type CreateSnapshotParams, type CreatePhysicalCopyParams, type TuneVolumeParams, type PhysicalCopyStarted } from './resources/volumes.js';
export { SetsResource, VolumeSetsResource, HostSetsResource, type CreateSetParams } from './resources/sets.js';
export { HostsResource, ownsAny, type CreateHostParams, type ModifyHostParams, type InitiatorQuery } from './resources/hosts.js';
export { PortsResource, type CachedCallOptions } from './resources/ports.js';
export { VlunsResource, type CreateVlunParams, type VlunFilter } from './resources/vluns.js';
export { CpgsResource } from './resources/cpgs.js';
export { TasksResource } from './resources/tasks.js';
export { SystemResource, WsapiConfigurationResource } from './resources/system.js';
