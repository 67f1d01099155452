// The edges of the one delegation core (delegation/): a binding that cannot be read fails closed for every
// grant, what a decision record names when an exchange is refused, and the lineage bound end to end.
import { sql } from 'kysely'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { dpopKey } from '../support/dpop.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  basic,
  clientCredentials,
  exchange,
  exchanged,
  form,
  secrets,
  tasksCall,
} from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const notes = 'https://notes.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'

const pathDocument = (name: string, spec: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: 'mandate/v1', kind: 'PolicyPath', metadata: { name }, spec: { bindings: [], ...spec } })

/** A binding written straight into the tables (as a hand-edited or partially restored database would). */
async function legacyBinding(client: string, resource: string, grantType: string, path: string) {
  await sql`insert into policy_bindings (client_id, resource, grant_type, path)
    values (${client}, ${resource}, ${grantType}, ${path})`.execute(t.db)
}
async function legacyVersion(path: string, spec: Record<string, unknown>) {
  await sql`insert into policy_path_versions (path, version, document, content_hash)
    values (${path}, 1, ${pathDocument(path, spec)}::jsonb, 'legacy')`.execute(t.db)
}

const decisionOf = (response: Response) =>
  t.db
    .selectFrom('decisions')
    .selectAll()
    .where('decision_id', '=', response.headers.get('x-decision-id') as string)
    .executeTakeFirstOrThrow()

describe('a binding to a path with no stored version (a hand-edited database)', () => {
  it('client_credentials refuses it (invalid_target), never reading it as a path without a ceiling', async () => {
    // The root of the bound path has a version narrowing to tickets:read; the bound leaf has none.
    await legacyVersion('legacy-cc', { scopes: ['tickets:read'] })
    await legacyBinding('agent-one', tickets, 'client_credentials', 'legacy-cc/leaf')
    const response = await clientCredentials(server.url, 'agent-one', { resource: tickets, scope: 'tickets:write' })
    const body = (await response.json()) as Record<string, unknown>
    // Fail closed: a binding the server cannot read never widens what the client gets.
    expect({ status: response.status, body }).toEqual({
      status: 400,
      body: {
        error: 'invalid_target',
        error_description: 'the resource is missing, unknown or not allowed for this client',
      },
    })
  })

  it('the exchange refuses it as target.not_bound, never deciding under the ancestors alone', async () => {
    await legacyVersion('legacy-te', { subjectTokens: { issuers: ['self', 'test-idp'] } })
    await legacyBinding('agent-two', 'https://other.test/api', TE, 'legacy-te/leaf')
    const response = await exchange(server.url, 'agent-two', {
      subject_token: await personToken(),
      resource: 'https://other.test/api',
    })
    expect(response.status).toBe(400)
    expect(await decisionOf(response)).toMatchObject({
      result: 'deny',
      reason: 'target.not_bound',
      detail: 'https://other.test/api',
    })
  })
})

describe('decision records', () => {
  it('name the task a subject token carries even when the exchange is refused for it', async () => {
    const alice = await personToken()
    const started = await tasksCall(server.url, 'agent-one', '/tasks', {
      subject_token: alice,
      subject_token_type: ACCESS_TOKEN,
      purpose: 'review finding',
      resource: tickets,
    })
    expect(started.status).toBe(201)
    const { task_id } = (await started.json()) as { task_id: string }
    const ofTask = await exchanged(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id })
    expect(decodeJwt(ofTask).task_id).toBe(task_id)
    // The subject token's task does not cover notes: refused, with no task_id parameter sent.
    const response = await exchange(server.url, 'agent-one', { subject_token: ofTask, resource: notes })
    expect(response.status).toBe(400)
    const record = await decisionOf(response)
    expect(record).toMatchObject({ result: 'deny', reason: 'target.not_in_task', detail: notes })
    expect(record.task_id).toBe(task_id)
    const audit = await t.db
      .selectFrom('audit_events')
      .select(['task_id'])
      .where('decision_id', '=', record.decision_id)
      .executeTakeFirstOrThrow()
    expect(audit.task_id).toBe(task_id)
  })

  it('of a refusal made inside the issuing transaction (a replayed DPoP proof) carry no lifetime constraint', async () => {
    const key = await dpopKey()
    const proof = await key.proof('POST', `${server.url}/token`)
    const subject = await personToken({ scope: 'tickets:read' })
    const send = () =>
      fetch(`${server.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('agent-one', secrets['agent-one'] as string),
          dpop: proof,
        },
        body: form({ grant_type: TE, subject_token: subject, subject_token_type: ACCESS_TOKEN, resource: tickets }),
      })
    expect((await send()).status).toBe(200)
    const replayed = await send()
    expect(replayed.status).toBe(400)
    const record = await decisionOf(replayed)
    expect(record).toMatchObject({ result: 'deny', reason: 'request.dpop_invalid', issued_jti: null })
    // No token was issued, so nothing set its lifetime: the allowed decision's constraints are not recorded.
    expect(record.constrained_by).toBeNull()
  })
})

describe('the lineage bound (MAX_LINEAGE = 32), end to end', () => {
  it('refuses the exchange of a token with 33 tokens behind it, issues nothing, and records it', async () => {
    // Impersonation adds no act depth, so only the lineage bound stops this chain.
    let token = await exchanged(server.url, 'impersonator', { subject_token: await personToken(), resource: tickets })
    for (let hop = 1; hop < 33; hop++) {
      token = await exchanged(server.url, 'impersonator', { subject_token: token, resource: tickets })
    }
    const before = await t.db
      .selectFrom('issued_tokens')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    const response = await exchange(server.url, 'impersonator', { subject_token: token, resource: tickets })
    expect({ status: response.status, body: await response.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'the subject_token, actor_token or task_id is invalid' },
    })
    const after = await t.db
      .selectFrom('issued_tokens')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    expect(after.n).toBe(before.n)
    const record = await decisionOf(response)
    expect(record).toMatchObject({ result: 'deny', reason: 'delegation.too_deep', detail: '33 tokens behind it' })
    // The chain as requested, like every other refusal the decision makes.
    expect(record.actor_chain).toEqual(['impersonator'])
  })
})
