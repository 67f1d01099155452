// A real browser for the page tests: Debian's Chromium driven by playwright-core (no browser download),
// launched once per file; axe-core run inside the page as it is served (its own CSP on); screenshots kept
// in test-artifacts/. Without Chromium the browser tests are skipped with a notice, except in CI.
import { accessSync, constants, mkdirSync } from 'node:fs'
import axe from 'axe-core'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect } from 'vitest'

/** TEST_CHROMIUM, not MANDATE_*: the server reads every MANDATE_ variable as a setting and refuses unknown ones. */
export const CHROMIUM = process.env.TEST_CHROMIUM ?? '/usr/bin/chromium'

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Whether this machine can run the browser tests; CI must (.ci/run installs Chromium), so it fails there instead. */
export const hasChromium = executable(CHROMIUM)
if (!hasChromium) {
  if (process.env.CI) throw new Error(`CI must run the browser tests: no Chromium at ${CHROMIUM} (see .ci/run)`)
  console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set TEST_CHROMIUM)`)
}

/** Chromium for this file's tests; call inside the describe that is skipped without it. */
export function useBrowser(): { readonly browser: Browser } {
  let browser: Browser | undefined
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  })
  afterAll(async () => {
    await browser?.close()
  })
  return {
    get browser() {
      if (!browser) throw new Error('useBrowser(): only available inside tests and hooks')
      return browser
    },
  }
}

export interface Visit {
  context: BrowserContext
  page: Page
  /** Console errors and uncaught page errors, as Chromium reports them (a CSP violation is one). */
  errors: string[]
  /** Every URL the fake apps were sent to (the client redirects that leave the issuer). */
  landings: URL[]
}

/**
 * A fresh person: a new context (no cookies) with its CSP enforced. The apps' redirect URIs (https on
 * hosts that do not resolve) are answered inside the browser by a small page, so a flow ends where a real
 * app's would, and the URL it was sent to is recorded. Chromium's Fetch domain does this, not page.route:
 * Playwright never routes the hops of a redirect, and every way back to an app is our server's redirect.
 */
export async function newVisit(browser: Browser, appOrigins: string[]): Promise<Visit> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const landings: URL[] = []
  const cdp = await context.newCDPSession(page)
  cdp.on('Fetch.requestPaused', ({ requestId, request, resourceType }) => {
    if (resourceType === 'Document') landings.push(new URL(request.url))
    void cdp.send('Fetch.fulfillRequest', {
      requestId,
      responseCode: 200,
      responseHeaders: [{ name: 'content-type', value: 'text/html; charset=utf-8' }],
      body: Buffer.from(APP_PAGE).toString('base64'),
    })
  })
  await cdp.send('Fetch.enable', { patterns: appOrigins.map((origin) => ({ urlPattern: `${origin}/*` })) })
  const errors: string[] = []
  page.on('console', (message) => {
    const url = message.location().url || page.url()
    // The browser asks every origin for /favicon.ico by itself; the pages name no icon (Mandate serves none).
    if (message.type() === 'error' && !url.endsWith('/favicon.ico')) errors.push(`${message.text()} (${url})`)
  })
  page.on('pageerror', (error) => errors.push(`${error.message} (${page.url()})`))
  return { context, page, errors, landings }
}

const APP_PAGE = '<!DOCTYPE html><html lang="en"><title>App</title><h1>Back at the app</h1></html>'

interface AxeViolation {
  id: string
  impact?: string | null
  help: string
  nodes: Array<{ target: unknown[]; failureSummary?: string }>
}

/**
 * Runs axe-core in the page as served: the source is evaluated by the driver, which the page's CSP (no
 * script at all) does not govern, so the page is checked with exactly the styles a person gets. Fails on
 * every serious or critical violation, listing each.
 */
export async function expectAccessible(page: Page): Promise<void> {
  await page.evaluate(axe.source)
  // A string, not a function: it runs in the page, and this project's types have no DOM.
  const violations = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((results) =>
    results.violations.map(({ id, impact, help, nodes }) =>
      ({ id, impact, help, nodes: nodes.map(({ target, failureSummary }) => ({ target, failureSummary })) })))`)) as AxeViolation[]
  const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
  const listed = serious.map(
    (violation) =>
      `${violation.impact} ${violation.id}: ${violation.help}\n${violation.nodes
        .map((node) => `  at ${JSON.stringify(node.target)}: ${node.failureSummary ?? ''}`)
        .join('\n')}`,
  )
  expect(listed, `axe-core on ${page.url()}`).toEqual([])
}

const SCREENSHOTS = new URL('../../test-artifacts/screenshots/', import.meta.url)

/** Keeps a picture of the page as a test artifact: test-artifacts/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true })
}
