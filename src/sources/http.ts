/**
 * undici's Agent and its request API, loaded from their own modules. The package's index also loads fetch, WebSocket,
 * the cache stores, mocks and interceptors we never use: ~70 ms of every start (a third of the time to the first
 * request). If a later undici moves these modules, the index is loaded instead: slower to start, same behaviour.
 */
import type { Agent as UndiciAgent, Dispatcher } from 'undici'

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'>

export interface Http {
  Agent: typeof UndiciAgent
  /** GET-style request of an absolute URL through `dispatcher` (what undici's top-level `request` does). */
  request(dispatcher: Dispatcher, url: string, opts: RequestOptions): Promise<Dispatcher.ResponseData>
}

type RequestFn = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>

async function load(): Promise<Http> {
  try {
    const [agent, api] = await Promise.all([import('undici/lib/dispatcher/agent.js'), import('undici/lib/api/api-request.js')])
    const Agent = agent.default as typeof UndiciAgent
    const request = api.default as RequestFn
    if (typeof Agent !== 'function' || typeof request !== 'function') throw new Error('undici layout changed')
    return {
      Agent,
      request: (dispatcher, url, opts) => {
        const u = new URL(url)
        return request.call(dispatcher, { ...opts, origin: u.origin, path: `${u.pathname}${u.search}` })
      },
    }
  } catch {
    const undici = await import('undici')
    return { Agent: undici.Agent, request: (dispatcher, url, opts) => undici.request(url, { ...opts, dispatcher }) }
  }
}

export const http: Http = await load()
