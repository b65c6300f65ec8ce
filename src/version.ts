import { readFileSync } from 'node:fs';

/** The package version, reported as vendor_version and in --version. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
