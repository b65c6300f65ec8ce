import * as grpc from '@grpc/grpc-js';
import { loadCsi } from './proto.js';
import { grpcAddress, parseEndpoint } from './server.js';
import { statusName } from './errors.js';

/** The CSI services a client can call. */
export const CSI_SERVICES = ['Identity', 'Controller', 'Node', 'GroupController'] as const;
export type CsiServiceName = (typeof CSI_SERVICES)[number];

/** A failed CSI call: the gRPC status code (number and name) and the driver's message. */
export class CsiCallError extends Error {
  override name = 'CsiCallError';
  constructor(
    readonly code: number,
    readonly codeName: string,
    readonly details: string,
  ) {
    super(`${codeName}: ${details}`);
  }
}

type Callback = (err: grpc.ServiceError | null, res?: unknown) => void;
type UnaryMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall;

/** Finds the service that owns an RPC name, e.g. "CreateVolume" → Controller. */
export function serviceOf(rpc: string): CsiServiceName | undefined {
  const csi = loadCsi().csi.v1;
  return CSI_SERVICES.find((s) => Object.prototype.hasOwnProperty.call(csi[s].service, rpc));
}

/** Every RPC name of the served services, for help texts and errors. */
export function rpcNames(): string[] {
  const csi = loadCsi().csi.v1;
  return CSI_SERVICES.flatMap((s) => Object.keys(csi[s].service).filter((k) => /^[A-Z]/.test(k)));
}

/**
 * A small promise-based client for a CSI socket, as the sidecars and kubelet use it; the CLI's
 * `call` and the demo use it, so nothing outside src/csi touches grpc-js.
 */
export class CsiClient {
  private readonly clients = new Map<CsiServiceName, grpc.Client & Record<string, UnaryMethod>>();
  private readonly address: string;

  /** `endpoint`: unix:///path or host:port. */
  constructor(endpoint: string) {
    this.address = grpcAddress(parseEndpoint(endpoint));
  }

  /** Calls `rpc` with `request`; rejects with CsiCallError carrying the gRPC code. */
  async call<T = Record<string, unknown>>(
    rpc: string,
    request: unknown = {},
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    const service = serviceOf(rpc);
    if (!service) throw new Error(`unknown CSI RPC "${rpc}"`);
    const client = this.client(service);
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    return new Promise<T>((resolve, reject) => {
      client[rpc]!.call(client, request, new grpc.Metadata(), { deadline }, (err, res) => {
        if (err) reject(new CsiCallError(err.code, statusName(err.code), err.details));
        else resolve(res as T);
      });
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(service: CsiServiceName): grpc.Client & Record<string, UnaryMethod> {
    let c = this.clients.get(service);
    if (!c) {
      const Ctor = loadCsi().csi.v1[service];
      c = new Ctor(this.address, grpc.credentials.createInsecure()) as unknown as grpc.Client &
        Record<string, UnaryMethod>;
      this.clients.set(service, c);
    }
    return c;
  }
}
