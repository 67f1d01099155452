// URL path segments from clients: a malformed %-escape is an id that names nothing, never a 500.

export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
