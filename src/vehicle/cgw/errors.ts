/**
 * The CGW layer's errors. The approval state machine throws them on typed values; the UDS routines turn
 * them into negative responses in one place (`approval-routines.ts`), the tester side into exceptions.
 */
export class CgwError extends Error {
  override name = 'CgwError';
}

/** An offer, progress or result payload that is not valid JSON of the right shape (answered NRC 0x31). */
export class InvalidApprovalMessageError extends CgwError {
  override name = 'InvalidApprovalMessageError';
}

/** Another offer is pending or being installed (answered NRC 0x22 conditionsNotCorrect). */
export class ApprovalConflictError extends CgwError {
  override name = 'ApprovalConflictError';
}

/** The request does not fit the approval's state: no offer, or progress before approval (NRC 0x24). */
export class ApprovalSequenceError extends CgwError {
  override name = 'ApprovalSequenceError';
}

/** The approval ended on its own (no diagnostic traffic for too long): the tester must offer again (NRC 0x22). */
export class ApprovalLapsedError extends CgwError {
  override name = 'ApprovalLapsedError';
}

/** A malformed answer from the CGW seen by the tester (wrong status length, unknown status code). */
export class ApprovalResponseError extends CgwError {
  override name = 'ApprovalResponseError';
}

/** The driver HMI could not start (port taken, no terminal) or failed. */
export class HmiError extends CgwError {
  override name = 'HmiError';
}

/** A request on the approval channel whose MAC or freshness does not verify (answered NRC 0x33, counted). */
export class ApprovalAuthenticationError extends CgwError {
  override name = 'ApprovalAuthenticationError';
}

/**
 * The tester got an answer the CGW did not make for its request (a forged, replayed or damaged answer on the
 * bus). Never believed: an update in progress is aborted and rolled back.
 */
export class UnauthenticatedAnswerError extends CgwError {
  override name = 'UnauthenticatedAnswerError';
}
