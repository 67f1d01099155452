// A secret read from standard input, never from the command line (where `ps` and shell history would keep it):
// from a pipe, its first line without the newline; from a terminal, typed with echo off, as passwd does.

const decoder = new TextDecoder('utf-8', { fatal: true })

/** Reads at most maxBytes (a longer line is refused, not cut); throws on invalid UTF-8. */
export async function readSecretLine(prompt: string, maxBytes: number): Promise<string> {
  const input = process.stdin
  if (input.isTTY) return readTyped(input, prompt)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const newline = chunk.indexOf(0x0a)
    const part = newline >= 0 ? chunk.subarray(0, newline) : chunk
    chunks.push(part)
    size += part.length
    if (size > maxBytes) throw new Error(`the secret on standard input is longer than ${maxBytes} bytes`)
    if (newline >= 0) break
  }
  const line = Buffer.concat(chunks)
  const text = line.at(-1) === 0x0d ? line.subarray(0, -1) : line
  try {
    return decoder.decode(text)
  } catch {
    throw new Error('the secret on standard input is not valid UTF-8')
  }
}

function readTyped(input: NodeJS.ReadStream, prompt: string): Promise<string> {
  process.stderr.write(prompt)
  input.setRawMode(true)
  input.resume()
  return new Promise((resolve, reject) => {
    let typed: string[] = []
    const finish = (error?: Error) => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      process.stderr.write('\n')
      if (error) reject(error)
      else resolve(typed.join(''))
    }
    // Raw mode: every key arrives as typed, so Enter, Ctrl-D, Ctrl-C and Backspace are ours to handle.
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish()
        if (char === '\u0003') return finish(new Error('interrupted'))
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1)
        else typed.push(char)
      }
    }
    input.on('data', onData)
  })
}
