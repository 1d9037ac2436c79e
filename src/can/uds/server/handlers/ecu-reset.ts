import { ecuReset } from '../../services/ecu-reset.ts';
import type { ServiceHandler } from './handler.ts';

/** 0x11: answer first, then reset (ISO 14229-1 §10.3.1: the response precedes the reset). */
export const handleEcuReset: ServiceHandler = (request, { state, after }) => {
  const { resetType } = ecuReset.decodeRequest(request);
  after(async () => {
    state.reset();
    await state.options.onReset?.(resetType);
  });
  return ecuReset.encodeResponse({ resetType });
};
