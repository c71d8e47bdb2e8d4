// The images the web demo has encoded, keyed by the sha256 of their bytes: each one's size and its
// image-encoder embeddings per model, so a new box or point on the same image runs only the mask
// decoder. Least recently used entries go first once `capacity` is reached; the pixels themselves
// are not kept (the embeddings and the size are all a prompt needs).

export interface EncodedImage {
  /** sha256 of the uploaded bytes, hex. */
  id: string;
  width: number;
  height: number;
  /** [h, w] after SAM's longest-side resize. */
  inputSize: [number, number];
  /** Image-encoder output per model name. */
  embeddings: Map<string, Float32Array>;
}

export class ImageCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, EncodedImage>();

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new Error(`image cache capacity must be a positive integer (got ${capacity})`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): EncodedImage | undefined {
    const e = this.entries.get(id);
    if (e) {
      this.entries.delete(id);
      this.entries.set(id, e);
    }
    return e;
  }

  set(entry: EncodedImage): void {
    this.entries.delete(entry.id);
    this.entries.set(entry.id, entry);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
