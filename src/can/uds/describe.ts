import { nrcName } from './nrc.ts';
import { NEGATIVE_RESPONSE_SID, POSITIVE_RESPONSE_OFFSET, SUPPRESS_POSITIVE_RESPONSE, describeSid, serviceName } from './service-ids.ts';
import { services } from './services/index.ts';

/**
 * One line for a reassembled UDS message, as `canota can dump --decode` prints it:
 * `ReadDataByIdentifier request f189`, `ReadDataByIdentifier response f189 322e302e30`,
 * `negative response to RequestDownload: securityAccessDenied (0x33)`.
 */
export function describeUdsMessage(message: Uint8Array): string {
  if (message.length === 0) return 'empty UDS message';
  const sid = message[0]!;
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  if (sid === NEGATIVE_RESPONSE_SID) {
    if (message.length < 3) return `truncated negative response ${hex(message)}`;
    return `negative response to ${describeSid(message[1]!)}: ${nrcName(message[2]!)} (0x${message[2]!.toString(16).padStart(2, '0')})`;
  }
  const requestName = serviceName(sid);
  if (requestName !== undefined) {
    const service = services.get(sid);
    let text = `${requestName} request`;
    let rest = message.subarray(1);
    if (service?.hasSubFunction && rest.length > 0) {
      text += ` sub-function 0x${(rest[0]! & 0x7f).toString(16).padStart(2, '0')}`;
      if (rest[0]! & SUPPRESS_POSITIVE_RESPONSE) text += ' (no positive response)';
      rest = rest.subarray(1);
    }
    return rest.length > 0 ? `${text} ${hex(rest)}` : text;
  }
  const responseName = sid >= POSITIVE_RESPONSE_OFFSET ? serviceName(sid - POSITIVE_RESPONSE_OFFSET) : undefined;
  if (responseName !== undefined) {
    const rest = message.subarray(1);
    return rest.length > 0 ? `${responseName} response ${hex(rest)}` : `${responseName} response`;
  }
  return `unknown UDS message ${hex(message)}`;
}
