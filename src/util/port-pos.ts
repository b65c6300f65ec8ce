/** A port's position on the array: controller node, slot (PCI card) and port on the card. */
export interface PortPosition {
  node: number;
  slot: number;
  cardPort: number;
}

/** `n:s:p`: how WSAPI writes a port position in URLs and VLUN ids, and how 3PAR admins name ports. */
export function formatPortPos(p: PortPosition): string {
  return `${p.node}:${p.slot}:${p.cardPort}`;
}
