import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { requestDownload } from '../../services/request-download.ts';
import type { ServiceHandler } from './handler.ts';
import { errorMessage } from '../../../../errors/error-message.ts';

/** 0x34 (ISO 14229-1 §14.2.4): one download at a time (0x22), supported data formats only (0x31), application veto (0x70). */
export const handleRequestDownload: ServiceHandler = async (request, { state, context }) => {
  const { dataFormat, memoryAddress, memorySize } = requestDownload.decodeRequest(request);
  const handlers = state.downloadHandlers!;
  if (state.download.active) throw new RequestRejectedError(Nrc.ConditionsNotCorrect, 'a download is already in progress');
  if (!(handlers.dataFormats ?? [0x00]).includes(dataFormat)) {
    throw new RequestRejectedError(Nrc.RequestOutOfRange, `dataFormatIdentifier 0x${dataFormat.toString(16)} not supported`);
  }
  if (memorySize === 0) throw new RequestRejectedError(Nrc.RequestOutOfRange, 'memorySize 0');
  try {
    await handlers.onRequestDownload({ memoryAddress, memorySize, dataFormat }, context);
  } catch (error) {
    if (error instanceof RequestRejectedError) throw error;
    throw new RequestRejectedError(Nrc.UploadDownloadNotAccepted, errorMessage(error));
  }
  const maxNumberOfBlockLength = handlers.maxNumberOfBlockLength ?? 4095;
  state.download.start({ memoryAddress, memorySize, dataFormat }, maxNumberOfBlockLength);
  return requestDownload.encodeResponse({ maxNumberOfBlockLength });
};
