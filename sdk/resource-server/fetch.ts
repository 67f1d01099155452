// The fetch the helper calls the authorization server with (global fetch unless the app passes one).

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>

/** An outage on the way to the authorization server: the helper fails closed with 503, never allows. */
export class Unavailable extends Error {
  override name = 'Unavailable'
}
