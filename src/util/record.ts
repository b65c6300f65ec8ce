/** True for a plain JSON object (not null, not an array): the shape check before reading members. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
