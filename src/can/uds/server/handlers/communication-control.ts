import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { communicationControl } from '../../services/communication-control.ts';
import type { ServiceHandler } from './handler.ts';

/** 0x28: remembered for the application (which silences its periodic frames); reverts in the default session. */
export const handleCommunicationControl: ServiceHandler = async (request, { state, context }) => {
  const { controlType, communicationType } = communicationControl.decodeRequest(request);
  if ((communicationType & 0x03) === 0) {
    throw new RequestRejectedError(Nrc.RequestOutOfRange, `communicationType 0x${communicationType.toString(16)} selects no messages`);
  }
  await state.options.onCommunicationControl?.(controlType, communicationType, context);
  state.communication = { controlType, communicationType };
  return communicationControl.encodeResponse({ controlType });
};
