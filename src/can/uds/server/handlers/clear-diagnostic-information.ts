import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { ALL_DTC_GROUPS, clearDiagnosticInformation } from '../../services/clear-diagnostic-information.ts';
import type { ServiceHandler } from './handler.ts';

/** 0x14: the application clears its DTC memory; without a handler only "all groups" is accepted. */
export const handleClearDiagnosticInformation: ServiceHandler = async (request, { state, context }) => {
  const { group, memorySelection } = clearDiagnosticInformation.decodeRequest(request);
  if (memorySelection !== undefined) throw new RequestRejectedError(Nrc.RequestOutOfRange, 'no user-defined DTC memory');
  const clear = state.options.onClearDiagnosticInformation;
  if (clear) await clear(group, context);
  else if (group !== ALL_DTC_GROUPS) throw new RequestRejectedError(Nrc.RequestOutOfRange, `unknown DTC group 0x${group.toString(16)}`);
  return clearDiagnosticInformation.encodeResponse({});
};
