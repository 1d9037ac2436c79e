import { RequestRejectedError, invalidFormat } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { writeDataByIdentifier } from '../../services/write-data-by-identifier.ts';
import type { ServiceHandler } from './handler.ts';
import { errorMessage } from '../../../../errors/error-message.ts';

/** 0x2E (ISO 14229-1 §11.7.4): unknown/unwritable here → 0x31, locked → 0x33, wrong length → 0x13, store failed → 0x72. */
export const handleWriteDataByIdentifier: ServiceHandler = async (request, { state, context }) => {
  const { did, data } = writeDataByIdentifier.decodeRequest(request);
  const definition = state.dids.get(did);
  if (!definition?.write || (definition.writeSessions && !definition.writeSessions.includes(state.session.current))) {
    throw new RequestRejectedError(Nrc.RequestOutOfRange, `DID 0x${did.toString(16)} is not writable in this session`);
  }
  if (definition.writeSecurity !== undefined && !state.security?.satisfies(definition.writeSecurity)) {
    throw new RequestRejectedError(Nrc.SecurityAccessDenied, `DID 0x${did.toString(16)} needs security access`);
  }
  if (definition.writeLength !== undefined && data.length !== definition.writeLength) {
    throw invalidFormat(`DID 0x${did.toString(16)} takes ${definition.writeLength} bytes, got ${data.length}`);
  }
  try {
    await definition.write(data, context);
  } catch (error) {
    if (error instanceof RequestRejectedError) throw error;
    throw new RequestRejectedError(Nrc.GeneralProgrammingFailure, errorMessage(error));
  }
  return writeDataByIdentifier.encodeResponse({ did });
};
