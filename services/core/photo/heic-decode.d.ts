// Declarations for the part of heic-decode 2.1.0 (libheif in WebAssembly) the converter uses; it ships none.
declare module 'heic-decode' {
  interface DecodedImage {
    width: number;
    height: number;
    /** RGBA, 8 bits per sample, rows top to bottom, HEIF transformations (irot, imir) applied. */
    data: Uint8ClampedArray;
  }
  /** Decodes the first top-level image. Throws TypeError when the major brand is not a HEIC one. */
  function decode(input: { buffer: Uint8Array }): Promise<DecodedImage>;
  export default decode;
}
