// The workloads: what is sent, to whom, and what a right answer is. A workload lists the servers that
// can serve it (tasks are Mandate's); the baselines get the same requests, bodies and credentials.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  ACCESS_TOKEN_TYPE,
  BENCH_CLIENTS,
  BENCH_RESOURCE,
  BENCH_SCOPE,
  basic,
  personToken,
  TICKETS_RESOURCE,
  TOKEN_EXCHANGE,
} from './fixtures.ts'
import type { Plan } from './load.ts'
import type { ServerName, Target } from './servers.ts'

export interface Workload {
  name: string
  servers: readonly ServerName[]
  /** A refusal: the success workload whose req/s it is compared with. */
  success?: string
  /** Another workload this one is measured against (its req/s over that one's, on its own line). */
  versus?: string
  /** Called before every run: a storm needs a task of its own. */
  plan(target: Target, run: { seconds: number }): Promise<{ plan: Plan; notes?: () => StormNotes }>
}

export interface StormNotes {
  revokedTokens: number
  completionMs: number
  /** From the completion's start to the last active:true answer received (0: none after it began). */
  lastActiveMs: number
  p99DuringMs: number
}

const EVERY: readonly ServerName[] = ['baseline-bare', 'baseline-row', 'mandate']
const MANDATE: readonly ServerName[] = ['mandate']
const agent = basic(BENCH_CLIENTS.agent)
const taskAgent = basic(BENCH_CLIENTS.taskAgent)
const form = (params: Record<string, string>) => new URLSearchParams(params).toString()
const clientCredentials = form({ grant_type: 'client_credentials', resource: BENCH_RESOURCE, scope: BENCH_SCOPE })
const exchange = (subject: string, extra: Record<string, string> = {}) =>
  form({
    grant_type: TOKEN_EXCHANGE,
    subject_token: subject,
    subject_token_type: ACCESS_TOKEN_TYPE,
    resource: BENCH_RESOURCE,
    scope: BENCH_SCOPE,
    ...extra,
  })
const forTask = (subject: string, taskId: string) =>
  exchange(subject, { resource: TICKETS_RESOURCE, scope: 'tickets:read', task_id: taskId })
const isActive = (body: string) => (JSON.parse(body) as { active?: unknown }).active === true
const isAllowed = (body: string) => (JSON.parse(body) as { decision?: unknown }).decision === true

async function post(origin: string, path: string, authorization: string, body: string) {
  const response = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  })
  const json = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`)
  return json
}

/** n results of make, at most `concurrency` at a time, in order. */
async function pooled<T>(n: number, concurrency: number, make: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(n)
  let next = 0
  const worker = async () => {
    while (next < n) {
      const index = next++
      results[index] = await make(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker))
  return results
}

const token = async (origin: string, authorization: string, body: string) =>
  String((await post(origin, '/token', authorization, body)).access_token)

const cache = new Map<string, { at: number; value: Promise<unknown> }>()
/** Made once and reused while younger than maxAgeMs (task tokens live 5 minutes). */
function cached<T>(key: string, maxAgeMs: number, make: () => Promise<T>): Promise<T> {
  const hit = cache.get(key)
  if (hit && performance.now() - hit.at < maxAgeMs) return hit.value as Promise<T>
  const value = make()
  cache.set(key, { at: performance.now(), value })
  return value
}

const people = {
  valid: () => cached('person', Number.POSITIVE_INFINITY, () => personToken('alice')),
  expired: () => cached('expired', Number.POSITIVE_INFINITY, () => personToken('alice', 'expired')),
  badSignature: () => cached('bad', Number.POSITIVE_INFINITY, () => personToken('alice', 'bad-signature')),
}

/** A task of alice's, run by the demo support agent on the tickets resource (examples/, policy-paths/). */
async function startTask(origin: string): Promise<string> {
  const body = form({
    subject_token: await people.valid(),
    subject_token_type: ACCESS_TOKEN_TYPE,
    purpose: 'benchmark',
    resource: TICKETS_RESOURCE,
  })
  return String((await post(origin, '/tasks', taskAgent, body)).task_id)
}

const completeTask = async (origin: string, taskId: string) =>
  Number((await post(origin, `/tasks/${taskId}/complete`, taskAgent, '')).revoked_tokens)

async function taskTokens(origin: string, taskId: string, n: number): Promise<string[]> {
  const body = forTask(await people.valid(), taskId)
  return pooled(n, 16, () => token(origin, taskAgent, body))
}

/** 20 tasks of 50 tokens, 2 of them completed (the first 100 tokens). Minted again every 2 minutes: task tokens live 5. */
const taskTokenSet = (origin: string) =>
  cached(`10% ${origin}`, 2 * 60_000, async () => {
    const tasks = await pooled(20, 4, () => startTask(origin))
    const tokens = (await pooled(20, 2, (i) => taskTokens(origin, tasks[i] as string, 50))).flat()
    await Promise.all(tasks.slice(0, 2).map((taskId) => completeTask(origin, taskId)))
    return { tokens, ended: 100 }
  })

const liveTask = (origin: string) => cached(`live-task ${origin}`, 30 * 60_000, () => startTask(origin))
const completedTask = (origin: string) =>
  cached(`completed-task ${origin}`, Number.POSITIVE_INFINITY, async () => {
    const taskId = await startTask(origin)
    await completeTask(origin, taskId)
    return taskId
  })

const fixed = (path: string, authorization: string, body: string, status = 200): Plan => ({
  path,
  authorization,
  bodies: [body],
  status,
})

export const WORKLOADS: readonly Workload[] = [
  {
    name: 'client_credentials',
    servers: EVERY,
    plan: async () => ({ plan: fixed('/token', agent, clientCredentials) }),
  },
  {
    name: 'exchange, subject only',
    servers: EVERY,
    plan: async () => ({ plan: fixed('/token', agent, exchange(await people.valid())) }),
  },
  {
    name: 'exchange, subject + actor',
    servers: EVERY,
    plan: async (target) => {
      const actor = await cached(`actor ${target.origin}`, 30 * 60_000, () =>
        token(target.origin, agent, clientCredentials),
      )
      const body = exchange(await people.valid(), { actor_token: actor, actor_token_type: ACCESS_TOKEN_TYPE })
      return { plan: fixed('/token', agent, body) }
    },
  },
  {
    name: 'exchange for a task',
    servers: MANDATE,
    plan: async (target) => ({
      plan: fixed('/token', taskAgent, forTask(await people.valid(), await liveTask(target.origin))),
    }),
  },
  {
    name: 'introspection, 10k distinct active tokens',
    servers: EVERY,
    plan: async (target) => {
      const tokens = await cached(`10k ${target.origin}`, 45 * 60_000, () =>
        pooled(10_000, 32, () => token(target.origin, agent, clientCredentials)),
      )
      return {
        plan: {
          path: '/token/introspection',
          authorization: basic(BENCH_CLIENTS.introspector),
          bodies: tokens.map((value) => form({ token: value })),
          status: 200,
          isRight: (_, body) => isActive(body),
        },
      }
    },
  },
  {
    name: 'introspection, 10% of completed tasks',
    servers: MANDATE,
    plan: async (target) => {
      const { tokens, ended } = await taskTokenSet(target.origin)
      return {
        plan: {
          path: '/token/introspection',
          authorization: basic(BENCH_CLIENTS.ticketsIntrospector),
          bodies: tokens.map((value) => form({ token: value })),
          status: 200,
          isRight: (index, body) => isActive(body) === index >= ended,
        },
      }
    },
  },
  {
    // The same tokens as the introspection above, each evaluated for an action (AuthZEN, runtime authorization):
    // an allow for a token of a completed task, or a deny for a live one, is a wrong answer.
    name: 'evaluation, 10% of completed tasks',
    servers: MANDATE,
    versus: 'introspection, 10% of completed tasks',
    plan: async (target) => {
      const { tokens, ended } = await taskTokenSet(target.origin)
      return {
        plan: {
          path: '/access/v1/evaluation',
          authorization: basic(BENCH_CLIENTS.ticketsIntrospector),
          contentType: 'application/json',
          bodies: tokens.map((value, index) =>
            JSON.stringify({
              subject: { type: 'access_token', id: value },
              resource: { type: TICKETS_RESOURCE, id: `ticket-${index}` },
              action: { name: 'tickets.read' },
            }),
          ),
          status: 200,
          isRight: (index, body) => isAllowed(body) === index >= ended,
        },
      }
    },
  },
  {
    name: 'refused: bad signature',
    servers: EVERY,
    success: 'exchange, subject only',
    plan: async () => ({ plan: fixed('/token', agent, exchange(await people.badSignature()), 400) }),
  },
  {
    name: 'refused: expired',
    servers: EVERY,
    success: 'exchange, subject only',
    plan: async () => ({ plan: fixed('/token', agent, exchange(await people.expired()), 400) }),
  },
  {
    name: 'refused: completed task',
    servers: MANDATE,
    success: 'exchange for a task',
    plan: async (target) => ({
      plan: fixed('/token', taskAgent, forTask(await people.valid(), await completedTask(target.origin)), 400),
    }),
  },
  {
    name: 'revocation storm (1,000 tokens)',
    servers: MANDATE,
    plan: async (target, run) => {
      const taskId = await startTask(target.origin)
      const tokens = await taskTokens(target.origin, taskId, 1000)
      let began = Number.POSITIVE_INFINITY
      let returned = Number.POSITIVE_INFINITY
      let revokedTokens = 0
      let lastActive = Number.NEGATIVE_INFINITY
      const during: number[] = []
      const plan: Plan = {
        path: '/token/introspection',
        authorization: basic(BENCH_CLIENTS.ticketsIntrospector),
        bodies: tokens.map((value) => form({ token: value })),
        status: 200,
        observe: ({ status, body, sentAt, receivedAt }) => {
          if (receivedAt >= began && sentAt <= returned) during.push(receivedAt - sentAt)
          if (status !== 200 || !isActive(body)) return true
          lastActive = Math.max(lastActive, receivedAt)
          // Zero-delay revocation: once the completion has returned, no token of the task reads active.
          return sentAt < returned
        },
        during: async () => {
          await sleep((run.seconds * 1000) / 3)
          began = performance.now()
          revokedTokens = await completeTask(target.origin, taskId)
          returned = performance.now()
        },
      }
      const notes = (): StormNotes => ({
        revokedTokens,
        completionMs: returned - began,
        lastActiveMs: Math.max(0, lastActive - began),
        p99DuringMs: percentile(during, 0.99),
      })
      return { plan, notes }
    },
  },
]

const percentile = (values: number[], p: number) =>
  values.length === 0 ? 0 : ([...values].sort((a, b) => a - b)[Math.ceil(values.length * p) - 1] as number)
