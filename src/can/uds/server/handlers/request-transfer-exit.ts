import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { requestTransferExit } from '../../services/request-transfer-exit.ts';
import type { ServiceHandler } from './handler.ts';
import { errorMessage } from '../../../../errors/error-message.ts';

/** 0x37: only once every byte arrived (0x24); the application's final check failing is 0x72. */
export const handleRequestTransferExit: ServiceHandler = async (request, { state, context }) => {
  const { data } = requestTransferExit.decodeRequest(request);
  state.download.checkComplete();
  let record: Uint8Array | void;
  try {
    record = await state.downloadHandlers!.onTransferExit?.(data, context);
  } catch (error) {
    state.download.abort();
    if (error instanceof RequestRejectedError) throw error;
    throw new RequestRejectedError(Nrc.GeneralProgrammingFailure, errorMessage(error));
  }
  state.download.abort();
  return requestTransferExit.encodeResponse({ data: record ?? new Uint8Array(0) });
};
