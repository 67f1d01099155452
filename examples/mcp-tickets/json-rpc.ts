// JSON-RPC 2.0 as MCP uses it: one message per HTTP POST (batches left MCP in 2025-06-18), read strictly,
// and the answers built. Pure.

export type Id = string | number

export type Message =
  | { kind: 'request'; id: Id; method: string; params: Record<string, unknown> }
  | { kind: 'notification'; method: string }
  /** A client's answer to a server's request: this server sends none, so there is nothing to match. */
  | { kind: 'response' }

export interface RpcError {
  code: number
  message: string
  data?: unknown
}

// JSON-RPC 2.0 §5.1, and one code of the -32000..-32099 range left to servers.
export const PARSE_ERROR = -32700
export const INVALID_REQUEST = -32600
export const METHOD_NOT_FOUND = -32601
export const INVALID_PARAMS = -32602
export const INTERNAL_ERROR = -32603
/** Mandate refused the call; `data` carries its reason code and decision id. */
export const REFUSED = -32010

export type Read = { ok: true; message: Message } | { ok: false; id: Id | null; error: RpcError }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

// MCP: a request id is a string or a number, never null.
const isId = (value: unknown): value is Id =>
  typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))

export function readMessage(body: string): Read {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return { ok: false, id: null, error: { code: PARSE_ERROR, message: 'the body is not JSON' } }
  }
  const id = isObject(value) && isId(value.id) ? value.id : null
  const invalid = (message: string): Read => ({ ok: false, id, error: { code: INVALID_REQUEST, message } })
  if (!isObject(value) || value.jsonrpc !== '2.0') return invalid('one JSON-RPC 2.0 message is expected')
  if (value.method === undefined && 'id' in value && ('result' in value || 'error' in value))
    return { ok: true, message: { kind: 'response' } }
  if (typeof value.method !== 'string') return invalid('method must be a string')
  if (value.params !== undefined && !isObject(value.params)) return invalid('params must be an object')
  if (!('id' in value)) return { ok: true, message: { kind: 'notification', method: value.method } }
  if (id === null) return invalid('id must be a string or a number')
  return { ok: true, message: { kind: 'request', id, method: value.method, params: value.params ?? {} } }
}

export const result = (id: Id, value: object) => ({ jsonrpc: '2.0', id, result: value })

export const failure = (id: Id | null, error: RpcError) => ({ jsonrpc: '2.0', id, error })
