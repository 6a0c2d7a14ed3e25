// The bench client's framing interface: what a connection needs from a codec. The implementation
// (codec.ts in this folder) runs on RingSocket's WebAssembly codec.

export interface ProtocolError {
  code: string;
  closeCode: number;
  message: string;
}

export interface FrameHandlers {
  /**
   * A complete message; `bytes` is only valid during the call. `compressed`: its first frame had
   * RSV1 (only with permessage-deflate negotiated; `bytes` are then still deflated).
   */
  onMessage(binary: boolean, bytes: Uint8Array, compressed: boolean): void;
  onPing(payload: Uint8Array): void;
  onClose(code: number, reason: string): void;
  onError(err: ProtocolError): void;
}

export interface ClientDecoder {
  /** Feeds bytes read from the socket; handlers are called synchronously. */
  push(chunk: Uint8Array): void;
  /** Gives back the decoder's resources. */
  free(): void;
}

export interface ClientFraming {
  /**
   * A decoder in the client role (server frames must be unmasked). `deflate`: permessage-deflate
   * was negotiated, so RSV1 on a data message's first frame marks it compressed (RFC 7692 §6).
   */
  decoder(handlers: FrameHandlers, maxMessageSize: number, deflate?: boolean): ClientDecoder;
  /** One masked client data frame (FIN set) holding `payload`; a new buffer owned by the caller. */
  dataFrame(binary: boolean, payload: Uint8Array): Buffer;
  /** A masked Pong frame echoing `payload`. */
  pongFrame(payload: Uint8Array): Buffer;
  /** A masked Close frame with `code` (no reason). */
  closeFrame(code: number): Buffer;
}
