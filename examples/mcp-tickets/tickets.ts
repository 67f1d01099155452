// The tickets the tools work on: an in-memory stand-in for a real tickets system, seeded with three
// tickets. Whoever holds the store sees every change (the example's test asserts on it).

export interface TicketComment {
  /** The person the agent acts for (the token's sub). */
  by: string
  /** The agents acting for them, outermost first (the token's act chain, RFC 8693 §4.1). */
  via: string[]
  text: string
}

export interface Ticket {
  id: string
  title: string
  status: 'open' | 'closed'
  comments: TicketComment[]
}

export type TicketStore = ReturnType<typeof ticketStore>

const SEED: readonly Ticket[] = [
  { id: 'ticket-41', title: 'Password reset link expired', status: 'closed', comments: [] },
  { id: 'ticket-42', title: 'Invoice shows the wrong VAT rate', status: 'open', comments: [] },
  { id: 'ticket-43', title: 'Duplicate account after sign-up', status: 'open', comments: [] },
]

/** Copies in, copies out: a caller never holds a ticket the store is still changing. */
export function ticketStore(seed: readonly Ticket[] = SEED) {
  const tickets = new Map(seed.map((ticket) => [ticket.id, structuredClone(ticket)]))
  return {
    get: (id: string): Ticket | undefined => structuredClone(tickets.get(id)),
    comment(id: string, comment: TicketComment): Ticket | undefined {
      tickets.get(id)?.comments.push(structuredClone(comment))
      return structuredClone(tickets.get(id))
    },
    delete: (id: string): boolean => tickets.delete(id),
    all: (): Ticket[] => structuredClone([...tickets.values()]),
  }
}
