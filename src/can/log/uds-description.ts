/**
 * One line naming a reassembled UDS (ISO 14229-1) message for a bus monitor. Kept deliberately shallow —
 * the service, its sub-function or identifier, the NRC — so it reads any ECU's traffic, not only ours.
 */
const hex = (value: number, width = 2): string => value.toString(16).toUpperCase().padStart(width, '0');

/** Services whose second byte is a sub-function (bit 7 = suppress positive response). */
const SUB_FUNCTION_SERVICES = new Set([0x10, 0x11, 0x19, 0x27, 0x28, 0x31, 0x3e, 0x85, 0x87]);
/** Services whose request (and positive response) carries a 16-bit identifier after the SID (and sub-function). */
const IDENTIFIER_SERVICES = new Set([0x22, 0x2e, 0x2f]);

/** Where service and NRC names come from (the UDS layer's tables). */
export interface UdsNaming {
  serviceName(sid: number): string | undefined;
  nrcName(code: number): string;
}

/** Numbers only, for when no naming is given. */
export const numericUdsNaming: UdsNaming = {
  serviceName: (sid) => (sid < 0x40 || (sid >= 0x80 && sid < 0xc0) ? `service 0x${hex(sid)}` : undefined),
  nrcName: () => 'NRC',
};

function details(sid: number, body: Uint8Array): string {
  const parts: string[] = [];
  let at = 0;
  if (SUB_FUNCTION_SERVICES.has(sid) && body.length > 0) {
    parts.push(`sub=0x${hex(body[0]! & 0x7f)}${body[0]! & 0x80 ? ' (no response)' : ''}`);
    at = 1;
  }
  if ((IDENTIFIER_SERVICES.has(sid) || sid === 0x31) && body.length >= at + 2) {
    parts.push(`${sid === 0x31 ? 'routine' : 'DID'} ${hex((body[at]! << 8) | body[at + 1]!, 4)}`);
  } else if (sid === 0x36 && body.length > 0) {
    parts.push(`block ${body[0]}`);
  }
  parts.push(`${body.length + 1} bytes`);
  return parts.join(' ');
}

export function describeUdsMessage(message: Uint8Array, naming: UdsNaming = numericUdsNaming): string {
  if (message.length === 0) return 'empty message';
  const sid = message[0]!;
  if (sid === 0x7f && message.length >= 3) {
    const request = message[1]!;
    return `UDS negative response to ${naming.serviceName(request) ?? `0x${hex(request)}`}: ${naming.nrcName(message[2]!)} (0x${hex(message[2]!)})`;
  }
  const requestName = naming.serviceName(sid);
  if (requestName) return `UDS ${requestName} ${details(sid, message.subarray(1))}`;
  const answered = naming.serviceName(sid - 0x40);
  if (sid >= 0x40 && answered) return `UDS ${answered} positive response ${details(sid - 0x40, message.subarray(1))}`;
  return `UDS? 0x${hex(sid)} ${message.length} bytes`;
}
