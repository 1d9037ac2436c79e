import { ecuReset } from '../../services/ecu-reset.ts';
import type { ServiceHandler } from './handler.ts';

/**
 * 0x11: answer first, then reset (ISO 14229-1 §10.3.1: the response precedes the reset). Session and
 * security were checked by the access table; the application may still refuse (canReset) before the answer.
 */
export const handleEcuReset: ServiceHandler = async (request, { state, context, after }) => {
  const { resetType } = ecuReset.decodeRequest(request);
  await state.options.canReset?.(resetType, context);
  after(async () => {
    state.reset();
    await state.options.onReset?.(resetType);
  });
  return ecuReset.encodeResponse({ resetType });
};
