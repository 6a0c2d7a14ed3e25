// Every way the HTTP upgrade handshake can be refused, in one table: a stable machine code, the
// HTTP status, a short constant reason (never an echo of client data) and the extra response
// headers the status requires. Refusals are frozen singletons, so refusing allocates nothing and
// the complete response bytes can be cached per refusal (see response.ts).

/** An HTTP header to send: [name, value]. */
export type HeaderPair = readonly [name: string, value: string];

export interface Refusal {
  readonly ok: false;
  /** Stable machine code, e.g. 'RS_HTTP_BAD_KEY'. */
  readonly code: string;
  /** HTTP status code of the error response. */
  readonly status: number;
  /** Short English reason; it becomes the response body. */
  readonly reason: string;
  /** Headers the status requires (Allow for 405, Upgrade for 426, ...). */
  readonly headers: readonly HeaderPair[];
}

/**
 * Reason phrases of the statuses a handshake may be answered with: the daemon's own, and every 4xx
 * and 5xx an app's upgrade hook may refuse with that RFC 9110 §15 defines, plus 428, 429, 431 and
 * 511 (RFC 6585) and 451 (RFC 7725). Another status gets an empty reason phrase (allowed by RFC 9112 §4).
 */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  101: 'Switching Protocols',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  511: 'Network Authentication Required',
});

const UPGRADE_HEADERS: readonly HeaderPair[] = Object.freeze([
  Object.freeze(['Upgrade', 'websocket'] as const),
  Object.freeze(['Connection', 'Upgrade'] as const),
]);

function refusal(code: string, status: number, reason: string, headers: readonly HeaderPair[] = []): Refusal {
  return Object.freeze({ ok: false, code, status, reason, headers: Object.freeze(headers) });
}

/** The handshake refusals. Keys are the code without the 'RS_HTTP_' prefix. */
export const HttpRefusal = Object.freeze({
  // --- Framing of the request head (findHeadEnd / HeadAccumulator / the worker's timer) ---
  HEAD_TOO_LARGE: refusal('RS_HTTP_HEAD_TOO_LARGE', 431, 'The request head is larger than the server accepts.'),
  HEAD_TIMEOUT: refusal('RS_HTTP_HEAD_TIMEOUT', 408, 'The request head was not received in time.'),
  HEAD_INCOMPLETE: refusal('RS_HTTP_HEAD_INCOMPLETE', 400, 'The request head does not end with an empty line.'),

  // --- Syntax (parseRequestHead), RFC 9112 §2-§5 ---
  BARE_LF: refusal('RS_HTTP_BARE_LF', 400, 'Every line of the request head must end with CRLF.'),
  MALFORMED_REQUEST_LINE: refusal('RS_HTTP_MALFORMED_REQUEST_LINE', 400,
    'The request line must be: method SP request-target SP HTTP-version.'),
  OBS_FOLD: refusal('RS_HTTP_OBS_FOLD', 400, 'Header lines must not be folded (obs-fold).'),
  MALFORMED_HEADER: refusal('RS_HTTP_MALFORMED_HEADER', 400,
    'A header line must be a token name immediately followed by a colon.'),
  INVALID_HEADER_VALUE: refusal('RS_HTTP_INVALID_HEADER_VALUE', 400,
    'A header value contains a control character.'),

  // --- HTTP semantics (validateUpgrade) ---
  HTTP_VERSION_NOT_SUPPORTED: refusal('RS_HTTP_VERSION_NOT_SUPPORTED', 505, 'Only HTTP/1.1 is supported.'),
  HTTP_1_1_REQUIRED: refusal('RS_HTTP_1_1_REQUIRED', 400, 'A WebSocket handshake requires HTTP/1.1.'),
  HOST_MISSING: refusal('RS_HTTP_HOST_MISSING', 400, 'The Host header is missing.'),
  HOST_DUPLICATE: refusal('RS_HTTP_HOST_DUPLICATE', 400, 'The Host header appears more than once.'),
  TARGET_FORM: refusal('RS_HTTP_TARGET_FORM', 400,
    'The request target must be a path (/path) or an absolute URL (ws://host/path).'),
  TARGET_INVALID: refusal('RS_HTTP_TARGET_INVALID', 400, 'The absolute request target is malformed.'),
  TARGET_FRAGMENT: refusal('RS_HTTP_TARGET_FRAGMENT', 404, 'The request target contains a fragment (#).'),
  PATH_NOT_FOUND: refusal('RS_HTTP_PATH_NOT_FOUND', 404, 'No WebSocket endpoint has this path.'),
  HOST_NOT_FOUND: refusal('RS_HTTP_HOST_NOT_FOUND', 404, 'No WebSocket endpoint has this host and path.'),
  SCHEME_MISMATCH: refusal('RS_HTTP_SCHEME_MISMATCH', 404,
    'The URL scheme of the request target does not match this port (TLS or plain).'),
  METHOD_NOT_ALLOWED: refusal('RS_HTTP_METHOD_NOT_ALLOWED', 405, 'A WebSocket handshake must use GET.',
    [Object.freeze(['Allow', 'GET'] as const)]),
  BODY_NOT_ALLOWED: refusal('RS_HTTP_BODY_NOT_ALLOWED', 400, 'A WebSocket handshake request must not have a body.'),
  UPGRADE_REQUIRED: refusal('RS_HTTP_UPGRADE_REQUIRED', 426,
    'This URL serves WebSocket connections only (Upgrade: websocket).', UPGRADE_HEADERS),
  CONNECTION_NOT_UPGRADE: refusal('RS_HTTP_CONNECTION_NOT_UPGRADE', 400,
    'The Connection header must contain the token "upgrade".'),
  WS_VERSION_UNSUPPORTED: refusal('RS_HTTP_WS_VERSION_UNSUPPORTED', 426, 'Sec-WebSocket-Version must be 13.',
    [...UPGRADE_HEADERS, Object.freeze(['Sec-WebSocket-Version', '13'] as const)]),
  WS_VERSION_DUPLICATE: refusal('RS_HTTP_WS_VERSION_DUPLICATE', 400,
    'The Sec-WebSocket-Version header appears more than once.'),
  KEY_MISSING: refusal('RS_HTTP_KEY_MISSING', 400, 'The Sec-WebSocket-Key header is missing.'),
  KEY_DUPLICATE: refusal('RS_HTTP_KEY_DUPLICATE', 400, 'The Sec-WebSocket-Key header appears more than once.'),
  KEY_INVALID: refusal('RS_HTTP_KEY_INVALID', 400, 'Sec-WebSocket-Key must be 16 bytes in base64.'),
  ORIGIN_DUPLICATE: refusal('RS_HTTP_ORIGIN_DUPLICATE', 400, 'The Origin header appears more than once.'),
  ORIGIN_NOT_ALLOWED: refusal('RS_HTTP_ORIGIN_NOT_ALLOWED', 403, 'This Origin is not allowed for this endpoint.'),
  ORIGIN_NOT_ACCEPTED: refusal('RS_HTTP_ORIGIN_NOT_ACCEPTED', 403,
    'This endpoint accepts no requests that carry an Origin header.'),
  PROTOCOL_INVALID: refusal('RS_HTTP_PROTOCOL_INVALID', 400,
    'Sec-WebSocket-Protocol must be a comma-separated list of one or more tokens.'),
});
export type HttpRefusalName = keyof typeof HttpRefusal;
