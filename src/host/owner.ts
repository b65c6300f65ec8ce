/**
 * The owner and mode of a new filesystem's root (StorageClass `fsOwner`/`fsMode`, checked at
 * CreateVolume, and the volume_context keys of the same names, checked again at NodeStage: a
 * static PV sets volume_context itself).
 */

/** Highest uid/gid chown(2) can set (2^32 - 2; 2^32 - 1, (uid_t)-1, is "leave unchanged"). */
export const MAX_ID = 4294967294;

/** How an error names the accepted `fsOwner` form. */
export const FS_OWNER_FORM = `uid:gid in decimal, each 0-${MAX_ID}`;
/** How an error names the accepted `fsMode` form. */
export const FS_MODE_FORM = 'an octal mode such as 0770';

/** "uid:gid" in decimal, each at most MAX_ID; undefined when `text` is not that. */
export function parseFsOwner(text: string): { uid: number; gid: number } | undefined {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(text);
  if (!m || Number(m[1]) > MAX_ID || Number(m[2]) > MAX_ID) return undefined;
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** An octal mode of 3 or 4 digits (an optional leading 0); undefined when `text` is not that. */
export function parseFsMode(text: string): number | undefined {
  return /^0?[0-7]{3,4}$/.test(text) ? parseInt(text, 8) : undefined;
}
