// Pure key lifecycle: pending → active → retired → removed, derived from timestamps alone.
// RFC 7517 consumers cache JWKS, so a key is published before it signs and after it stops.

export type KeyState = 'pending' | 'active' | 'retired' | 'removed'

export interface KeyTimeline {
  kid: string
  activatesAt: number // epoch seconds
  createdAt: number
}

export interface KeyStatus {
  kid: string
  state: KeyState
  activatesAt: number
  retiredAt?: number
  /** Until when a retired key stays published. */
  publishedUntil?: number
}

/**
 * The newest key whose activation time has passed signs; older ones are retired and stay
 * published until every token they signed has expired (lastExpiry) and at least `grace` seconds.
 */
export function keyStatuses(
  keys: readonly KeyTimeline[],
  lastExpiry: ReadonlyMap<string, number>,
  now: number,
  grace: number,
): KeyStatus[] {
  const ordered = [...keys].sort((a, b) => a.activatesAt - b.activatesAt || a.createdAt - b.createdAt)
  const activeIndex = ordered.findLastIndex((key) => key.activatesAt <= now)
  return ordered.map((key, index) => {
    if (index > activeIndex) return { kid: key.kid, state: 'pending', activatesAt: key.activatesAt }
    if (index === activeIndex) return { kid: key.kid, state: 'active', activatesAt: key.activatesAt }
    const retiredAt = (ordered[index + 1] as KeyTimeline).activatesAt
    const publishedUntil = Math.max(lastExpiry.get(key.kid) ?? 0, retiredAt) + grace
    return {
      kid: key.kid,
      state: now < publishedUntil ? 'retired' : 'removed',
      activatesAt: key.activatesAt,
      retiredAt,
      publishedUntil,
    }
  })
}
