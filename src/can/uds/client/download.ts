import { UdsRequestError, UdsTimeoutError, UdsTransportError } from '../errors.ts';
import { PLAIN_DATA_FORMAT } from '../services/data-format.ts';
import { nextBlockSequenceCounter } from '../services/transfer-data.ts';
import type { UdsClient } from './client.ts';

export type ImageSource = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface DownloadOptions {
  memoryAddress: number;
  /**
   * The memory the data fills; defaults to the length of a Uint8Array source. For plain data it is what the
   * source yields; for an encoded dataFormat the uncompressed size (ISO 14229-1 §14.2.2), while the source
   * yields the encoded bytes, as many as they are.
   */
  memorySize?: number;
  /** dataFormatIdentifier (default 0x00: neither compressed nor encrypted; see encodeDataFormat). */
  dataFormat?: number;
  addressLength?: number;
  sizeLength?: number;
  /** Cap below the server's maxNumberOfBlockLength (SID and counter included). */
  maxBlockLength?: number;
  /** Times one block is sent again after a timeout or transport failure (the server acknowledges a repeat without writing it twice). Default 2. */
  retries?: number;
  /** transferRequestParameterRecord of RequestTransferExit. */
  transferExitRecord?: Uint8Array;
  /** After each block: bytes sent, and memorySize (for an encoded dataFormat, bytes sent are encoded bytes). */
  onProgress?: (bytesSent: number, total: number) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** Bytes sent in TransferData (encoded bytes for an encoded dataFormat). */
  bytes: number;
  blocks: number;
  maxNumberOfBlockLength: number;
  /** transferResponseParameterRecord of RequestTransferExit. */
  transferExitRecord: Uint8Array;
}

/**
 * The UDS download sequence (ISO 14229-1 §14): RequestDownload, TransferData blocks as large as the
 * server allows with the block sequence counter 0x01, 0x02, … 0xFF, 0x00, …, then RequestTransferExit.
 * The source is streamed: memory stays at one block whatever the image size.
 */
export async function downloadImage(client: UdsClient, source: ImageSource, options: DownloadOptions): Promise<DownloadResult> {
  const memorySize = options.memorySize ?? (source instanceof Uint8Array ? source.length : undefined);
  if (memorySize === undefined) throw new UdsRequestError('memorySize is needed for a streamed image');
  const dataFormat = options.dataFormat ?? PLAIN_DATA_FORMAT;
  // Encoded data fills memorySize only once decoded: its own byte count is whatever the encoder made.
  const plain = dataFormat === PLAIN_DATA_FORMAT;
  const { maxNumberOfBlockLength } = await client.requestDownload({
    dataFormat,
    memoryAddress: options.memoryAddress,
    memorySize,
    addressLength: options.addressLength,
    sizeLength: options.sizeLength,
  });
  const blockLength = Math.min(maxNumberOfBlockLength, options.maxBlockLength ?? Infinity) - 2;
  if (blockLength < 1) throw new UdsRequestError(`a block length of ${blockLength + 2} leaves no room for data`);
  const retries = options.retries ?? 2;
  let counter = 0x01;
  let sent = 0;
  let blocks = 0;
  for await (const block of rechunk(source, blockLength)) {
    options.signal?.throwIfAborted();
    if (plain && sent + block.length > memorySize) throw new UdsRequestError(`the image is larger than memorySize ${memorySize}`);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await client.transferData(counter, block);
        break;
      } catch (error) {
        const transient = error instanceof UdsTimeoutError || error instanceof UdsTransportError;
        if (!transient || attempt >= retries) throw error;
      }
    }
    sent += block.length;
    blocks += 1;
    counter = nextBlockSequenceCounter(counter);
    options.onProgress?.(sent, memorySize);
  }
  if (plain && sent !== memorySize) throw new UdsRequestError(`the image has ${sent} bytes, memorySize announced ${memorySize}`);
  const exit = await client.requestTransferExit(options.transferExitRecord);
  return { bytes: sent, blocks, maxNumberOfBlockLength, transferExitRecord: exit.data };
}

/** Re-cuts a byte stream into blocks of `size` bytes (the last one shorter). */
async function* rechunk(source: ImageSource, size: number): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    for (let offset = 0; offset < source.length; offset += size) yield source.subarray(offset, offset + size);
    return;
  }
  let block = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    let offset = 0;
    while (offset < chunk.length) {
      const count = Math.min(size - filled, chunk.length - offset);
      block.set(chunk.subarray(offset, offset + count), filled);
      filled += count;
      offset += count;
      if (filled === size) {
        yield block;
        block = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield block.subarray(0, filled);
}
