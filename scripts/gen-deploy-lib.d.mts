// Types of scripts/gen-deploy-lib.mjs, for the TypeScript tests that import it.
export interface ParameterDoc {
  key: string;
  aliases: readonly string[];
  values: string;
  default: string;
  description: string;
}
export interface RenderResult {
  status: number;
  stdout: string;
  stderr: string;
}
export interface RenderOptions {
  valuesFiles?: string[];
  set?: string[];
  release?: string;
  namespace?: string;
  extraArgs?: string[];
}
export const REPO_ROOT: string;
export const CHART_DIR: string;
export const DEPLOY_DIR: string;
export const DEPLOY_VALUES: string;
export const PARAMETERS_DOC: string;
export const DEPLOY_RELEASE: string;
export const DEPLOY_NAMESPACE: string;
export function findHelmRender(
  env?: NodeJS.ProcessEnv,
): { path: string; reason?: undefined } | { path?: undefined; reason: string };
export function renderChart(helmRender: string, options?: RenderOptions): RenderResult;
export function splitRendered(output: string): { template: string; text: string }[];
export function generateDeployFiles(helmRender: string): Map<string, string>;
export function renderParametersDoc(descriptors: {
  storageClass: readonly ParameterDoc[];
  snapshotClass: readonly ParameterDoc[];
  groupSnapshotClass?: readonly ParameterDoc[];
  mutable?: readonly ParameterDoc[];
  fsCreateOptions?: readonly { fsType: string; option: string; values: string; meaning: string }[];
}): string;
export const VALUES_SCHEMA: string;
export function withParameterSchemas(schemaText: string, definitions: Record<string, unknown>): string;
