export function descriptorJson(protoPath: string): string;
