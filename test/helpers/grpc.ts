/** Test helpers: a grpc-js client for every CSI service on a socket, with promise-returning calls. */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toStatus } from '../../src/csi/errors.js';
import { loadCsi } from '../../src/csi/proto.js';

export type CsiServiceName = 'Identity' | 'Controller' | 'Node' | 'GroupController';

type Callback = (err: grpc.ServiceError | null, res?: unknown) => void;
type Method = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall;

/** A promise-returning client for one CSI service. `call(rpc, req, {deadlineMs})`. */
export class CsiTestClient {
  private readonly client: grpc.Client & Record<string, Method>;

  constructor(service: CsiServiceName, address: string, options: grpc.ChannelOptions = {}) {
    const Ctor = loadCsi().csi.v1[service];
    this.client = new Ctor(address, grpc.credentials.createInsecure(), options) as unknown as grpc.Client & Record<string, Method>;
  }

  call<T = Record<string, unknown>>(rpc: string, request: unknown = {}, options: { deadlineMs?: number; metadata?: grpc.Metadata } = {}): Promise<T> {
    const method = this.client[rpc];
    if (typeof method !== 'function') throw new Error(`no rpc ${rpc}`);
    const deadline = Date.now() + (options.deadlineMs ?? 30_000);
    return new Promise<T>((resolve, reject) => {
      method.call(this.client, request, options.metadata ?? new grpc.Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res as T)));
    });
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
