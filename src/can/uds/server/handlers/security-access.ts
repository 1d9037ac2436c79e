import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { isRequestSeed, securityAccess, securityLevelOf } from '../../services/security-access.ts';
import type { ServiceHandler } from './handler.ts';

/** 0x27: seed/key per level; attempts and the delay timer live in SecurityState (saved before a key is answered). */
export const handleSecurityAccess: ServiceHandler = async (request, { state }) => {
  const { subFunction, data } = securityAccess.decodeRequest(request);
  const security = state.security;
  if (!security) throw new RequestRejectedError(Nrc.ServiceNotSupported);
  const level = securityLevelOf(subFunction);
  if (isRequestSeed(subFunction)) {
    return securityAccess.encodeResponse({ subFunction, seed: security.requestSeed(level) });
  }
  await security.sendKey(level, data);
  return securityAccess.encodeResponse({ subFunction, seed: new Uint8Array(0) });
};
