import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { transferData } from '../../services/transfer-data.ts';
import type { ServiceHandler } from './handler.ts';
import { errorMessage } from '../../../../errors/error-message.ts';

const acknowledge = (counter: number) => Uint8Array.of(0x76, counter);

/** 0x36: the checks live in DownloadState; a repeated block is acknowledged without writing it again. */
export const handleTransferData: ServiceHandler = async (request, { state, context }) => {
  const { blockSequenceCounter, data } = transferData.decodeRequest(request);
  const verdict = state.download.check(blockSequenceCounter, data);
  if (verdict === 'repeat') return acknowledge(blockSequenceCounter);
  const offset = state.download.active!.received;
  let produced: number | void;
  try {
    produced = await state.downloadHandlers!.onTransferData(data, { offset, blockSequenceCounter }, context);
  } catch (error) {
    state.download.abort();
    if (error instanceof RequestRejectedError) throw error;
    throw new RequestRejectedError(Nrc.GeneralProgrammingFailure, errorMessage(error));
  }
  state.download.accept(blockSequenceCounter, data.length, produced ?? data.length);
  return acknowledge(blockSequenceCounter);
};
