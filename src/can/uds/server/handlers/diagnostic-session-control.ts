import { diagnosticSessionControl } from '../../services/diagnostic-session-control.ts';
import type { ServiceHandler } from './handler.ts';

/** 0x10: switch session (the access table already refused transitions that are not allowed, 0x7E). */
export const handleDiagnosticSessionControl: ServiceHandler = async (request, { state, context }) => {
  const { sessionType } = diagnosticSessionControl.decodeRequest(request);
  await state.options.canEnterSession?.(sessionType, context);
  state.session.change(sessionType);
  return diagnosticSessionControl.encodeResponse({ sessionType, p2Ms: state.timing.p2Ms, p2StarMs: state.timing.p2StarMs });
};
