import { ConfigError } from './backends.js';

/** Default CSI driver name (reverse DNS, as the CSI spec recommends). */
export const DEFAULT_DRIVER_NAME = 'csi.3par.hpe.example.com';

/** `--cluster-id`: 1–32 characters of [a-z0-9-]; stored in every ownership marker. */
export const CLUSTER_ID_PATTERN = /^[a-z0-9-]{1,32}$/;

/** Values shipped in examples that must be replaced before the driver runs. */
const PLACEHOLDERS = new Set(['change-me', 'changeme', 'replace-me', 'cluster-id', 'todo', 'xxx']);

/** Validates the cluster id; throws ConfigError naming the problem. */
export function validateClusterId(id: string | undefined): string {
  if (id === undefined || id === '')
    throw new ConfigError(
      '--cluster-id is required: 1-32 characters of [a-z0-9-], unique per cluster sharing an array',
    );
  if (PLACEHOLDERS.has(id.toLowerCase()))
    throw new ConfigError(`--cluster-id is still the placeholder "${id}": set a value unique to this cluster`);
  if (!CLUSTER_ID_PATTERN.test(id)) throw new ConfigError(`--cluster-id "${id}" must be 1-32 characters of [a-z0-9-]`);
  return id;
}

/** CSI driver names: at most 63 characters, DNS-1123 subdomain-like (CSI spec GetPluginInfo). */
export function validateDriverName(name: string): string {
  if (name.length === 0 || name.length > 63 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(name)) {
    throw new ConfigError(
      `--driver-name "${name}" must be at most 63 characters, alphanumeric, '-' and '.', starting and ending alphanumeric`,
    );
  }
  return name;
}
