/**
 * The central gateway (CGW): routing between the car's segments with its firewall, the driver approval
 * (UDS routines 0xF001/0xF002) and the driver HMI; plus the tester's ApprovalClient. See docs/cgw.md.
 */
export { CentralGateway, type CentralGatewayOptions } from './central-gateway.ts';
export { Gateway, DEFAULT_INACTIVITY_MS, type FirewallCloseReason, type FirewallState, type GatewayOptions, type GatewayStatistics } from './gateway.ts';
export type { SegmentStatistics, TrafficTotals } from './traffic-counters.ts';
export { StatisticsFile, firewallStatisticsPath, readFirewallStatistics } from './statistics-file.ts';
export { UpdateApproval, type ApprovalPhase, type ApprovalSnapshot, type OfferOutcome } from './approval.ts';
export { approvalRoutines } from './approval-routines.ts';
export { ApprovalClient, type ApprovalDecision } from './approval-client.ts';
export {
  APPROVAL_ROUTINE, GRANT_ROUTINE, PROGRESS_ROUTINE, ApprovalStatusCode, UPDATE_OUTCOMES, UPDATE_PHASES,
  approvalOfferSchema, updateProgressSchema, updateResultSchema, decodeApprovalStatus, encodeApprovalStatus,
  type ApprovalOffer, type ApprovalOfferInput, type ApprovalStatus, type OfferedEcu, type UpdateOutcome, type UpdateProgress,
  type UpdateResult, type UpdateResultInput,
} from './approval-protocol.ts';
export { estimateEcuSeconds, estimateOfferSeconds, isoTpBytesPerSecond } from './estimate.ts';
export * from './errors.ts';
export * from './hmi/index.ts';
