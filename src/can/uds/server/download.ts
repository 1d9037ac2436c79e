import { RequestRejectedError, invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { nextBlockSequenceCounter } from '../services/transfer-data.ts';
import type { DownloadRequestInfo } from './options.ts';

export interface ActiveDownload extends DownloadRequestInfo {
  received: number;
  maxNumberOfBlockLength: number;
  expectedCounter: number;
  /** Counter of the last block written; a repeat of it is acknowledged without writing it again. */
  lastCounter: number | null;
}

/** What to do with one TransferData block. */
export type BlockVerdict = 'write' | 'repeat';

/**
 * The RequestDownload → TransferData… → RequestTransferExit state machine (ISO 14229-1 §14): block
 * sequence counter from 0x01, wrapping 0xFF → 0x00; a repeated block (the client did not get our
 * response) is acknowledged, not written twice; anything else is answered with the standard's NRC.
 */
export class DownloadState {
  #active: ActiveDownload | null = null;

  get active(): Readonly<ActiveDownload> | null {
    return this.#active;
  }

  start(request: DownloadRequestInfo, maxNumberOfBlockLength: number): void {
    this.#active = { ...request, received: 0, maxNumberOfBlockLength, expectedCounter: 0x01, lastCounter: null };
  }

  /** Checks a block before it is written; throws the NRC the block deserves. */
  check(counter: number, data: Uint8Array): BlockVerdict {
    const download = this.#active;
    if (download === null) throw new RequestRejectedError(Nrc.RequestSequenceError, 'no RequestDownload is active');
    if (data.length + 2 > download.maxNumberOfBlockLength) {
      throw invalidFormat(`block of ${data.length + 2} bytes exceeds maxNumberOfBlockLength ${download.maxNumberOfBlockLength}`);
    }
    if (counter === download.lastCounter) return 'repeat';
    if (counter !== download.expectedCounter) {
      throw new RequestRejectedError(Nrc.WrongBlockSequenceCounter, `expected block 0x${download.expectedCounter.toString(16)}, got 0x${counter.toString(16)}`);
    }
    if (download.received === download.memorySize) {
      throw new RequestRejectedError(Nrc.RequestSequenceError, `all ${download.memorySize} bytes were already transferred`);
    }
    if (data.length === 0) throw invalidFormat('TransferData without data');
    if (download.received + data.length > download.memorySize) {
      // The image is larger than announced: stop the transfer (ISO 14229-1 Table 400, transferDataSuspended).
      this.#active = null;
      throw new RequestRejectedError(Nrc.TransferDataSuspended,
        `block would bring the transfer to ${download.received + data.length} bytes, memorySize is ${download.memorySize}`);
    }
    return 'write';
  }

  /** Records a written block. */
  accept(counter: number, length: number): void {
    const download = this.#active!;
    download.received += length;
    download.lastCounter = counter;
    download.expectedCounter = nextBlockSequenceCounter(counter);
  }

  /** RequestTransferExit: only after every byte arrived. */
  checkComplete(): ActiveDownload {
    const download = this.#active;
    if (download === null) throw new RequestRejectedError(Nrc.RequestSequenceError, 'no RequestDownload is active');
    if (download.received !== download.memorySize) {
      throw new RequestRejectedError(Nrc.RequestSequenceError, `only ${download.received} of ${download.memorySize} bytes transferred`);
    }
    return download;
  }

  abort(): void {
    this.#active = null;
  }
}
