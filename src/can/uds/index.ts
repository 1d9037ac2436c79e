/** UDS (ISO 14229): service codecs shared by client and server, the client, and the ECU server framework. */
export * from './errors.ts';
export * from './nrc.ts';
export * from './service-ids.ts';
export type { SuppressibleRequest, UdsService } from './service.ts';
export * from './services/index.ts';
export { describeUdsMessage } from './describe.ts';
export { UdsClient, type RequestOptions, type UdsClientOptions } from './client/client.ts';
export { downloadImage, type DownloadOptions, type DownloadResult, type ImageSource } from './client/download.ts';
export { UdsServer, type DiagnosticAddresses } from './server/server.ts';
export type { Reply } from './server/dispatcher.ts';
export type {
  Addressing, DataIdentifierDefinition, DownloadHandlers, DownloadRequestInfo, RequestContext, ResetAccess, RoutineDefinition, RoutineHandler,
  SecurityAttempts, SecurityAttemptStore, SecurityOptions, SecurityRequirement, ServerTiming, UdsServerOptions,
} from './server/options.ts';
