import { HostEditOperation } from '../wsapi/enums.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BackendConfig } from '../config/backends.js';
import { WsapiClient } from '../wsapi/client.js';
import type { ArrayClient } from './client.js';
import type { ProvisioningParams } from '../wsapi/resources/volumes.js';

/** The ArrayClient of a backend over the typed WSAPI client: one method, one request. */
export function wsapiArrayClient(w: WsapiClient): ArrayClient {
  const o = (signal?: AbortSignal): { signal?: AbortSignal } => (signal ? { signal } : {});
  return {
    getApiVersion: () => w.apiVersion(),
    getSystem: () => w.system.get(),
    getWsapiConfiguration: () => w.wsapiConfiguration.get(),
    listVolumes: (signal) => w.volumes.listSummaries(o(signal)),
    getVolume: (name, signal) => w.volumes.get(name, o(signal)),
    createVolume: (body) => w.volumes.create(dataReduction(body)),
    modifyVolume: (name, body) => w.volumes.modify(name, body),
    tuneVolume: (name, body) => w.volumes.tune(name, body),
    growVolume: (name, deltaMiB) => w.volumes.grow(name, deltaMiB),
    deleteVolume: (name) => w.volumes.delete(name),
    createSnapshot: async (source, params) => {
      await w.volumes.createSnapshot(source, params);
    },
    createPhysicalCopy: async (source, params) =>
      (await w.volumes.createPhysicalCopy(source, dataReduction(params))).taskId,
    getTask: (id, signal) => w.tasks.get(id, o(signal)),
    listTasks: (signal) => w.tasks.list(o(signal)),
    cancelTask: (id) => w.tasks.cancel(id),
    listVolumeSets: (signal) => w.volumeSets.list(o(signal)),
    createVolumeSet: (name, members, domain) =>
      w.volumeSets.create(name, { setmembers: members, ...(domain !== undefined && { domain }) }),
    deleteVolumeSet: (name) => w.volumeSets.delete(name),
    snapshotVolumeSet: async (name, params) => {
      await w.volumeSets.createSnapshot(name, params);
    },
    addToVolumeSet: (set, members) => w.volumeSets.addMembers(set, members),
    removeFromVolumeSet: (set, members) => w.volumeSets.removeMembers(set, members),
    findHostsByInitiators: (iqns, wwns, signal) => w.hosts.queryByInitiators({ iqns, wwns }, o(signal)),
    listHosts: (signal) => w.hosts.list(o(signal)),
    getHost: (name, signal) => w.hosts.get(name, o(signal)),
    createHost: (body) => w.hosts.create(body),
    setHostChap: (name, chapName, chapSecret) => w.hosts.setInitiatorChap(name, { chapName, chapSecret }),
    removeHostChap: (name) => w.hosts.removeChap(name),
    addHostPaths: (name, paths) => w.hosts.modify(name, { pathOperation: HostEditOperation.ADD, ...paths }),
    deleteHost: (name) => w.hosts.delete(name),
    listPorts: (signal) => w.ports.list(o(signal)),
    getIscsiVlans: (pos, signal) => w.ports.iscsiVlans(pos, o(signal)),
    listVluns: (signal) => w.vluns.list({}, o(signal)),
    queryVluns: (filter, signal) => w.vluns.list(filter, o(signal)),
    createVlun: (body) => w.vluns.create(body),
    deleteVlun: (id) => w.vluns.delete(id),
    listCpgs: (signal) => w.cpgs.list(o(signal)),
    getCpg: (name, signal) => w.cpgs.get(name, o(signal)),
    getCpgFreeSpace: (cpg, signal) => w.cpgs.freeSpace(cpg, o(signal)),
    close: () => w.close(),
    onStatus: (listener) => w.onStatus(listener),
  };
}

/**
 * The one translation of `reduce`: data reduction (WSAPI 1.6, a StorageClass's
 * `provisioningType: reduce`) is asked of the array as thin dedup with compression (`tdvv` and
 * `compression`, no `tpvv`), for a new volume and for a copy's destination alike.
 */
function dataReduction<T extends ProvisioningParams>(p: T): Omit<T, 'reduce'> {
  const { reduce, ...rest } = p;
  return reduce ? { ...rest, tdvv: true, compression: true, tpvv: undefined } : rest;
}

/** The default ClientFactory: a WsapiClient per backend, with the backend's settings. */
export function wsapiClientFactory(config: BackendConfig, log: Logger, metrics?: Metrics): ArrayClient {
  return wsapiArrayClient(WsapiClient.fromBackend(config, { log, ...(metrics !== undefined && { metrics }) }));
}
