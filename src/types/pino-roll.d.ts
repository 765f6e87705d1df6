// pino-roll ships no type declarations; this covers the options this project uses.
declare module 'pino-roll' {
  import type { DestinationStream } from 'pino'
  interface PinoRollOptions {
    file: string | (() => string)
    size?: string | number
    frequency?: string | number
    extension?: string
    symlink?: boolean
    limit?: { count?: number; removeOtherLogFiles?: boolean }
    mkdir?: boolean
    mode?: number
    dateFormat?: string
  }
  type RollStream = DestinationStream & { end(): void; once(event: string, cb: () => void): void; flushSync(): void }
  export default function pinoRoll(opts: PinoRollOptions): Promise<RollStream>
}
