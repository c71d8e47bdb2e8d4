// A message serialized once and written as is to many streams. The coordinator sends the same
// weights to every worker each step; encoding them to protobuf once instead of once per worker
// removes most of the broadcast's CPU cost. The Session stream's serializer passes these through
// (proto_loader.ts).

export class PreEncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/** Wraps a serializer so that PreEncodedMessage values go out unchanged. */
export function passPreEncoded<T>(serialize: (m: T) => Buffer): (m: T | PreEncodedMessage) => Buffer {
  return (m) => (m instanceof PreEncodedMessage ? m.bytes : serialize(m));
}
