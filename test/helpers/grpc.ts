/** Test helpers: a grpc-js client for every CSI service on a socket, with promise-returning calls. */
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toStatus } from '../../src/csi/errors.js';
import { loadCsi } from '../../src/csi/proto.js';
import type { ControllerDefinition } from '../../src/gen/csi/v1/Controller.js';
import type { GroupControllerDefinition } from '../../src/gen/csi/v1/GroupController.js';
import type { IdentityDefinition } from '../../src/gen/csi/v1/Identity.js';
import type { NodeDefinition } from '../../src/gen/csi/v1/Node.js';

export type CsiServiceName = 'Identity' | 'Controller' | 'Node' | 'GroupController';

/** The generated service definitions (`npm run gen:types`), with the wire types of every RPC. */
interface Definitions {
  Identity: IdentityDefinition;
  Controller: ControllerDefinition;
  Node: NodeDefinition;
  GroupController: GroupControllerDefinition;
}
type IsUnion<T, U = T> = T extends unknown ? ([U] extends [T] ? false : true) : never;
/**
 * The RPC names of one service (the definitions' string index signature left out); none for a
 * client whose service is not known to the compiler, whose calls then resolve to `call<T>`.
 */
export type RpcName<S extends CsiServiceName> =
  true extends IsUnion<S>
    ? never
    : keyof { [K in keyof Definitions[S] as string extends K ? never : K]: unknown } & string;
/** The response of an RPC as the client decodes it: the generated `__Output` type. */
export type ResponseOf<S extends CsiServiceName, K extends RpcName<S>> =
  Definitions[S][K] extends MethodDefinition<object, object, object, infer Out> ? Out : never;

type Callback = (err: grpc.ServiceError | null, res?: unknown) => void;
type Method = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall;
interface CallOpts {
  deadlineMs?: number;
  metadata?: grpc.Metadata;
}

/**
 * A promise-returning client for one CSI service. `call(rpc, req, {deadlineMs})` resolves with the
 * generated `__Output` type of the RPC's response; `call<T>(rpc, …)` with a type of the test's own.
 */
export class CsiTestClient<S extends CsiServiceName = CsiServiceName> {
  private readonly client: grpc.Client & Record<string, Method>;

  constructor(service: S, address: string, options: grpc.ChannelOptions = {}) {
    const Ctor = loadCsi().csi.v1[service];
    this.client = new Ctor(address, grpc.credentials.createInsecure(), options) as unknown as grpc.Client &
      Record<string, Method>;
  }

  call<K extends RpcName<S>>(rpc: K, request?: unknown, options?: CallOpts): Promise<ResponseOf<S, K>>;
  call<T = Record<string, unknown>>(rpc: string, request?: unknown, options?: CallOpts): Promise<T>;
  call(rpc: string, request: unknown = {}, options: CallOpts = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.start(rpc, request, options, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  /**
   * Starts a call the test may cancel (`call.cancel()`); `code` resolves with its gRPC status
   * (OK when it succeeded). The deadline is a safety net (default 120 s).
   */
  cancellable(
    rpc: RpcName<S>,
    request: unknown = {},
    options: CallOpts = {},
  ): { call: grpc.ClientUnaryCall; code: Promise<grpc.status> } {
    let call!: grpc.ClientUnaryCall;
    const code = new Promise<grpc.status>((resolve) => {
      call = this.start(rpc, request, { deadlineMs: 120_000, ...options }, (err) =>
        resolve(err ? err.code : grpc.status.OK),
      );
    });
    return { call, code };
  }

  private start(rpc: string, request: unknown, options: CallOpts, cb: Callback): grpc.ClientUnaryCall {
    const method = this.client[rpc];
    if (typeof method !== 'function') throw new Error(`no rpc ${rpc}`);
    const deadline = Date.now() + (options.deadlineMs ?? 30_000);
    return method.call(this.client, request, options.metadata ?? new grpc.Metadata(), { deadline }, cb);
  }

  close(): void {
    this.client.close();
  }
}

/** Resolves the gRPC status code of a failed call (throws when the call succeeded). */
export async function codeOf(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
  throw new Error('expected the call to fail');
}

/** The gRPC status code and message of a failed call (throws when the call succeeded). */
export async function failureOf(p: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error('expected the call to fail');
}

/**
 * The gRPC status a handler called directly ends with (OK when it succeeds), mapped as server.ts
 * maps it: for tests that call a service object without a socket.
 */
export async function handlerCodeOf(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
    return grpc.status.OK;
  } catch (err) {
    return toStatus(err).code;
  }
}

/** A fresh temp dir and a unix endpoint inside it. */
export function tempSocket(prefix = 'csi-'): { dir: string; path: string; endpoint: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'csi.sock');
  return { dir, path, endpoint: `unix://${path}` };
}

export const grpcStatus = grpc.status;
