/**
 * The one WWN normalisation, one function per direction. A WWN is written with or without
 * separators (`10:00:00:00:c9:ab:cd:ef`, `10000000C9ABCDEF`), with sysfs's `0x` prefix
 * (`/sys/class/fc_host/host<n>/port_name` reads `0x10000000c9abcdef`) and in either case; each
 * side wants one spelling:
 * - the array (WSAPI bodies and queries) compares 16 or 32 upper-case hex digits without
 *   separators (REFERENCE §9.5 "normalise (strip colons, upper-case) before querying"; volume
 *   WWNs come from the array in that form, §5.3);
 * - the host (sysfs `naa.<wwn>`, udev `wwn-0x<wwn>`, multipath `3<wwn>`, FC `port_name`, the
 *   node id's WWPNs and publish_context's target WWNs) spells them in lower case.
 */

/** The digits alone: white space, a `0x` prefix and `:`/`-` separators dropped. */
function digits(wwn: string): string {
  return wwn.trim().replace(/^0x/i, '').replace(/[:-]/g, '');
}

/** The array's spelling: no separators, upper case (bodies, queries, names derived from a WWN). */
export function wwnForArray(wwn: string): string {
  return digits(wwn).toUpperCase();
}

/** The host's spelling: no separators, lower case (sysfs, udev, multipath, node id, publish_context). */
export function wwnForHost(wwn: string): string {
  return digits(wwn).toLowerCase();
}
