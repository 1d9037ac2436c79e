/**
 * The modules that decide whether a firmware image is downloaded, verified, programmed, activated or
 * rolled back, each with the code Stryker mutates and the test files that cover it (`npm run mutation`,
 * scripts/mutation.ts; docs/testing.md says when to run it).
 *
 * Test files: the fast unit tests that import the module (directly or through its package), found with
 * `grep` for imports; an end-to-end file only where the module's behaviour is reached nowhere else. Each
 * file runs as one process (`node --import tsx <file>`) with `CANOTA_FROM_SOURCE=1`, so a `bin/canota`
 * it spawns runs the (mutated) sources of the sandbox, never the bundle (dist/ is not even copied there).
 *
 * `mutate` takes Stryker's globs; a `file:from-to` line range mutates only those lines (keep them in step
 * with the file when it changes).
 */
export interface MutationModule {
  /** What the module decides, for the table in docs/testing.md. */
  description: string;
  mutate: readonly string[];
  tests: readonly string[];
}

export const mutationModules = {
  'nonce-service': {
    description: 'server: a download needs a fresh, single-use nonce issued to the same client',
    mutate: ['src/server/nonces/nonce-service.ts'],
    tests: ['test/server/storage/nonces.test.ts'],
  },
  'frame-codec': {
    description: 'ISO-TP: which CAN frames make up a message (every byte of an image crosses it)',
    mutate: ['src/can/isotp/frame-codec.ts'],
    tests: ['test/can/isotp/frame-codec.test.ts', 'test/can/isotp/properties.test.ts', 'test/can/isotp/channel.test.ts'],
  },
  range: {
    description: 'client: which bytes on disk a resumed download keeps, from the server\'s answer',
    mutate: ['src/client/range.ts'],
    tests: ['test/client/range.test.ts'],
  },
  'flash-banks': {
    description: 'ECU: A/B banks, which bank boots, trial boots and rollback',
    mutate: ['src/vehicle/ecu/flash-banks.ts'],
    tests: ['test/vehicle/ecu/flash-banks.test.ts', 'test/vehicle/ecu/confirmation.test.ts', 'test/vehicle/ecu/bootloader.test.ts'],
  },
  bootloader: {
    description: 'ECU: the UDS bootloader (session, security, erase, download, manifest and image checks, activation)',
    mutate: ['src/vehicle/ecu/bootloader.ts'],
    tests: [
      'test/vehicle/ecu/access-rules.test.ts',
      'test/vehicle/ecu/confirmation.test.ts',
      'test/vehicle/ecu/compressed-download.test.ts',
      'test/vehicle/ecu/bootloader.test.ts',
    ],
  },
  'uds-download': {
    description: 'UDS server: RequestDownload → TransferData… → RequestTransferExit (block counter, lengths, repeats)',
    mutate: [
      'src/can/uds/server/download.ts',
      'src/can/uds/server/handlers/request-download.ts',
      'src/can/uds/server/handlers/transfer-data.ts',
      'src/can/uds/server/handlers/request-transfer-exit.ts',
    ],
    tests: [
      'test/can/uds/download-state.test.ts',
      'test/can/uds/server.test.ts',
      'test/can/uds/encoded-download.test.ts',
      'test/can/uds/client-server.test.ts',
      'test/can/uds/properties.test.ts',
    ],
  },
  approval: {
    description: 'CGW: the driver\'s approval routine (ask, remember, answer the TMU)',
    mutate: ['src/vehicle/cgw/approval.ts'],
    tests: [
      'test/vehicle/cgw/update-approval.test.ts',
      'test/vehicle/cgw/approval-memory.test.ts',
      'test/vehicle/cgw/approval.test.ts',
      'test/vehicle/cgw/central-gateway.test.ts',
    ],
  },
  installation: {
    description: 'TMU: programming the ECUs of a campaign, all or nothing, and rolling back',
    mutate: ['src/vehicle/tmu/installation.ts'],
    // tmu.test.ts first: its fakes fail fast; installation.test.ts (real ECUs, ~40 s) for the rest.
    tests: ['test/vehicle/tmu/tmu.test.ts', 'test/vehicle/tmu/installation.test.ts'],
  },
  tmu: {
    description: 'TMU: the update state machine (download, approval, install, report, restarts)',
    mutate: ['src/vehicle/tmu/tmu.ts'],
    tests: ['test/vehicle/tmu/tmu.test.ts', 'test/vehicle/car.test.ts'],
  },
  campaign: {
    description: 'TMU: which releases make up a campaign, and when one is given up',
    mutate: ['src/vehicle/tmu/campaign.ts'],
    tests: ['test/vehicle/tmu/campaign.test.ts', 'test/vehicle/tmu/tmu.test.ts'],
  },
  // The vehicle side of "the SecOC check": the ECU's check of the CGW's grant, and the approval channel's MAC.
  'programming-grant': {
    description: 'ECU: the CGW\'s security-access key and programming grant (seed, ECU, purpose, approved image)',
    mutate: ['src/vehicle/keys/programming-grant.ts'],
    tests: ['test/vehicle/keys/programming-grant.test.ts'],
  },
  'approval-channel': {
    description: 'TMU↔CGW: the approval channel\'s request MAC and freshness, and the answer bound to its request',
    mutate: ['src/vehicle/cgw/approval-channel.ts'],
    tests: ['test/vehicle/cgw/approval-channel.test.ts'],
  },
  // src/client/verification.ts holds only the verifier's types (no mutant); the checks are these lines.
  'client-verification': {
    description: 'client: the download\'s length and SHA-256, the announced file name, no downgrade, the pluggable verifier',
    mutate: [
      'src/client/fetch-release.ts:156-168', // checkHash: length, then SHA-256
      'src/client/download-agent.ts:150-158', // download(release): the embedder's SHA-256 and file name
      'src/client/download-agent.ts:259-299', // #decide (up to date, no downgrade), #installedVersion, #verify
      'src/firmware/version-order.ts', // which version is older (the no-downgrade rule)
      'src/ota-http/release.ts:36-76', // parseLatestVersion, safeFilename: the announcement and its file name
    ],
    tests: ['test/client/verification.test.ts', 'test/firmware/version-order.test.ts', 'test/ota-http/release.test.ts'],
  },
  // The TMU's verifier, plugged into the client above: measured with the vehicle modules.
  'release-trust': {
    description: 'TMU: the release manifest matches the announcement and carries a trusted signature',
    mutate: ['src/vehicle/tmu/release-trust.ts'],
    tests: ['test/vehicle/tmu/release-trust.test.ts'],
  },
  secoc: {
    description: 'SecOC: MAC, Secured I-PDU layout, freshness reconstruction, replay detection, the sender\'s persisted counter',
    mutate: [
      'src/can/secoc/receiver.ts',
      'src/can/secoc/freshness-reconstruction.ts',
      'src/can/secoc/authenticator.ts',
      'src/can/secoc/secured-pdu.ts',
      'src/can/secoc/freshness-counter.ts',
    ],
    tests: [
      'test/can/secoc/authenticator.test.ts',
      'test/can/secoc/freshness-reconstruction.test.ts',
      'test/can/secoc/receiver.test.ts',
      'test/can/secoc/freshness-counter.test.ts',
      'test/can/secoc/receiver-boundaries.test.ts',
      'test/can/secoc/authenticator-boundaries.test.ts',
      'test/can/secoc/freshness-counter-failures.test.ts',
    ],
  },
} satisfies Record<string, MutationModule>;

export type MutationModuleName = keyof typeof mutationModules;
