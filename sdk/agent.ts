// mandate/agent: an agent's side of Mandate in a few calls (docs/agent-helper.md): start a task for a
// person, exchange their token for a resource, hand work down to a sub-agent, complete the task.
import { type AgentOptions, connect } from './agent/connect.ts'
import { ACCESS_TOKEN, type ExchangedToken, type ExchangeRequest, exchangeToken } from './agent/exchange.ts'
import {
  type CompletedTask,
  completeTask,
  createTask,
  type StartTaskRequest,
  type TaskInfo,
  type TaskOutcome,
} from './agent/tasks.ts'

export { MandateError } from './agent/error.ts'
export type { AgentOptions, CompletedTask, ExchangedToken, ExchangeRequest, StartTaskRequest, TaskInfo, TaskOutcome }

/** What a sub-agent needs to work on a task: its id and a token handed down to it (plain JSON, to send). */
export interface HandOff {
  taskId: string
  subjectToken: string
}

export interface TaskHandle {
  readonly id: string
  /** RFC 8693: the task's subject token for a token for a resource, for this task (DPoP-bound if configured). */
  exchange(request: ExchangeRequest): Promise<ExchangedToken>
  /**
   * A token for a sub-agent to work from (`subAgent.joinTask(handOff)`): exchanged like `exchange`, but never
   * DPoP-bound, since Mandate takes a bound subject token only with a proof of its key, which the
   * sub-agent does not hold. Its scope is the most the sub-agent can get.
   */
  handOff(request: ExchangeRequest): Promise<HandOff>
  /** Ends the task and its subtasks: every token issued for them is inactive from this answer on. */
  complete(outcome?: TaskOutcome): Promise<CompletedTask>
}

export type Task = TaskInfo & TaskHandle

export interface MandateAgent {
  readonly clientId: string
  readonly issuer: string
  /** POST /tasks: a task for the person whose token `subjectToken` is. */
  startTask(request: StartTaskRequest): Promise<Task>
  /** Works on a task another agent handed down: exchanges run as this agent, the chain nests (`act`). */
  joinTask(handOff: HandOff): TaskHandle
}

/** Reads Mandate's metadata once; every call after that is one request (two when a DPoP nonce is new). */
export async function mandateAgent(options: AgentOptions): Promise<MandateAgent> {
  const connection = await connect(options)
  const handle = (id: string, token: string, type: string): TaskHandle => {
    const subject = { token, type, taskId: id }
    return {
      id,
      exchange: (request) => exchangeToken(connection, subject, request, { bind: true }),
      handOff: async (request) => ({
        taskId: id,
        subjectToken: (await exchangeToken(connection, subject, request, { bind: false })).accessToken,
      }),
      complete: (outcome = 'succeeded') => completeTask(connection, id, outcome),
    }
  }
  return {
    clientId: options.clientId,
    issuer: connection.as.issuer,
    async startTask(request) {
      const task = await createTask(connection, request)
      return { ...task, ...handle(task.id, request.subjectToken, request.subjectTokenType ?? ACCESS_TOKEN) }
    },
    joinTask: ({ taskId, subjectToken }) => handle(taskId, subjectToken, ACCESS_TOKEN),
  }
}
