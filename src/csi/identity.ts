import type { IdentityImpl } from './server.js';
import type { PluginCapability } from '../gen/csi/v1/PluginCapability.js';

/** Process state Probe answers from; never an array call (DESIGN "Probe"). */
export class Readiness {
  private ready = false;
  private reason = 'starting';

  setReady(): void {
    this.ready = true;
    this.reason = '';
  }
  setNotReady(reason: string): void {
    this.ready = false;
    this.reason = reason;
  }
  get isReady(): boolean {
    return this.ready;
  }
  get why(): string {
    return this.reason;
  }
}

export interface IdentityOptions {
  driverName: string;
  vendorVersion: string;
  /** Which services this process serves; drives GetPluginCapabilities. */
  controller: boolean;
  groupController: boolean;
  /** VOLUME_ACCESSIBILITY_CONSTRAINTS: only with more than one backend (DESIGN "Topology"). */
  topology: boolean;
  readiness: Readiness;
  /** The node service's own check (its mount table is readable): a reason when not ready. */
  nodeHealth?: () => Promise<string | undefined>;
}

/** The Identity service: plugin name and version, capabilities, and a process-local Probe. */
export function createIdentity(options: IdentityOptions): IdentityImpl {
  return {
    async GetPluginInfo() {
      return { name: options.driverName, vendor_version: options.vendorVersion, manifest: {} };
    },

    async GetPluginCapabilities() {
      const capabilities: PluginCapability[] = [];
      if (options.controller) capabilities.push({ service: { type: 'CONTROLLER_SERVICE' } });
      if (options.groupController) capabilities.push({ service: { type: 'GROUP_CONTROLLER_SERVICE' } });
      if (options.topology) capabilities.push({ service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } });
      // Volumes grow while attached: the array grows online, the node rescans and grows the fs.
      capabilities.push({ volume_expansion: { type: 'ONLINE' } });
      return { capabilities };
    },

    // Probe answers from process state only (DESIGN "Probe"): an array outage must not make
    // livenessprobe restart the driver, which would only burn the array's sessions.
    async Probe() {
      // A node plugin that cannot read the mount table fails every node call: not ready, so
      // livenessprobe restarts it (the check is a local file read, never an array call).
      const ready =
        options.readiness.isReady && (options.nodeHealth === undefined || (await options.nodeHealth()) === undefined);
      return { ready: { value: ready } };
    },
  };
}
