// The three tools, as MCP's tools/list describes them, with what each needs: the OAuth scope the token
// must carry (checked by the helper, RFC 6750 §3.1) and the action Mandate decides per call (its name).
import type { TicketStore } from './tickets.ts'

export interface ToolArgs {
  ticket: string
  text?: string
}

/** Who is calling: the person (sub) and the agents acting for them (act chain, outermost first). */
export interface Caller {
  sub: string
  via: string[]
}

/** MCP CallToolResult: text for every client, the same as structured content for those that read it. */
export interface ToolResult {
  content: Array<{ type: 'text'; text: string }>
  structuredContent?: Record<string, unknown>
  isError?: boolean
}

export interface Tool {
  name: 'tickets.read' | 'tickets.comment' | 'tickets.delete'
  title: string
  description: string
  scope: string
  annotations: { readOnlyHint: boolean; destructiveHint: boolean; idempotentHint: boolean; openWorldHint: false }
  withText: boolean
  run(store: TicketStore, args: ToolArgs, caller: Caller): ToolResult
}

const done = (structured: Record<string, unknown>): ToolResult => ({
  content: [{ type: 'text', text: JSON.stringify(structured) }],
  structuredContent: structured,
})

// A tool's own failure is a result with isError (MCP tools §Error handling), not a protocol error.
const noSuchTicket = (id: string): ToolResult => ({
  content: [{ type: 'text', text: `there is no ticket ${id}` }],
  isError: true,
})

export const TOOLS: readonly Tool[] = [
  {
    name: 'tickets.read',
    title: 'Read a ticket',
    description: 'Returns a ticket with its comments.',
    scope: 'tickets:read',
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    withText: false,
    run: (store, { ticket }) => {
      const found = store.get(ticket)
      return found ? done({ ticket: found }) : noSuchTicket(ticket)
    },
  },
  {
    name: 'tickets.comment',
    title: 'Comment on a ticket',
    description: 'Adds a comment to a ticket, signed with the person the agent acts for.',
    scope: 'tickets:write',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    withText: true,
    run: (store, { ticket, text = '' }, caller) => {
      const changed = store.comment(ticket, { by: caller.sub, via: caller.via, text })
      return changed ? done({ ticket: changed }) : noSuchTicket(ticket)
    },
  },
  {
    name: 'tickets.delete',
    title: 'Delete a ticket',
    description: 'Deletes a ticket for good. Mandate asks the person to approve each deletion.',
    scope: 'tickets:write',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    withText: false,
    run: (store, { ticket }) => (store.delete(ticket) ? done({ deleted: ticket }) : noSuchTicket(ticket)),
  },
]

export const toolNamed = (name: unknown): Tool | undefined => TOOLS.find((tool) => tool.name === name)

const TICKET = /^[a-z0-9-]{1,64}$/

/** tools/list's entry: the JSON Schema of the arguments `parseArgs` accepts. */
export const describeTool = ({ name, title, description, annotations, withText }: Tool) => ({
  name,
  title,
  description,
  inputSchema: {
    type: 'object',
    properties: {
      ticket: { type: 'string', pattern: TICKET.source, description: 'the ticket id, e.g. ticket-42' },
      ...(withText ? { text: { type: 'string', minLength: 1, maxLength: 2000 } } : {}),
    },
    required: withText ? ['ticket', 'text'] : ['ticket'],
    additionalProperties: false,
  },
  annotations,
})

/** The arguments, or what is wrong with them (a JSON-RPC invalid params error). */
export function parseArgs(tool: Tool, args: unknown): ToolArgs | string {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return 'arguments must be an object'
  const { ticket, text, ...rest } = args as Record<string, unknown>
  if (Object.keys(rest).length > 0) return `unknown arguments: ${Object.keys(rest).join(', ')}`
  if (typeof ticket !== 'string' || !TICKET.test(ticket)) return 'ticket must be a ticket id such as ticket-42'
  if (!tool.withText) return text === undefined ? { ticket } : 'unknown arguments: text'
  if (typeof text !== 'string' || text.length === 0 || text.length > 2000) return 'text must be 1 to 2000 characters'
  return { ticket, text }
}
