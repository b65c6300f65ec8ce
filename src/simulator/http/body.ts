import type { IncomingMessage } from 'node:http';

/** Largest request body the simulator reads (WSAPI front and admin endpoint alike). */
export const MAX_BODY = 1024 * 1024;

/** Reads the body as text; 'too-long' past the limit (the rest is drained). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? 'too-long' : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
