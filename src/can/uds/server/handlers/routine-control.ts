import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { RoutineControlType, routineControl } from '../../services/routine-control.ts';
import type { RoutineHandler } from '../options.ts';
import type { ServiceHandler } from './handler.ts';

/**
 * 0x31 (ISO 14229-1 §13.2.4): unknown routine or not in this session → 0x31, locked → 0x33, a control
 * type the routine lacks → 0x12, stop/results before start → 0x24. Handlers may take long: the server
 * keeps the tester waiting with NRC 0x78.
 */
export const handleRoutineControl: ServiceHandler = async (request, { state, context }) => {
  const { controlType, routineId, options } = routineControl.decodeRequest(request);
  const routine = state.routines.get(routineId);
  const name = `routine 0x${routineId.toString(16).padStart(4, '0')}`;
  if (!routine || (routine.sessions && !routine.sessions.includes(state.session.current))) {
    throw new RequestRejectedError(Nrc.RequestOutOfRange, `${name} is not available in this session`);
  }
  if (routine.security !== undefined && !state.security?.satisfies(routine.security)) {
    throw new RequestRejectedError(Nrc.SecurityAccessDenied, `${name} needs security access`);
  }
  let handler: RoutineHandler | undefined;
  if (controlType === RoutineControlType.StartRoutine) handler = routine.start;
  else if (controlType === RoutineControlType.StopRoutine) handler = routine.stop;
  else handler = routine.results;
  if (!handler) throw new RequestRejectedError(Nrc.SubFunctionNotSupported, `${name} has no control type 0x${controlType.toString(16)}`);
  if (controlType !== RoutineControlType.StartRoutine && !state.startedRoutines.has(routineId)) {
    throw new RequestRejectedError(Nrc.RequestSequenceError, `${name} was not started`);
  }
  const status = await handler(options, context);
  if (controlType === RoutineControlType.StartRoutine) state.startedRoutines.add(routineId);
  if (controlType === RoutineControlType.StopRoutine) state.startedRoutines.delete(routineId);
  return routineControl.encodeResponse({ controlType, routineId, status: status ?? new Uint8Array(0) });
};
