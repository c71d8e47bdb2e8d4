// An error the web demo's API answers with: an HTTP status, a stable machine-readable code and a
// sentence saying what is wrong. Anything else that escapes a handler is a 500 (and is logged).

export type ApiErrorCode =
  | 'bad_json' // the body is not JSON, or not the JSON object expected
  | 'bad_request' // a field is missing or has the wrong type
  | 'bad_prompt' // the prompt does not fit the image (box or point outside it, no prompt)
  | 'empty_body'
  | 'payload_too_large'
  | 'unsupported_image' // the bytes are no image format (or variant) we decode
  | 'bad_image' // a known format that does not decode (truncated, damaged) or has no pixels
  | 'image_too_large' // more pixels than the server accepts
  | 'unknown_image' // an image id the server does not hold (never uploaded, or evicted: upload again)
  | 'not_found'
  | 'bad_host' // the Host header names another server (DNS rebinding)
  | 'bad_origin' // another site's page made the request
  | 'unsupported_media_type' // no or the wrong Content-Type
  | 'timeout' // the client sent its request too slowly
  | 'method_not_allowed'
  | 'busy' // the inference queue is full
  | 'closing' // the server is shutting down
  | 'internal';

export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Extra response headers (Allow, Retry-After). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The JSON body of an error response. */
export interface ErrorBody {
  error: string;
  code: ApiErrorCode;
}
