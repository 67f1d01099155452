import { describe, expect, it } from 'vitest'
import { keyStatuses } from '../../src/keys/lifecycle.ts'

const key = (kid: string, activatesAt: number, createdAt = activatesAt) => ({ kid, activatesAt, createdAt })

describe('keyStatuses', () => {
  const keys = [key('k1', 0), key('k2', 1000, 400), key('k3', 5000, 4000)]

  it('has exactly one active key: the newest one whose activation has passed', () => {
    expect(keyStatuses(keys, new Map(), 500, 60).map((s) => `${s.kid}:${s.state}`)).toEqual([
      'k1:active',
      'k2:pending',
      'k3:pending',
    ])
    expect(keyStatuses(keys, new Map(), 1000, 60).map((s) => `${s.kid}:${s.state}`)).toEqual([
      'k1:retired',
      'k2:active',
      'k3:pending',
    ])
  })

  it('keeps a retired key published until its last token expired, plus grace', () => {
    const lastExpiry = new Map([['k1', 1300]])
    const at = (now: number) => keyStatuses(keys, lastExpiry, now, 60)[0]
    expect(at(1359)).toMatchObject({ state: 'retired', retiredAt: 1000, publishedUntil: 1360 })
    expect(at(1360)).toMatchObject({ state: 'removed' })
  })

  it('keeps a retired key that signed nothing for the grace period only', () => {
    expect(keyStatuses(keys, new Map(), 1059, 60)[0]?.state).toBe('retired')
    expect(keyStatuses(keys, new Map(), 1060, 60)[0]?.state).toBe('removed')
  })

  it('breaks ties between keys activating together by creation time', () => {
    const tied = [key('late', 100, 50), key('early', 100, 10)]
    expect(keyStatuses(tied, new Map(), 100, 0).find((s) => s.state === 'active')?.kid).toBe('late')
  })

  it('has no active key before the first activation', () => {
    expect(keyStatuses([key('k', 10)], new Map(), 5, 0)).toEqual([{ kid: 'k', state: 'pending', activatesAt: 10 }])
  })
})
