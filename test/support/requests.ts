// One valid request per endpoint, and a case's overrides applied to it: refusal tests are rows that say
// only what differs from a request the server would accept.
import { personToken } from './idp.ts'
import { ACCESS_TOKEN, accessToken, basic, form, type Params, secrets, TOKEN_EXCHANGE } from './oauth.ts'

const TICKETS = 'https://tickets.test/'

export type Send = () => Promise<Response>

export interface Overrides {
  /** Merged over the valid request's parameters; an undefined value leaves that parameter out. */
  params?: Params
  /** Members merged over the parameters into a JSON body (application/json) instead of a form. */
  json?: Record<string, unknown>
  /** A raw body sent in place of the built one. */
  body?: string
  /** Merged over the built headers (content type and client authentication). */
  headers?: Record<string, string>
  /** The client authenticating with client_secret_basic (agent-one by default); null sends no credentials. */
  client?: string | null
  /** Its secret, when not its fixture secret: a wrong one, or that of a client a test file applies itself. */
  secret?: string
}

/** A case's overrides, or its setup (tokens to mint, tasks to start) returning them. */
export type Case = Overrides | (() => Promise<Overrides>)

function request(url: string, defaults: Params, overrides: Overrides): Send {
  const params = { ...defaults, ...overrides.params }
  const headers: Record<string, string> = {
    'content-type': overrides.json ? 'application/json' : 'application/x-www-form-urlencoded',
  }
  const client = overrides.client === undefined ? 'agent-one' : overrides.client
  if (client !== null) headers.authorization = basic(client, overrides.secret ?? (secrets[client] as string))
  const body =
    overrides.body ?? (overrides.json ? JSON.stringify({ ...params, ...overrides.json }) : form(params).toString())
  return () => fetch(url, { method: 'POST', headers: { ...headers, ...overrides.headers }, body })
}

const resolve = async (c: Case): Promise<Overrides> => (typeof c === 'function' ? c() : c)
const names = (overrides: Overrides, param: string) => overrides.params !== undefined && param in overrides.params

/** RFC 8693 §2.1: agent-one exchanges alice's token (alice-app's, tickets:read tickets:write) for tickets. */
export async function exchangeRequest(base: string, c: Case = {}): Promise<Send> {
  const overrides = await resolve(c)
  const subject_token = names(overrides, 'subject_token')
    ? undefined
    : await accessToken(base, 'alice-app', { scope: 'tickets:read tickets:write' })
  return request(
    `${base}/token`,
    { grant_type: TOKEN_EXCHANGE, subject_token, subject_token_type: ACCESS_TOKEN, resource: TICKETS },
    overrides,
  )
}

/** POST /tasks: agent-one starts a task on tickets for alice's IdP token. */
export async function taskRequest(base: string, c: Case = {}): Promise<Send> {
  const overrides = await resolve(c)
  const subject_token = names(overrides, 'subject_token') ? undefined : await personToken()
  return request(
    `${base}/tasks`,
    { subject_token, subject_token_type: ACCESS_TOKEN, purpose: 'Answer ticket 42 for Alice', resource: TICKETS },
    overrides,
  )
}

/** RFC 6749 §4.4 with an RFC 8707 resource: agent-one asks for a token for tickets. */
export async function clientCredentialsRequest(base: string, c: Case = {}): Promise<Send> {
  return request(`${base}/token`, { grant_type: 'client_credentials', resource: TICKETS }, await resolve(c))
}
