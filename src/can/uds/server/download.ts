import { RequestRejectedError, invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { PLAIN_DATA_FORMAT } from '../services/data-format.ts';
import { nextBlockSequenceCounter } from '../services/transfer-data.ts';
import type { DownloadRequestInfo } from './options.ts';

export interface ActiveDownload extends DownloadRequestInfo {
  /** Memory bytes written so far (for an encoded dataFormat, what the application decoded). */
  received: number;
  /** Bytes carried by TransferData so far (equal to `received` for plain data). */
  transferred: number;
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
    this.#active = { ...request, received: 0, transferred: 0, maxNumberOfBlockLength, expectedCounter: 0x01, lastCounter: null };
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
    // Encoded data (compressed, encrypted) ends where its own format says: a compressed stream may still
    // carry its trailer after the last memory byte, and a block's length is not the memory it fills.
    const plain = download.dataFormat === PLAIN_DATA_FORMAT;
    if (plain && download.received === download.memorySize) {
      throw new RequestRejectedError(Nrc.RequestSequenceError, `all ${download.memorySize} bytes were already transferred`);
    }
    if (data.length === 0) throw invalidFormat('TransferData without data');
    if (plain && download.received + data.length > download.memorySize) {
      // The image is larger than announced: stop the transfer (ISO 14229-1 Table 400, transferDataSuspended).
      this.#active = null;
      throw new RequestRejectedError(Nrc.TransferDataSuspended,
        `block would bring the transfer to ${download.received + data.length} bytes, memorySize is ${download.memorySize}`);
    }
    return 'write';
  }

  /**
   * Records a written block of `length` bytes that filled `produced` memory bytes (an encoded dataFormat's
   * decoded count; plain data fills its own length). Memory beyond memorySize ends the download (0x71).
   */
  accept(counter: number, length: number, produced: number = length): void {
    const download = this.#active!;
    const filled = download.dataFormat === PLAIN_DATA_FORMAT ? length : produced;
    download.transferred += length;
    download.received += filled;
    download.lastCounter = counter;
    download.expectedCounter = nextBlockSequenceCounter(counter);
    if (download.received > download.memorySize) {
      this.#active = null;
      throw new RequestRejectedError(Nrc.TransferDataSuspended,
        `the data decoded to ${download.received} bytes so far, memorySize is ${download.memorySize}`);
    }
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
